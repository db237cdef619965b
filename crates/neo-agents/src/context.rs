//! The LLM agent's persistent context: per instrument, its last calls (what it
//! said, what the desk decided) and how each turned out once the round trip
//! closed; and each agent's track record, Brier-scored on the trips it had an
//! opinion on, from which the `weighted` policy takes its weights. The shell
//! stores it with the step that changed it and restores it at start.

use std::collections::{BTreeMap, VecDeque};

use neo_domain::contracts::{AgentOutputV1, Recommendation};
use neo_domain::{InstrumentId, MessageId, Side, Timestamp};
use neo_engine::analyst::policy::Weights;
use serde::{Deserialize, Serialize};

/// Calls kept per instrument (and shown to the model).
pub const RECENT_CALLS: usize = 5;

/// Trips a track record is assumed to have at a coin flip's score before any
/// are seen, so one lucky trip cannot swing the weights.
const PRIOR_TRIPS: f64 = 10.0;

/// A coin flip's Brier score.
const COIN_FLIP: f64 = 0.25;

/// How a call turned out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turnout {
    /// The trip made money.
    pub won: bool,
    /// Its result in R, when its stop was known.
    pub r_multiple: Option<f64>,
}

/// One of the LLM's past calls on an instrument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PastCall {
    /// The signal.
    pub signal_id: MessageId,
    /// When it was decided.
    pub ts: Timestamp,
    /// What the LLM recommended.
    pub said: Recommendation,
    /// Its confidence.
    pub confidence: f64,
    /// The rule analyst's recommendation and confidence on the same signal.
    pub rule: (Recommendation, f64),
    /// What the desk decided.
    pub decided: Recommendation,
    /// The entry's side, when the decision traded.
    pub side: Option<Side>,
    /// How it turned out, once the trip closed.
    pub turnout: Option<Turnout>,
}

/// An agent's Brier score over the trips it had an opinion on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackRecord {
    /// Trips scored.
    pub trips: u64,
    /// Sum of squared errors.
    pub sum_sq: f64,
}

impl TrackRecord {
    fn add(&mut self, probability: f64, won: bool) {
        let outcome = if won { 1.0 } else { 0.0 };
        self.trips += 1;
        self.sum_sq += (probability.clamp(0.0, 1.0) - outcome).powi(2);
    }

    /// The Brier score, shrunk towards a coin flip while trips are few.
    #[allow(clippy::cast_precision_loss)]
    pub fn brier(&self) -> f64 {
        (self.sum_sq + PRIOR_TRIPS * COIN_FLIP) / (self.trips as f64 + PRIOR_TRIPS)
    }

    /// Its weight: a coin flip's score over its own (1 at a coin flip, more when better).
    pub fn weight(&self) -> f64 {
        (COIN_FLIP / self.brier().max(0.01)).clamp(0.1, 10.0)
    }
}

/// The memory the store keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMemory {
    /// The newest calls per instrument, oldest first.
    pub recent: BTreeMap<InstrumentId, VecDeque<PastCall>>,
    /// The rule analyst's track record.
    pub rule: TrackRecord,
    /// The LLM's track record.
    pub llm: TrackRecord,
}

/// The probability an answer gave that a trade on `side` wins.
fn probability_for(said: Recommendation, confidence: f64, side: Side) -> f64 {
    match (said, side) {
        (Recommendation::Buy, Side::Buy) | (Recommendation::Sell, Side::Sell) => confidence,
        (Recommendation::Buy, Side::Sell) | (Recommendation::Sell, Side::Buy) => 1.0 - confidence,
        (Recommendation::Close | Recommendation::Hold, _) => 0.5,
    }
}

impl AgentMemory {
    /// Remembers the LLM's answer `llm` on a signal the desk decided as `decision`
    /// after the rule analyst said `rule`.
    pub fn remember(
        &mut self,
        llm: &AgentOutputV1,
        rule: &AgentOutputV1,
        decision: &AgentOutputV1,
        side: Option<Side>,
    ) {
        let calls = self.recent.entry(llm.instrument).or_default();
        if calls.iter().any(|c| c.signal_id == llm.signal_id) {
            return;
        }
        if calls.len() >= RECENT_CALLS {
            calls.pop_front();
        }
        calls.push_back(PastCall {
            signal_id: llm.signal_id,
            ts: llm.ts_event,
            said: llm.recommendation,
            confidence: llm.confidence,
            rule: (rule.recommendation, rule.confidence),
            decided: decision.recommendation,
            side,
            turnout: None,
        });
    }

    /// Settles the call on `signal_id` with how its trip turned out, scoring
    /// both agents; false when no unsettled call had that signal.
    pub fn settle(&mut self, signal_id: MessageId, turnout: Turnout) -> bool {
        let Some(call) = self
            .recent
            .values_mut()
            .flat_map(|calls| calls.iter_mut())
            .find(|c| c.signal_id == signal_id && c.turnout.is_none())
        else {
            return false;
        };
        call.turnout = Some(turnout);
        if let Some(side) = call.side {
            self.llm.add(
                probability_for(call.said, call.confidence, side),
                turnout.won,
            );
            self.rule
                .add(probability_for(call.rule.0, call.rule.1, side), turnout.won);
        }
        true
    }

    /// The instrument's recent calls, oldest first, as the model reads them.
    pub fn recent_calls(&self, instrument: InstrumentId) -> Vec<PastCall> {
        self.recent
            .get(&instrument)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The `weighted` policy's weights from the two track records.
    pub fn weights(&self) -> Weights {
        Weights {
            rule: self.rule.weight(),
            llm: self.llm.weight(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]

    use std::collections::BTreeMap;

    use neo_domain::IdKind;
    use neo_domain::contracts::Severity;

    use super::*;

    fn output(agent: &str, signal: &str, said: Recommendation, confidence: f64) -> AgentOutputV1 {
        AgentOutputV1 {
            id: MessageId::derived(IdKind::Decision, &format!("{agent}{signal}")),
            signal_id: MessageId::derived(IdKind::Signal, signal),
            agent: agent.to_owned(),
            instrument: InstrumentId::new("BTC-USDT").unwrap(),
            recommendation: said,
            confidence,
            rationale: "r".to_owned(),
            severity: Severity::Info,
            ts_event: Timestamp::EPOCH,
            features: BTreeMap::new(),
            flags: BTreeMap::new(),
        }
    }

    #[test]
    fn calls_are_kept_per_instrument_newest_five_and_settled_once() {
        let mut m = AgentMemory::default();
        for i in 0..7 {
            let s = format!("s{i}");
            let llm = output("llm", &s, Recommendation::Buy, 0.7);
            let rule = output("rule", &s, Recommendation::Buy, 0.6);
            m.remember(&llm, &rule, &rule, Some(Side::Buy));
        }
        let btc = InstrumentId::new("BTC-USDT").unwrap();
        let calls = m.recent_calls(btc);
        assert_eq!(calls.len(), RECENT_CALLS);
        assert_eq!(calls[0].signal_id, MessageId::derived(IdKind::Signal, "s2"));
        let id = MessageId::derived(IdKind::Signal, "s6");
        let won = Turnout {
            won: true,
            r_multiple: Some(2.0),
        };
        assert!(m.settle(id, won));
        assert!(!m.settle(id, won), "a call is settled once");
        assert!(
            !m.settle(MessageId::derived(IdKind::Signal, "s0"), won),
            "forgotten"
        );
        assert_eq!(m.llm.trips, 1);
        assert!((m.llm.sum_sq - 0.09).abs() < 1e-12);
    }

    #[test]
    fn the_better_calibrated_agent_weighs_more_and_few_trips_barely_move_it() {
        let mut m = AgentMemory::default();
        assert_eq!(m.weights().rule, m.weights().llm);
        for i in 0..40 {
            let s = format!("t{i}");
            // The LLM says sell with 0.8 on trips whose buys lose; the rule says buy 0.6.
            let llm = output("llm", &s, Recommendation::Sell, 0.8);
            let rule = output("rule", &s, Recommendation::Buy, 0.6);
            m.remember(&llm, &rule, &rule, Some(Side::Buy));
            m.settle(
                MessageId::derived(IdKind::Signal, &s),
                Turnout {
                    won: false,
                    r_multiple: Some(-1.0),
                },
            );
        }
        let w = m.weights();
        assert!(w.llm > 2.0 * w.rule, "{w:?}");
        let one = TrackRecord {
            trips: 1,
            sum_sq: 0.0,
        };
        assert!(one.weight() < 1.2, "one perfect trip is not a track record");
    }

    #[test]
    fn the_memory_round_trips_through_json() {
        let mut m = AgentMemory::default();
        let llm = output("llm", "x", Recommendation::Hold, 0.5);
        m.remember(&llm, &llm, &llm, None);
        let back: AgentMemory = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
