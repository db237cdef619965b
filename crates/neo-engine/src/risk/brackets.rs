//! ATR brackets, the bracketed entry every new position is built from, and R-multiples.
//!
//! Stop distance is `atr * stop_mult`, target distance `atr * take_mult`, so
//! the planned reward/risk is `take_mult / stop_mult`. Converting the ATR
//! distances to exact prices rounds the stop *away* from the entry and the
//! target *toward* it (also when snapping to a tick), so the exact bracket never
//! risks less nor promises more than the multiples say; [`BracketedEntry::reward_risk`]
//! is the exact ratio after rounding, the `b` to give Kelly.
//!
//! The R-multiple of a trade is `(exit - entry) / (entry - stop)`, exact (9
//! places, half-even): +2 means it made twice what it risked, -1 a full stop-out.
//! The sign works for both sides because numerator and denominator flip together.

use neo_domain::contracts::{OrderIntentV1, OrderType, TimeInForce};
use neo_domain::{
    ArithmeticError, Fixed, InstrumentId, MessageId, Price, Quantity, Rounding, Side, Timestamp,
};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// ATR multiples for stop-loss and take-profit; a config file section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AtrBrackets {
    /// Stop-loss distance in ATRs.
    pub stop_mult: f64,
    /// Take-profit distance in ATRs.
    pub take_mult: f64,
}

impl Default for AtrBrackets {
    fn default() -> Self {
        AtrBrackets {
            stop_mult: 1.5,
            take_mult: 3.0,
        }
    }
}

/// Why a bracket could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BracketError {
    /// ATR must be a finite number above zero.
    #[error("ATR must be finite and above zero")]
    InvalidAtr,
    /// Multiples must be finite and above zero.
    #[error("ATR multiples must be finite and above zero")]
    InvalidMultiple,
    /// Prices (entry, stop, target, tick) must be above zero.
    #[error("{what} must be above zero, got {price}")]
    NotPositive {
        /// Which price.
        what: &'static str,
        /// Its value.
        price: Price,
    },
    /// The stop-loss or take-profit is on the wrong side of the entry.
    #[error("a {side} needs stop-loss {stop_loss} {} entry {entry} {} take-profit {take_profit}",
        if *side == Side::Buy { "<" } else { ">" }, if *side == Side::Buy { "<" } else { ">" })]
    WrongSide {
        /// The entry side.
        side: Side,
        /// Entry price.
        entry: Price,
        /// Stop-loss price.
        stop_loss: Price,
        /// Take-profit price.
        take_profit: Price,
    },
    /// The numbers did not fit the exact range.
    #[error("bracket arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
}

impl AtrBrackets {
    /// Every problem with these multiples at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for (name, x) in [("stop_mult", self.stop_mult), ("take_mult", self.take_mult)] {
            if !(x.is_finite() && x > 0.0) {
                problems.push(format!("{name} must be finite and above zero, got {x}"));
            }
        }
        ConfigError::from_problems("atr brackets", problems)
    }

    /// The planned reward/risk `take_mult / stop_mult` (before rounding to prices).
    pub fn reward_risk(&self) -> f64 {
        self.take_mult / self.stop_mult
    }

    /// Stop-loss and take-profit around `entry` at the configured ATR multiples.
    ///
    /// With a `tick`, both prices are snapped to it (stop away from the entry,
    /// target toward it).
    pub fn bracket(
        &self,
        side: Side,
        entry: Price,
        atr: f64,
        tick: Option<Price>,
    ) -> Result<BracketedEntry, BracketError> {
        if !(atr.is_finite() && atr > 0.0) {
            return Err(BracketError::InvalidAtr);
        }
        if self.validate().is_err() {
            return Err(BracketError::InvalidMultiple);
        }
        around(
            side,
            entry,
            atr * self.stop_mult,
            atr * self.take_mult,
            tick,
        )
    }
}

/// Stop-loss and take-profit at fixed percents of the entry: the brackets when
/// the `atr_brackets` flag is off, so every order stays bracketed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PercentBrackets {
    /// Stop-loss distance, percent of the entry price.
    pub stop_pct: f64,
    /// Take-profit distance, percent of the entry price.
    pub take_pct: f64,
}

impl Default for PercentBrackets {
    fn default() -> Self {
        // The ATR defaults' 1:2 at a typical 1-minute crypto ATR of about 0.5%.
        PercentBrackets {
            stop_pct: 1.0,
            take_pct: 2.0,
        }
    }
}

impl PercentBrackets {
    /// Every problem with these percents at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for (name, x) in [("stop_pct", self.stop_pct), ("take_pct", self.take_pct)] {
            if !(x.is_finite() && x > 0.0 && x < 100.0) {
                problems.push(format!("{name} must be above 0 and below 100, got {x}"));
            }
        }
        ConfigError::from_problems("percent brackets", problems)
    }

    /// Stop-loss and take-profit around `entry` at the configured percents.
    pub fn bracket(
        &self,
        side: Side,
        entry: Price,
        tick: Option<Price>,
    ) -> Result<BracketedEntry, BracketError> {
        if self.validate().is_err() {
            return Err(BracketError::InvalidMultiple);
        }
        let e = entry.value().to_f64();
        around(
            side,
            entry,
            e * self.stop_pct / 100.0,
            e * self.take_pct / 100.0,
            tick,
        )
    }
}

/// The bracket `stop_dist` and `take_dist` away from `entry`, snapped to `tick`.
fn around(
    side: Side,
    entry: Price,
    stop_dist: f64,
    take_dist: f64,
    tick: Option<Price>,
) -> Result<BracketedEntry, BracketError> {
    {
        if let Some(tick) = tick
            && !tick.value().is_positive()
        {
            return Err(BracketError::NotPositive {
                what: "tick",
                price: tick,
            });
        }
        let stop_dist = Fixed::from_f64(stop_dist, Rounding::AwayFromZero)?;
        let take_dist = Fixed::from_f64(take_dist, Rounding::TowardZero)?;
        let e = entry.value();
        // Floor moves a price down, Ceiling up: away from / toward the entry by side.
        let (sl, tp, sl_round, tp_round) = match side {
            Side::Buy => (
                e.checked_sub(stop_dist)?,
                e.checked_add(take_dist)?,
                Rounding::Floor,
                Rounding::Floor,
            ),
            Side::Sell => (
                e.checked_add(stop_dist)?,
                e.checked_sub(take_dist)?,
                Rounding::Ceiling,
                Rounding::Ceiling,
            ),
        };
        let snap = |p: Fixed, r| match tick {
            Some(t) => p.round_to_step(t.value(), r),
            None => Ok(p),
        };
        let stop_loss = Price::new(snap(sl, sl_round)?).map_err(|_| ArithmeticError::Overflow)?;
        let take_profit = Price::new(snap(tp, tp_round)?).map_err(|_| ArithmeticError::Overflow)?;
        BracketedEntry::new(side, entry, stop_loss, take_profit)
    }
}

/// An entry with a stop-loss and a take-profit on the right sides; the only way
/// to build an entry intent, so no entry leaves without both brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BracketedEntry {
    side: Side,
    entry: Price,
    stop_loss: Price,
    take_profit: Price,
}

impl BracketedEntry {
    /// Checks `stop_loss < entry < take_profit` for a buy (reversed for a sell), all above zero.
    pub fn new(
        side: Side,
        entry: Price,
        stop_loss: Price,
        take_profit: Price,
    ) -> Result<Self, BracketError> {
        for (what, price) in [
            ("entry", entry),
            ("stop_loss", stop_loss),
            ("take_profit", take_profit),
        ] {
            if !price.value().is_positive() {
                return Err(BracketError::NotPositive { what, price });
            }
        }
        let ordered = match side {
            Side::Buy => stop_loss < entry && entry < take_profit,
            Side::Sell => take_profit < entry && entry < stop_loss,
        };
        if !ordered {
            return Err(BracketError::WrongSide {
                side,
                entry,
                stop_loss,
                take_profit,
            });
        }
        Ok(BracketedEntry {
            side,
            entry,
            stop_loss,
            take_profit,
        })
    }

    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The planned entry price.
    pub fn entry(&self) -> Price {
        self.entry
    }

    /// The protective stop.
    pub fn stop_loss(&self) -> Price {
        self.stop_loss
    }

    /// The profit target.
    pub fn take_profit(&self) -> Price {
        self.take_profit
    }

    /// Loss per unit if stopped out, `|entry - stop|` (above zero by construction).
    pub fn risk_per_unit(&self) -> Fixed {
        self.entry
            .value()
            .checked_sub(self.stop_loss.value())
            .map_or(Fixed::MAX, Fixed::abs)
    }

    /// Exact reward/risk after rounding, the `b` for Kelly.
    pub fn reward_risk(&self) -> f64 {
        let reward = self
            .take_profit
            .value()
            .checked_sub(self.entry.value())
            .map(Fixed::abs);
        match reward.and_then(|r| r.div_round(self.risk_per_unit(), Rounding::TowardZero)) {
            Ok(b) => b.to_f64(),
            Err(_) => 0.0,
        }
    }

    /// The R-multiple of a trade entered here and exited at `exit` (see module docs).
    pub fn r_multiple(&self, exit: Price) -> Result<Fixed, ArithmeticError> {
        r_multiple(self.entry, self.stop_loss, exit)
    }

    /// The entry intent, carrying both brackets.
    ///
    /// The entry price goes where the order type needs it: `arrival_price` for
    /// a market order, `limit_price` for a limit, `stop_price` for a stop.
    pub fn into_intent(self, order: EntryOrder) -> OrderIntentV1 {
        let (order_type, limit_price, stop_price, arrival_price) = match order.entry_type {
            EntryType::Market => (OrderType::Market, None, None, Some(self.entry)),
            EntryType::Limit => (OrderType::Limit, Some(self.entry), None, None),
            EntryType::Stop => (OrderType::Stop, None, Some(self.entry), None),
        };
        OrderIntentV1 {
            id: order.id,
            decision_id: order.decision_id,
            signal_id: order.signal_id,
            instrument: order.instrument,
            side: self.side,
            quantity: order.quantity,
            order_type,
            limit_price,
            stop_price,
            stop_loss: Some(self.stop_loss),
            take_profit: Some(self.take_profit),
            time_in_force: order.time_in_force,
            reduce_only: false,
            arrival_price,
            ts_event: order.ts_event,
        }
    }
}

/// How an entry order executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// At the market; the entry price is recorded as the arrival price.
    Market,
    /// A limit order at the entry price.
    Limit,
    /// A stop order triggering at the entry price (breakouts).
    Stop,
}

/// The rest of an entry intent besides its prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryOrder {
    /// The intent id (derived from the decision, for idempotency).
    pub id: MessageId,
    /// The agent output it comes from.
    pub decision_id: MessageId,
    /// The originating signal.
    pub signal_id: MessageId,
    /// What to trade.
    pub instrument: InstrumentId,
    /// How much (usually from [`size_quantity`](super::size_quantity)).
    pub quantity: Quantity,
    /// Market, limit or stop.
    pub entry_type: EntryType,
    /// How long it works.
    pub time_in_force: TimeInForce,
    /// When the intent was made.
    pub ts_event: Timestamp,
}

/// `(exit - entry) / (entry - stop)`, exact to 9 places (half-even).
fn r_multiple(entry: Price, stop: Price, exit: Price) -> Result<Fixed, ArithmeticError> {
    let risk = entry.value().checked_sub(stop.value())?;
    exit.value()
        .checked_sub(entry.value())?
        .div_round(risk, Rounding::HalfEven)
}

/// Running R-multiple statistics over closed trades, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RStats {
    trades: u64,
    wins: u64,
    total_r: Fixed,
}

impl RStats {
    /// Adds one closed trade's R-multiple (a win is R above zero).
    pub fn record(&mut self, r: Fixed) -> Result<(), ArithmeticError> {
        self.total_r = self.total_r.checked_add(r)?;
        self.trades += 1;
        if r.is_positive() {
            self.wins += 1;
        }
        Ok(())
    }

    /// Closed trades recorded.
    pub fn trades(&self) -> u64 {
        self.trades
    }

    /// Trades that ended above zero R.
    pub fn wins(&self) -> u64 {
        self.wins
    }

    /// Sum of R over all trades.
    pub fn total_r(&self) -> Fixed {
        self.total_r
    }

    /// Mean R per trade (the expectancy); `None` before the first trade.
    pub fn expectancy(&self) -> Option<Fixed> {
        let n = Fixed::from_int(i64::try_from(self.trades).ok()?);
        self.total_r.div_round(n, Rounding::HalfEven).ok()
    }
}
