//! Signatures of the generic webhook, replays, passphrases and idempotent ids.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should stop loudly

use neo_api::intake::{
    DEFAULT_BUCKET, DEFAULT_TOLERANCE_SECS, IdScope, PassphraseConfig, PriorityRules, ReplayGuard,
    ReplayVerdict, Secret, Sender, SignalIds, check_passphrase, differing_fields, normalize,
    parse_alert, parse_generic, sign, verify_signature, verify_signature_detailed,
};
use neo_domain::Timestamp;
use neo_domain::contracts::{SignalEventV1, SignalSource, SignalType};
use serde_json::json;

const T: i64 = 1_795_295_343;
const BODY: &[u8] = br#"{"instrument":"BTC-USDT","side":"buy","signal_type":"entry","priority":"normal","ts_event":"2026-11-21T21:09:03Z"}"#;

fn secs(t: i64) -> Timestamp {
    Timestamp::from_unix_secs(t).unwrap()
}

#[test]
fn signature_good_wrong_expired_future_rotated() {
    let header = sign(b"s3cret", T, BODY);
    let ok = |h: &str, secrets: &[&[u8]], now: i64| {
        verify_signature(h, BODY, secrets, secs(now), DEFAULT_TOLERANCE_SECS)
    };
    assert_eq!(ok(&header, &[b"s3cret"], T), Ok(T));
    assert_eq!(ok(&header, &[b"s3cret"], T + 300), Ok(T));
    assert_eq!(ok(&header, &[b"s3cret"], T - 300), Ok(T));
    let code = |r: Result<i64, neo_api::intake::IntakeError>| {
        let e = r.unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(e.details().is_empty());
        e.code()
    };
    assert_eq!(code(ok(&header, &[b"other"], T)), "bad_signature");
    assert_eq!(code(ok(&header, &[], T)), "bad_signature");
    assert_eq!(
        code(ok(&header, &[b"s3cret"], T + 301)),
        "signature_expired"
    );
    assert_eq!(
        code(ok(&header, &[b"s3cret"], T - 301)),
        "signature_expired"
    );
    // The body is what is signed.
    assert_eq!(
        code(verify_signature(&header, b"{}", &[b"s3cret"], secs(T), 300)),
        "bad_signature"
    );
    // Rotation: the sender signs with old and new; the verifier knows either.
    let old = sign(b"old", T, BODY);
    let new = sign(b"new", T, BODY);
    let both = format!("{old}, {}", new.split_once(',').unwrap().1);
    assert_eq!(ok(&both, &[b"new"], T), Ok(T));
    assert_eq!(ok(&both, &[b"old"], T), Ok(T));
    assert_eq!(ok(&header, &[b"old", b"s3cret"], T), Ok(T));
    let verified = verify_signature_detailed(&both, BODY, &[b"new"], secs(T), 300).unwrap();
    assert_eq!(
        format!("t={T},v1={}", verified.signature),
        new,
        "the matching signature is reported"
    );
    // Upper-case hex and unknown schemes are fine.
    let upper = format!(
        "v0=abc,{}",
        header
            .to_uppercase()
            .replace("T=", "t=")
            .replace("V1=", "v1=")
    );
    assert_eq!(ok(&upper, &[b"s3cret"], T), Ok(T));
}

#[test]
fn malformed_headers() {
    let sig = sign(b"k", T, BODY);
    let v1 = sig.split_once(',').unwrap().1;
    let cases = [
        ("", "missing_signature"),
        ("   ", "missing_signature"),
        (v1, "malformed_signature"),
        (&format!("t={T}"), "malformed_signature"),
        (&format!("t=-{T},{v1}"), "malformed_signature"),
        (&format!("t={T},t={T},{v1}"), "malformed_signature"),
        (&format!("t=12a,{v1}"), "malformed_signature"),
        (&format!("t={T},v1=abcd"), "malformed_signature"),
        (
            &format!("t={T},v1={}", "zz".repeat(32)),
            "malformed_signature",
        ),
        (&format!("t={T};{v1}"), "malformed_signature"),
        ("t=99999999999999999999,v1=00", "malformed_signature"),
        ("garbage", "malformed_signature"),
    ];
    for (header, code) in cases {
        let err = verify_signature(header, BODY, &[b"k"], secs(T), 300).unwrap_err();
        assert_eq!((err.status(), err.code()), (401, code), "{header:?}");
    }
}

#[test]
fn replay_guard_refuses_replays_and_stays_bounded() {
    let mut guard = ReplayGuard::new(3, 300);
    assert!(guard.check_and_remember(T, "aa"));
    assert!(!guard.check_and_remember(T, "aa"));
    assert!(!guard.check_and_remember(T, "AA"));
    assert!(guard.check_and_remember(T, "bb"));
    assert!(guard.check_and_remember(T + 1, "aa"));
    // Full of live entries: fail closed, and say so.
    assert_eq!(guard.check(T + 2, "cc"), ReplayVerdict::Full);
    assert_eq!(guard.len(), 3);
    // Far enough ahead, the old entries can no longer verify and are forgotten.
    // (t = T is older than T + 601 - 2 * 300; t = T + 1 is not yet.)
    assert_eq!(guard.check(T + 601, "dd"), ReplayVerdict::Fresh);
    assert_eq!(guard.len(), 2);
    assert_eq!(guard.check(T + 602, "ee"), ReplayVerdict::Fresh);
    assert_eq!(guard.len(), 2);
    assert_eq!(guard.check(T + 601, "dd"), ReplayVerdict::Replay);
}

#[test]
fn passphrases_compare_exactly() {
    let secret = Secret::new("correct horse");
    assert_eq!(check_passphrase(Some("correct horse"), &secret), Ok(()));
    for wrong in ["correct hors", "correct horse ", "Correct horse", ""] {
        let e = check_passphrase(Some(wrong), &secret).unwrap_err();
        assert_eq!((e.status(), e.code()), (401, "bad_passphrase"));
    }
    let e = check_passphrase(None, &secret).unwrap_err();
    assert_eq!((e.status(), e.code()), (401, "missing_passphrase"));
    // An empty configured secret authenticates nobody.
    assert!(check_passphrase(Some(""), &Secret::new("")).is_err());
    assert_eq!(format!("{secret:?}"), "Secret(***)");

    let config: PassphraseConfig = serde_json::from_value(json!({
        "global": "g-secret",
        "per_strategy": {"Scalper": "s-secret"}
    }))
    .unwrap();
    assert!(config.validate().is_ok());
    assert!(config.check(Some("g-secret"), None).is_ok());
    assert!(config.check(Some("g-secret"), Some("swing")).is_ok());
    assert!(config.check(Some("s-secret"), Some(" scalper ")).is_ok());
    assert!(config.check(Some("g-secret"), Some("Scalper")).is_err());
    let none = PassphraseConfig::default();
    assert_eq!(
        none.check(Some("x"), None).unwrap_err().code(),
        "bad_passphrase"
    );
    let bad: PassphraseConfig =
        serde_json::from_value(json!({"global": "", "per_strategy": {"a": "x", "A": ""}})).unwrap();
    assert_eq!(bad.validate().unwrap_err().len(), 3);
}

const INSTALLATION: &[u8] = b"this installation's secret, 32 bytes or more";

fn ids() -> SignalIds {
    SignalIds::new(INSTALLATION)
}

fn alert_from(body: &str, at: Timestamp, ids: &SignalIds, sender: &Sender) -> SignalEventV1 {
    let raw = parse_alert(body.as_bytes(), at).unwrap();
    let scope = IdScope {
        ids,
        sender,
        bucket: DEFAULT_BUCKET,
    };
    normalize(
        raw,
        SignalSource::Tradingview,
        &PriorityRules::default(),
        at,
        &scope,
    )
    .unwrap()
}

fn alert(body: &str, at: Timestamp) -> SignalEventV1 {
    alert_from(body, at, &ids(), &Sender::holding(b"the passphrase"))
}

#[test]
fn same_content_in_a_bucket_is_one_signal() {
    let body = r#"{"ticker":"BINANCE:BTCUSDT","action":"buy","close":"42000.5","contracts":"0.015","unknown":"ignored for the id"}"#;
    let bucket_start = secs(T - T.rem_euclid(60));
    let first = alert(body, bucket_start);
    let again = alert(body, bucket_start.add_nanos(59_999_999_999));
    assert_eq!(first.id, again.id);
    assert_eq!(first.id.version(), 8);
    // The same numbers written differently are the same content.
    let respelled = r#"{"ticker":"BINANCE:BTCUSDT","action":"BUY","price":42000.50,"qty":0.015}"#;
    assert_eq!(alert(respelled, bucket_start).id, first.id);
    // The next bucket: a new id (the documented edge), which the previous-bucket id recognises.
    let next = bucket_start.add_nanos(60_000_000_000);
    let later = alert(body, next);
    assert_ne!(later.id, first.id);
    let sender = Sender::holding(b"the passphrase");
    let previous = ids().previous_bucket_id(&sender, &later, next, DEFAULT_BUCKET);
    assert_eq!(previous, Some(first.id));
    // Different content: different id.
    let other = body.replace("42000.5", "42000.6");
    assert_ne!(alert(&other, bucket_start).id, first.id);
}

#[test]
fn an_explicit_id_is_the_key_and_pines_order_name_is_not() {
    let with_id = |id: &str, price: &str, at: Timestamp| {
        alert(
            &format!(r#"{{"ticker":"AAPL","action":"buy","id":"{id}","close":"{price}"}}"#),
            at,
        )
    };
    let a = with_id("alert-1", "180", secs(T));
    assert_eq!(a.source_id.as_deref(), Some("alert-1"));
    // Same id later and with other content: the same key (the server answers 409
    // for the changed content).
    let changed = with_id("alert-1", "181", secs(T + 3600));
    assert_eq!(changed.id, a.id);
    assert_eq!(differing_fields(&a, &changed), vec!["price"]);
    assert!(differing_fields(&a, &a).is_empty());
    assert_ne!(with_id("alert-2", "180", secs(T)).id, a.id);
    // `strategy.order.id` is Pine's order name ("Long"): every trade repeats it, so
    // it is metadata, and the content decides.
    let long = |price: &str| {
        alert(
            &format!(
                r#"{{"ticker":"AAPL","action":"buy","strategy.order.id":"Long","close":"{price}"}}"#
            ),
            secs(T),
        )
    };
    let (first, second) = (long("180"), long("185"));
    assert_eq!(first.source_id, None);
    assert_eq!(first.metadata["strategy.order.id"], "Long");
    assert_ne!(first.id, second.id);
}

#[test]
fn ids_are_per_sender_and_per_installation() {
    let body = r#"{"ticker":"AAPL","action":"buy","id":"7"}"#;
    let at = secs(T);
    let ours = alert_from(
        body,
        at,
        &ids(),
        &Sender::holding(b"strategy A's passphrase"),
    );
    let theirs = alert_from(
        body,
        at,
        &ids(),
        &Sender::holding(b"strategy B's passphrase"),
    );
    assert_ne!(ours.id, theirs.id, "two senders' equal ids collide");
    let elsewhere = alert_from(
        body,
        at,
        &SignalIds::new(b"another installation's secret, 32+ bytes"),
        &Sender::holding(b"strategy A's passphrase"),
    );
    assert_ne!(
        ours.id, elsewhere.id,
        "an id is predictable without the secret"
    );
    // Two strategies sharing one passphrase are told apart by their names.
    let shared = Sender::holding(b"one passphrase");
    let named = |name: &str| {
        let body = format!(r#"{{"ticker":"AAPL","action":"buy","id":"7","strategy":"{name}"}}"#);
        alert_from(&body, at, &ids(), &shared).id
    };
    assert_ne!(named("swing"), named("scalp"));
}

fn generic(body: &[u8], at: Timestamp) -> Result<SignalEventV1, neo_api::intake::IntakeError> {
    let (ids, sender) = (ids(), Sender::holding(b"signing secret, 16+"));
    let scope = IdScope {
        ids: &ids,
        sender: &sender,
        bucket: DEFAULT_BUCKET,
    };
    parse_generic(body, at, &scope)
}

#[test]
fn generic_bodies() {
    let at = secs(T);
    let s = generic(BODY, at).unwrap();
    assert_eq!(s.source, SignalSource::Api);
    assert_eq!(s.signal_type, SignalType::Entry);
    assert_eq!(s.id.version(), 8);
    assert_eq!(generic(BODY, at.add_nanos(1)).unwrap().id, s.id);

    // A sent id is the sender's key, never the stored id (nobody picks their own).
    let with_id = json!({
        "id": "0199a3c1-7d2e-7c4a-9f10-3b5e8d2a6c01", "source": "api", "instrument": "AAPL",
        "signal_type": "alert", "priority": "low", "ts_event": "2026-11-21T21:09:03Z"
    });
    let s = generic(with_id.to_string().as_bytes(), at).unwrap();
    assert_ne!(s.id.to_string(), "0199a3c1-7d2e-7c4a-9f10-3b5e8d2a6c01");
    assert_eq!(
        s.source_id.as_deref(),
        Some("0199a3c1-7d2e-7c4a-9f10-3b5e8d2a6c01")
    );
    assert_eq!(
        generic(
            with_id.to_string().as_bytes(),
            at.add_nanos(3_600_000_000_000)
        )
        .unwrap()
        .id,
        s.id
    );

    let source_id = json!({
        "source_id": "job-7", "instrument": "AAPL", "signal_type": "alert",
        "priority": "low", "ts_event": "2026-11-21T21:09:03Z"
    });
    let s = generic(source_id.to_string().as_bytes(), at).unwrap();
    assert_eq!(s.source_id.as_deref(), Some("job-7"));
    assert_eq!(s.id.version(), 8);

    let cases: &[(&[u8], u16, &str, &str)] = &[
        (b"not json", 400, "invalid_json", ""),
        (b"[]", 422, "not_an_object", ""),
        (br#"{"source":"tradingview"}"#, 422, "contract_violation", "/source"),
        (
            br#"{"instrument":"btc","signal_type":"entry","priority":"normal","ts_event":"2026-11-21T21:09:03Z"}"#,
            422,
            "contract_violation",
            "/instrument",
        ),
        (
            br#"{"instrument":"AAPL","signal_type":"entry","priority":"normal","ts_event":"2026-11-21T21:09:03Z"}"#,
            422,
            "contract_violation",
            "/side",
        ),
        (
            br#"{"instrument":"AAPL","priority":"normal","ts_event":"2026-11-21T21:09:03Z"}"#,
            422,
            "contract_violation",
            "/signal_type",
        ),
    ];
    for (body, status, code, path) in cases {
        let err = generic(body, at).unwrap_err();
        assert_eq!((err.status(), err.code()), (*status, *code), "{err}");
        assert_eq!(err.details()[0].path, *path, "{err}");
    }
}
