//! Helpers shared by the command-line tests: running the binary, temp paths,
//! and a `neo run` child process.

// Each test binary uses its own subset of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use neo_testkit::workspace_root;

/// Runs the real binary from the workspace root.
pub(crate) fn neo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run neo")
}

/// A path under the temp dir no other test (or test run) uses.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("neo-data-cli-{}-{n}-{name}", std::process::id()))
}

/// A CSV file with `contents` under a fresh temp path.
pub(crate) fn temp_csv(contents: &str) -> PathBuf {
    let path = temp_path("input.csv");
    std::fs::write(&path, contents).unwrap();
    path
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port nobody listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `neo run` child that is killed when dropped, so a failing test leaves no
/// server running behind it.
pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `neo run` on `run`'s config and data at log level `level`, its standard output
/// written to `log` (a file a test reads back), its standard error dropped.
pub(crate) fn spawn_logging(run: &RunDir, level: &str, log: std::fs::File) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_neo"))
            .args(["run", "--config"])
            .arg(&run.config)
            .arg("--data-dir")
            .arg(&run.data)
            .env("NEO_LOG", level)
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Posts a TradingView alert to a running NEO; its answer (`signal_id`, `duplicate`).
pub(crate) async fn post_alert(
    http: &reqwest::Client,
    base: &str,
    alert: &serde_json::Value,
) -> serde_json::Value {
    http.post(format!("{base}/v1/webhooks/tradingview"))
        .json(alert)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `neo run --config <config> --data-dir <data>` as a child process.
pub(crate) fn spawn(config: &Path, data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(["run", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .env("NEO_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until `base/health` answers (15 s at most).
pub(crate) async fn wait_healthy(http: &reqwest::Client, base: &str) {
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("neo run did not become healthy");
}

/// Where a `neo run` child keeps everything.
pub(crate) struct RunDir {
    /// The folder (remove it when done).
    pub(crate) dir: PathBuf,
    /// Its `neo.toml`.
    pub(crate) config: PathBuf,
    /// Its data directory.
    pub(crate) data: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
}

/// A fresh folder with a `neo.toml` serving on a free port with `passphrase`,
/// the console quiet, and `extra` TOML appended.
pub(crate) fn run_dir(name: &str, passphrase: &str, extra: &str) -> RunDir {
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name(name));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let config = dir.join("neo.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nport = {port}\n[gateway]\npassphrase = \"{passphrase}\"\n\
             [notify.console]\nenabled = false\n{extra}"
        ),
    )
    .unwrap();
    RunDir {
        data: dir.join("data"),
        config,
        dir,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Alert `n` of a stream that rotates BTC and ETH, buy and sell (each one reverses a
/// position), with the sender's id `{prefix}-{n}`.
pub(crate) fn numbered_alert(n: usize, passphrase: &str, prefix: &str) -> serde_json::Value {
    let (ticker, action) = match n % 4 {
        0 => ("BTCUSDT", "buy"),
        1 => ("ETHUSDT", "sell"),
        2 => ("BTCUSDT", "sell"),
        _ => ("ETHUSDT", "buy"),
    };
    serde_json::json!({ "ticker": ticker, "action": action, "passphrase": passphrase, "id": format!("{prefix}-{n}") })
}

/// The story of signal `id` once it has a decision (polled until `deadline`); a 404
/// means an accepted alert was lost.
pub(crate) async fn decided(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    deadline: std::time::Instant,
) -> serde_json::Value {
    loop {
        let r = http
            .get(format!("{base}/v1/signals/{id}"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status().as_u16(), 404, "accepted signal {id} was lost");
        if r.status().is_success() {
            let story: serde_json::Value = r.json().await.unwrap();
            if story["decisions"].as_array().is_some_and(|d| !d.is_empty()) {
                return story;
            }
            #[allow(clippy::disallowed_methods)] // a test's deadline is wall time
            let now = std::time::Instant::now();
            assert!(now < deadline, "{id} was never decided: {story}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
