//! Execution quality: how far fills land from the price when the order was
//! decided (the arrival price), in basis points, positive when worse; how
//! much of what was ordered filled; how long from decision to fill.

use std::collections::BTreeMap;

use neo_domain::contracts::{FillV1, OrderV1};
use neo_domain::{Side, Timestamp};

/// Slippage of one fill against its arrival price in basis points (positive = paid more
/// or received less); `None` without an arrival price.
pub fn slippage_bps(fill: &FillV1) -> Option<f64> {
    let arrival = fill.arrival_price?.value().to_f64();
    if arrival <= 0.0 {
        return None;
    }
    let diff = (fill.price.value().to_f64() - arrival) / arrival * 10_000.0;
    Some(match fill.side {
        Side::Buy => diff,
        Side::Sell => -diff,
    })
}

/// Running execution-quality statistics over many fills (analytics: `f64` is fine).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuality {
    /// Fills with an arrival price.
    pub fills: u64,
    /// Mean slippage in basis points.
    pub mean_bps: f64,
    /// Worst (largest) slippage in basis points.
    pub worst_bps: f64,
}

impl ExecutionQuality {
    /// Adds one fill (ignored without an arrival price).
    pub fn record(&mut self, fill: &FillV1) {
        let Some(bps) = slippage_bps(fill) else {
            return;
        };
        self.fills += 1;
        self.mean_bps += (bps - self.mean_bps) / self.fills as f64;
        self.worst_bps = if self.fills == 1 {
            bps
        } else {
            self.worst_bps.max(bps)
        };
    }
}

/// Execution quality over a set of orders and their fills, per instrument,
/// side and order type: what `GET /v1/execution/quality` and `neo report
/// execution` show.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QualityReport {
    /// One row per (instrument, side, order type), in that order.
    pub groups: Vec<QualityGroup>,
    /// Every order and fill together.
    pub total: QualityGroup,
}

/// One group's figures.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct QualityGroup {
    /// The instrument (empty for the total).
    pub instrument: String,
    /// `buy`, `sell` (empty for the total).
    pub side: String,
    /// `market`, `limit`, `stop`, `stop_limit` (empty for the total).
    pub order_type: String,
    /// Orders placed.
    pub orders: u64,
    /// Orders with at least one fill.
    pub filled_orders: u64,
    /// Filled quantity over ordered quantity (cancelled and working orders count).
    pub fill_ratio: Option<f64>,
    /// Fills.
    pub fills: u64,
    /// Slippage against the arrival price in basis points (positive = worse):
    /// mean, median, 95th percentile, worst; over fills with an arrival price.
    pub slippage_bps: Spread,
    /// Milliseconds from the order's creation (the decision) to each fill.
    pub latency_ms: Spread,
}

/// Summary of a sample.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Spread {
    /// Values.
    pub count: u64,
    /// Mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile (nearest rank).
    pub p95: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Spread::default();
        }
        let rank = |q: f64| {
            // Nearest rank: the smallest value with at least q of the sample at or below it.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            values[i]
        };
        #[allow(clippy::cast_precision_loss)]
        let mean = values.iter().sum::<f64>() / n as f64;
        Spread {
            count: n as u64,
            mean: Some(mean),
            p50: Some(rank(0.5)),
            p95: Some(rank(0.95)),
            max: values.last().copied(),
        }
    }
}

type Key = (String, String, String);

#[derive(Default)]
struct Acc {
    orders: u64,
    filled_orders: u64,
    ordered: f64,
    filled: f64,
    fills: u64,
    slippage: Vec<f64>,
    latency: Vec<f64>,
}

impl Acc {
    fn group(self, (instrument, side, order_type): Key) -> QualityGroup {
        QualityGroup {
            instrument,
            side,
            order_type,
            orders: self.orders,
            filled_orders: self.filled_orders,
            fill_ratio: (self.ordered > 0.0).then(|| self.filled / self.ordered),
            fills: self.fills,
            slippage_bps: Spread::of(self.slippage),
            latency_ms: Spread::of(self.latency),
        }
    }

    fn add_order(&mut self, o: &OrderV1) {
        self.orders += 1;
        self.filled_orders += u64::from(!o.filled_quantity.is_zero());
        self.ordered += o.quantity.value().to_f64();
        self.filled += o.filled_quantity.value().to_f64();
    }

    fn add_fill(&mut self, f: &FillV1, created: Option<Timestamp>) {
        self.fills += 1;
        self.slippage.extend(slippage_bps(f));
        if let Some(created) = created {
            #[allow(clippy::cast_precision_loss)]
            self.latency
                .push(f.ts_event.nanos_since(created).max(0) as f64 / 1e6);
        }
    }
}

/// The report over `orders` and `fills` (a fill whose order is not among
/// `orders` counts in its instrument and side under order type `unknown`).
pub fn quality_report(orders: &[OrderV1], fills: &[FillV1]) -> QualityReport {
    let key = |o: &OrderV1| {
        (
            o.instrument.to_string(),
            o.side.as_str().to_owned(),
            o.order_type.as_str().to_owned(),
        )
    };
    let by_id: BTreeMap<_, _> = orders.iter().map(|o| (o.id, o)).collect();
    let mut groups: BTreeMap<Key, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    for o in orders {
        groups.entry(key(o)).or_default().add_order(o);
        total.add_order(o);
    }
    for f in fills {
        let order = by_id.get(&f.order_id);
        let k = order.map_or_else(
            || {
                (
                    f.instrument.to_string(),
                    f.side.as_str().to_owned(),
                    "unknown".to_owned(),
                )
            },
            |o| key(o),
        );
        let created = order.map(|o| o.ts_created);
        groups.entry(k).or_default().add_fill(f, created);
        total.add_fill(f, created);
    }
    QualityReport {
        groups: groups.into_iter().map(|(k, acc)| acc.group(k)).collect(),
        total: total.group(Default::default()),
    }
}
