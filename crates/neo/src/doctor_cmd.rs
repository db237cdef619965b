//! `neo doctor`: is a running NEO well? Its own endpoints (liveness,
//! readiness, the API description, the metrics scrape) and every dependency
//! it checks from inside (`GET /v1/system/checks`: the store, the bus, the
//! market feed's freshness, each notification channel, each LLM provider),
//! as one pass/fail table. Exits 1 when anything fails, so a deploy script or
//! a cron job can act on it.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::api_client::ApiTarget;

/// `neo doctor` options.
#[derive(Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    target: ApiTarget,
    /// Print the checks as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// One row of the table.
struct Row {
    name: String,
    ok: bool,
    detail: String,
    millis: u64,
}

/// One GET: status, body text, and how long it took (an error names what failed).
async fn get(
    client: &reqwest::Client,
    target: &ApiTarget,
    path: &str,
) -> (Result<(u16, String), String>, u64) {
    let started = Instant::now();
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let mut request = client.get(url);
    if let Some(key) = &target.api_key {
        request = request.bearer_auth(key);
    }
    let outcome = match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            Ok((status, r.text().await.unwrap_or_default()))
        }
        Err(e) => Err(format!("cannot reach {}: {e}", target.url)),
    };
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    (outcome, millis)
}

/// What a refusal of the API key means, in words.
fn key_hint(status: u16) -> Option<&'static str> {
    match status {
        401 => Some("HTTP 401: give a read key (--key or NEO_API_KEY)"),
        403 => Some(
            "HTTP 403: the key may not read, or NEO serves loopback only to callers without one",
        ),
        _ => None,
    }
}

/// Checks NEO's own endpoints, one row each, and says which roles the process runs
/// (`None` for a process that does not say: every role, as `neo run`).
async fn endpoints(
    client: &reqwest::Client,
    target: &ApiTarget,
) -> (Vec<Row>, Option<Vec<String>>) {
    let mut rows = Vec::new();
    let mut roles = None;
    for (name, path) in [
        ("health", "/health"),
        ("ready", "/ready"),
        ("openapi", "/openapi.json"),
        ("metrics", "/metrics"),
    ] {
        // A desk or notification process serves no API: its description is not missing.
        if path == "/openapi.json" && !serves_api(roles.as_deref()) {
            continue;
        }
        let (outcome, millis) = get(client, target, path).await;
        let (ok, detail) = match outcome {
            Err(e) => (false, e),
            Ok((status, body)) => {
                if path == "/ready" {
                    roles = roles_of(&body);
                }
                judge(path, status, &body)
            }
        };
        rows.push(Row {
            name: name.to_owned(),
            ok,
            detail,
            millis,
        });
    }
    (rows, roles)
}

/// The roles `/ready` names, with a desk's state (`desk (standby)`).
fn roles_of(body: &str) -> Option<Vec<String>> {
    let json: Value = serde_json::from_str(body).ok()?;
    let roles = json["roles"].as_object()?;
    Some(
        roles
            .iter()
            .map(|(role, state)| match state.as_str() {
                Some("running") | None => role.clone(),
                Some(state) => format!("{role} ({state})"),
            })
            .collect(),
    )
}

/// Whether a process with these roles serves the REST API (a gateway, or every role).
fn serves_api(roles: Option<&[String]>) -> bool {
    roles.is_none_or(|r| r.iter().any(|role| role == "gateway"))
}

/// Whether an endpoint's answer is a good one.
fn judge(path: &str, status: u16, body: &str) -> (bool, String) {
    if let Some(hint) = key_hint(status) {
        return (false, hint.to_owned());
    }
    let json: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    match (path, status) {
        ("/ready", 200) => (true, "ready".to_owned()),
        ("/ready", _) => (
            false,
            format!(
                "HTTP {status}: {}",
                json["message"].as_str().unwrap_or(body.trim())
            ),
        ),
        ("/metrics", 200) => {
            let series = body.lines().filter(|l| l.starts_with("neo_")).count();
            (series > 0, format!("{series} neo_ samples"))
        }
        ("/openapi.json", 200) => {
            let paths = json["paths"].as_object().map_or(0, serde_json::Map::len);
            (paths > 0, format!("{paths} paths described"))
        }
        (_, 200) => (true, "answers".to_owned()),
        (_, s) => (false, format!("HTTP {s}")),
    }
}

/// The dependencies NEO checks from inside, one row each.
async fn dependencies(client: &reqwest::Client, target: &ApiTarget) -> Vec<Row> {
    let (outcome, millis) = get(client, target, "/v1/system/checks").await;
    let failed = |detail: String| {
        vec![Row {
            name: "dependencies".to_owned(),
            ok: false,
            detail,
            millis,
        }]
    };
    let (status, body) = match outcome {
        Ok(answer) => answer,
        Err(e) => return failed(e),
    };
    if let Some(hint) = key_hint(status) {
        return failed(hint.to_owned());
    }
    let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(checks) = answer["checks"].as_array().filter(|_| status == 200) else {
        return failed(format!("HTTP {status}: no checks in the answer"));
    };
    checks
        .iter()
        .map(|c| Row {
            name: c["name"].as_str().unwrap_or("?").to_owned(),
            ok: c["ok"] == true,
            detail: c["detail"].as_str().unwrap_or("").to_owned(),
            millis: c["millis"].as_u64().unwrap_or(0),
        })
        .collect()
}

pub(crate) fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let runtime = crate::api_client::runtime()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let (rows, roles) = runtime.block_on(async {
        let (mut rows, roles) = endpoints(&client, &args.target).await;
        if rows.first().is_some_and(|health| health.ok) && serves_api(roles.as_deref()) {
            rows.extend(dependencies(&client, &args.target).await);
        }
        (rows, roles)
    });
    let healthy = rows.iter().all(|r| r.ok);
    if args.json {
        let checks: Vec<Value> = rows
            .iter()
            .map(|r| json!({"name": r.name, "ok": r.ok, "detail": r.detail, "millis": r.millis}))
            .collect();
        let doc = json!({"ok": healthy, "url": args.target.url, "roles": roles, "checks": checks});
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        if let Some(roles) = &roles {
            println!("roles: {}", roles.join(", "));
            if !serves_api(Some(roles)) {
                println!(
                    "(no gateway here: the store and bus are checked by /ready; run neo doctor \
                     against a gateway for the channels, the feed and the LLM providers)"
                );
            }
        }
        println!("{:<18} {:<6} {:>7}  detail", "check", "result", "ms");
        for r in &rows {
            let result = if r.ok { "pass" } else { "FAIL" };
            println!("{:<18} {:<6} {:>7}  {}", r.name, result, r.millis, r.detail);
        }
        let failed = rows.iter().filter(|r| !r.ok).count();
        if failed == 0 {
            println!("all {} checks passed", rows.len());
        } else {
            println!("{failed} of {} checks failed", rows.len());
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
