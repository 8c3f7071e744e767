//! The customer's and the store's order lists: active orders first, newest first within them
//! (or one status, newest first), paged by an opaque cursor. Each page is a range scan of one
//! index (`orders_*_board`, `orders_*_status`), so a page costs the same at a million orders
//! as at ten thousand.

use crate::db::ReadModel;
use crate::orders::decode;
use baedal_domain::{OrderStatus, OrderView};

/// Whose orders.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Customer(&'a str),
    Store(&'a str),
}

impl Scope<'_> {
    fn column(&self) -> &'static str {
        match self {
            Scope::Customer(_) => "customer_id",
            Scope::Store(_) => "store_id",
        }
    }

    fn id(&self) -> &str {
        match self {
            Scope::Customer(id) | Scope::Store(id) => id,
        }
    }
}

/// Where the next page starts: after the order with this `(active, created_at, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    active: bool,
    created_at: String,
    id: String,
}

/// A cursor that is not one this api handed out.
#[derive(Debug, thiserror::Error)]
#[error("cursor is not one a previous page answered: start again without it")]
pub struct BadCursor;

impl Cursor {
    fn after(o: &OrderView) -> Self {
        Self {
            active: !o.status.is_terminal(),
            created_at: o.created_at.clone(),
            id: o.id.clone(),
        }
    }

    /// The form handed to clients (`next_cursor`): `<active>~<created_at>~<id>`. Clients
    /// treat it as opaque; it is readable so that [`CURSOR_PATTERN`] can say exactly which
    /// texts are cursors.
    pub fn encode(&self) -> String {
        format!("{}~{}~{}", u8::from(self.active), self.created_at, self.id)
    }

    /// Any text of the [`CURSOR_PATTERN`] shape is a cursor (it may point past every order:
    /// then the page is empty); any other is refused.
    pub fn decode(s: &str) -> Result<Self, BadCursor> {
        let mut parts = s.splitn(3, '~');
        let (Some(a), Some(created_at), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(BadCursor);
        };
        let active = match a {
            "1" => true,
            "0" => false,
            _ => return Err(BadCursor),
        };
        let time_char = |c: char| c.is_ascii_digit() || matches!(c, 'T' | ':' | '.' | 'Z' | '-');
        let id_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
        if !(1..=40).contains(&created_at.len()) || !created_at.chars().all(time_char) {
            return Err(BadCursor);
        }
        if !(1..=100).contains(&id.len()) || !id.chars().all(id_char) {
            return Err(BadCursor);
        }
        Ok(Self {
            active,
            created_at: created_at.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// Exactly the texts [`Cursor::decode`] takes, for the api's OpenAPI document.
pub const CURSOR_PATTERN: &str = r"^[01]~[0-9T:.Z-]{1,40}~[A-Za-z0-9_-]{1,100}$";

/// One page of orders and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone)]
pub struct Page {
    pub orders: Vec<OrderView>,
    pub next_cursor: Option<Cursor>,
}

/// Which orders of a scope one index range holds.
#[derive(Debug, Clone, Copy)]
enum Range {
    Active(bool),
    Status(OrderStatus),
}

impl ReadModel {
    /// Up to `limit` of `scope`'s orders after `cursor`: active ones first, newest first
    /// within each, or, with `status`, only that status, newest first.
    pub async fn orders_page(
        &self,
        scope: Scope<'_>,
        status: Option<OrderStatus>,
        cursor: Option<&Cursor>,
        limit: u32,
    ) -> crate::Result<Page> {
        let limit = limit.max(1) as usize;
        // One more than asked tells whether there is a next page.
        let want = limit + 1;
        let mut orders = match status {
            Some(st) => {
                self.newest_first(scope, Range::Status(st), cursor, want)
                    .await?
            }
            None => {
                // Two index ranges, active then closed; a cursor in the closed range has
                // left the active one behind.
                let mut orders = Vec::with_capacity(want);
                for active in [true, false] {
                    let after = match cursor {
                        Some(c) if c.active == active => Some(c),
                        Some(c) if !c.active && active => continue,
                        _ => None,
                    };
                    let more = want - orders.len();
                    orders.extend(
                        self.newest_first(scope, Range::Active(active), after, more)
                            .await?,
                    );
                    if orders.len() == want {
                        break;
                    }
                }
                orders
            }
        };
        let next_cursor = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page {
            orders,
            next_cursor,
        })
    }

    /// Up to `limit` of `scope`'s open orders, newest first (one index range), and where the
    /// rest continue in [`Self::orders_page`] (`None`: these are all).
    pub async fn open_orders(&self, scope: Scope<'_>, limit: u32) -> crate::Result<Page> {
        let limit = limit.max(1) as usize;
        let mut orders = self
            .newest_first(scope, Range::Active(true), None, limit + 1)
            .await?;
        let next_cursor = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page {
            orders,
            next_cursor,
        })
    }

    /// Up to `limit` orders of `scope` in `range`, newest first, after `after`.
    async fn newest_first(
        &self,
        scope: Scope<'_>,
        range: Range,
        after: Option<&Cursor>,
        limit: usize,
    ) -> crate::Result<Vec<OrderView>> {
        let by = scope.column();
        let column = match range {
            Range::Active(_) => "active",
            Range::Status(_) => "status",
        };
        // `created_at <= $3` is the index range; the OR only breaks ties within it.
        let (page, limit_at) = match after {
            None => ("", "$3"),
            Some(_) => (
                "AND created_at <= $3 AND (created_at < $3 OR id < $4)",
                "$5",
            ),
        };
        let sql = format!(
            "SELECT view FROM orders WHERE {by} = $1 AND {column} = $2 {page}
             ORDER BY created_at DESC, id DESC LIMIT {limit_at}"
        );
        let q = sqlx::query(&sql).bind(scope.id());
        let q = match range {
            Range::Active(a) => q.bind(i64::from(a)),
            Range::Status(st) => q.bind(st.as_str()),
        };
        let q = match after {
            Some(c) => q.bind(&c.created_at).bind(&c.id),
            None => q,
        };
        let rows = q.bind(limit as i64).fetch_all(self.pool()).await?;
        rows.iter().map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::tests::view;
    use baedal_domain::OrderStatus as S;

    /// An order of store st_1 created at second `at`, in `status`.
    fn order(id: &str, at: u32, status: S) -> OrderView {
        let mut v = view(id, 1, status, 37.5);
        v.created_at = format!("2026-01-01T00:{:02}:{:02}Z", at / 60, at % 60);
        v
    }

    async fn all_pages(
        rm: &ReadModel,
        scope: Scope<'_>,
        status: Option<S>,
        limit: u32,
    ) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            // The cursor travels as its opaque text, as clients hold it.
            let decoded = cursor.map(|c| Cursor::decode(&c.encode()).unwrap());
            let page = rm
                .orders_page(scope, status, decoded.as_ref(), limit)
                .await
                .unwrap();
            pages.push(page.orders.iter().map(|o| o.id.clone()).collect());
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return pages,
            }
        }
    }

    #[tokio::test]
    async fn boards_list_active_orders_first_newest_first_in_pages_that_neither_skip_nor_repeat() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // Two orders share a creation second: the id breaks the tie.
        for o in [
            order("a-done", 10, S::Completed),
            order("b-cooking", 20, S::Cooking),
            order("c-done", 30, S::Canceled),
            order("d-accepted", 40, S::Accepted),
            order("e-accepted", 40, S::Accepted),
            order("f-done", 50, S::Completed),
        ] {
            rm.project(&o).await.unwrap();
        }
        let mut other = order("z-other", 60, S::Accepted);
        other.store_id = "st_2".into();
        rm.project(&other).await.unwrap();

        let store = Scope::Store("st_1");
        let expected = [
            "e-accepted",
            "d-accepted",
            "b-cooking",
            "f-done",
            "c-done",
            "a-done",
        ];
        for limit in [1, 2, 3, 4, 100] {
            let pages = all_pages(&rm, store, None, limit).await;
            let flat: Vec<String> = pages.iter().flatten().cloned().collect();
            assert_eq!(flat, expected, "limit {limit}: {pages:?}");
            assert!(pages.iter().all(|p| p.len() <= limit as usize));
        }
        let done = all_pages(&rm, store, Some(S::Completed), 1).await;
        assert_eq!(done, [vec!["f-done"], vec!["a-done"]]);
        // The customer's list is the same rule over their own orders.
        let mine = all_pages(&rm, Scope::Customer("c1"), None, 100).await;
        assert_eq!(mine[0][0], "z-other");
        assert_eq!(mine[0].len(), 7);
        assert!(
            all_pages(&rm, Scope::Customer("nobody"), None, 10).await == [Vec::<String>::new()]
        );
    }

    #[test]
    fn a_cursor_not_handed_out_is_refused() {
        for bad in [
            "",
            "!!!",
            "1~x",
            "2~2026~o",
            "1~2026~",
            "1~~o",
            "1~2026~o~p",
            "1~2026 ~o",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
        let c = Cursor {
            active: false,
            created_at: "2026-01-01T00:00:00Z".into(),
            id: "ord_1".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[tokio::test]
    async fn each_board_page_is_one_index_range() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        for (sql, index) in [
            (
                "SELECT view FROM orders WHERE store_id = 'st_1' AND active = 1
                 AND created_at <= 'x' AND (created_at < 'x' OR id < 'y')
                 ORDER BY created_at DESC, id DESC LIMIT 20",
                "orders_store_board",
            ),
            (
                "SELECT view FROM orders WHERE customer_id = 'c' AND status = 'cooking'
                 ORDER BY created_at DESC, id DESC LIMIT 20",
                "orders_customer_status",
            ),
        ] {
            let plan = crate::orders::tests::plan(&rm, sql).await;
            assert!(plan.contains(index), "{plan}");
            assert!(
                !plan.to_uppercase().contains("TEMP B-TREE"),
                "sorts: {plan}"
            );
            assert!(!plan.contains("Sort"), "sorts: {plan}");
        }
    }
}
