//! `neo data ...`: market-data utilities. `indicators` runs the engine's streaming
//! indicators over an OHLCV CSV file and appends one column per indicator output;
//! `validate` and `stats` read CSV or Parquet; `ingest` fills the Parquet store;
//! `export` reads it back at any interval it can make exactly; `features` writes
//! point-in-time feature columns for a file's bars.

mod export;
mod features;
mod ingest;
mod output;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Subcommand;
use neo_engine::indicators::Bar;
use neo_engine::indicators::spec::{self, IndicatorSpec};

#[derive(Subcommand)]
pub(crate) enum DataCommand {
    /// Append technical indicator columns to an OHLCV CSV file (TA-Lib-compatible values).
    ///
    /// The input has a header; its first column is the date/time (copied as text) and it
    /// must have open, high, low and close columns (any letter case; volume and other
    /// columns are copied through). Fields may be double-quoted (with commas inside and ""
    /// for a quote) but may not span lines. Warm-up cells are left empty.
    Indicators {
        /// The OHLCV CSV file.
        #[arg(long)]
        input: PathBuf,
        /// An indicator, repeatable: sma:N, ema:N, wma:N, rsi:N, atr:N, adx:N (adx, +DI,
        /// -DI), roc:N, stddev:N (population), volatility:N (sample std dev of log
        /// returns, per bar), macd:FAST:SLOW:SIGNAL, bbands:N:K, trange.
        #[arg(long = "indicator", value_name = "SPEC", required = true)]
        indicators: Vec<String>,
        /// Write the result here instead of standard output; nothing is written on error.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Check an OHLCV file (CSV, or Parquet when named .parquet/.pq) against the data
    /// gates and list every finding.
    ///
    /// Fails (exit 1) on unreadable rows, NaN or infinite values, prices at or below
    /// zero, OHLC order (low <= open, close <= high), negative volume, duplicate
    /// timestamps and time going backwards. Flags without failing: close-to-close
    /// jumps over --max-jump and missing bars (weekends do not count for daily bars).
    Validate {
        /// The OHLCV file: Parquet when named .parquet or .pq, else CSV (header
        /// optional; see `neo data stats --help`).
        file: PathBuf,
        /// Print one JSON object instead of the text report.
        #[arg(long)]
        json: bool,
        /// Close-to-close move (fraction) flagged as a jump.
        #[arg(long, default_value_t = 0.10)]
        max_jump: f64,
    },
    /// Summarise an OHLCV file (CSV or Parquet): bars, time span, interval, prices,
    /// volume, buy-and-hold return, volatility and maximum drawdown.
    ///
    /// The header (any letter case) names date/datetime/time/timestamp, open, high,
    /// low, close and optionally volume; without a header the columns are
    /// date,open,high,low,close[,volume]. Times may be dates, dates with times (UTC
    /// unless a zone is given) or Unix seconds, milliseconds or nanoseconds. Parquet
    /// files (pandas `to_parquet()` included) are read by the same column names, with
    /// timestamp, date, integer or text times and float, integer or decimal prices.
    Stats {
        /// The OHLCV file: Parquet when named .parquet or .pq, else CSV.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check an OHLCV file (CSV or Parquet) against the data gates and merge it into
    /// the historical store, `<store>/instrument=<ID>/timeframe=<TF>/data.parquet`.
    ///
    /// Refused (exit 1, nothing written) when `neo data validate` would fail, when
    /// no bars were read, or when the bars' most common spacing is not --timeframe.
    /// Otherwise the bars are merged with what is stored (a bar
    /// at an already stored time replaces it) and the file is replaced atomically.
    Ingest(ingest::IngestArgs),
    /// Write one instrument's stored bars at an interval, over a time range, to CSV or
    /// Parquet.
    ///
    /// Reads `<store>/instrument=<ID>/timeframe=<TF>/data.parquet`: the --interval
    /// itself when stored, else the finest stored timeframe that divides it, whose
    /// bars are resampled into buckets aligned to UTC (hours on the hour, days at
    /// midnight UTC): the first open, the highest high, the lowest low, the last close
    /// and the summed volume. A bucket is written when its last bar is stored, the
    /// engine's rule for a closed candle, so the unfinished bucket at the end of the
    /// data is left out; a bucket with bars missing before its last one (a gap, or the
    /// first bucket of the data) is built from the bars present. --partial writes the
    /// buckets without their last bar too.
    ///
    /// Bars opening in [--from, --to) are written (a resampled bar opens at its
    /// bucket's start). CSV: a `date,open,high,low,close,volume` header, RFC 3339 UTC
    /// times. Parquet: the store's schema, `ts` timestamp[ns, UTC] and Float64
    /// columns. The file appears complete or not at all (written beside it, then
    /// renamed). Exit 1 with the reason for an unknown --output extension, --from not
    /// before --to, no stored data for the instrument, or an interval finer than (or
    /// not a multiple of) anything stored.
    Export(export::ExportArgs),
    /// Write point-in-time features for every bar of an OHLCV file (CSV or Parquet) to
    /// CSV or Parquet.
    ///
    /// Each feature is computed bar by bar in time order, so its value at a bar uses
    /// that bar and earlier ones only: changing later bars never changes an earlier
    /// row. The output has the time (`date` in CSV, RFC 3339 UTC; `ts` timestamp[ns,
    /// UTC] in Parquet), the close, and one Float64 column per feature output, named as
    /// `neo data indicators` names them (sma_20, rsi_14, macd_12_26_9,
    /// macd_signal_12_26_9, macd_hist_12_26_9, bb_upper_20_2, ..., logret_1,
    /// vol_pct_20); warm-up cells are empty in CSV and null in Parquet. Exit 1 with the
    /// reason for an unknown --output extension, an invalid or repeated feature,
    /// unreadable rows, a price that is not a finite number or a close at or below zero,
    /// and bars out of time order or sharing a time.
    Features(features::FeaturesArgs),
}

pub(crate) fn run(command: DataCommand) -> Result<ExitCode> {
    match command {
        DataCommand::Validate {
            file,
            json,
            max_jump,
        } => crate::data_check::validate(&file, json, max_jump),
        DataCommand::Stats { file, json } => crate::data_check::stats(&file, json),
        DataCommand::Ingest(args) => ingest::run(args),
        DataCommand::Export(args) => output::refusing(|| export::run(args)),
        DataCommand::Features(args) => output::refusing(|| features::run(args)),
        DataCommand::Indicators {
            input,
            indicators,
            output,
        } => {
            let mut columns = indicators
                .iter()
                .map(|s| parse_indicator(s))
                .collect::<Result<Vec<_>>>()?;
            check_unique(&columns)?;
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let result = compute(&text, &mut columns).map_err(|e| located(&input, e))?;
            match output {
                Some(path) => std::fs::write(&path, result)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::stdout()
                    .lock()
                    .write_all(result.as_bytes())
                    .context("cannot write to standard output")?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prefixes an input error with the file it is about.
fn located(path: &Path, err: anyhow::Error) -> anyhow::Error {
    anyhow!("{}: {err}", path.display())
}

/// Parses one `--indicator`, naming the spec in the error.
fn parse_indicator(spec: &str) -> Result<IndicatorSpec> {
    IndicatorSpec::parse(spec).map_err(|e| anyhow!("invalid --indicator {spec:?}: {e}"))
}

/// Refuses two `--indicator`s that would write the same column.
fn check_unique(columns: &[IndicatorSpec]) -> Result<()> {
    spec::check_unique(columns).map_err(|e| anyhow!("--indicator given twice: {e}"))
}

/// The price columns every row must have, in `Bar` order after open.
const PRICES: [&str; 4] = ["open", "high", "low", "close"];

/// Reads the CSV `text`, runs `columns` over it and returns the output CSV: every input
/// line as given, then the indicator cells. Errors name the 1-based line.
fn compute(text: &str, columns: &mut [IndicatorSpec]) -> Result<String> {
    let mut lines = text.lines().enumerate();
    let (index, header) = lines
        .find(|(_, l)| !l.trim().is_empty())
        .ok_or_else(|| anyhow!("the file is empty; expected a header line"))?;
    let header_no = index + 1;
    let header = header.strip_prefix('\u{feff}').unwrap_or(header);
    let names =
        neo_parquet::split_csv_line(header).map_err(|e| anyhow!("line {header_no}: {e}"))?;
    let mut at = [0usize; 4];
    for (slot, want) in at.iter_mut().zip(PRICES) {
        *slot = names
            .iter()
            .position(|n| n.trim().eq_ignore_ascii_case(want))
            .ok_or_else(|| anyhow!("line {header_no}: no {want:?} column in the header"))?;
    }

    let mut out = String::with_capacity(text.len() * 2);
    out.push_str(header);
    for name in columns.iter().flat_map(|c| c.names()) {
        out.push(',');
        out.push_str(name);
    }
    out.push('\n');

    let mut cells = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = index + 1;
        let fields =
            neo_parquet::split_csv_line(line).map_err(|e| anyhow!("line {line_no}: {e}"))?;
        if fields.len() != names.len() {
            bail!(
                "line {line_no}: expected {} fields like the header, found {}",
                names.len(),
                fields.len()
            );
        }
        let mut price = [0.0; 4];
        for ((value, want), i) in price.iter_mut().zip(PRICES).zip(at) {
            let raw = &fields[i];
            *value = raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| anyhow!("line {line_no}: {want} is not a number: {raw:?}"))?;
        }
        let bar = Bar::new(price[1], price[2], price[3]);
        cells.clear();
        for column in columns.iter_mut() {
            column.update(bar, &mut cells);
        }
        out.push_str(line);
        for cell in &cells {
            out.push(',');
            if let Some(v) = cell {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn columns(specs: &[&str]) -> Vec<IndicatorSpec> {
        specs.iter().map(|s| parse_indicator(s).unwrap()).collect()
    }

    fn error(spec: &str) -> String {
        format!("{:#}", parse_indicator(spec).err().unwrap())
    }

    #[test]
    fn refuses_bad_specs_with_the_reason() {
        assert!(
            error("sma:0").contains("period must be between 1 and"),
            "{}",
            error("sma:0")
        );
        assert!(error("sma").contains("expected sma:PERIOD"));
        assert!(error("sma:x").contains("\"x\" is not a whole number"));
        assert!(error("macd:26:12:9").contains("must be shorter"));
        assert!(error("bbands:20:-1").contains("deviations"));
        assert!(error("trange:3").contains("without parameters"));
        assert!(error("kama:10").contains("unknown indicator \"kama\""));
        assert!(error("").contains("empty spec"));
        let twice = check_unique(&columns(&["sma:5", "sma:5"])).unwrap_err();
        assert!(twice.to_string().contains("\"sma_5\" would appear twice"));
    }

    #[test]
    fn appends_cells_and_leaves_warmup_empty() {
        let text = "Date,Open,HIGH,low,Close\n\
                    d1,1,2,0.5,1\n\
                    \"d2, late\",1,3,1,2\n\
                    \n\
                    d3,2,4,2,3\n";
        let out = compute(text, &mut columns(&["sma:2", "trange"])).unwrap();
        assert_eq!(
            out,
            "Date,Open,HIGH,low,Close,sma_2,trange\n\
             d1,1,2,0.5,1,,\n\
             \"d2, late\",1,3,1,2,1.5,2\n\
             d3,2,4,2,3,2.5,2\n"
        );
    }

    #[test]
    fn names_the_line_of_a_bad_row() {
        let mut c = columns(&["sma:2"]);
        let err =
            |text: &str, c: &mut Vec<IndicatorSpec>| compute(text, c).unwrap_err().to_string();
        let head = "date,open,high,low,close\n";
        let bad = format!("{head}d,1,1,1,1\nd,1,1,1,abc\n");
        assert_eq!(err(&bad, &mut c), "line 3: close is not a number: \"abc\"");
        let short = format!("{head}d,1,1,1\n");
        assert_eq!(
            err(&short, &mut c),
            "line 2: expected 5 fields like the header, found 4"
        );
        let nan = format!("{head}d,1,NaN,1,1\n");
        assert!(err(&nan, &mut c).starts_with("line 2: high is not a number"));
        assert!(err("date,open,high,low\n", &mut c).contains("no \"close\" column"));
        assert!(err("", &mut c).contains("empty"));
    }

    proptest! {}
}
