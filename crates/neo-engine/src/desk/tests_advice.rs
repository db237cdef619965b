//! Other agents' advice changes the decision only as the policy says, and
//! whatever the decision, risk, sizing and brackets treat it as they treat the
//! rule analyst's.

use super::*;
use crate::analyst::policy::{Missing, Policy, Weights};
use crate::risk::TradingState;
use neo_domain::IdKind;
use neo_domain::contracts::Severity;

fn llm(signal: &SignalEventV1, recommendation: Recommendation, confidence: f64) -> AgentOutputV1 {
    AgentOutputV1 {
        id: MessageId::derived(IdKind::Decision, "llm"),
        signal_id: signal.id,
        agent: "llm".to_owned(),
        instrument: signal.instrument,
        recommendation,
        confidence,
        rationale: "The model's reasons.".to_owned(),
        severity: Severity::Info,
        ts_event: signal.ts_event,
        features: BTreeMap::new(),
        flags: BTreeMap::new(),
    }
}

fn advise(policy: Policy, llm: Result<AgentOutputV1, Missing>) -> Advice {
    Advice {
        policy,
        llm,
        weights: Weights::default(),
    }
}

#[test]
fn a_disagreeing_llm_holds_the_entry_under_must_agree() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let s = signal("a", SignalType::Entry, Some(Side::Buy), now);
    let advice = advise(Policy::LlmMustAgree, Ok(llm(&s, Recommendation::Sell, 0.9)));
    let step = desk.on_signal_advised(&s, now, Some(&advice)).unwrap();
    let decision = step.decision.unwrap();
    assert_eq!(decision.recommendation, Recommendation::Hold);
    assert!(step.intents.is_empty() && step.orders.is_empty());
    let rule = step.rule_output.unwrap();
    assert_eq!(rule.recommendation, Recommendation::Buy);
    assert_eq!(
        rule.id, decision.id,
        "the decision keeps the rule analyst's id"
    );
}

#[test]
fn an_agreeing_llm_enters_bracketed_and_sized_by_risk() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let (mut alone, _, _) = warm(DeskConfig::default());
    let s = signal("a", SignalType::Entry, Some(Side::Buy), now);
    let advice = advise(Policy::LlmMustAgree, Ok(llm(&s, Recommendation::Buy, 0.99)));
    let advised = desk.on_signal_advised(&s, now, Some(&advice)).unwrap();
    let plain = alone.on_signal(&s, now).unwrap();
    let (a, p) = (&advised.intents[0], &plain.intents[0]);
    assert!(a.stop_loss.is_some() && a.take_profit.is_some());
    // Must-agree takes the lower confidence: a 0.99 from the LLM never sizes up.
    assert!(a.quantity <= p.quantity, "{} > {}", a.quantity, p.quantity);
}

#[test]
fn a_missing_answer_decides_as_the_rule_analyst_with_the_reason() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let (mut alone, _, _) = warm(DeskConfig::default());
    let s = signal("a", SignalType::Entry, Some(Side::Buy), now);
    for policy in [Policy::LlmMustAgree, Policy::Weighted] {
        let advice = advise(policy, Err(Missing::Late));
        let advised = desk.on_signal_advised(&s, now, Some(&advice)).unwrap();
        let plain = alone.on_signal(&s, now).unwrap();
        let (a, p) = (advised.decision.unwrap(), plain.decision.unwrap());
        assert_eq!(
            (a.recommendation, a.confidence),
            (p.recommendation, p.confidence)
        );
        assert!(a.rationale.contains("deadline"), "{}", a.rationale);
        assert_eq!(advised.intents.len(), plain.intents.len());
    }
}

#[test]
fn an_llm_cannot_buy_past_risk() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    desk.set_trading_state(TradingState::Halted, "ops", "test", now)
        .unwrap();
    let s = signal("a", SignalType::Entry, Some(Side::Buy), now);
    let w = Weights {
        rule: 0.1,
        llm: 10.0,
    };
    let advice = Advice {
        weights: w,
        ..advise(Policy::Weighted, Ok(llm(&s, Recommendation::Buy, 1.0)))
    };
    let step = desk.on_signal_advised(&s, now, Some(&advice)).unwrap();
    assert!(step.intents.is_empty(), "halted: nothing is placed");
    assert!(step.refusal.is_some());
}
