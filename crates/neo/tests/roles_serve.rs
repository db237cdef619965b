//! NEO as separate `neo serve` processes over a real nats-server and
//! PostgreSQL: a gateway, two desks (one active, one standby) and a
//! notification worker. Alerts stream into the gateway while each role is
//! SIGKILLed in turn and restarted, nats-server is killed and restarted, the
//! store's connections are cut, and the active desk dies so the standby takes
//! over. Afterwards every 202-answered alert is decided exactly once, no
//! intent has two orders, positions equal the stored fills, and every
//! notification is delivered or dead-lettered with its reason. A second
//! test kills the active market process alone: the standby market takes
//! over and the desk, never restarted, is priced again over NATS.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]
// Failover is measured in wall-clock time and printed.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neo_testkit::db::TestDb;
use neo_testkit::mock::MockHttp;
use neo_testkit::nats::NatsServer;
use serde_json::{Value, json};

mod common;

use common::{Killed, decided, free_port, numbered_alert, wait_healthy};

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
                 [guard]\nrate_limit_per_ip = 0\n\
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
        self.role_state(p, "desk").await
    }

    /// What `/ready` says the process's `role` is doing, if it has one.
    async fn role_state(&self, p: &Process, role: &str) -> Option<String> {
        let r = self
            .http
            .get(format!("{}/ready", p.base()))
            .send()
            .await
            .ok()?;
        let body: Value = r.json().await.ok()?;
        body["roles"][role].as_str().map(str::to_owned)
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

/// Alerts per round; six rounds make the 10,000.
const PER_ROUND: usize = 1_700;
/// Senders at once.
const SENDERS: usize = 6;

/// Sends alerts `first..first + PER_ROUND` from several senders, each retried (same
/// id) until a 202 as a careful sender would; `accepted` counts them as they land.
async fn round_of_alerts(
    http: reqwest::Client,
    base: String,
    first: usize,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<String> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(first));
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (http, base, next, accepted) =
            (http.clone(), base.clone(), next.clone(), accepted.clone());
        senders.spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= first + PER_ROUND {
                    return ids;
                }
                ids.push(send_until_accepted(&http, &base, n).await);
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    let mut ids = Vec::new();
    while let Some(got) = senders.join_next().await {
        ids.extend(got.unwrap());
    }
    ids
}

/// Alert `n`, resent until a 202 (60 s at most); its signal id.
async fn send_until_accepted(http: &reqwest::Client, base: &str, n: usize) -> String {
    let body = numbered_alert(n, PASS, "roles");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = http
            .post(format!("{base}/v1/webhooks/tradingview"))
            .json(&body)
            .timeout(Duration::from_secs(3))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 202 => {
                let answer: Value = r.json().await.unwrap();
                return answer["signal_id"].as_str().unwrap().to_owned();
            }
            // 503 while the store or bus is away; an error while the gateway restarts.
            Ok(r) if r.status().as_u16() == 503 => {}
            Ok(r) => panic!("alert {n}: unexpected answer {}", r.status()),
            Err(_) => {}
        }
        assert!(Instant::now() < deadline, "alert {n} never accepted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    // Desk processes also run the market role (as the Kubernetes desk Deployment
    // does): the desk follows the active market over NATS, whichever process has it.
    let mut desk_a = cluster.process("desk-a", &["desk", "market"]);
    let mut desk_b = cluster.process("desk-b", &["desk", "market"]);
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

    // Prices reach the desk from the market role over NATS: fresh, and moving.
    let before = fresh_btc(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while fresh_btc(&http, &base).await == before {
        assert!(
            Instant::now() < deadline,
            "BTC's price never moved from {before}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // `neo doctor` on a role process without the API checks what it serves.
    for (p, says) in [
        (&desk_a, "desk (active)"),
        (&desk_a, "market (active)"),
        (&notify, "roles: notify"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_neo"))
            .args(["doctor", "--url", &p.base()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(says) && !text.contains("openapi"), "{text}");
    }

    let mut accepted = vec![id];
    let mut figures = Vec::new();
    for (round, fault) in FAULTS.iter().enumerate() {
        let landed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sender = tokio::spawn(round_of_alerts(
            http.clone(),
            base.clone(),
            (round + 1) * 1_000_000,
            landed.clone(),
        ));
        // The fault strikes a third of the way through the round.
        while landed.load(std::sync::atomic::Ordering::Relaxed) < PER_ROUND / 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let measured = inject(
            *fault,
            &cluster,
            &mut Faulty {
                gateway: &mut gateway,
                desk_a: &mut desk_a,
                desk_b: &mut desk_b,
                notify: &mut notify,
                nats: &mut nats,
                db: &db,
            },
        )
        .await;
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
    let markets = (
        cluster.role_state(&desk_a, "market").await,
        cluster.role_state(&desk_b, "market").await,
    );
    let actives = [&markets.0, &markets.1]
        .iter()
        .filter(|s| s.as_deref() == Some("active"))
        .count();
    assert_eq!(actives, 1, "one market leads: {markets:?}");

    // After every fault, the active desk still has live prices from the active market.
    fresh_btc(&http, &base).await;
    check_everything(&http, &base, &accepted, &slack, &db.url).await;
    println!("standby takeover after SIGKILL of the active desk: {figures:?}");
    for p in [&mut gateway, &mut desk_a, &mut desk_b, &mut notify] {
        Cluster::kill(p);
    }
    let _ = std::fs::remove_dir_all(&cluster.dir);
}

/// The age of BTC's newest price at the desk, from its process's `/ready`.
async fn btc_age(cluster: &Cluster, desk: &Process) -> Option<f64> {
    let r = cluster
        .http
        .get(format!("{}/ready", desk.base()))
        .send()
        .await
        .ok()?;
    let body: Value = r.json().await.ok()?;
    body["market"]["instruments"]["BTC-USDT"]["age_secs"].as_f64()
}

/// Waits (within `within`) until the desk's BTC price is under a second old.
async fn wait_priced(cluster: &Cluster, desk: &Process, within: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < within {
        if btc_age(cluster, desk).await.is_some_and(|age| age < 1.0) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the desk was never priced: {}", log_of(&desk.data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_market_takes_over_and_the_desk_stays_priced() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(nats) = neo_testkit::nats::require_nats("neo serve market failover") else {
        return;
    };
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let slack = MockHttp::start().await.unwrap();
    let cluster = Cluster::new(&nats, &db, &slack);
    let mut market_a = cluster.process("market-a", &["market"]);
    let mut market_b = cluster.process("market-b", &["market"]);
    let mut desk = cluster.process("desk", &["desk"]);
    cluster.start(&mut market_a).await;
    assert_eq!(
        cluster.role_state(&market_a, "market").await.as_deref(),
        Some("active")
    );
    cluster.start(&mut market_b).await;
    assert_eq!(
        cluster.role_state(&market_b, "market").await.as_deref(),
        Some("standby")
    );
    cluster.start(&mut desk).await;
    cluster
        .wait_desk(&desk, "active", Duration::from_secs(20))
        .await;
    wait_priced(&cluster, &desk, Duration::from_secs(10)).await;

    Cluster::kill(&mut market_a);
    let killed = Instant::now();
    // The standby takes the lease once the killed session ends; the widest gap
    // in the desk's prices meanwhile is the failover as the desk sees it.
    let mut gap = 0.0_f64;
    while killed.elapsed() < Duration::from_secs(4) {
        if let Some(age) = btc_age(&cluster, &desk).await {
            gap = gap.max(age);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        cluster.role_state(&market_b, "market").await.as_deref(),
        Some("active")
    );
    // Seconds after the kill, prices are fresh again: only the new market makes them.
    wait_priced(&cluster, &desk, Duration::from_secs(10)).await;
    assert_eq!(
        cluster.desk_state(&desk).await.as_deref(),
        Some("active"),
        "the desk kept leading through the market's failover"
    );
    println!("market failover: the widest gap in the desk's BTC prices was {gap:.2} s");
    for p in [&mut market_b, &mut desk] {
        Cluster::kill(p);
    }
    let _ = std::fs::remove_dir_all(&cluster.dir);
}

/// Everything a fault can strike.
struct Faulty<'a> {
    gateway: &'a mut Process,
    desk_a: &'a mut Process,
    desk_b: &'a mut Process,
    notify: &'a mut Process,
    nats: &'a mut NatsServer,
    db: &'a TestDb,
}

/// Strikes and recovers; for a desk kill, how long the standby took to lead.
async fn inject(fault: Fault, cluster: &Cluster, on: &mut Faulty<'_>) -> Option<Duration> {
    match fault {
        Fault::KillGateway => {
            Cluster::kill(on.gateway);
            tokio::time::sleep(Duration::from_millis(300)).await;
            cluster.start(on.gateway).await;
        }
        Fault::KillNotify => {
            Cluster::kill(on.notify);
            tokio::time::sleep(Duration::from_millis(300)).await;
            cluster.start(on.notify).await;
        }
        Fault::KillActiveDesk => {
            let a_leads = cluster.desk_state(on.desk_a).await.as_deref() == Some("active");
            let (active, standby) = if a_leads {
                (&mut *on.desk_a, &mut *on.desk_b)
            } else {
                (&mut *on.desk_b, &mut *on.desk_a)
            };
            Cluster::kill(active);
            let took = cluster
                .wait_desk(standby, "active", Duration::from_secs(30))
                .await;
            cluster.start(active).await;
            cluster
                .wait_desk(active, "standby", Duration::from_secs(10))
                .await;
            return Some(took);
        }
        Fault::KillNats => {
            on.nats.kill();
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            on.nats.restart().unwrap();
        }
        Fault::CutStore => {
            // NEO's own test database only: every session cut, new ones refused a while.
            assert!(on.db.take_away().await);
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            on.db.give_back().await;
        }
    }
    None
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

/// BTC's last price once the gateway shows it fresh (10 s at most): the market
/// role's data reached the desk, whose view the gateway reads.
async fn fresh_btc(http: &reqwest::Client, base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready: Value = http
            .get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        let mut tickers = Value::Null;
        if ready["market"]["instruments"]["BTC-USDT"]["stale"] == false {
            tickers = eventually_ok(http, &format!("{base}/v1/tickers")).await;
            let btc = tickers["items"]
                .as_array()
                .and_then(|all| all.iter().find(|t| t["instrument"] == "BTC-USDT"))
                .map(|t| t["price"].to_string());
            if let Some(price) = btc {
                return price;
            }
        }
        assert!(
            Instant::now() < deadline,
            "BTC never fresh: {ready} {tickers}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

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

/// Every accepted alert stored once and decided exactly once, no (intent, role)
/// with two orders, positions equal to the stored fills (exact, in SQL), every
/// notification settled; a sample of stories read back through the gateway.
async fn check_everything(
    http: &reqwest::Client,
    base: &str,
    accepted: &[String],
    slack: &MockHttp,
    db_url: &str,
) {
    use sqlx::Connection as _;
    let deadline = Instant::now() + Duration::from_secs(180);
    let unique: std::collections::BTreeSet<&String> = accepted.iter().collect();
    let mut db = sqlx::PgConnection::connect(db_url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id::text FROM signals")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let stored: std::collections::BTreeSet<String> = stored.into_iter().collect();
    let missing: Vec<&&String> = unique.iter().filter(|id| !stored.contains(**id)).collect();
    assert!(missing.is_empty(), "accepted but not stored: {missing:?}");
    assert_eq!(
        stored.len(),
        unique.len(),
        "signals stored that no 202 answered"
    );
    loop {
        let decisions: Vec<(String, i64)> = sqlx::query_as(
            "SELECT correlation_id::text, count(*) FROM audit_events \
             WHERE action = 'decision' GROUP BY correlation_id",
        )
        .fetch_all(&mut db)
        .await
        .unwrap();
        let twice: Vec<&(String, i64)> = decisions.iter().filter(|(_, n)| *n != 1).collect();
        assert!(twice.is_empty(), "decided more than once: {twice:?}");
        if decisions.len() == stored.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} signals decided",
            decisions.len(),
            stored.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT intent_id, role FROM orders \
         GROUP BY intent_id, role HAVING count(*) > 1) d",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(doubled, 0, "an (intent, role) has two orders");
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut db)
        .await
        .unwrap();
    // Exact: NUMERIC sums, no floats.
    let off: Vec<(String, String)> = sqlx::query_as(
        "SELECT instrument, coalesce(f.net, 0)::text FROM positions p \
         FULL JOIN (SELECT instrument, sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) AS net \
                    FROM fills GROUP BY instrument) f USING (instrument) \
         WHERE coalesce(f.net, 0) <> coalesce(CASE WHEN p.side = 'short' THEN -p.quantity ELSE p.quantity END, 0)",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(
        off.is_empty(),
        "positions differ from the stored fills: {off:?}"
    );
    // The gateway tells the same stories.
    for id in accepted.iter().step_by((accepted.len() / 100).max(1)) {
        let story = decided(http, base, id, deadline).await;
        let intents = story["intents"].as_array().unwrap();
        let parents = story["orders"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["parent_id"].is_null())
            .count();
        assert_eq!(
            parents,
            intents.len(),
            "{id}: one order per intent: {story}"
        );
    }
    let delivered = notifications_settled(db_url, deadline).await;
    assert!(
        slack.requests().len() >= delivered,
        "Slack saw {} requests for {delivered} deliveries",
        slack.requests().len()
    );
    println!(
        "{} alerts accepted, {} signals stored and decided once, {orders} orders, \
         {delivered} notifications delivered; positions equal the fills",
        accepted.len(),
        stored.len()
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
