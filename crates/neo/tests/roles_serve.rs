//! NEO as separate `neo serve` processes over a real nats-server and
//! PostgreSQL: a gateway, two desks (one active, one standby) and a
//! notification worker. Alerts stream into the gateway while each role is
//! SIGKILLed in turn and restarted, nats-server is killed and restarted, the
//! store's connections are cut, and the active desk dies so the standby takes
//! over. Afterwards every 202-answered alert is decided exactly once, no
//! intent has two orders, positions equal the stored fills, and every
//! notification is delivered or dead-lettered with its reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]
// Failover is measured in wall-clock time and printed.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neo_testkit::db::TestDb;
use neo_testkit::mock::MockHttp;
use neo_testkit::nats::NatsServer;
use serde_json::{Value, json};

mod common;

use common::{Killed, free_port, wait_healthy};

const PASS: &str = "roles-test-passphrase";

/// The shared config file and each process's own port and data folder.
struct Cluster {
    dir: PathBuf,
    config: PathBuf,
    http: reqwest::Client,
}

/// One `neo serve` process.
struct Process {
    roles: &'static [&'static str],
    port: u16,
    data: PathBuf,
    child: Option<Killed>,
}

impl Process {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Cluster {
    fn new(nats: &NatsServer, db: &TestDb, slack: &MockHttp) -> Cluster {
        let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-roles"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("neo.toml");
        std::fs::write(
            &config,
            format!(
                "[gateway]\npassphrase = \"{PASS}\"\n\
                 [bus]\nkind = \"nats\"\nurl = \"{}\"\n\
                 [store]\nurl = \"{}\"\n\
                 [market]\ntick_ms = 50\n\
                 [notify.console]\nenabled = false\n\
                 [notify.slack]\nenabled = true\nwebhook_url = \"{}\"\nrate_limit = 10000\n",
                nats.url(),
                db.url,
                slack.url("/hook")
            ),
        )
        .unwrap();
        Cluster {
            dir,
            config,
            http: reqwest::Client::new(),
        }
    }

    fn process(&self, name: &str, roles: &'static [&'static str]) -> Process {
        Process {
            roles,
            port: free_port(),
            data: self.dir.join(name),
            child: None,
        }
    }

    /// Starts `p` and waits until it answers `/health`.
    async fn start(&self, p: &mut Process) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_neo"));
        cmd.arg("serve");
        for role in p.roles {
            cmd.args(["--role", role]);
        }
        let log = std::fs::File::create(p.data.with_extension("log")).unwrap();
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(&p.data)
            .env("NEO_SERVER__PORT", p.port.to_string())
            .env("NEO_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        p.child = Some(Killed(child));
        wait_healthy(&self.http, &p.base()).await;
    }

    /// SIGKILL: no shutdown, no goodbye.
    fn kill(p: &mut Process) {
        if let Some(mut killed) = p.child.take() {
            killed.0.kill().unwrap();
            killed.0.wait().unwrap();
        }
    }

    /// What `/ready` says the process's desk is doing (`active`, `standby`), if anything.
    async fn desk_state(&self, p: &Process) -> Option<String> {
        let r = self
            .http
            .get(format!("{}/ready", p.base()))
            .send()
            .await
            .ok()?;
        let body: Value = r.json().await.ok()?;
        body["roles"]["desk"].as_str().map(str::to_owned)
    }

    async fn wait_desk(&self, p: &Process, want: &str, within: Duration) -> Duration {
        let started = Instant::now();
        while started.elapsed() < within {
            if self.desk_state(p).await.as_deref() == Some(want) {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{:?} never became {want}: {}", p.roles, log_of(&p.data));
    }
}

fn log_of(data: &Path) -> String {
    std::fs::read_to_string(data.with_extension("log")).unwrap_or_default()
}

/// Posts alerts numbered from `first` until `stop`; the ids answered 202.
async fn stream(
    http: reqwest::Client,
    base: String,
    first: usize,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let mut accepted = Vec::new();
    let mut n = first;
    while !*stop.borrow() {
        let (ticker, action) = match n % 4 {
            0 => ("BTCUSDT", "buy"),
            1 => ("ETHUSDT", "sell"),
            2 => ("BTCUSDT", "sell"),
            _ => ("ETHUSDT", "buy"),
        };
        let body = json!({ "ticker": ticker, "action": action, "passphrase": PASS, "id": format!("roles-{n}") });
        n += 1;
        let sent = http
            .post(format!("{base}/v1/webhooks/tradingview"))
            .json(&body)
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 202 => {
                let answer: Value = r.json().await.unwrap_or(Value::Null);
                if let Some(id) = answer["signal_id"].as_str() {
                    accepted.push(id.to_owned());
                }
            }
            // 503 while the store or bus is away: not accepted, the sender retries later.
            Ok(r) if r.status().as_u16() == 503 => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(r) => panic!("unexpected answer {}", r.status()),
            // The gateway died mid-request: not accepted as far as the sender knows.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        tokio::time::sleep(Duration::from_millis(4)).await;
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_survive_kills_and_the_standby_desk_takes_over() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(mut nats) = neo_testkit::nats::require_nats("neo serve roles") else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let slack = MockHttp::start().await.unwrap();
    let cluster = Cluster::new(&nats, &db, &slack);
    let mut gateway = cluster.process("gateway", &["gateway"]);
    let mut desk_a = cluster.process("desk-a", &["desk"]);
    let mut desk_b = cluster.process("desk-b", &["desk"]);
    let mut notify = cluster.process("notify", &["notify"]);
    cluster.start(&mut desk_a).await;
    cluster
        .wait_desk(&desk_a, "active", Duration::from_secs(20))
        .await;
    cluster.start(&mut desk_b).await;
    cluster
        .wait_desk(&desk_b, "standby", Duration::from_secs(5))
        .await;
    cluster.start(&mut notify).await;
    cluster.start(&mut gateway).await;
    let base = gateway.base();
    let http = cluster.http.clone();

    // The README's walk-through, across processes: an alert in, decided by the desk,
    // told on Slack by the notification worker.
    let first = common::post_alert(
        &http,
        &base,
        &json!({"ticker": "BTCUSDT", "action": "buy", "passphrase": PASS, "id": "walk-1"}),
    )
    .await;
    let id = first["signal_id"].as_str().unwrap().to_owned();
    let story = decided(&http, &base, &id, Instant::now() + Duration::from_secs(20)).await;
    assert_eq!(story["decisions"].as_array().unwrap().len(), 1, "{story}");
    let told = slack.wait_for(1, Duration::from_secs(20)).await;
    assert!(
        told.iter().any(|r| r.body.to_string().contains(&id)),
        "Slack was not told about {id}"
    );
    // The gateway reads the account from the desk's published view; risk is the desk's.
    let portfolio = eventually_ok(&http, &format!("{base}/v1/portfolio")).await;
    assert!(portfolio["equity"].is_string(), "{portfolio}");
    let risk = http
        .post(format!("{base}/v1/risk/check"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(risk.status().as_u16(), 422 | 503),
        "{}",
        risk.status()
    );

    let mut accepted = vec![id];
    let mut figures = Vec::new();
    for (round, fault) in FAULTS.iter().enumerate() {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let sender = tokio::spawn(stream(
            http.clone(),
            base.clone(),
            (round + 1) * 1_000_000,
            stop_rx,
        ));
        tokio::time::sleep(Duration::from_millis(700)).await;
        let measured = match fault {
            Fault::KillGateway => {
                Cluster::kill(&mut gateway);
                tokio::time::sleep(Duration::from_millis(300)).await;
                cluster.start(&mut gateway).await;
                None
            }
            Fault::KillNotify => {
                Cluster::kill(&mut notify);
                tokio::time::sleep(Duration::from_millis(300)).await;
                cluster.start(&mut notify).await;
                None
            }
            Fault::KillActiveDesk => {
                let (active, standby) =
                    if cluster.desk_state(&desk_a).await.as_deref() == Some("active") {
                        (&mut desk_a, &mut desk_b)
                    } else {
                        (&mut desk_b, &mut desk_a)
                    };
                Cluster::kill(active);
                let took = cluster
                    .wait_desk(standby, "active", Duration::from_secs(30))
                    .await;
                cluster.start(active).await;
                cluster
                    .wait_desk(active, "standby", Duration::from_secs(10))
                    .await;
                Some(took)
            }
            Fault::KillNats => {
                nats.kill();
                tokio::time::sleep(Duration::from_millis(1_000)).await;
                nats.restart().unwrap();
                None
            }
            Fault::CutStore => {
                assert!(db.take_away().await);
                tokio::time::sleep(Duration::from_millis(1_000)).await;
                db.give_back().await;
                None
            }
        };
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        stop.send(true).unwrap();
        let got = sender.await.unwrap();
        println!(
            "{fault:?}: {} alerts accepted, failover {measured:?}",
            got.len()
        );
        if let Some(took) = measured {
            figures.push(took);
        }
        accepted.extend(got);
    }
    // One desk is active at the end, whichever it is.
    let states = (
        cluster.desk_state(&desk_a).await,
        cluster.desk_state(&desk_b).await,
    );
    let actives = [&states.0, &states.1]
        .iter()
        .filter(|s| s.as_deref() == Some("active"))
        .count();
    assert_eq!(actives, 1, "{states:?}");

    check_everything(&http, &base, &accepted, &slack, &db.url).await;
    println!("standby takeover after SIGKILL of the active desk: {figures:?}");
    for p in [&mut gateway, &mut desk_a, &mut desk_b, &mut notify] {
        Cluster::kill(p);
    }
    let _ = std::fs::remove_dir_all(&cluster.dir);
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    KillGateway,
    KillActiveDesk,
    KillNotify,
    KillNats,
    CutStore,
}

const FAULTS: [Fault; 6] = [
    Fault::KillActiveDesk,
    Fault::KillGateway,
    Fault::KillNotify,
    Fault::KillNats,
    Fault::CutStore,
    Fault::KillActiveDesk,
];

/// A GET answered 200 within 10 s (the desk's view can take a second to appear).
async fn eventually_ok(http: &reqwest::Client, url: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http.get(url).send().await.unwrap();
        if r.status().is_success() {
            return r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url}: {}", r.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The story of a signal once decided; a 404 means an accepted alert was lost.
async fn decided(http: &reqwest::Client, base: &str, id: &str, deadline: Instant) -> Value {
    loop {
        let r = http
            .get(format!("{base}/v1/signals/{id}"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status().as_u16(), 404, "accepted signal {id} was lost");
        if r.status().is_success() {
            let story: Value = r.json().await.unwrap();
            if story["decisions"].as_array().is_some_and(|d| !d.is_empty()) {
                return story;
            }
            assert!(Instant::now() < deadline, "{id} was never decided: {story}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every stored signal decided once, one order per intent, fills matching orders and
/// positions, every notification delivered or dead with its reason.
async fn check_everything(
    http: &reqwest::Client,
    base: &str,
    accepted: &[String],
    slack: &MockHttp,
    db_url: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stories = BTreeMap::new();
    for id in accepted {
        stories.insert(id.clone(), decided(http, base, id, deadline).await);
    }
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/signals?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        for s in page["items"].as_array().unwrap() {
            let id = s["id"].as_str().unwrap().to_owned();
            if !stories.contains_key(&id) {
                let story = decided(http, base, &id, deadline).await;
                stories.insert(id, story);
            }
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut net: BTreeMap<String, f64> = BTreeMap::new();
    let mut orders_total = 0;
    for (id, story) in &stories {
        assert_eq!(
            story["decisions"].as_array().unwrap().len(),
            1,
            "{id} decided twice"
        );
        let intents = story["intents"].as_array().unwrap();
        let orders = story["orders"].as_array().unwrap();
        for intent in intents {
            let n = orders
                .iter()
                .filter(|o| o["parent_id"].is_null() && o["intent_id"] == intent["id"])
                .count();
            assert_eq!(n, 1, "{id}: intent {} has {n} orders", intent["id"]);
        }
        orders_total += orders.len();
        for f in story["fills"].as_array().unwrap() {
            let q: f64 = f["quantity"].as_str().unwrap().parse().unwrap();
            let signed = if f["side"] == "buy" { q } else { -q };
            *net.entry(f["instrument"].as_str().unwrap().to_owned())
                .or_default() += signed;
        }
    }
    let positions: Value = http
        .get(format!("{base}/v1/positions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in positions["items"].as_array().unwrap() {
        let q: f64 = p["quantity"].as_str().unwrap().parse().unwrap();
        let signed = if p["side"] == "short" { -q } else { q };
        let expected = net
            .get(p["instrument"].as_str().unwrap())
            .copied()
            .unwrap_or(0.0);
        assert!(
            (signed - expected).abs() < 1e-6,
            "{}: position {signed} but fills sum to {expected}",
            p["instrument"]
        );
    }
    let delivered = notifications_settled(db_url, deadline).await;
    assert!(
        slack.requests().len() >= delivered,
        "Slack saw {} requests for {delivered} deliveries",
        slack.requests().len()
    );
    println!(
        "{} alerts accepted, {} signals stored, {orders_total} orders, {delivered} notifications delivered; positions match fills",
        accepted.len(),
        stories.len()
    );
}

/// Waits until every notification the desk wrote has an outcome (one audit row
/// each), checks every dead one names its reason, and counts the delivered ones.
async fn notifications_settled(db_url: &str, deadline: Instant) -> usize {
    use sqlx::Connection as _;
    let mut db = sqlx::PgConnection::connect(db_url).await.unwrap();
    loop {
        let written: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE subject LIKE 'outputs.notification.%'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        let settled: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_events WHERE action LIKE 'notification.%'",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        if settled >= written {
            assert_eq!(settled, written, "more outcomes than notifications");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{written} notifications written, {settled} settled"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let unexplained: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'notification.dead' \
         AND coalesce(body->'details'->>'reason', '') = ''",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(unexplained, 0, "dead letters without a reason");
    let delivered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_events WHERE action = 'notification.delivered'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    usize::try_from(delivered).unwrap()
}
