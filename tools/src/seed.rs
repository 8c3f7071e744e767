//! Synthetic orders for the board benchmarks (`baedal-bench seed`): a read model that
//! looks like months of trading, where almost every order is long closed and the same number
//! are open at the end whatever the total (how many orders are open at once follows the live
//! traffic, not how many were ever placed); so the boards' figures at 10,000 and at 1,000,000
//! orders compare what the history costs, not a board a hundred times fuller.

use baedal_domain::{
    DeliveryAddress, HistoryEntry, LineItem, OrderStatus as S, OrderView, PaymentInfo, Pickup,
};
use baedal_readmodel::ReadModel;
use chrono::{Duration as Span, SecondsFormat, TimeZone, Utc};

/// Open orders at the end, whatever the total (a quarter of them waiting for a rider): a
/// dinner peak's worth for a city's 1,000 stores.
pub const OPEN: u64 = 1_000;
const BATCH: usize = 1_000;

/// How far (degrees, each way, in latitude and longitude) a seeded delivery point lies from
/// its store: at most about 2.1 km around Seoul, inside the default delivery radius (3 km).
const DOOR_SPREAD: f64 = 0.015;

/// The path each seeded order took, by how it ends.
const COMPLETED: &[S] = &[
    S::Placed,
    S::Accepted,
    S::Cooking,
    S::ReadyForPickup,
    S::RiderAssigned,
    S::PickedUp,
    S::Delivered,
    S::Completed,
];

/// A small deterministic generator (SplitMix64): the same seed, the same read model.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `lo..hi`.
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The order `n` of `total`: created in order over the last 90 days; the last ones are the
/// open ones (a quarter of them waiting for a rider).
/// Picked up at its store (`stores[store]`, where the catalog has it) and delivered within
/// [`DOOR_SPREAD`] of it: inside the store's delivery area, as place-order requires.
fn order(n: u64, total: u64, stores: &[(f64, f64)], customers: u32, rng: &mut Rng) -> OrderView {
    let open = OPEN.min(total);
    let start = Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0).unwrap();
    let created = start + Span::seconds((n * 90 * 86_400 / total.max(1)) as i64);
    let path: &[S] = if n + open < total {
        match rng.below(20) {
            0 => &[S::Placed, S::Canceled],
            1 => &[S::Placed, S::Rejected],
            _ => COMPLETED,
        }
    } else {
        let k = (n + open - total) as usize % 4;
        &COMPLETED[..[2, 3, 4, 4][k]]
    };
    let store = rng.below(stores.len() as u64);
    let (lat, lon) = stores[store as usize];
    let door = (
        lat + rng.between(-DOOR_SPREAD, DOOR_SPREAD),
        lon + rng.between(-DOOR_SPREAD, DOOR_SPREAD),
    );
    let history: Vec<HistoryEntry> = path
        .iter()
        .enumerate()
        .map(|(i, st)| HistoryEntry {
            seq: i as u32 + 1,
            status: *st,
            at: (created + Span::minutes(5 * i as i64))
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            reason: None,
        })
        .collect();
    let status = *path.last().unwrap();
    let price = 9_000 + 1_000 * rng.below(20) as i64;
    let qty = 1 + rng.below(3) as u32;
    let total_won = price * qty as i64;
    let id = format!("ord_bench_{n:08}");
    OrderView {
        id: id.clone(),
        status,
        customer_id: format!("c_bench_{}", rng.below(customers as u64)),
        store_id: format!("st_bench_{store}"),
        store_name: format!("벤치 가게 {store}"),
        region: ["gangnam", "mapo", "jongno", "songpa"][store as usize % 4].into(),
        items: vec![LineItem {
            menu_item_id: format!("mi_bench_{store}_1"),
            name: "비빔밥".into(),
            unit_price: price,
            quantity: qty,
            line_total: total_won,
        }],
        total: total_won,
        delivery: DeliveryAddress {
            address: "서울 어딘가 1".into(),
            region: "gangnam".into(),
            lat: door.0,
            lon: door.1,
        },
        pickup: Pickup {
            store_name: format!("벤치 가게 {store}"),
            lat,
            lon,
        },
        payment: PaymentInfo {
            id: format!("pay_{id}"),
            status: "succeeded".into(),
            amount: total_won,
        },
        refund: None,
        rider_id: (history.len() > 4).then(|| format!("r_bench_{}", n % 500)),
        created_at: history[0].at.clone(),
        updated_at: history.last().unwrap().at.clone(),
        seq: history.len() as u32,
        version: history.len() as u32,
        history,
        search_radius_bonus_km: 0.0,
        personal_data_erased_at: None,
    }
}

/// Add `total` synthetic orders (ids `ord_bench_<n>`; seeding again rewrites nothing).
pub async fn synthetic_orders(
    rm: &ReadModel,
    total: u64,
    stores: u32,
    customers: u32,
) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    // The stores go into the catalog too, so their owners can be given tokens.
    let mut place = Rng(1);
    let mut places = Vec::with_capacity(stores as usize);
    for store in 0..stores {
        let (lat, lon) = (place.between(37.45, 37.65), place.between(126.85, 127.15));
        rm.upsert_store(&baedal_readmodel::Store {
            id: format!("st_bench_{store}"),
            name: format!("벤치 가게 {store}"),
            region: ["gangnam", "mapo", "jongno", "songpa"][store as usize % 4].into(),
            address: "서울 어딘가 1".into(),
            lat,
            lon,
            delivery_radius_km: None,
        })
        .await?;
        places.push((lat, lon));
    }
    anyhow::ensure!(!places.is_empty(), "--stores must be at least 1");
    let mut rng = Rng(20261125);
    let mut n = 0;
    while n < total {
        let batch: Vec<OrderView> = (n..(n + BATCH as u64).min(total))
            .map(|i| order(i, total, &places, customers, &mut rng))
            .collect();
        rm.project_many(&batch).await?;
        n += batch.len() as u64;
        if n % 100_000 == 0 || n == total {
            eprintln!("seeded {n}/{total} orders ({:.0?})", began.elapsed());
        }
    }
    // As autovacuum would soon after: measure the boards on settled tables, not against it.
    rm.settle_after_bulk_load().await?;
    println!(
        "seeded {total} orders over {stores} stores and {customers} customers in {:.1?} ({} open)",
        began.elapsed(),
        OPEN.min(total)
    );
    Ok(())
}
