//! The in-process pipeline the end-to-end tests drive: a rig with local Slack
//! and Telegram servers, alerts, and story polling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::path::PathBuf;
use std::time::Duration;

use neo_api::intake::Secret;
use neo_pipeline::{Config, Running, start, wall_clock};
use neo_testkit::mock::MockHttp;
use serde_json::{Value, json};

pub const PASS: &str = "e2e-passphrase";

/// The pipeline in-process with local Slack and Telegram servers.
pub struct Rig {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub slack: MockHttp,
    pub telegram: MockHttp,
    pub dir: TempDir,
    pub config: Config,
}

/// A data directory removed when dropped (unless handed on with [`TempDir::keep`]).
pub struct TempDir(Option<PathBuf>);

impl TempDir {
    /// Where it is.
    pub fn path(&self) -> &std::path::Path {
        self.0.as_deref().unwrap()
    }

    /// The path, no longer removed on drop (a restart takes it over).
    pub fn keep(mut self) -> PathBuf {
        self.0.take().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Starts a pipeline on `store_url` with `tune` applied to the test config.
pub async fn rig(store_url: &str, tune: impl FnOnce(&mut Config)) -> Rig {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let slack = MockHttp::start().await.unwrap();
    let telegram = MockHttp::start().await.unwrap();
    let mut c = Config::default();
    c.server.port = 0;
    c.gateway.passphrase = Some(Secret::new(PASS));
    c.store.url = Some(store_url.to_owned());
    c.notify.console.enabled = false;
    c.notify.slack.enabled = true;
    c.notify.slack.webhook_url = Some(neo_notify::Secret::new(slack.url("/services/T0/B0/x")));
    c.notify.slack.rate_limit = 1000;
    c.notify.telegram.enabled = true;
    c.notify.telegram.bot_token = Some(neo_notify::Secret::new("123:abc"));
    c.notify.telegram.chat_id = Some("-100200".to_owned());
    c.notify.telegram.api_base = telegram.url("");
    c.notify.telegram.rate_limit = 1000;
    c.notify.retry.initial_backoff_ms = 10;
    c.notify.retry.max_backoff_ms = 20;
    c.notify.retry.max_attempts = 3;
    c.market.tick_ms = 50;
    tune(&mut c);
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-e2e"));
    Box::pin(rig_in(dir, c, slack, telegram)).await
}

/// Starts a pipeline again on a stopped rig's data directory and config (a restart).
pub async fn restart(dir: TempDir, mut c: Config) -> Rig {
    let slack = MockHttp::start().await.unwrap();
    let telegram = MockHttp::start().await.unwrap();
    c.notify.slack.webhook_url = Some(neo_notify::Secret::new(slack.url("/services/T0/B0/x")));
    c.notify.telegram.api_base = telegram.url("");
    Box::pin(rig_in(dir.keep(), c, slack, telegram)).await
}

async fn rig_in(dir: PathBuf, c: Config, slack: MockHttp, telegram: MockHttp) -> Rig {
    let config = c.clone();
    let running = start(c, &dir, wall_clock()).await.unwrap();
    Rig {
        base: format!("http://{}", running.addr),
        running: Some(running),
        http: reqwest::Client::new(),
        slack,
        telegram,
        dir: TempDir(Some(dir)),
        config,
    }
}

impl Rig {
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/webhooks/tradingview", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Polls the story until `done` says so (or 10 s pass).
    pub async fn story_until(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (status, story) = self.get(&format!("/v1/signals/{id}")).await;
            if status == 200 && done(&story) || tokio::time::Instant::now() > deadline {
                return story;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
    }

    /// Stops the pipeline and hands back its data directory (for a restart).
    pub async fn stop_keeping_data(mut self) -> TempDir {
        if let Some(r) = self.running.take() {
            r.shutdown().await.unwrap();
        }
        self.dir
    }
}

/// A TradingView alert with the test passphrase.
pub fn alert(id: &str, action: &str) -> Value {
    json!({ "ticker": "BTCUSDT", "exchange": "BINANCE", "action": action,
            "strategy": "e2e", "passphrase": PASS, "id": id })
}

/// Whether the story has a decision.
pub fn decided(story: &Value) -> bool {
    story["decisions"].as_array().is_some_and(|d| !d.is_empty())
}

/// Sends a buy; if the market's trend makes the analyst hold it, a sell instead.
/// Sends a buy (or a sell when the market makes the analyst hold the buy) that trades.
pub async fn entry_that_trades(rig: &Rig) -> (String, String) {
    entry_that_trades_tagged(rig, "e2e").await
}

/// [`entry_that_trades`] with alert ids `{tag}-buy` and `{tag}-sell`.
pub async fn entry_that_trades_tagged(rig: &Rig, tag: &str) -> (String, String) {
    for action in ["buy", "sell"] {
        let alert_id = &format!("{tag}-{action}");
        let (status, answer) = rig.post(&alert(alert_id, action)).await;
        assert_eq!(status, 202, "{answer}");
        assert_eq!(answer["duplicate"], false);
        let id = answer["signal_id"].as_str().unwrap().to_owned();
        let story = rig.story_until(&id, decided).await;
        let rec = story["decisions"][0]["recommendation"]
            .as_str()
            .unwrap()
            .to_owned();
        if rec == action {
            return (id, alert_id.to_owned());
        }
        assert_eq!(rec, "hold", "{story}");
    }
    panic!("neither a buy nor a sell traded");
}
