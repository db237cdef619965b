//! The hot paths `neo bench` and the criterion benches measure: each is built
//! once outside the clock, then stepped; a step is one operation of the kind
//! the pipeline performs per signal, fill or market event.

use std::collections::BTreeMap;

use neo_domain::contracts::{FillV1, Liquidity, OrderIntentV1, OrderType, TickV1, TimeInForce};
use neo_domain::schema::{SchemaEntry, find};
use neo_domain::{InstrumentId, MessageId, Money, Price, Quantity, Side, Timestamp};
use neo_engine::indicators::{Adx, Atr, Bar, BollingerBands, Ema, Indicator, Rsi};
use neo_engine::oms::{OmsConfig, PaperOms};
use neo_engine::portfolio::Portfolio;
use neo_engine::risk::{
    AccountView, InstrumentView, KellyConfig, Mark, RiskEngine, RiskLimits, SizingInput,
    size_quantity,
};

/// One benchmarked operation, repeatable forever.
pub trait Workload {
    /// Runs one operation; the result only keeps the optimizer honest.
    fn step(&mut self) -> u64;
}

/// Why a workload could not be set up (a bug in the benchmark, reported, not panicked).
pub type Setup<W> = Result<W, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn price(s: &str) -> Setup<Price> {
    s.parse().map_err(err)
}

fn btc() -> Setup<InstrumentId> {
    InstrumentId::new("BTC-USDT").map_err(err)
}

/// A fresh id per step without hashing: the counter is the UUID.
fn nth_id(n: u64) -> MessageId {
    MessageId::from_uuid(uuid::Uuid::from_u128(
        0x0199_0000_0000_7000_8000_0000_0000_0000 | u128::from(n),
    ))
}

const T0: i64 = 1_800_000_000_000_000_000;

/// A deterministic random walk of bars (a tiny LCG: no randomness crate, same series every run).
fn bars(n: usize) -> Vec<Bar> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut close = 100.0_f64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            close *= 1.0 + r * 0.02;
            Bar::new(
                close * (1.0 + r.abs() * 0.01),
                close * (1.0 - r.abs() * 0.01),
                close,
            )
        })
        .collect()
}

/// A long buy intent with ATR brackets, as risk receives it from the analyst.
fn bracketed_buy(id: MessageId, now: Timestamp) -> Setup<OrderIntentV1> {
    Ok(OrderIntentV1 {
        id,
        decision_id: id,
        signal_id: id,
        instrument: btc()?,
        side: Side::Buy,
        quantity: "0.01".parse().map_err(err)?,
        order_type: OrderType::Market,
        limit_price: None,
        stop_price: None,
        stop_loss: Some(price("41400")?),
        take_profit: Some(price("43200")?),
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        arrival_price: Some(price("42000")?),
        ts_event: now,
    })
}

/// The pre-trade check of a bracketed entry against a four-instrument account.
pub struct RiskCheck {
    engine: RiskEngine,
    instruments: BTreeMap<InstrumentId, InstrumentView>,
    intent: OrderIntentV1,
    now: Timestamp,
}

impl RiskCheck {
    /// Default limits, one open BTC position, fresh marks everywhere.
    pub fn new() -> Setup<Self> {
        let now = Timestamp::from_nanos(T0);
        let mut instruments = BTreeMap::new();
        for (symbol, mark, qty) in [
            ("BTC-USDT", "42000", "0.05"),
            ("ETH-USDT", "3100", "0"),
            ("EUR-USD", "1.08", "0"),
            ("AAPL", "230", "0"),
        ] {
            let view = InstrumentView {
                net_quantity: qty.parse().map_err(err)?,
                open_buy: Quantity::ZERO,
                open_sell: Quantity::ZERO,
                mark: Some(Mark {
                    price: price(mark)?,
                    at: now,
                }),
            };
            instruments.insert(InstrumentId::new(symbol).map_err(err)?, view);
        }
        Ok(RiskCheck {
            engine: RiskEngine::new(RiskLimits::default()).map_err(err)?,
            instruments,
            intent: bracketed_buy(nth_id(1), now)?,
            now,
        })
    }
}

impl Workload for RiskCheck {
    fn step(&mut self) -> u64 {
        let equity = Money::from_int(10_000).unwrap_or_default();
        let view = AccountView {
            now: self.now,
            equity,
            day_start_equity: equity,
            high_water_mark: equity,
            gross_notional: Money::from_int(2_100).unwrap_or_default(),
            open_orders: 2,
            instruments: &self.instruments,
        };
        u64::from(self.engine.check(self.intent.clone(), &view).is_ok())
    }
}

/// Drawdown-aware Kelly fraction and the exact quantity it buys.
pub struct KellySizing {
    kelly: KellyConfig,
    input: SizingInput,
    step: u64,
}

impl KellySizing {
    /// Equity 10,000, entry 42,000, stop 41,400, lot 0.00001.
    pub fn new() -> Setup<Self> {
        Ok(KellySizing {
            kelly: KellyConfig::default(),
            input: SizingInput {
                equity: Money::from_int(10_000).map_err(err)?,
                risk_fraction: 0.0,
                entry: price("42000")?,
                stop: price("41400")?,
                lot_step: "0.00001".parse().map_err(err)?,
                requested: None,
            },
            step: 0,
        })
    }
}

impl Workload for KellySizing {
    fn step(&mut self) -> u64 {
        self.step += 1;
        let p = 0.5 + (self.step % 20) as f64 / 100.0;
        let mut input = self.input;
        input.risk_fraction = self.kelly.risk_fraction(p, 2.0, 0.01, 0.05);
        size_quantity(&input).map_or(0, |q| q.value().raw() as u64)
    }
}

/// A risk-approved market intent submitted and filled by the next tick.
pub struct OmsIntentToFill {
    oms: PaperOms,
    engine: RiskEngine,
    instruments: BTreeMap<InstrumentId, InstrumentView>,
    tick: TickV1,
    n: u64,
}

impl OmsIntentToFill {
    /// A fee-charging paper venue and a tick stream with a spread.
    pub fn new() -> Setup<Self> {
        let instrument = btc()?;
        let mut instruments = BTreeMap::new();
        let mark = Mark {
            price: price("42000")?,
            at: Timestamp::from_nanos(T0),
        };
        instruments.insert(
            instrument,
            InstrumentView {
                mark: Some(mark),
                ..InstrumentView::default()
            },
        );
        let limits = RiskLimits {
            max_position: Quantity::from_int(1_000_000_000).map_err(err)?,
            max_gross_notional: Money::from_int(i64::MAX / 1_000_000_000).map_err(err)?,
            ..RiskLimits::default()
        };
        Ok(OmsIntentToFill {
            oms: PaperOms::new(OmsConfig::default()),
            engine: RiskEngine::new(limits).map_err(err)?,
            instruments,
            tick: TickV1 {
                instrument,
                price: price("42000")?,
                size: Quantity::ZERO,
                bid: Some(price("41999.5")?),
                ask: Some(price("42000.5")?),
                ts_event: Timestamp::from_nanos(T0),
            },
            n: 0,
        })
    }
}

impl Workload for OmsIntentToFill {
    fn step(&mut self) -> u64 {
        self.n += 1;
        let now = Timestamp::from_nanos(T0 + self.n as i64 * 2);
        self.tick.ts_event = now.add_nanos(1);
        let equity = Money::from_int(1_000_000).unwrap_or_default();
        let view = AccountView {
            now,
            equity,
            day_start_equity: equity,
            high_water_mark: equity,
            gross_notional: Money::ZERO,
            open_orders: 0,
            instruments: &self.instruments,
        };
        let Ok(intent) = bracketed_buy(nth_id(self.n), now) else {
            return 0;
        };
        let Ok(approved) = self.engine.check(intent, &view) else {
            return 0;
        };
        // A fresh venue every 8 intents: a handful of open brackets, as in live trading,
        // rather than a list that grows for as long as the benchmark runs.
        if self.n.is_multiple_of(8) {
            self.oms = PaperOms::new(OmsConfig::default());
        }
        let submitted = self.oms.submit(approved, now).map_or(0, |s| s.events.len());
        let filled = self.oms.on_tick(&self.tick).map_or(0, |e| e.len());
        (submitted + filled) as u64
    }
}

/// One fill applied to an account holding a few positions.
pub struct PortfolioApplyFill {
    portfolio: Portfolio,
    fill: FillV1,
    n: u64,
}

impl PortfolioApplyFill {
    /// A USDT account, fills alternating buy and sell.
    pub fn new() -> Setup<Self> {
        let now = Timestamp::from_nanos(T0);
        Ok(PortfolioApplyFill {
            portfolio: Portfolio::new("USDT", Money::from_int(100_000).map_err(err)?, now)
                .map_err(err)?,
            fill: FillV1 {
                id: nth_id(0),
                order_id: nth_id(0),
                signal_id: nth_id(0),
                instrument: btc()?,
                side: Side::Buy,
                price: price("42000.5")?,
                quantity: "0.015".parse().map_err(err)?,
                fee: "0.315".parse().map_err(err)?,
                liquidity: Liquidity::Taker,
                arrival_price: None,
                ts_event: now,
            },
            n: 0,
        })
    }
}

impl Workload for PortfolioApplyFill {
    fn step(&mut self) -> u64 {
        self.n += 1;
        self.fill.id = nth_id(self.n);
        self.fill.side = if self.n.is_multiple_of(2) {
            Side::Sell
        } else {
            Side::Buy
        };
        u64::from(self.portfolio.apply_fill(&self.fill).is_ok())
    }
}

/// Streams a fixed series through an indicator, wrapping around.
pub struct IndicatorUpdate<I> {
    indicator: I,
    bars: Vec<Bar>,
    i: usize,
}

impl<I: Indicator> IndicatorUpdate<I> {
    fn over(indicator: I) -> Self {
        IndicatorUpdate {
            indicator,
            bars: bars(4096),
            i: 0,
        }
    }
}

macro_rules! indicator_workload {
    ($doc:literal, $ctor:ident, $ty:ty, $make:expr) => {
        #[doc = $doc]
        pub fn $ctor() -> Setup<IndicatorUpdate<$ty>> {
            Ok(IndicatorUpdate::over($make.map_err(err)?))
        }
    };
}

indicator_workload!("EMA(20) on closes.", ema, Ema, Ema::new(20));
indicator_workload!("RSI(14) on closes.", rsi, Rsi, Rsi::new(14));
indicator_workload!("ATR(14) on bars.", atr, Atr, Atr::new(14));
indicator_workload!("ADX(14) on bars.", adx, Adx, Adx::new(14));
indicator_workload!(
    "Bollinger Bands(20, 2) on closes.",
    bbands,
    BollingerBands,
    BollingerBands::new(20, 2.0)
);

/// How a bar feeds an indicator: closes for price indicators, the bar for range ones.
pub trait FromBar {
    /// The indicator's input from one bar.
    fn from_bar(bar: &Bar) -> Self;
}

impl FromBar for f64 {
    fn from_bar(bar: &Bar) -> Self {
        bar.close
    }
}

impl FromBar for Bar {
    fn from_bar(bar: &Bar) -> Self {
        *bar
    }
}

impl<I: Indicator> Workload for IndicatorUpdate<I>
where
    I::Input: FromBar,
{
    fn step(&mut self) -> u64 {
        let bar = &self.bars[self.i & 4095];
        self.i = self.i.wrapping_add(1);
        u64::from(self.indicator.update(I::Input::from_bar(bar)).is_some())
    }
}

/// Validation of a TradingView signal against its contract (schema and rules).
pub struct SignalValidate {
    entry: &'static SchemaEntry,
    doc: serde_json::Value,
}

impl SignalValidate {
    /// The checked-in TradingView entry fixture, embedded at build time.
    pub fn new() -> Setup<Self> {
        let doc = serde_json::from_str(include_str!(
            "../../../../fixtures/v1/SignalEventV1/valid/tradingview_entry.json"
        ))
        .map_err(err)?;
        Ok(SignalValidate {
            entry: find("SignalEventV1").ok_or("no SignalEventV1")?,
            doc,
        })
    }
}

impl Workload for SignalValidate {
    fn step(&mut self) -> u64 {
        self.entry
            .validate(&self.doc)
            .map_or(0, |issues| issues.len() as u64)
    }
}
