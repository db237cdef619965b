//! `neo risk size`: what the desk would trade for a given edge, drawdown and
//! account, with the configured `[desk.kelly]`, `[desk.risk]` and entry cap.
//! The same functions size live entries, so this is the operator's answer to
//! "what would you trade?" and a test vehicle for the sizing rules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use neo_domain::{Fixed, Money, Price, Quantity, Rounding};
use neo_engine::risk::{EntryLimits, SizingDecision, SizingInput, size_entry};
use neo_pipeline::config::Config;
use serde::Serialize;

/// `neo risk ...`
#[derive(Subcommand)]
pub(crate) enum RiskCommand {
    /// Size one entry: Kelly, the cap, the drawdown scale and every limit, with the bound that won.
    Size(SizeArgs),
}

/// The inputs of one sizing decision.
#[derive(Args)]
pub(crate) struct SizeArgs {
    /// Calibrated probability that the bracket wins (0 to 1).
    #[arg(long)]
    probability: f64,
    /// Net reward/risk of the bracket (target distance over stop distance, after costs).
    #[arg(long)]
    reward_risk: f64,
    /// Current drawdown from the day's peak, as a fraction (0.04 = 4%).
    #[arg(long, default_value_t = 0.0)]
    drawdown: f64,
    /// Account equity (a flat cash account holding this much).
    #[arg(long)]
    equity: Money,
    /// Entry price.
    #[arg(long)]
    entry: Price,
    /// Stop-loss price.
    #[arg(long)]
    stop: Price,
    /// Quantity increment of the instrument.
    #[arg(long, default_value = "0.00001")]
    lot_step: Quantity,
    /// Config file (defaults: `neo.toml` when present, else the built-in defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    probability: f64,
    reward_risk: f64,
    drawdown: f64,
    kelly_raw: f64,
    fractional_kelly: f64,
    cap: f64,
    drawdown_scale: f64,
    fraction: f64,
    risk_amount: Money,
    risk_quantity: Quantity,
    quantity: Quantity,
    notional: Money,
    bound_by: &'static str,
}

pub(crate) fn run(command: RiskCommand) -> anyhow::Result<ExitCode> {
    match command {
        RiskCommand::Size(args) => size(&args),
    }
}

fn size(args: &SizeArgs) -> anyhow::Result<ExitCode> {
    let mut problems = Vec::new();
    if !(0.0..=1.0).contains(&args.probability) {
        problems.push(format!(
            "--probability must be between 0 and 1, got {}",
            args.probability
        ));
    }
    if !(args.reward_risk.is_finite() && args.reward_risk > 0.0) {
        problems.push(format!(
            "--reward-risk must be above 0, got {}",
            args.reward_risk
        ));
    }
    if !(args.drawdown.is_finite() && args.drawdown >= 0.0) {
        problems.push(format!(
            "--drawdown must be 0 or more, got {}",
            args.drawdown
        ));
    }
    if !args.equity.value().is_positive() {
        problems.push(format!("--equity must be above 0, got {}", args.equity));
    }
    if args.entry == args.stop {
        problems.push("--stop must differ from --entry".to_owned());
    }
    if args.lot_step.is_zero() {
        problems.push("--lot-step must be above 0".to_owned());
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("; "));
    }
    let file = args.config.clone().or_else(|| {
        let local = PathBuf::from("neo.toml");
        local.is_file().then_some(local)
    });
    let config = Config::load(file.as_deref(), std::env::vars())?;
    let desk = &config.desk;
    let limit = desk.risk.max_drawdown.to_f64();
    let kelly = desk
        .kelly
        .decide(args.probability, args.reward_risk, args.drawdown, limit);
    let decision = sized(args, &config, kelly)?;
    let risk_amount = args
        .equity
        .value()
        .mul_round(
            Fixed::from_f64(kelly.fraction, Rounding::TowardZero)?,
            Rounding::TowardZero,
        )
        .ok()
        .and_then(|v| Money::new(v).ok())
        .unwrap_or(Money::ZERO);
    let report = Report {
        probability: args.probability,
        reward_risk: args.reward_risk,
        drawdown: args.drawdown,
        kelly_raw: kelly.kelly_raw,
        fractional_kelly: kelly.fractional,
        cap: desk.kelly.hard_cap(),
        drawdown_scale: kelly.drawdown_scale,
        fraction: kelly.fraction,
        risk_amount,
        risk_quantity: decision.risk_quantity,
        quantity: decision.quantity,
        notional: decision.notional,
        bound_by: decision.bound_by.as_str(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// The desk's own sizing for a flat cash account of `equity`.
fn sized(
    args: &SizeArgs,
    config: &Config,
    kelly: neo_engine::risk::KellyDecision,
) -> anyhow::Result<SizingDecision> {
    let desk = &config.desk;
    let equity = args.equity.value();
    let gross_room = desk
        .risk
        .max_gross_notional
        .value()
        .div_round(args.entry.value(), Rounding::TowardZero)?;
    let limits = EntryLimits {
        max_entry_fraction: desk.max_entry_fraction,
        headroom: desk.risk.max_position.value().min(gross_room),
        free_margin: equity.mul_round(desk.leverage, Rounding::TowardZero)?,
        leverage: desk.leverage,
        fee_rate: desk.oms.fees.taker_rate()?,
    };
    let input = SizingInput {
        equity: args.equity,
        risk_fraction: kelly.fraction,
        entry: args.entry,
        stop: args.stop,
        lot_step: args.lot_step,
        requested: None,
    };
    size_entry(&input, kelly, &limits).context("sizing")
}

fn print_table(r: &Report) {
    let rows: [(&str, String); 13] = [
        ("probability", format!("{:.4}", r.probability)),
        ("reward_risk", format!("{:.4}", r.reward_risk)),
        ("drawdown", format!("{:.4}", r.drawdown)),
        ("kelly_raw", format!("{:.6}", r.kelly_raw)),
        ("fractional_kelly", format!("{:.6}", r.fractional_kelly)),
        ("cap", format!("{:.6}", r.cap)),
        ("drawdown_scale", format!("{:.6}", r.drawdown_scale)),
        ("fraction", format!("{:.6}", r.fraction)),
        ("risk_amount", r.risk_amount.to_string()),
        ("risk_quantity", r.risk_quantity.to_string()),
        ("quantity", r.quantity.to_string()),
        ("notional", r.notional.to_string()),
        ("bound_by", r.bound_by.to_owned()),
    ];
    for (name, value) in rows {
        println!("{name:<18} {value}");
    }
}
