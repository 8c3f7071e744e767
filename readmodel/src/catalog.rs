//! Stores, menus and riders, and the demo catalog `baedal dev` seeds.

use crate::db::ReadModel;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Store {
    pub id: String,
    pub name: String,
    pub region: String,
    pub address: String,
    pub lat: f64,
    pub lon: f64,
    /// How far the store delivers (km); absent: the api's default (`BAEDAL_DELIVERY_RADIUS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_radius_km: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuItem {
    pub id: String,
    pub name: String,
    /// KRW, integer won.
    pub price: i64,
    pub available: bool,
}

type DemoStore = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    f64,
    f64,
    &'static [(&'static str, i64)],
);

/// Real places in four Seoul districts (구), with Korean menus and won prices.
const DEMO_STORES: &[DemoStore] = &[
    (
        "st_1",
        "강남역 떡볶이",
        "gangnam",
        "서울 강남구 강남대로 396",
        37.4979,
        127.0276,
        &[
            ("국물떡볶이", 5000),
            ("모둠튀김", 4000),
            ("순대", 4500),
            ("김밥", 3500),
        ],
    ),
    (
        "st_2",
        "역삼 황금치킨",
        "gangnam",
        "서울 강남구 테헤란로 156",
        37.5006,
        127.0364,
        &[
            ("후라이드치킨", 19000),
            ("양념치킨", 21000),
            ("간장치킨", 21000),
            ("콜라 1.25L", 2500),
        ],
    ),
    (
        "st_3",
        "홍대 돈코츠라멘",
        "mapo",
        "서울 마포구 양화로 160",
        37.5572,
        126.9245,
        &[
            ("돈코츠라멘", 11000),
            ("차슈덮밥", 9000),
            ("교자 6개", 5000),
        ],
    ),
    (
        "st_4",
        "합정 화덕피자",
        "mapo",
        "서울 마포구 양화로 45",
        37.5495,
        126.9139,
        &[
            ("마르게리타", 17000),
            ("고르곤졸라", 18000),
            ("페퍼로니", 19000),
        ],
    ),
    (
        "st_5",
        "광화문 국밥",
        "jongno",
        "서울 종로구 세종대로 175",
        37.5759,
        126.9768,
        &[("돼지국밥", 10000), ("순대국밥", 10000), ("수육 소", 18000)],
    ),
    (
        "st_6",
        "익선동 분식",
        "jongno",
        "서울 종로구 수표로28길 17",
        37.5740,
        126.9897,
        &[("라볶이", 6500), ("참치김밥", 4500), ("쫄면", 7000)],
    ),
    (
        "st_7",
        "잠실 족발",
        "songpa",
        "서울 송파구 올림픽로 240",
        37.5133,
        127.1001,
        &[("족발 중", 35000), ("보쌈 중", 33000), ("막국수", 8000)],
    ),
];

fn store_from_row(r: &sqlx::any::AnyRow) -> Store {
    Store {
        id: r.get("id"),
        name: r.get("name"),
        region: r.get("region"),
        address: r.get("address"),
        lat: r.get("lat"),
        lon: r.get("lon"),
        delivery_radius_km: r.try_get("delivery_radius_km").ok().flatten(),
    }
}

fn item_from_row(r: &sqlx::any::AnyRow) -> MenuItem {
    MenuItem {
        id: r.get("id"),
        name: r.get("name"),
        price: r.get("price"),
        available: r.get::<i64, _>("available") != 0,
    }
}

impl ReadModel {
    /// Seed the demo catalog. Idempotent: existing rows are left as they are, so a restarted
    /// `baedal dev` keeps any changes made since.
    pub async fn seed_demo_catalog(&self) -> crate::Result<()> {
        let mut tx = self.pool().begin().await?;
        for (id, name, region, address, lat, lon, menu) in DEMO_STORES {
            sqlx::query(
                "INSERT INTO stores (id, name, region, address, lat, lon) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(name)
            .bind(region)
            .bind(address)
            .bind(lat)
            .bind(lon)
            .execute(&mut *tx)
            .await?;
            for (n, (item, price)) in menu.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO menu_items (id, store_id, name, price, available) VALUES ($1, $2, $3, $4, 1)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(format!("mi_{}_{}", &id[3..], n + 1))
                .bind(id)
                .bind(item)
                .bind(price)
                .execute(&mut *tx)
                .await?;
            }
        }
        Ok(tx.commit().await?)
    }

    /// Add or replace one store (ops tooling and tests).
    pub async fn upsert_store(&self, s: &Store) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO stores (id, name, region, address, lat, lon, delivery_radius_km)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, region = excluded.region,
             address = excluded.address, lat = excluded.lat, lon = excluded.lon,
             delivery_radius_km = excluded.delivery_radius_km",
        )
        .bind(&s.id)
        .bind(&s.name)
        .bind(&s.region)
        .bind(&s.address)
        .bind(s.lat)
        .bind(s.lon)
        .bind(s.delivery_radius_km)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Set a menu item's availability (a sold-out item cannot be ordered).
    pub async fn set_item_available(&self, item_id: &str, available: bool) -> crate::Result<bool> {
        let r = sqlx::query("UPDATE menu_items SET available = $1 WHERE id = $2")
            .bind(available as i64)
            .bind(item_id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Change `store_id`'s menu item `item_id`: its availability, its price, or both (`None`
    /// keeps what is there). Orders already placed keep the price they were placed at. `None`
    /// when the store has no such item.
    pub async fn update_item(
        &self,
        store_id: &str,
        item_id: &str,
        available: Option<bool>,
        price: Option<i64>,
    ) -> crate::Result<Option<MenuItem>> {
        let row = sqlx::query(
            "UPDATE menu_items SET available = COALESCE($1, available), price = COALESCE($2, price)
             WHERE id = $3 AND store_id = $4 RETURNING *",
        )
        .bind(available.map(i64::from))
        .bind(price)
        .bind(item_id)
        .bind(store_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(item_from_row))
    }

    pub async fn list_stores(&self, region: Option<&str>) -> crate::Result<Vec<Store>> {
        let rows = match region {
            Some(r) => {
                sqlx::query("SELECT * FROM stores WHERE region = $1 ORDER BY id")
                    .bind(r)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM stores ORDER BY id")
                    .fetch_all(self.pool())
                    .await?
            }
        };
        Ok(rows.iter().map(store_from_row).collect())
    }

    /// Up to `limit` stores (of `region`), by id, after the store `after`.
    pub async fn stores_page(
        &self,
        region: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> crate::Result<Vec<Store>> {
        let rows = sqlx::query(
            "SELECT * FROM stores WHERE ($1 IS NULL OR region = $1) AND ($2 IS NULL OR id > $2)
             ORDER BY id LIMIT $3",
        )
        .bind(region)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(store_from_row).collect())
    }

    /// `(region, lat, lon)` of the stores within about `km` of `lat`/`lon` (a box, not a
    /// circle: the caller measures), for deriving a delivery point's district
    /// (`baedal_domain::plausible::district_of`).
    pub async fn store_places_near(
        &self,
        lat: f64,
        lon: f64,
        km: f64,
    ) -> crate::Result<Vec<(String, f64, f64)>> {
        // A degree of latitude is 111 km everywhere; one of longitude shrinks with the cosine.
        let dlat = km / 111.0;
        let dlon = km / (111.0 * lat.to_radians().cos().abs().max(0.01));
        let rows = sqlx::query(
            "SELECT region, lat, lon FROM stores
             WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4 LIMIT 1000",
        )
        .bind(lat - dlat)
        .bind(lat + dlat)
        .bind(lon - dlon)
        .bind(lon + dlon)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("region"), r.get("lat"), r.get("lon")))
            .collect())
    }

    pub async fn get_store(&self, id: &str) -> crate::Result<Option<Store>> {
        let row = sqlx::query("SELECT * FROM stores WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(store_from_row))
    }

    pub async fn menu(&self, store_id: &str) -> crate::Result<Vec<MenuItem>> {
        let rows = sqlx::query("SELECT * FROM menu_items WHERE store_id = $1 ORDER BY id")
            .bind(store_id)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.iter().map(item_from_row).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test]
    async fn demo_catalog_has_six_stores_in_three_districts_and_seeds_idempotently() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.seed_demo_catalog().await.unwrap();
        rm.seed_demo_catalog().await.unwrap();
        let stores = rm.list_stores(None).await.unwrap();
        assert!(stores.len() >= 6);
        let regions: HashSet<_> = stores.iter().map(|s| s.region.clone()).collect();
        assert!(regions.len() >= 3);
        for s in &stores {
            // Inside Seoul's bounding box.
            assert!((37.4..37.7).contains(&s.lat) && (126.8..127.2).contains(&s.lon));
            let menu = rm.menu(&s.id).await.unwrap();
            assert!(!menu.is_empty());
            assert!(menu.iter().all(|m| m.price > 0));
        }
        assert_eq!(rm.list_stores(Some("mapo")).await.unwrap().len(), 2);
    }

    /// Pages of stores, by id, after a cursor, meet end to end: every store once, in order.
    #[tokio::test]
    async fn store_pages_cover_the_catalog_once_in_id_order() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.seed_demo_catalog().await.unwrap();
        let all = rm.list_stores(None).await.unwrap();
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = rm.stores_page(None, after.as_deref(), 4).await.unwrap();
            assert!(page.len() <= 4);
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            paged.extend(page);
        }
        assert_eq!(paged, all);
        let mapo = rm.stores_page(Some("mapo"), None, 10).await.unwrap();
        assert_eq!(mapo, rm.list_stores(Some("mapo")).await.unwrap());
        let first = &all[0].id;
        let rest = rm.stores_page(Some("mapo"), Some(first), 10).await.unwrap();
        assert!(rest.iter().all(|s| s.region == "mapo" && s.id > *first));
    }
}
