use proptest::prelude::*;

use super::*;

fn subject(s: &str) -> Subject {
    Subject::new(s).unwrap()
}

fn pattern(s: &str) -> SubjectPattern {
    SubjectPattern::new(s).unwrap()
}

#[test]
fn builders_follow_the_taxonomy() {
    let btc = InstrumentId::new("BTC-USDT").unwrap();
    assert_eq!(
        signal_normalized(Priority::High, btc, SignalType::Exit).as_str(),
        "signals.normalized.high.BTC-USDT.exit"
    );
    assert_eq!(
        agent_run("rule").unwrap().as_str(),
        "intents.agent_run.rule"
    );
    assert_eq!(
        agent_output("rule", Severity::Warning).unwrap().as_str(),
        "decisions.agent_output.rule.warning"
    );
    assert_eq!(
        notification(Channel::Slack).as_str(),
        "outputs.notification.slack"
    );
    assert_eq!(execution_paper().as_str(), "outputs.execution.paper");
    assert_eq!(audit_events().as_str(), "audit.events");
    assert_eq!(
        market_candles("binance", btc).unwrap().as_str(),
        "market.candles.binance.BTC-USDT"
    );
    assert_eq!(
        market_trades("kraken", btc).unwrap().as_str(),
        "market.trades.kraken.BTC-USDT"
    );
    assert_eq!(
        alt("news", "headline").unwrap().as_str(),
        "alt.news.headline"
    );
    assert!(alt("news", "a.b").is_err());
    assert_eq!(
        dlq(&execution_fills(btc)).unwrap().as_str(),
        "dlq.execution.fills.BTC-USDT"
    );
    assert!(agent_run("my.agent").is_err());
    assert!(agent_run("a b").is_err());
    assert!(agent_output("*", Severity::Info).is_err());
    assert!(market_candles("", btc).is_err());
}

#[test]
fn every_built_subject_is_valid_and_matched_by_its_family() {
    let btc = InstrumentId::new("BTC-USDT").unwrap();
    let cases = [
        (
            signal_normalized(Priority::Low, btc, SignalType::Entry),
            patterns::signals(),
        ),
        (agent_run("llm").unwrap(), patterns::agent_runs()),
        (
            agent_output("llm", Severity::Critical).unwrap(),
            patterns::agent_outputs(),
        ),
        (notification(Channel::Telegram), patterns::notifications()),
        (market_ticks("sim", btc).unwrap(), patterns::market()),
        (market_trades("binance", btc).unwrap(), patterns::market()),
        (alt("news", "headline").unwrap(), patterns::alt()),
        (execution_positions(btc), patterns::execution()),
        (dlq(&audit_events()).unwrap(), patterns::dlq()),
    ];
    for (s, p) in cases {
        assert_eq!(Subject::new(s.as_str()).unwrap(), s);
        assert!(p.matches(&s), "{p} should match {s}");
        SubjectPattern::new(p.as_str()).unwrap();
    }
}

#[test]
fn nats_wildcard_semantics() {
    let s = subject("signals.normalized.high.BTC-USDT.entry");
    for yes in [
        "signals.normalized.high.BTC-USDT.entry",
        "signals.>",
        "signals.normalized.*.BTC-USDT.*",
        "*.*.*.*.*",
        ">",
    ] {
        assert!(pattern(yes).matches(&s), "{yes}");
    }
    for no in [
        "signals",
        "signals.normalized",
        "signals.normalized.*",
        "*.*.*.*",
        "*.*.*.*.*.*",
        "signals.normalized.high.BTC-USDT.entry.x",
        "audit.>",
    ] {
        assert!(!pattern(no).matches(&s), "{no}");
    }
    // `>` needs at least one token.
    assert!(!pattern("audit.events.>").matches(&subject("audit.events")));
}

#[test]
fn refuses_malformed_subjects_and_patterns() {
    for bad in [
        "",
        ".",
        "a..b",
        "a.",
        ".a",
        "a b",
        "a.*",
        "a.>",
        "a\tb",
        &"x".repeat(MAX_SUBJECT_LEN + 1),
    ] {
        assert!(Subject::new(bad).is_err(), "{bad:?}");
    }
    for bad in ["", "a.>.b", ">.a", "a..b", "a*.b", "a.b>"] {
        assert!(SubjectPattern::new(bad).is_err(), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn parsing_never_panics(s in "\\PC{0,60}") {
        let _ = Subject::new(&s);
        let _ = SubjectPattern::new(&s);
    }

    #[test]
    fn a_subject_matches_itself_and_full_wildcard(tokens in proptest::collection::vec("[a-zA-Z0-9_-]{1,8}", 1..6)) {
        let s = Subject::new(&tokens.join(".")).unwrap();
        prop_assert!(SubjectPattern::from(s.clone()).matches(&s));
        prop_assert!(pattern(">").matches(&s));
        let stars = vec!["*"; tokens.len()].join(".");
        prop_assert!(pattern(&stars).matches(&s));
    }
}
