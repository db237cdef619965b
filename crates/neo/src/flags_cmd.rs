//! `neo flags list|show|set|history`: the feature flags of a running NEO over
//! its API, or `neo flags set --offline` straight into the store (a running
//! NEO picks the change up within a second).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use neo_api::flags::FlagBook;
use neo_engine::flags::{FlagName, FlagState, basis_points};
use neo_pipeline::config::{Config, default_data_dir};
use neo_store::{Store, WriterConfig};
use serde_json::{Map, Value, json};

use crate::api_client::ApiTarget;

/// `neo flags ...`
#[derive(Subcommand)]
pub(crate) enum FlagsCommand {
    /// Every flag: state, share of units, guards.
    List(Target),
    /// One flag's settings and its guard rules' current figures.
    Show(Named),
    /// Change a flag (admin key); the history records who, when, from, to and why.
    Set(SetArgs),
    /// Every change of a flag, oldest first.
    History(Named),
}

/// A running NEO, and how to print its answer.
#[derive(Args)]
pub(crate) struct Target {
    #[command(flatten)]
    api: ApiTarget,
    /// Print the API's JSON answer instead of a summary.
    #[arg(long)]
    pub(crate) json: bool,
}

/// A flag of a running NEO.
#[derive(Args)]
pub(crate) struct Named {
    /// The flag (`output_slack`) or its alias (`FF_OUTPUT_SLACK`).
    name: String,
    #[command(flatten)]
    target: Target,
}

/// The states `set` takes.
#[derive(Clone, Copy, ValueEnum)]
enum StateArg {
    Disabled,
    RollingOut,
    Enabled,
    Rollback,
}

/// `neo flags set`.
#[derive(Args)]
pub(crate) struct SetArgs {
    /// The flag (`output_slack`) or its alias (`FF_OUTPUT_SLACK`).
    name: String,
    /// The new state.
    #[arg(value_enum)]
    state: StateArg,
    /// The share of units for `rolling-out` (0 to 100, two decimals at most).
    #[arg(long)]
    percent: Option<f64>,
    /// Why (kept in the history; required for a rollback).
    #[arg(long, default_value = "")]
    reason: String,
    /// A unit (`strategy:INSTRUMENT`) always in; repeat for more; replaces the list.
    #[arg(long = "allow", value_name = "UNIT")]
    allow: Vec<String>,
    /// A unit never in; repeat for more; replaces the list.
    #[arg(long = "deny", value_name = "UNIT")]
    deny: Vec<String>,
    #[command(flatten)]
    target: Target,
    /// Write to the store directly instead of calling a running NEO.
    #[arg(long)]
    offline: bool,
    /// With `--offline`: the TOML config (default ./neo.toml when it exists).
    #[arg(long)]
    config: Option<PathBuf>,
    /// With `--offline`: where `neo run` keeps its data (the SQLite store).
    #[arg(long, default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
}

pub(crate) fn run(command: FlagsCommand) -> anyhow::Result<ExitCode> {
    let runtime = crate::api_client::runtime()?;
    runtime.block_on(async {
        match command {
            FlagsCommand::List(t) => call(&t, "GET", "/v1/flags", None).await,
            FlagsCommand::Show(n) => {
                let path = format!("/v1/flags/{}", flag(&n.name)?);
                call(&n.target, "GET", &path, None).await
            }
            FlagsCommand::History(n) => {
                let path = format!("/v1/flags/{}/history", flag(&n.name)?);
                call(&n.target, "GET", &path, None).await
            }
            FlagsCommand::Set(s) if s.offline => set_offline(&s).await,
            FlagsCommand::Set(s) => {
                let path = format!("/v1/flags/{}", flag(&s.name)?);
                call(&s.target, "PUT", &path, Some(body(&s))).await
            }
        }
    })
}

fn flag(name: &str) -> anyhow::Result<FlagName> {
    name.parse::<FlagName>().map_err(anyhow::Error::msg)
}

fn body(s: &SetArgs) -> Value {
    let state = match s.state {
        StateArg::Disabled => "disabled",
        StateArg::RollingOut => "rolling_out",
        StateArg::Enabled => "enabled",
        StateArg::Rollback => "rollback",
    };
    let mut body = Map::new();
    body.insert("state".into(), json!(state));
    if let Some(p) = s.percent {
        body.insert("percent".into(), json!(p));
    }
    if !s.reason.trim().is_empty() {
        body.insert("reason".into(), json!(s.reason.trim()));
    }
    if !s.allow.is_empty() {
        body.insert("allow".into(), json!(s.allow));
    }
    if !s.deny.is_empty() {
        body.insert("deny".into(), json!(s.deny));
    }
    Value::Object(body)
}

/// The change written to the store as `operator:offline`.
async fn set_offline(s: &SetArgs) -> anyhow::Result<ExitCode> {
    let name = flag(&s.name)?;
    let state = match s.state {
        StateArg::Disabled => FlagState::Disabled,
        StateArg::Enabled => FlagState::Enabled,
        StateArg::RollingOut => {
            let percent = s.percent.context("rolling-out needs --percent")?;
            FlagState::RollingOut {
                basis_points: basis_points(percent).map_err(anyhow::Error::msg)?,
            }
        }
        StateArg::Rollback => {
            if s.reason.trim().is_empty() {
                bail!("a rollback needs --reason");
            }
            FlagState::Rollback {
                reason: s.reason.trim().to_owned(),
            }
        }
    };
    if s.percent.is_some() && !matches!(s.state, StateArg::RollingOut) {
        bail!("--percent goes with rolling-out only");
    }
    let file = s.config.clone().or_else(|| {
        let local = PathBuf::from("neo.toml");
        local.is_file().then_some(local)
    });
    let config = Config::load(file.as_deref(), std::env::vars())?;
    let url = config.store_url(&s.data_dir);
    let store = Store::connect(&url).await.with_context(|| {
        format!(
            "cannot open the store at {}",
            neo_pipeline::config::redacted_url(&url)
        )
    })?;
    let (writer, task) = store.writer(WriterConfig::default());
    let seed = config
        .seed_flags()
        .map_err(|p| anyhow::anyhow!(p.join("; ")))?;
    let book = FlagBook::open(
        store.clone(),
        writer.clone(),
        seed,
        config.flags.rules(config.desk.brackets.reward_risk()),
    )
    .await?;
    let mut spec = book.spec(name);
    spec.state = state;
    if !s.allow.is_empty() {
        spec.allow.clone_from(&s.allow);
    }
    if !s.deny.is_empty() {
        spec.deny.clone_from(&s.deny);
    }
    let reason = if s.reason.trim().is_empty() {
        "no reason given"
    } else {
        s.reason.trim()
    };
    let now = neo_pipeline::wall_clock()();
    let change = book
        .change(name, spec, "operator:offline", reason, now, Vec::new())
        .await?;
    drop(book);
    drop(writer);
    let _ = task.await;
    store.close().await;
    println!(
        "{name}: {} -> {} (version {}, by {}: {})",
        change.from.state, change.to.state, change.version, change.by, change.reason
    );
    Ok(ExitCode::SUCCESS)
}

/// Sends the request and prints a summary; a non-2xx answer exits 1.
async fn call(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<ExitCode> {
    let (status, answer) = fetch(target, method, path, body).await?;
    if target.json || !(200..300).contains(&status) {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        if !(200..300).contains(&status) {
            println!("NEO answered {status}");
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    print_summary(&answer);
    Ok(ExitCode::SUCCESS)
}

/// One request to a running NEO's API: its status and JSON answer.
pub(crate) async fn fetch(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    target.api.fetch(method, path, body, &[]).await
}

fn print_summary(answer: &Value) {
    if let Some(flags) = answer["flags"].as_array() {
        for f in flags {
            println!("{}", line(f));
        }
    } else if let Some(changes) = answer["changes"].as_array() {
        for c in changes {
            println!(
                "v{} {} by {}: {} -> {} ({})",
                c["version"],
                c["at"].as_str().unwrap_or("?"),
                c["by"].as_str().unwrap_or("?"),
                state_text(&c["from"]),
                state_text(&c["to"]),
                c["reason"].as_str().unwrap_or("")
            );
        }
        if changes.is_empty() {
            println!("no changes: the flag has its configured state");
        }
    } else {
        let one = answer.get("flag").unwrap_or(answer);
        println!("{}", line(one));
        for g in one["guards"].as_array().into_iter().flatten() {
            println!(
                "  guard {}: trips {} {} over {} s (min {} samples): now {} on {} samples",
                g["rule"].as_str().unwrap_or("?"),
                g["trips_when"].as_str().unwrap_or("?"),
                g["threshold"],
                g["window_secs"],
                g["min_samples"],
                g["value"],
                g["samples"]
            );
        }
    }
}

fn line(f: &Value) -> String {
    format!(
        "{:<24} {}",
        f["name"].as_str().unwrap_or("?"),
        state_text(f)
    )
}

fn state_text(spec: &Value) -> String {
    match spec["state"].as_str() {
        Some("rolling_out") => format!("rolling_out {}%", number(&spec["percent"])),
        Some("rollback") => format!("rollback ({})", spec["reason"].as_str().unwrap_or("")),
        Some(s) => s.to_owned(),
        None => "?".to_owned(),
    }
}

/// A number without a useless fraction (`25`, `12.5`).
pub(crate) fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x}"),
        None => "-".to_owned(),
    }
}
