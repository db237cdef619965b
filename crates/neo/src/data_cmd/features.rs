//! `neo data features`: point-in-time feature columns for every bar of an OHLCV
//! file. Each feature is computed bar by bar in time order, so the value at a bar
//! depends on that bar and the bars before it only, never on a later one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use neo_engine::history::Bar;
use neo_engine::indicators::spec::{IndicatorSpec, SPECS, SpecError};
use neo_engine::indicators::{self, Indicator as _, MAX_PERIOD, RealizedVolatility};

use super::output::{self, Cells, Format, Table, refuse};
use neo_parquet::{Ohlcv, is_parquet, read_ohlcv_file};

/// `neo data features` arguments.
#[derive(Args)]
pub(crate) struct FeaturesArgs {
    /// The OHLCV file: Parquet when named .parquet or .pq, CSV otherwise (the
    /// columns and time forms `neo data stats --help` lists).
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Features, comma-separated and/or repeated: sma:N, ema:N, wma:N, rsi:N, atr:N,
    /// adx:N (adx, +DI, -DI), roc:N, stddev:N (population), volatility:N (sample std
    /// dev of log returns, per bar), macd:FAST:SLOW:SIGNAL, bbands:N:K, trange,
    /// logret:N (ln of close over the close N bars back), vol_pct:N (percentile rank,
    /// 0-100, of the current volatility:N among its values so far, this bar's included;
    /// empty until N of them exist).
    #[arg(
        long = "features",
        value_name = "SPEC[,SPEC...]",
        value_delimiter = ',',
        required = true
    )]
    features: Vec<String>,
    /// The file to write: CSV when named .csv, Parquet when named .parquet or .pq.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
}

/// One requested feature and its output column names.
enum Feature {
    /// An engine indicator, exactly as `neo data indicators` computes it.
    Indicator(IndicatorSpec),
    /// `ln(close / close N bars back)`.
    LogReturn { period: usize, name: [String; 1] },
    /// The running percentile rank of the N-bar realized volatility.
    VolPercentile { period: usize, name: [String; 1] },
}

impl Feature {
    fn names(&self) -> &[String] {
        match self {
            Feature::Indicator(spec) => spec.names(),
            Feature::LogReturn { name, .. } | Feature::VolPercentile { name, .. } => name,
        }
    }
}

/// Parses one feature spec; the message names the spec and what is accepted.
fn parse_feature(spec: &str) -> Result<Feature, String> {
    let invalid = |why: String| format!("invalid feature {spec:?}: {why}");
    let text = spec.trim();
    let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
    let kind = kind.to_ascii_lowercase();
    let derived = |min: usize| -> Result<usize, String> {
        let usage = format!("expected {kind}:PERIOD");
        if rest.is_empty() || rest.contains(':') {
            return Err(invalid(usage));
        }
        let n: usize = rest
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{rest:?} is not a whole number")))?;
        if !(min..=MAX_PERIOD).contains(&n) {
            return Err(invalid(format!(
                "period must be between {min} and {MAX_PERIOD}, got {n}"
            )));
        }
        Ok(n)
    };
    match kind.as_str() {
        "logret" => {
            let period = derived(1)?;
            Ok(Feature::LogReturn {
                period,
                name: [format!("logret_{period}")],
            })
        }
        "vol_pct" => {
            let period = derived(2)?;
            Ok(Feature::VolPercentile {
                period,
                name: [format!("vol_pct_{period}")],
            })
        }
        _ => IndicatorSpec::parse(text)
            .map(Feature::Indicator)
            .map_err(|e| match e {
                SpecError::Unknown { kind } => invalid(format!(
                    "unknown feature {kind:?}; expected one of {SPECS}, logret:N, vol_pct:N"
                )),
                other => invalid(other.to_string()),
            }),
    }
}

/// Runs `neo data features`: specs and output name are checked before the input is read.
pub(crate) fn run(args: FeaturesArgs) -> Result<ExitCode> {
    let format = Format::of(&args.output)?;
    let mut features = Vec::new();
    for spec in &args.features {
        features.push(parse_feature(spec).or_else(refuse)?);
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in features.iter().flat_map(Feature::names) {
        if !seen.insert(name.as_str()) {
            return refuse(format!("--features: column {name:?} would appear twice"));
        }
    }
    let loaded = read_ohlcv_file(&args.input)?;
    check_bars(&args.input, &loaded)
        .or_else(|why| refuse(format!("{}: {why}", args.input.display())))?;
    let bars = &loaded.bars;
    let mut columns = vec![(
        "close".to_owned(),
        Cells::Required(bars.iter().map(|b| b.close).collect()),
    )];
    for feature in features {
        columns.extend(compute(feature, bars)?);
    }
    let names = columns
        .iter()
        .skip(1)
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let table = Table {
        times: bars.iter().map(|b| b.ts).collect(),
        columns,
    };
    output::write(&table, &args.output, format)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!(
        "wrote {} rows (time, close, {names}) to {}",
        bars.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Why the bars cannot give point-in-time features, if so: unreadable rows, no bars,
/// a price that is not a finite number (or a close at or below zero, which has no
/// log return), or bars not strictly in time order.
fn check_bars(input: &Path, loaded: &Ohlcv) -> Result<(), String> {
    let unit = if is_parquet(input) { "row" } else { "line" };
    if let Some(first) = loaded.unreadable.first() {
        return Err(format!(
            "{} unreadable row(s), the first: {first} (`neo data validate` lists them)",
            loaded.unreadable.len()
        ));
    }
    if loaded.bars.is_empty() {
        return Err("no bars".to_owned());
    }
    let mut previous: Option<&Bar> = None;
    for bar in &loaded.bars {
        let prices = [bar.open, bar.high, bar.low, bar.close];
        if !prices.iter().all(|p| p.is_finite()) || bar.close <= 0.0 {
            return Err(format!(
                "{unit} {}: prices must be finite and the close above zero",
                bar.line
            ));
        }
        if let Some(prev) = previous
            && bar.ts <= prev.ts
        {
            return Err(format!(
                "{unit} {}: {} is not after the previous bar's {}; bars must be in time order, each time once",
                bar.line, bar.ts, prev.ts
            ));
        }
        previous = Some(bar);
    }
    Ok(())
}

/// The feature's output columns over `bars`, each value from its bar and earlier ones.
fn compute(feature: Feature, bars: &[Bar]) -> Result<Vec<(String, Cells)>> {
    let closes = || bars.iter().map(|b| b.close);
    Ok(match feature {
        Feature::Indicator(mut spec) => {
            let mut columns = vec![Vec::with_capacity(bars.len()); spec.names().len()];
            let mut cells = Vec::with_capacity(columns.len());
            for b in bars {
                cells.clear();
                spec.update(indicators::Bar::new(b.high, b.low, b.close), &mut cells);
                for (column, cell) in columns.iter_mut().zip(&cells) {
                    column.push(*cell);
                }
            }
            spec.names()
                .iter()
                .cloned()
                .zip(columns.into_iter().map(Cells::Nullable))
                .collect()
        }
        Feature::LogReturn {
            period,
            name: [name],
        } => {
            let values = log_returns(&closes().collect::<Vec<_>>(), period);
            vec![(name, Cells::Nullable(values))]
        }
        Feature::VolPercentile {
            period,
            name: [name],
        } => {
            let mut vol = RealizedVolatility::new(period)?;
            let vols: Vec<Option<f64>> = closes().map(|c| vol.update(c)).collect();
            vec![(name, Cells::Nullable(running_percentile(&vols, period)))]
        }
    })
}

/// `ln(close[i] / close[i - period])`, empty for the first `period` bars.
fn log_returns(closes: &[f64], period: usize) -> Vec<Option<f64>> {
    (0..closes.len())
        .map(|i| i.checked_sub(period).map(|j| (closes[i] / closes[j]).ln()))
        .collect()
}

/// For each value in order, the percentage (0-100] of the values so far, this one
/// included, at or below it; `None` (and NaN) stay empty and are not counted, and
/// nothing is given until `min_count` values are in. Ranks are kept in a Fenwick tree
/// over the values' sorted order, so each step counts only values already added.
fn running_percentile(values: &[Option<f64>], min_count: usize) -> Vec<Option<f64>> {
    let mut sorted: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| !v.is_nan())
        .collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup_by(|a, b| a.total_cmp(b).is_eq());
    let mut tree = vec![0u32; sorted.len() + 1];
    let mut added = 0usize;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        let Some(v) = value.filter(|v| !v.is_nan()) else {
            out.push(None);
            continue;
        };
        // 1-based position of v in the sorted distinct values.
        let rank = sorted.partition_point(|x| x.total_cmp(&v).is_lt()) + 1;
        let mut i = rank;
        while i < tree.len() {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
        added += 1;
        let (mut at_or_below, mut i) = (0u64, rank);
        while i > 0 {
            at_or_below += u64::from(tree[i]);
            i -= i & i.wrapping_neg();
        }
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let pct = 100.0 * at_or_below as f64 / added as f64;
        out.push((added >= min_count).then_some(pct));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use super::*;

    fn parse_error(spec: &str) -> String {
        parse_feature(spec).err().unwrap()
    }

    #[test]
    fn parses_indicators_and_derived_features_by_name() {
        let names = |s: &str| parse_feature(s).unwrap().names().to_vec();
        assert_eq!(names("sma:20"), ["sma_20"]);
        assert_eq!(names(" LOGRET:1 "), ["logret_1"]);
        assert_eq!(names("vol_pct:20"), ["vol_pct_20"]);
        assert_eq!(names("adx:14"), ["adx_14", "plus_di_14", "minus_di_14"]);
        assert_eq!(
            names("macd:12:26:9"),
            ["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"]
        );
        assert!(parse_error("kama:3").contains("unknown feature \"kama\""));
        assert!(parse_error("kama:3").contains("logret:N, vol_pct:N"));
        assert_eq!(
            parse_error("logret"),
            "invalid feature \"logret\": expected logret:PERIOD"
        );
        assert!(parse_error("logret:1:2").contains("expected logret:PERIOD"));
        assert!(parse_error("logret:x").contains("\"x\" is not a whole number"));
        assert!(parse_error("logret:0").contains("between 1 and"));
        assert!(parse_error("vol_pct:1").contains("between 2 and"));
        assert!(parse_error("sma:0").contains("invalid feature \"sma:0\": period"));
    }

    #[test]
    fn log_returns_look_back_exactly_n_bars() {
        let closes = [100.0, 110.0, 99.0, 120.0];
        assert_eq!(
            log_returns(&closes, 1),
            [
                None,
                Some(1.1_f64.ln()),
                Some((99.0_f64 / 110.0).ln()),
                Some((120.0_f64 / 99.0).ln())
            ]
        );
        assert_eq!(
            log_returns(&closes, 3),
            [None, None, None, Some(1.2_f64.ln())]
        );
        assert_eq!(log_returns(&closes, 9), [None; 4]);
    }

    #[test]
    fn percentiles_count_only_the_values_so_far() {
        let v = [
            None,
            Some(3.0),
            Some(1.0),
            Some(2.0),
            Some(2.0),
            Some(5.0),
            Some(0.5),
        ];
        // 3 of 1; 1 lowest of 2; 2: {1,2} of 3; 2 again: {1,2,2} of 4; 5 highest; 0.5 lowest of 6.
        let want = [
            None,
            Some(100.0),
            Some(50.0),
            Some(200.0 / 3.0),
            Some(75.0),
            Some(100.0),
            Some(100.0 / 6.0),
        ];
        assert_eq!(running_percentile(&v, 1), want);
        let late = running_percentile(&v, 3);
        assert_eq!(late[..3], [None, None, None]);
        assert_eq!(late[3..], want[3..]);
        // Brute force on a longer series: every value's rank among the prefix.
        let series: Vec<Option<f64>> = (0..200).map(|i| Some(((i * 37) % 101) as f64)).collect();
        let fast = running_percentile(&series, 1);
        for (i, got) in fast.iter().enumerate() {
            let now = series[i].unwrap();
            let below = series[..=i].iter().filter(|x| x.unwrap() <= now).count();
            assert_eq!(*got, Some(100.0 * below as f64 / (i + 1) as f64), "at {i}");
        }
    }

    #[test]
    fn refuses_bars_that_are_not_point_in_time_ready() {
        let csv = |body: &str| {
            neo_parquet::parse_ohlcv_csv(&format!("date,open,high,low,close\n{body}")).unwrap()
        };
        let check = |l: &Ohlcv| check_bars(Path::new("in.csv"), l).err().unwrap_or_default();
        assert!(check(&csv("2024-01-02,1,2,0.5,1\n2024-01-03,1,2,0.5,1\n")).is_empty());
        assert!(
            check(&csv("2024-01-03,1,2,0.5,1\n2024-01-02,1,2,0.5,1\n"))
                .starts_with("line 3: 2024-01-02T00:00:00Z is not after")
        );
        assert!(
            check(&csv("2024-01-02,1,2,0.5,1\n2024-01-02,1,2,0.5,1\n")).contains("each time once")
        );
        assert!(check(&csv("2024-01-02,1,2,0.5,0\n")).starts_with("line 2: prices must be finite"));
        assert!(check(&csv("2024-01-02,1,nan,0.5,1\n")).starts_with("line 2: prices"));
        assert!(
            check(&csv("2024-01-02,1,x,0.5,1\n"))
                .starts_with("1 unreadable row(s), the first: line 2")
        );
        assert_eq!(check(&csv("")), "no bars");
    }
}
