//! The analyst's rules: from a signal, the market context and the position to a
//! recommendation, a confidence, a severity and a rationale naming the evidence.
//!
//! Entries start at a neutral confidence of 0.55 and move with the evidence:
//!
//! | evidence | effect |
//! | --- | --- |
//! | trend in the signal's direction | +0.20 |
//! | trend against it, strong (ADX >= `strong_adx` or score >= `strong_trend_score`) | hold at 0.15, warning |
//! | trend against it, moderate | -0.20, warning |
//! | high volatility | -0.15, warning |
//! | RSI extreme in the signal's favour (buy oversold, sell overbought) | +0.10 |
//! | RSI extreme against it (buy overbought, sell oversold) | -0.15, warning |
//! | adds to a position on the same side | -0.05 |
//! | indicators still warming up | 0.40, warning |
//!
//! The result is clamped to 0.05..=0.95; below `min_confidence` the entry becomes
//! a hold. Exits recommend `close` when a position exists (0.9 when the exit's side
//! closes it, 0.6 with a warning when it does not) and `hold` when flat; alerts are
//! never traded (`hold`). Missing, stale or jump-flagged data gives `hold` with
//! severity critical and confidence 0, except that an exit with a position to
//! close still recommends `close` (critical, 0.5): bad data must never stop a
//! trader from reducing risk.

use std::collections::BTreeMap;

use neo_domain::contracts::{AgentOutputV1, Recommendation, Severity, SignalType};
use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{Fixed, IdKind, MessageId, Side, Timestamp};

use super::{AGENT_NAME, AnalystConfig, MarketSnapshot};
use crate::market::Regime;

const BASE_CONFIDENCE: f64 = 0.55;
const WARMUP_CONFIDENCE: f64 = 0.40;
const AGAINST_STRONG_TREND_CONFIDENCE: f64 = 0.15;

/// What the analyst knows about the signal's market at `now`.
pub(crate) struct Market<'a> {
    pub(crate) snapshot: Option<&'a MarketSnapshot>,
    pub(crate) tradable: bool,
    pub(crate) last_seen: Option<Timestamp>,
    pub(crate) max_age_secs: u64,
    /// Whether the regime is weighed (the `regime_awareness` flag).
    pub(crate) regime_aware: bool,
}

/// The verdict being built.
struct Verdict {
    recommendation: Recommendation,
    confidence: f64,
    severity: Severity,
    notes: Vec<String>,
}

impl Verdict {
    fn new(recommendation: Recommendation, confidence: f64) -> Self {
        Verdict {
            recommendation,
            confidence,
            severity: Severity::Info,
            notes: Vec::new(),
        }
    }

    fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    fn warn(&mut self, text: String) {
        if self.severity == Severity::Info {
            self.severity = Severity::Warning;
        }
        self.notes.push(text);
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn position_word(position: Fixed) -> String {
    if position.is_negative() {
        format!("short of {}", position.abs())
    } else {
        format!("long of {position}")
    }
}

/// Seconds between two times, for rationales and features.
#[allow(clippy::cast_precision_loss)]
fn secs_between(later: Timestamp, earlier: Timestamp) -> f64 {
    later.nanos_since(earlier) as f64 / 1e9
}

/// The whole decision: checks data health, then the signal type's rules.
pub(crate) fn decide(
    config: &AnalystConfig,
    signal: &SignalEventV1,
    position: Fixed,
    market: &Market<'_>,
    now: Timestamp,
) -> AgentOutputV1 {
    let mut features = BTreeMap::new();
    features.insert("position".to_owned(), position.to_f64());
    if let Some(s) = market.snapshot {
        collect_features(&mut features, s);
    }
    if let Some(seen) = market.last_seen {
        features.insert("data_age_secs".to_owned(), secs_between(now, seen));
    }
    let verdict = match data_problem(market, now) {
        Some(problem) if signal.signal_type == SignalType::Exit && !position.is_zero() => {
            let mut v = Verdict::new(Recommendation::Close, 0.5);
            v.severity = Severity::Critical;
            v.note(problem);
            v.note(format!(
                "closing the {} anyway: reducing risk never waits for data",
                position_word(position)
            ));
            v
        }
        Some(problem) => {
            let mut v = Verdict::new(Recommendation::Hold, 0.0);
            v.severity = Severity::Critical;
            v.note(problem);
            v.note("trading on this instrument is paused until fresh data arrives".to_owned());
            v
        }
        None => match signal.signal_type {
            SignalType::Entry | SignalType::Reverse => {
                strategy_entry(signal).unwrap_or_else(|| {
                    entry(
                        config,
                        signal,
                        position,
                        market.snapshot,
                        market.regime_aware,
                    )
                })
            }
            SignalType::Exit => exit(signal, position),
            SignalType::Alert => alert(market.snapshot),
        },
    };
    features.insert("agreement".to_owned(), verdict.confidence);
    features.retain(|_, v| v.is_finite());
    let confidence = if verdict.confidence.is_finite() {
        verdict.confidence.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut rationale = format!(
        "{} {} ({} {} signal): ",
        verdict.recommendation,
        signal.instrument,
        signal.side.map_or("sideless", side_word),
        signal.signal_type,
    );
    rationale.push_str(&verdict.notes.join("; "));
    rationale.push('.');
    AgentOutputV1 {
        id: MessageId::derived(IdKind::Decision, &format!("{}:{AGENT_NAME}", signal.id)),
        signal_id: signal.id,
        agent: AGENT_NAME.to_owned(),
        instrument: signal.instrument,
        recommendation: verdict.recommendation,
        confidence,
        rationale,
        severity: verdict.severity,
        ts_event: now,
        features,
        flags: BTreeMap::new(),
    }
}

fn collect_features(features: &mut BTreeMap<String, f64>, s: &MarketSnapshot) {
    #[allow(clippy::cast_precision_loss)]
    let bars = s.bars as f64;
    features.insert("bars".to_owned(), bars);
    features.insert("close".to_owned(), s.close);
    let optional = [
        ("ema_fast", s.ema_fast),
        ("ema_slow", s.ema_slow),
        ("trend_score", s.trend_score),
        ("rsi", s.rsi),
        ("atr", s.atr),
        ("adx", s.adx),
        ("plus_di", s.plus_di),
        ("minus_di", s.minus_di),
        ("realized_vol", s.realized_vol),
        ("vol_ratio", s.vol_ratio),
        ("drift_t", s.drift_t),
        ("regime_probability", s.regime_probability),
        ("regime", s.regime.map(|r| f64::from(r.code()))),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            features.insert(name.to_owned(), v);
        }
    }
}

/// Why the data cannot support a decision, if it cannot.
fn data_problem(market: &Market<'_>, now: Timestamp) -> Option<String> {
    if market.tradable {
        return None;
    }
    Some(match market.last_seen {
        None => "no market data has been received for this instrument".to_owned(),
        Some(seen) => {
            let age = secs_between(now, seen);
            if age > market.max_age_secs as f64 {
                format!(
                    "market data is stale: the last candle closed at {seen}, {age:.0} s ago (limit {} s)",
                    market.max_age_secs
                )
            } else {
                "the last candle jumped beyond the data-quality limit and awaits confirmation by the next one".to_owned()
            }
        }
    })
}

/// Metadata key under which NEO's own strategy loop sends its ensemble's P(up).
pub const PROBABILITY_UP: &str = "probability_up";

/// A signal from NEO's own ensemble already is an analysis: it is followed with
/// the ensemble's probability for its side as the confidence (calibration and
/// Kelly then size it). `None` for any other signal, or one without a usable probability.
fn strategy_entry(signal: &SignalEventV1) -> Option<Verdict> {
    if signal.source != SignalSource::Strategy {
        return None;
    }
    let side = signal.side?;
    let p_up = signal
        .metadata
        .get(PROBABILITY_UP)?
        .as_f64()
        .filter(|p| p.is_finite() && (0.0..=1.0).contains(p))?;
    let (follow, confidence) = match side {
        Side::Buy => (Recommendation::Buy, p_up),
        Side::Sell => (Recommendation::Sell, 1.0 - p_up),
    };
    let mut v = Verdict::new(follow, confidence);
    v.note(format!(
        "the strategy ensemble gives an up-move probability of {p_up:.3}"
    ));
    Some(v)
}

fn entry(
    config: &AnalystConfig,
    signal: &SignalEventV1,
    position: Fixed,
    snapshot: Option<&MarketSnapshot>,
    regime_aware: bool,
) -> Verdict {
    let Some(side) = signal.side else {
        let mut v = Verdict::new(Recommendation::Hold, 0.0);
        v.warn(format!(
            "{} signal without a side cannot be acted on",
            signal.signal_type
        ));
        return v;
    };
    let follow = match side {
        Side::Buy => Recommendation::Buy,
        Side::Sell => Recommendation::Sell,
    };
    let dir = if side == Side::Buy { 1.0 } else { -1.0 };
    let mut v = Verdict::new(follow, BASE_CONFIDENCE);
    let mut forced_hold = false;
    let t = &config.trend;
    match snapshot.and_then(|s| s.regime.map(|r| (s, r))) {
        None => {
            let bars = snapshot.map_or(0, |s| s.bars);
            v.confidence = WARMUP_CONFIDENCE;
            v.warn(format!(
                "only {bars} bars of history: indicators are warming up, so the market context is unknown"
            ));
        }
        Some((s, regime)) => {
            let score = s.trend_score.unwrap_or(0.0);
            let adx = s.adx.unwrap_or(0.0);
            let drift = s.drift_t.unwrap_or(0.0);
            let evidence = format!(
                "trend score {score:.2} ATR, ADX {adx:.1}, drift {drift:.1} standard errors"
            );
            match regime {
                _ if !regime_aware => v.note(format!(
                    "the regime is not weighed (flag regime_awareness is off; {evidence})"
                )),
                Regime::TrendUp | Regime::TrendDown => {
                    let with_trend = (regime == Regime::TrendUp) == (side == Side::Buy);
                    let strong = adx >= t.strong_adx || score.abs() >= t.strong_trend_score;
                    if with_trend {
                        v.confidence += 0.20;
                        v.note(format!(
                            "{} is aligned with {} ({evidence})",
                            side_word(side),
                            regime.describe()
                        ));
                    } else if strong {
                        forced_hold = true;
                        v.confidence = AGAINST_STRONG_TREND_CONFIDENCE;
                        v.warn(format!(
                            "{} against a strong {} ({evidence})",
                            side_word(side),
                            if regime == Regime::TrendUp {
                                "uptrend"
                            } else {
                                "downtrend"
                            }
                        ));
                    } else {
                        v.confidence -= 0.20;
                        v.warn(format!(
                            "{} against {} ({evidence})",
                            side_word(side),
                            regime.describe()
                        ));
                    }
                }
                Regime::Range => v.note(format!("the market is in a range ({evidence})")),
                Regime::HighVolatility => {
                    v.confidence -= 0.15;
                    v.warn(format!(
                        "volatility is high: realized volatility {:.3}% per bar, {:.1}x an ordinary trend's",
                        s.realized_vol.unwrap_or(0.0) * 100.0,
                        s.vol_ratio.unwrap_or(0.0)
                    ));
                }
            }
            if let Some(rsi) = s.rsi {
                let oversold = rsi <= config.rsi_oversold;
                let overbought = rsi >= config.rsi_overbought;
                if (side == Side::Buy && oversold) || (side == Side::Sell && overbought) {
                    v.confidence += 0.10;
                    v.note(format!(
                        "RSI {rsi:.1} is {} and favours a {}",
                        if oversold { "oversold" } else { "overbought" },
                        side_word(side)
                    ));
                } else if oversold || overbought {
                    v.confidence -= 0.15;
                    v.warn(format!(
                        "RSI {rsi:.1} is {}: the {} chases an extended move",
                        if oversold { "oversold" } else { "overbought" },
                        side_word(side)
                    ));
                } else {
                    v.note(format!("RSI {rsi:.1} is neutral"));
                }
            }
        }
    }
    let pos_dir = if position.is_positive() {
        1.0
    } else if position.is_negative() {
        -1.0
    } else {
        0.0
    };
    if pos_dir * dir > 0.0 {
        v.confidence -= 0.05;
        v.note(format!(
            "it adds to the existing {}",
            position_word(position)
        ));
    } else if pos_dir * dir < 0.0 {
        v.note(format!(
            "it {} the existing {}",
            if signal.signal_type == SignalType::Reverse {
                "reverses"
            } else {
                "reduces"
            },
            position_word(position)
        ));
    } else if signal.signal_type == SignalType::Reverse {
        v.note("there is no position to reverse, so it acts as an entry".to_owned());
    }
    v.confidence = if forced_hold {
        AGAINST_STRONG_TREND_CONFIDENCE
    } else {
        v.confidence.clamp(0.05, 0.95)
    };
    if forced_hold || v.confidence < config.min_confidence {
        if !forced_hold {
            v.warn(format!(
                "confidence {:.2} is below the {:.2} needed to follow the signal",
                v.confidence, config.min_confidence
            ));
        }
        v.recommendation = Recommendation::Hold;
    }
    v
}

fn exit(signal: &SignalEventV1, position: Fixed) -> Verdict {
    if position.is_zero() {
        let mut v = Verdict::new(Recommendation::Hold, 0.9);
        v.note("there is no position to close".to_owned());
        return v;
    }
    let closing_side = if position.is_positive() {
        Side::Sell
    } else {
        Side::Buy
    };
    match signal.side {
        Some(side) if side != closing_side => {
            let mut v = Verdict::new(Recommendation::Close, 0.6);
            v.warn(format!(
                "the exit's side ({}) would not close the {}; closing it anyway",
                side_word(side),
                position_word(position)
            ));
            v
        }
        _ => {
            let mut v = Verdict::new(Recommendation::Close, 0.9);
            v.note(format!("the exit closes the {}", position_word(position)));
            v
        }
    }
}

fn alert(snapshot: Option<&MarketSnapshot>) -> Verdict {
    let mut v = Verdict::new(Recommendation::Hold, 0.5);
    v.note("alerts are informational and never traded".to_owned());
    match snapshot.and_then(|s| s.regime) {
        Some(Regime::HighVolatility) => v.warn("the market is in high volatility".to_owned()),
        Some(regime) => v.note(format!("the market is in {}", regime.describe())),
        None => v.note("the market regime is not known yet".to_owned()),
    }
    v
}
