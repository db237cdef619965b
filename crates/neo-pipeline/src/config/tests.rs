#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

use std::path::{Path, PathBuf};

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write(text: &str) -> (PathBuf, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join("neo.toml");
    std::fs::write(&path, text).unwrap();
    (path, dir)
}

mod tempdir {
    /// A directory removed on drop.
    pub(super) struct Dir(pub(super) std::path::PathBuf);
    impl Dir {
        pub(super) fn new() -> Self {
            let name = neo_testkit::db::unique_name("neo-config");
            let path = std::env::temp_dir().join(name);
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn defaults_are_valid_and_name_the_required_keys() {
    let c = Config::load(None, Vec::new()).unwrap();
    assert_eq!(c.server.port, 8001);
    assert_eq!(c.bus.kind, BusKind::Embedded);
    assert_eq!(
        c.market.instruments,
        ["BTC-USDT", "ETH-USDT", "EUR-USD", "AAPL"]
    );
    assert!(c.store.url.is_none());
    assert!(c.store_url(Path::new("d")).starts_with("sqlite://d/neo.db"));
}

#[test]
fn the_shipped_example_loads() {
    let path = neo_testkit::workspace_root().join("neo.example.toml");
    let c = Config::load(Some(&path), Vec::new()).unwrap();
    assert_eq!(c.server.port, 8001);
    assert_eq!(c.desk.kelly.cap, 0.02);
}

#[test]
fn the_file_then_the_environment() {
    let (path, _dir) = write(
        "[server]\nport = 9001\n[gateway]\npassphrase = \"from-file\"\n\
         [notify.telegram]\nenabled = true\nbot_token = \"1:x\"\nchat_id = -100123\napi_base = \"http://127.0.0.1:1\"\n\
         [market]\ninstruments = [\"BTC-USDT\"]\n",
    );
    let c = Config::load(
        Some(&path),
        env(&[
            ("NEO_SERVER__PORT", "9002"),
            ("NEO_GATEWAY__PASSPHRASE", "12345"),
            ("NEO_NOTIFY__SLACK__ENABLED", "true"),
            ("NEO_NOTIFY__SLACK__WEBHOOK_URL", "http://127.0.0.1:2/hook"),
            ("NEO_MARKET__INSTRUMENTS", "[\"ETH-USDT\", \"AAPL\"]"),
            ("NEO_DESK__KELLY__CAP", "0.01"),
            ("NEO_UNRELATED", "ignored: no section separator"),
            ("OTHER__PORT", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.port, 9002);
    assert_eq!(c.gateway.passphrase.unwrap().expose(), "12345");
    assert!(c.notify.slack.enabled);
    assert_eq!(c.notify.telegram.chat_id.as_deref(), Some("-100123"));
    assert_eq!(c.market.instruments, ["ETH-USDT", "AAPL"]);
    assert_eq!(c.desk.kelly.cap, 0.01);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let (path, _dir) = write("[server]\nprot = 1\n");
    let err = Config::load(Some(&path), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("prot"), "{err}");
    let err = Config::load(None, env(&[("NEO_SERVR__PORT", "1")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("servr"), "{err}");
    let missing = Config::load(Some(Path::new("/nonexistent/neo.toml")), Vec::new());
    assert!(missing.unwrap_err().to_string().contains("does not exist"));
}

#[test]
fn every_problem_is_listed_at_once() {
    let (path, _dir) = write(
        "[bus]\nkind = \"nats\"\n[market]\ninstruments = [\"BAD.ID\"]\ntick_ms = 1\n\
         [store]\nurl = \"mysql://x\"\n[desk]\ncurrency = \"usd\"\n[desk.kelly]\ncap = 2.0\n\
         [notify.slack]\nenabled = true\n[guard]\nallow_ips = [\"999.1.1.1\"]\n",
    );
    let err = Config::load(Some(&path), Vec::new()).unwrap_err();
    let ConfigError::Invalid(problems) = err else {
        panic!("{err}")
    };
    let text = problems.join("\n");
    for needle in [
        "bus.url",
        "BAD.ID",
        "tick_ms",
        "store.url",
        "currency",
        "cap",
        "slack",
        "999.1.1.1",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn api_keys_load_and_every_problem_is_listed() {
    let digest = neo_api::auth::key_digest_hex("neo_example");
    let (path, _dir) = write(&format!(
        r#"
[server]
host = "0.0.0.0"

[api]
public_metrics = true

[[api.keys]]
name = "ops"
role = "admin"
sha256 = "{digest}"
expires = "2027-06-30T00:00:00Z"

[[api.keys]]
name = "grafana"
role = "read"
sha256 = "{}"
"#,
        neo_api::auth::key_digest_hex("neo_other")
    ));
    let c = Config::load(Some(&path), Vec::new()).unwrap();
    assert_eq!(c.api.keys.len(), 2);
    assert!(c.api.public_metrics);

    let (path, _dir) = write(&format!(
        r#"
[[api.keys]]
name = "ops"
role = "superuser"
sha256 = "{digest}"

[[api.keys]]
name = "ops"
role = "read"
sha256 = "not-hex"
expires = "soon"
"#
    ));
    let Err(ConfigError::Invalid(problems)) = Config::load(Some(&path), Vec::new()) else {
        panic!("invalid keys loaded");
    };
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(problems[0].contains("api.keys[0].role"));
    assert!(problems[1].contains("api.keys[1].sha256"));
    assert!(problems[2].contains("api.keys[1].expires"));
    assert!(problems[3].contains("api.keys[1].name \"ops\" is used by another key"));
}

#[test]
fn a_non_loopback_host_needs_keys() {
    for host in ["0.0.0.0", "::", "192.168.1.20", "neo.internal"] {
        let err = Config::load(None, env(&[("NEO_SERVER__HOST", host)])).unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!("{host}: not a validation error");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("[[api.keys]]"), "{problems:?}");
    }
    for host in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
        let c = Config::load(None, env(&[("NEO_SERVER__HOST", host)]));
        assert!(c.is_ok(), "{host}: {:?}", c.err());
    }
}

#[test]
fn retention_is_off_or_longer_than_the_bus_keeps_a_message() {
    let with = |days: &str| Config::load(None, env(&[("NEO_STORE__RETENTION_DAYS", days)]));
    assert_eq!(with("30").unwrap().store.retention_days, 30);
    assert_eq!(with("0").unwrap().store.retention_days, 0);
    let Err(ConfigError::Invalid(problems)) = with("3") else {
        panic!("3 days is shorter than the bus keeps a message")
    };
    assert!(
        problems[0].contains("store.retention_days must be 0"),
        "{problems:?}"
    );
    assert_eq!(Config::default().store.retention_days, 30);
}

#[test]
fn a_production_bus_is_checked_whole() {
    let c = Config::load(
        None,
        env(&[
            ("NEO_BUS__KIND", "nats"),
            ("NEO_BUS__URL", "tls://a:4222, tls://b:4222"),
            ("NEO_BUS__TLS", "true"),
            ("NEO_BUS__CREDENTIALS_FILE", "/etc/neo/neo.creds"),
            ("NEO_BUS__CLIENT_CERT", "/etc/neo/client.pem"),
            ("NEO_BUS__CLIENT_KEY", "/etc/neo/client.key"),
        ]),
    )
    .unwrap();
    let nats = c.bus.nats();
    assert_eq!(nats.urls(), ["tls://a:4222", "tls://b:4222"]);
    assert!(nats.tls && nats.credentials_file.is_some() && nats.client_key.is_some());
    let Err(ConfigError::Invalid(problems)) = Config::load(
        None,
        env(&[
            ("NEO_BUS__KIND", "nats"),
            ("NEO_BUS__URL", "http://a:4222"),
            ("NEO_BUS__TOKEN", "t"),
            ("NEO_BUS__CREDENTIALS_FILE", "/x.creds"),
            ("NEO_BUS__CLIENT_CERT", "/c.pem"),
        ]),
    ) else {
        panic!("three problems")
    };
    assert_eq!(problems.len(), 3, "{problems:?}");
}
