#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::*;

fn key(name: &str, role: &str, sha256: &str, expires: Option<&str>) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.into(),
        role: role.into(),
        sha256: sha256.into(),
        expires: expires.map(str::to_owned),
    }
}

#[test]
fn validate_lists_every_problem_at_once() {
    let good = key_digest_hex("neo_a");
    let config = ApiConfig {
        keys: vec![
            key("ops", "admin", &good, Some("2027-06-30T00:00:00Z")),
            key("ops", "root", "abc", None),
            key("", "read", "neo_0123", Some("next tuesday")),
            key("ci bot", "read", &good.to_uppercase(), None),
        ],
        public_metrics: false,
    };
    let problems = config.validate();
    let expect = [
        "api.keys[1].role \"root\"",
        "api.keys[1].sha256 must be",
        "api.keys[1].name \"ops\" is used by another key",
        "api.keys[2].name \"\"",
        "looks like the key itself",
        "api.keys[2].expires",
        "api.keys[3].name \"ci bot\"",
        "api.keys[3].sha256 is the same as another key's",
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    for (problem, want) in problems.iter().zip(expect) {
        assert!(
            problem.contains(want),
            "{problem:?} should contain {want:?}"
        );
    }
    assert_eq!(
        ApiAuth::new(&config).unwrap_err(),
        KeyConfigError::Invalid(problems)
    );
    assert!(ApiConfig::default().validate().is_empty());
}

#[test]
fn roles_parse_and_admin_reaches_read() {
    assert_eq!(Role::parse("read"), Some(Role::Read));
    assert_eq!(Role::parse("admin"), Some(Role::Admin));
    assert_eq!(Role::parse("Admin"), None);
    assert!(Role::Admin.reaches(Role::Read));
    assert!(Role::Admin.reaches(Role::Admin));
    assert!(Role::Read.reaches(Role::Read));
    assert!(!Role::Read.reaches(Role::Admin));
}

#[test]
fn bearer_header_is_read_case_insensitively_and_nothing_else() {
    let with = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        bearer_key(&headers).map(str::to_owned)
    };
    assert_eq!(with("Bearer neo_x"), Some("neo_x".into()));
    assert_eq!(with("bearer  neo_x "), Some("neo_x".into()));
    assert_eq!(with("Basic bmVvOng="), None);
    assert_eq!(with("Bearer "), None);
    assert_eq!(with("neo_x"), None);
    assert_eq!(bearer_key(&HeaderMap::new()), None);
}

#[test]
fn loopback_authorities() {
    for ok in [
        "localhost",
        "LOCALHOST:8001",
        "127.0.0.1",
        "127.0.0.1:8001",
        "127.1.2.3:80",
        "[::1]",
        "[::1]:8001",
    ] {
        assert!(is_loopback_authority(ok), "{ok}");
    }
    for bad in [
        "evil.example",
        "evil.example:8001",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "0.0.0.0:8001",
        "10.0.0.1",
        "[::2]:8001",
        "[::1]x",
        "localhost:",
        "localhost:80:80",
        "::1",
        "",
    ] {
        assert!(!is_loopback_authority(bad), "{bad}");
    }
}

#[test]
fn key_status_warns_seven_days_ahead() {
    let config = ApiConfig {
        keys: vec![
            key("forever", "read", &key_digest_hex("neo_1"), None),
            key(
                "soon",
                "read",
                &key_digest_hex("neo_2"),
                Some("2026-12-10T00:00:00Z"),
            ),
        ],
        public_metrics: false,
    };
    let keys = ApiKeys::from_config(&config).unwrap();
    let at = |t: &str| neo_domain::Timestamp::parse_rfc3339(t).unwrap();
    let soon = &keys.keys()[1];
    assert_eq!(
        KeyStatus::of(&keys.keys()[0], at("2030-01-01T00:00:00Z")),
        KeyStatus::Valid
    );
    assert_eq!(
        KeyStatus::of(soon, at("2026-12-02T23:59:59Z")),
        KeyStatus::Valid
    );
    assert_eq!(
        KeyStatus::of(soon, at("2026-12-03T00:00:00Z")),
        KeyStatus::Expiring
    );
    assert_eq!(
        KeyStatus::of(soon, at("2026-12-09T23:59:59Z")),
        KeyStatus::Expiring
    );
    assert_eq!(
        KeyStatus::of(soon, at("2026-12-10T00:00:00Z")),
        KeyStatus::Expired
    );
}

#[test]
fn expiry_gauges_appear_on_metrics() {
    let metrics = crate::metrics::Metrics::install().unwrap();
    let config = ApiConfig {
        keys: vec![key(
            "gauge-test",
            "read",
            &key_digest_hex("neo_3"),
            Some("2026-12-10T00:00:00Z"),
        )],
        public_metrics: false,
    };
    let keys = ApiKeys::from_config(&config).unwrap();
    let now = neo_domain::Timestamp::parse_rfc3339("2026-12-09T00:00:00Z").unwrap();
    let statuses = publish_expiry(&keys, now);
    assert_eq!(
        statuses,
        vec![("gauge-test".to_owned(), KeyStatus::Expiring)]
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"neo_api_key_expiry_seconds{name="gauge-test"} 86400"#),
        "{text}"
    );
    assert!(
        text.contains(r#"neo_api_key_expiring{name="gauge-test"} 1"#),
        "{text}"
    );
}
