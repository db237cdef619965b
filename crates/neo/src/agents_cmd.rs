//! `neo agents`: `test` runs the agents on one signal against a warm
//! simulated market, without placing or storing anything, and prints each
//! prompt, tool call, answer, latency and cost; `budget` prints the LLM spend
//! this UTC day and month against the caps, from the store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use neo_agents::agent::Consultation;
use neo_agents::budget::{BudgetConfig, Ledger};
use neo_agents::config::AgentKind;
use neo_agents::orchestrator::{Ask, Orchestrator};
use neo_agents::prompt;
use neo_agents::tools::Toolbox;
use neo_domain::Timestamp;
use neo_domain::contracts::{Contract, SignalEventV1};
use neo_engine::desk::{Advice, Desk, Step};
use neo_pipeline::config::{Config, default_data_dir};
use neo_pipeline::market::SimFeed;
use neo_store::{StateKey, Store};
use serde_json::{Value, json};

use crate::api_client::runtime;
use crate::mcp_cmd::RemoteTools;

/// `neo agents ...`.
#[derive(Subcommand)]
pub(crate) enum AgentsCommand {
    /// Run the agents on one signal (a SignalEventV1 JSON file, as a story's
    /// `signal` shows it) against a warm simulated market, placing and storing
    /// nothing: each prompt, tool call, answer, latency and cost, then the
    /// combined decision and what risk would do with it.
    Test(TestArgs),
    /// The LLM API spend this UTC day and month, per provider, against the caps.
    Budget(BudgetArgs),
}

/// Which agents `test` runs.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// The rule analyst only.
    Rule,
    /// The LLM agent (and the rule analyst it is combined with).
    Llm,
    /// Every agent the config enables.
    All,
}

/// `neo agents test`.
#[derive(Args)]
pub(crate) struct TestArgs {
    /// The signal: a SignalEventV1 JSON file.
    #[arg(long)]
    signal: PathBuf,
    /// Which agents.
    #[arg(long, value_enum, default_value = "all")]
    agent: Which,
    /// The config file (default ./neo.toml when present): `[agents]` and its providers.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A running NEO whose `/mcp` tools the LLM may call (none without it).
    #[arg(long)]
    url: Option<String>,
    /// Its API key (`NEO_API_KEY`).
    #[arg(long = "key", env = "NEO_API_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `neo agents budget`.
#[derive(Args)]
pub(crate) struct BudgetArgs {
    /// The config file (default ./neo.toml when present): the store and the caps.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The data directory (its neo.db unless `[store] url` says otherwise).
    #[arg(long, default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `neo agents ...`.
pub(crate) fn run(command: AgentsCommand) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match command {
        AgentsCommand::Test(args) => rt.block_on(test(args)),
        AgentsCommand::Budget(args) => rt.block_on(budget(args)),
    }
}

fn config(file: Option<PathBuf>) -> anyhow::Result<Config> {
    let file = file.or_else(|| {
        let local = PathBuf::from("neo.toml");
        local.is_file().then_some(local)
    });
    Ok(Config::load(file.as_deref(), std::env::vars())?)
}

fn read_signal(path: &PathBuf) -> anyhow::Result<SignalEventV1> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let signal: SignalEventV1 = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a SignalEventV1", path.display()))?;
    let issues = signal.check();
    if !issues.is_empty() {
        let list: Vec<String> = issues
            .iter()
            .map(|i| format!("{} {}", i.path, i.problem))
            .collect();
        bail!(
            "{} breaks the contract: {}",
            path.display(),
            list.join("; ")
        );
    }
    Ok(signal)
}

/// A desk over the simulated market, warmed up to `now` like `neo run`'s.
fn warm_desk(config: &Config, signal: &SignalEventV1, now: Timestamp) -> anyhow::Result<Desk> {
    let mut instruments = config.market.instrument_ids();
    if !instruments.contains(&signal.instrument) {
        instruments.push(signal.instrument);
    }
    let warmup = i64::from(config.market.warmup_minutes) * 60_000_000_000;
    let mut feed = SimFeed::new(&instruments, config.market.seed, now.add_nanos(-warmup))?;
    let (history, ticks) = feed.warm_up(now)?;
    let mut desk = Desk::new(config.desk.clone(), feed.steps(), now)?;
    for candle in &history {
        desk.on_candle(candle);
    }
    for tick in &ticks {
        desk.on_tick(tick)?;
    }
    Ok(desk)
}

async fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let mut config = config(args.config.clone())?;
    let signal = read_signal(&args.signal)?;
    let now = neo_pipeline::wall_clock()();
    let mut desk = warm_desk(&config, &signal, now)?;
    let market = desk.briefing(signal.instrument, now);
    let want_llm =
        args.agent != Which::Rule && (args.agent == Which::Llm || config.agents.llm_enabled());
    let consultation = if want_llm {
        if config.agents.llm.providers.is_empty() {
            bail!("no [[agents.llm.providers]] in the config: the LLM agent has nobody to ask");
        }
        if !config.agents.llm_enabled() {
            config.agents.enabled.push(AgentKind::Llm);
        }
        Some(consult(&config, &args, &signal, &market, now).await?)
    } else {
        None
    };
    let advice = consultation.as_ref().map(|c| Advice {
        policy: config.agents.policy,
        llm: c.answer.clone(),
        weights: Default::default(),
    });
    let step = desk.on_signal_advised(&signal, now, advice.as_ref())?;
    let p = prompt::render(&signal, &market);
    let report = json!({
        "signal": signal.id,
        "prompt": { "version": p.version, "system": p.system, "user": p.user },
        "llm": consultation,
        "rule": step.rule_output.as_ref().or(step.decision.as_ref()),
        "decision": step.decision,
        "policy": neo_agents::config::policy_name(config.agents.policy),
        "would_place": step.intents,
        "refused": step.refusal.as_ref().map(|r| json!({ "codes": r.codes, "message": r.message })),
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, &step, consultation.is_some());
    }
    Ok(ExitCode::SUCCESS)
}

async fn consult(
    config: &Config,
    args: &TestArgs,
    signal: &SignalEventV1,
    market: &Value,
    now: Timestamp,
) -> anyhow::Result<Consultation> {
    let toolbox: Option<Arc<dyn Toolbox>> = match &args.url {
        Some(url) => Some(Arc::new(RemoteTools::new(url, args.key.clone())?)),
        None => None,
    };
    let orchestrator = Orchestrator::new(&config.agents, Ledger::default(), toolbox)?;
    let ask = Ask {
        signal: signal.clone(),
        market: market.clone(),
        llm_on: true,
        enforce_budget: false,
    };
    let mut answers = orchestrator.consult_all(vec![ask], now).await;
    answers
        .pop()
        .context("the orchestrator gave no answer (a bug)")
}

fn print_report(report: &Value, step: &Step, llm: bool) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if llm {
        println!("== prompt ({})", text(&report["prompt"]["version"]));
        println!(
            "{}\n\n{}\n",
            text(&report["prompt"]["system"]),
            text(&report["prompt"]["user"])
        );
        let c = &report["llm"];
        for call in c["tool_calls"].as_array().into_iter().flatten() {
            println!(
                "== tool {} {} -> {} ({} ms)",
                text(&call["name"]),
                text(&call["arguments"]),
                if call["ok"] == true {
                    "ok".to_owned()
                } else {
                    text(&call["error"])
                },
                call["latency_ms"]
            );
        }
        for a in c["attempts"].as_array().into_iter().flatten() {
            println!(
                "== provider {}: {} {}",
                text(&a["provider"]),
                text(&a["outcome"]),
                text(&a["detail"])
            );
        }
        println!(
            "== LLM answer ({} ms, {} in + {} out tokens, ${:.6})",
            c["latency_ms"],
            c["input_tokens"],
            c["output_tokens"],
            c["cost_micro_usd"].as_f64().unwrap_or(0.0) / 1e6
        );
        println!(
            "{}\n",
            serde_json::to_string_pretty(&c["answer"]).unwrap_or_default()
        );
    }
    let rule = &report["rule"];
    println!(
        "== rule analyst: {} at {:.2}: {}",
        text(&rule["recommendation"]),
        rule["confidence"].as_f64().unwrap_or(0.0),
        text(&rule["rationale"])
    );
    let d = &report["decision"];
    println!(
        "== decision ({}): {} at {:.2}: {}",
        text(&report["policy"]),
        text(&d["recommendation"]),
        d["confidence"].as_f64().unwrap_or(0.0),
        text(&d["rationale"])
    );
    for intent in &step.intents {
        println!(
            "== would place: {} {} {} (stop {}, target {})",
            intent.side,
            intent.quantity,
            intent.instrument,
            intent
                .stop_loss
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            intent
                .take_profit
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(r) = &step.refusal {
        println!(
            "== risk would refuse: {} ({})",
            r.message,
            r.codes.join(", ")
        );
    }
}

async fn budget(args: BudgetArgs) -> anyhow::Result<ExitCode> {
    let config = config(args.config)?;
    let default_db = args.data_dir.join("neo.db");
    if config.store.url.is_none() && !default_db.is_file() {
        bail!(
            "no store at {}: NEO has not run with this data directory (pass --data-dir or --config)",
            default_db.display()
        );
    }
    let url = config.store_url(&args.data_dir);
    let store = Store::connect(&url).await.with_context(|| {
        format!(
            "cannot open the store at {}",
            neo_pipeline::config::redacted_url(&url)
        )
    })?;
    let mut ledger: Ledger = match store.get_state(StateKey::LlmBudget).await? {
        Some(record) => {
            serde_json::from_value(record.body).context("the stored LLM budget cannot be read")?
        }
        None => Ledger::default(),
    };
    let now = neo_pipeline::wall_clock()();
    ledger.roll(now);
    let caps = config.agents.budget;
    let report = budget_json(&ledger, caps);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    for period in ["day", "month"] {
        let p = &report[period];
        let cap = p["cap_usd"]
            .as_f64()
            .map_or_else(|| "no cap".to_owned(), |c| format!("cap ${c:.2}"));
        println!(
            "{period}: ${:.6} spent, {cap}",
            p["spent_usd"].as_f64().unwrap_or(0.0)
        );
        for (provider, spend) in p["providers"].as_object().into_iter().flatten() {
            println!(
                "  {provider}: ${:.6}, {} in + {} out tokens",
                spend["usd"].as_f64().unwrap_or(0.0),
                spend["input_tokens"],
                spend["output_tokens"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::cast_precision_loss)]
fn budget_json(ledger: &Ledger, caps: BudgetConfig) -> Value {
    let period = |spend: &neo_agents::budget::Spend, cap: Option<f64>| {
        let providers: serde_json::Map<String, Value> = spend
            .by_provider
            .iter()
            .map(|(name, micro)| {
                (
                    name.clone(),
                    json!({
                        "usd": *micro as f64 / 1e6,
                        "input_tokens": spend.input_tokens.get(name).copied().unwrap_or(0),
                        "output_tokens": spend.output_tokens.get(name).copied().unwrap_or(0),
                    }),
                )
            })
            .collect();
        let spent = spend.total() as f64 / 1e6;
        json!({
            "spent_usd": spent,
            "cap_usd": cap,
            "remaining_usd": cap.map(|c| (c - spent).max(0.0)),
            "providers": providers,
        })
    };
    json!({
        "day": period(&ledger.day, caps.daily_usd),
        "month": period(&ledger.month, caps.monthly_usd),
    })
}
