//! The messages NEO sends, built from small plain inputs. Every message names
//! the signal id (and the sender's alert id when there is one) so a person can
//! find the whole story, and every rendered notification passes
//! `NotificationV1::check`. Ids are derived from the cause, the kind and the
//! channel, so rendering the same event again gives the same id (a retry is
//! deduplicated downstream).

use neo_domain::contracts::{Channel, NotificationKind, NotificationV1};
use neo_domain::{
    Fixed, IdKind, InstrumentId, MessageId, Price, Quantity, Rounding, Side, Timestamp,
};

/// Longest title the contract accepts.
const TITLE_MAX: usize = 256;
/// Longest text the contract accepts.
const TEXT_MAX: usize = 4000;
/// Longest sender alert id the contract accepts.
const SOURCE_ID_MAX: usize = 256;
/// Caps on free-form inputs, so the fixed parts (the ids) always fit.
const SENTENCE_MAX: usize = 1000;
const REASON_MAX: usize = 64;
const REASONS_SHOWN: usize = 20;
const STATE_MAX: usize = 32;

/// An order (entry or exit) filled.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFilled {
    /// The signal whose story this is.
    pub signal_id: MessageId,
    /// The sender's alert id, when it gave one.
    pub source_id: Option<String>,
    /// The fill: the notification's cause (one message per fill).
    pub fill_id: MessageId,
    /// What traded.
    pub instrument: InstrumentId,
    /// Bought or sold.
    pub side: Side,
    /// How much filled.
    pub quantity: Quantity,
    /// At what price.
    pub price: Price,
    /// The bracket's stop-loss, when the order has one.
    pub stop_loss: Option<Price>,
    /// The bracket's take-profit, when the order has one.
    pub take_profit: Option<Price>,
    /// When it filled.
    pub ts: Timestamp,
}

/// Which leg of a bracket closed a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BracketLeg {
    /// The stop-loss.
    StopLoss,
    /// The take-profit.
    TakeProfit,
}

impl BracketLeg {
    fn label(self) -> &'static str {
        match self {
            BracketLeg::StopLoss => "stop-loss",
            BracketLeg::TakeProfit => "take-profit",
        }
    }
}

/// A stop-loss or take-profit closed (part of) a position.
#[derive(Debug, Clone, PartialEq)]
pub struct BracketHit {
    /// The signal that opened the position.
    pub signal_id: MessageId,
    /// The sender's alert id, when it gave one.
    pub source_id: Option<String>,
    /// The exit fill: the notification's cause.
    pub fill_id: MessageId,
    /// What traded.
    pub instrument: InstrumentId,
    /// The side of the entry (buy: a long was closed; sell: a short).
    pub entry_side: Side,
    /// Which leg hit.
    pub leg: BracketLeg,
    /// How much was closed.
    pub quantity: Quantity,
    /// The entry price.
    pub entry_price: Price,
    /// The exit price.
    pub exit_price: Price,
    /// The stop-loss at entry: `entry - stop` is one R.
    pub initial_stop: Price,
    /// When it filled.
    pub ts: Timestamp,
}

impl BracketHit {
    /// The trade's result in R (multiples of the initial risk), to two places;
    /// `None` when the initial stop is not on the losing side of the entry.
    pub fn r_multiple(&self) -> Option<Fixed> {
        let risk = self
            .entry_price
            .value()
            .checked_sub(self.initial_stop.value())
            .ok()?;
        let risk_ok = match self.entry_side {
            Side::Buy => risk.is_positive(),
            Side::Sell => risk.is_negative(),
        };
        if !risk_ok {
            return None;
        }
        let gain = self
            .exit_price
            .value()
            .checked_sub(self.entry_price.value())
            .ok()?;
        let r = gain.div_round(risk, Rounding::HalfEven).ok()?;
        r.round_to_step(Fixed::from_raw(10_000_000), Rounding::HalfEven)
            .ok()
    }
}

/// Risk refused a signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRefused {
    /// The refused signal.
    pub signal_id: MessageId,
    /// The sender's alert id, when it gave one.
    pub source_id: Option<String>,
    /// What the signal wanted to trade, when known.
    pub instrument: Option<InstrumentId>,
    /// Which way, when known.
    pub side: Option<Side>,
    /// The stable refusal codes (`max_position`, `daily_loss_limit`, ...).
    pub reasons: Vec<String>,
    /// One human sentence explaining the refusal.
    pub message: String,
    /// When it was refused.
    pub ts: Timestamp,
}

/// Trading moved between active, reducing and halted.
#[derive(Debug, Clone, PartialEq)]
pub struct TradingStateChanged {
    /// The state before (`active`, `reducing`, `halted`).
    pub from: String,
    /// The state after.
    pub to: String,
    /// Why, in words (drawdown figures, operator, new day).
    pub cause: String,
    /// The signal whose fill caused it, when one did.
    pub signal_id: Option<MessageId>,
    /// When it changed.
    pub ts: Timestamp,
}

/// An API key is about to expire, or has: its holder needs a successor.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyExpiring {
    /// The key's name in `[[api.keys]]` (never the key).
    pub name: String,
    /// When it expires.
    pub expires: Timestamp,
    /// Already expired (refused), rather than expiring soon.
    pub expired: bool,
    /// When NEO noticed.
    pub ts: Timestamp,
}

/// A feature flag went to rollback: what it gates is off until someone turns it back on.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagRolledBack {
    /// The flag's name (`output_slack`).
    pub flag: String,
    /// Who: `auto` for a tripped guard rule, else the operator.
    pub by: String,
    /// The rule and the measured value, or the operator's words.
    pub reason: String,
    /// When (one notification per flag and time).
    pub ts: Timestamp,
}

/// The LLM API spend passed 80% of a cap, or reached it (once per period and stage).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmBudgetNotice {
    /// `day` or `month` (UTC).
    pub period: &'static str,
    /// Which day or month (its number), so each period warns once.
    pub period_number: i64,
    /// The cap reached: the LLM is skipped until the period ends.
    pub exhausted: bool,
    /// Share of the cap spent.
    pub used: f64,
    /// The cap in USD.
    pub cap_usd: f64,
    /// When NEO noticed.
    pub ts: Timestamp,
}

/// An instrument's market data went stale (entries are refused) or is fresh again.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketDataNotice {
    /// The instrument.
    pub instrument: String,
    /// Stale now (else fresh again).
    pub stale: bool,
    /// Seconds since its newest tick (none: no tick since start).
    pub age_secs: Option<u64>,
    /// The most risk allows.
    pub max_age_secs: u64,
    /// When NEO noticed (one notification per instrument, direction and time).
    pub ts: Timestamp,
}

/// A position's three figures (stored fills, stored position, live desk) disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionMismatch {
    /// The instrument.
    pub instrument: String,
    /// The sum of its stored fills, signed.
    pub sum_of_fills: String,
    /// The stored position, signed.
    pub stored: String,
    /// The live desk's position, signed.
    pub desk: String,
    /// When the reconciliation found it.
    pub ts: Timestamp,
}

/// Anything NEO tells people about; render it once per enabled channel.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// See [`OrderFilled`].
    OrderFilled(OrderFilled),
    /// See [`BracketHit`].
    BracketHit(BracketHit),
    /// See [`SignalRefused`].
    SignalRefused(SignalRefused),
    /// See [`TradingStateChanged`].
    TradingStateChanged(TradingStateChanged),
    /// See [`ApiKeyExpiring`].
    ApiKeyExpiring(ApiKeyExpiring),
    /// See [`FlagRolledBack`].
    FlagRolledBack(FlagRolledBack),
    /// See [`LlmBudgetNotice`].
    LlmBudget(LlmBudgetNotice),
    /// See [`MarketDataNotice`].
    MarketData(MarketDataNotice),
    /// See [`PositionMismatch`].
    PositionMismatch(PositionMismatch),
}

/// The id of the notification of `kind` caused by `cause_id` on `channel`.
pub fn notification_id(cause_id: &str, kind: NotificationKind, channel: Channel) -> MessageId {
    MessageId::derived(
        IdKind::Notification,
        &format!("{cause_id}:{kind}:{channel}"),
    )
}

impl Event {
    /// What kind of notification this event becomes.
    pub fn kind(&self) -> NotificationKind {
        match self {
            Event::OrderFilled(_) => NotificationKind::OrderFilled,
            Event::BracketHit(_) => NotificationKind::BracketHit,
            Event::SignalRefused(_) => NotificationKind::SignalRefused,
            Event::TradingStateChanged(_) => NotificationKind::TradingStateChanged,
            Event::ApiKeyExpiring(_) => NotificationKind::ApiKeyExpiring,
            Event::FlagRolledBack(_) => NotificationKind::FlagRolledBack,
            Event::LlmBudget(_) => NotificationKind::LlmBudget,
            Event::MarketData(_) => NotificationKind::MarketData,
            Event::PositionMismatch(_) => NotificationKind::PositionMismatch,
        }
    }

    /// The key the notification id is derived from (with kind and channel).
    pub fn cause_id(&self) -> String {
        match self {
            Event::OrderFilled(e) => e.fill_id.to_string(),
            Event::BracketHit(e) => e.fill_id.to_string(),
            Event::SignalRefused(e) => e.signal_id.to_string(),
            Event::TradingStateChanged(e) => {
                format!("trading_state:{}:{}:{}", e.from, e.to, e.ts.as_nanos())
            }
            // Once per key, expiry and stage: a restart does not warn again.
            Event::ApiKeyExpiring(e) => format!(
                "api_key:{}:{}:{}",
                e.name,
                e.expires.as_nanos(),
                if e.expired { "expired" } else { "expiring" }
            ),
            Event::FlagRolledBack(e) => format!("flag:{}:{}", e.flag, e.ts.as_nanos()),
            Event::LlmBudget(e) => format!(
                "llm_budget:{}:{}:{}",
                e.period,
                e.period_number,
                if e.exhausted { "exhausted" } else { "warn" }
            ),
            Event::MarketData(e) => format!(
                "market_data:{}:{}:{}",
                e.instrument,
                if e.stale { "stale" } else { "fresh" },
                e.ts.as_nanos()
            ),
            Event::PositionMismatch(e) => {
                format!("position_mismatch:{}:{}", e.instrument, e.ts.as_nanos())
            }
        }
    }

    /// The notification for `channel`; it always passes `NotificationV1::check`.
    pub fn render(&self, channel: Channel) -> NotificationV1 {
        let (signal_id, source_id, ts) = match self {
            Event::OrderFilled(e) => (Some(e.signal_id), e.source_id.as_deref(), e.ts),
            Event::BracketHit(e) => (Some(e.signal_id), e.source_id.as_deref(), e.ts),
            Event::SignalRefused(e) => (Some(e.signal_id), e.source_id.as_deref(), e.ts),
            Event::TradingStateChanged(e) => (e.signal_id, None, e.ts),
            Event::ApiKeyExpiring(e) => (None, None, e.ts),
            Event::FlagRolledBack(e) => (None, None, e.ts),
            Event::LlmBudget(e) => (None, None, e.ts),
            Event::MarketData(e) => (None, None, e.ts),
            Event::PositionMismatch(e) => (None, None, e.ts),
        };
        let source_id = source_id
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.chars().take(SOURCE_ID_MAX).collect::<String>());
        let (title, body) = match self {
            Event::OrderFilled(e) => order_filled(e),
            Event::BracketHit(e) => bracket_hit(e),
            Event::SignalRefused(e) => signal_refused(e),
            Event::TradingStateChanged(e) => state_changed(e),
            Event::ApiKeyExpiring(e) => key_expiring(e),
            Event::FlagRolledBack(e) => flag_rolled_back(e),
            Event::LlmBudget(e) => llm_budget(e),
            Event::MarketData(e) => market_data(e),
            Event::PositionMismatch(e) => (
                format!("{}: position mismatch", e.instrument),
                format!(
                    "The {} position disagrees: stored fills sum to {}, the stored position is {}, \
                     the desk holds {}. Trading goes on; check `neo trading status` and the audit \
                     trail (position_mismatch) before trusting this instrument's PnL.",
                    e.instrument, e.sum_of_fills, e.stored, e.desk
                ),
            ),
        };
        let kind = self.kind();
        NotificationV1 {
            id: notification_id(&self.cause_id(), kind, channel),
            channel,
            kind,
            signal_id,
            text: compose(&body, signal_id, source_id.as_deref(), ts),
            source_id,
            title: clip(&title, TITLE_MAX),
            ts_event: ts,
        }
    }

    /// One notification per channel, in the order given.
    pub fn render_all(&self, channels: &[Channel]) -> Vec<NotificationV1> {
        channels.iter().map(|&c| self.render(c)).collect()
    }
}

fn market_data(e: &MarketDataNotice) -> (String, String) {
    let age = e.age_secs.map_or_else(
        || "no data since start".to_owned(),
        |a| format!("last tick {a} s ago"),
    );
    if e.stale {
        (
            format!("{}: market data stale", e.instrument),
            format!(
                "{} has had no fresh market data ({age}; risk allows {} s): new entries are \
                 refused (stale_market_data) until it returns. Exits and brackets still work \
                 on the last price.",
                e.instrument, e.max_age_secs
            ),
        )
    } else {
        (
            format!("{}: market data fresh again", e.instrument),
            format!(
                "{} has fresh market data again ({age}): entries are accepted.",
                e.instrument
            ),
        )
    }
}

fn llm_budget(e: &LlmBudgetNotice) -> (String, String) {
    if e.exhausted {
        (
            format!("LLM budget for the {} reached", e.period),
            format!(
                "The LLM spend reached this {}'s cap of ${:.2}: the LLM agent is skipped                  (budget_exhausted) and the rule analyst decides alone until the {} ends.",
                e.period, e.cap_usd, e.period
            ),
        )
    } else {
        (
            format!("LLM budget for the {} at {:.0}%", e.period, e.used * 100.0),
            format!(
                "The LLM spend is at {:.0}% of this {}'s cap of ${:.2}; at the cap the LLM                  agent is skipped. `neo agents budget` shows the spend per provider.",
                e.used * 100.0,
                e.period,
                e.cap_usd
            ),
        )
    }
}

fn flag_rolled_back(e: &FlagRolledBack) -> (String, String) {
    (
        format!("Flag {} rolled back", e.flag),
        format!(
            "{} is off for every unit (by {}): {}. It stays off until it is turned back on, \
             e.g. `neo flags set {} enabled --reason \"...\"`.",
            e.flag, e.by, e.reason, e.flag
        ),
    )
}

fn key_expiring(e: &ApiKeyExpiring) -> (String, String) {
    if e.expired {
        (
            format!("API key {:?} has expired", e.name),
            format!(
                "The API key {:?} expired at {} and is refused: make its successor with `neo keys new` and configure it.",
                e.name, e.expires
            ),
        )
    } else {
        (
            format!("API key {:?} expires {}", e.name, e.expires),
            format!(
                "The API key {:?} expires at {}. Make its successor with `neo keys new`, configure both, hand it out, then drop this one.",
                e.name, e.expires
            ),
        )
    }
}

fn side_word(side: Side) -> (&'static str, &'static str) {
    match side {
        Side::Buy => ("BUY", "Bought"),
        Side::Sell => ("SELL", "Sold"),
    }
}

fn order_filled(e: &OrderFilled) -> (String, String) {
    let (upper, verb) = side_word(e.side);
    let title = format!(
        "Filled: {upper} {} {} @ {}",
        e.quantity, e.instrument, e.price
    );
    let mut body = format!("{verb} {} {} at {}.", e.quantity, e.instrument, e.price);
    let brackets: Vec<String> = [
        e.stop_loss.map(|p| format!("stop-loss {p}")),
        e.take_profit.map(|p| format!("take-profit {p}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !brackets.is_empty() {
        body.push_str(&format!("\nBracket: {}.", brackets.join(", ")));
    }
    (title, body)
}

fn bracket_hit(e: &BracketHit) -> (String, String) {
    let position = match e.entry_side {
        Side::Buy => "long",
        Side::Sell => "short",
    };
    let r = match e.r_multiple() {
        Some(r) if r.is_positive() => format!("+{r}R"),
        Some(r) => format!("{r}R"),
        None => "R n/a".to_owned(),
    };
    let leg = e.leg.label();
    let title = format!("{} {leg} hit @ {} ({r})", e.instrument, e.exit_price);
    let body = format!(
        "The {leg} closed {} {} of a {position} position at {} (entry {}, initial stop {}): {r}.",
        e.quantity, e.instrument, e.exit_price, e.entry_price, e.initial_stop
    );
    (title, body)
}

fn signal_refused(e: &SignalRefused) -> (String, String) {
    let what = match (e.side, &e.instrument) {
        (Some(side), Some(i)) => format!("{} {i}", side_word(side).0),
        (None, Some(i)) => i.to_string(),
        (Some(side), None) => side_word(side).0.to_owned(),
        (None, None) => "signal".to_owned(),
    };
    let mut codes: Vec<String> = e
        .reasons
        .iter()
        .map(|r| clean(r, REASON_MAX))
        .filter(|r| !r.trim().is_empty())
        .take(REASONS_SHOWN)
        .collect();
    if codes.is_empty() {
        codes.push("unspecified".to_owned());
    }
    let more = e.reasons.len().saturating_sub(REASONS_SHOWN);
    let mut list = codes.join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    let title = format!("Refused by risk: {what} ({})", clip(&list, 100));
    let sentence = clean(&e.message, SENTENCE_MAX);
    let mut body = format!("Risk refused the {what} signal. Reasons: {list}.");
    if !sentence.trim().is_empty() {
        body.push('\n');
        body.push_str(sentence.trim());
    }
    (title, body)
}

fn state_changed(e: &TradingStateChanged) -> (String, String) {
    let from = clean(&e.from, STATE_MAX);
    let to = clean(&e.to, STATE_MAX);
    let title = format!("Trading state: {from} -> {to}");
    let cause = clean(&e.cause, SENTENCE_MAX);
    let cause = if cause.trim().is_empty() {
        "not given"
    } else {
        cause.trim()
    };
    let body = format!("Trading moved from {from} to {to}. Cause: {cause}.");
    (title, body)
}

/// Body, then the ids a person searches for, then the time; the body is clipped
/// so the ids always survive the contract's length limit.
fn compose(
    body: &str,
    signal_id: Option<MessageId>,
    source_id: Option<&str>,
    ts: Timestamp,
) -> String {
    let mut footer = String::new();
    if let Some(id) = signal_id {
        footer.push_str(&format!("\nSignal: {id}"));
        if let Some(source) = source_id {
            footer.push_str(&format!(" (alert {})", clean(source, SOURCE_ID_MAX).trim()));
        }
    }
    footer.push_str(&format!("\nAt: {ts}"));
    let room = TEXT_MAX.saturating_sub(footer.chars().count());
    format!("{}{footer}", clip(body, room))
}

/// Control characters (newlines in a sender's id) become spaces, then clip.
fn clean(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(&cleaned, max)
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_marks_cuts() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "ab…");
        assert_eq!(clean("a\nb", 10), "a b");
    }
}
