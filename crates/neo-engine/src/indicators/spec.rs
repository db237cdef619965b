//! Indicator specs: short texts such as `sma:20`, `macd:12:26:9` or `trange` that name
//! an indicator and its parameters, parsed into a running indicator with named output
//! columns. The CLI (`neo data indicators`) and the API's tools share this one parser,
//! so a spec means the same thing, and its columns have the same names, everywhere.

use std::collections::BTreeSet;

use super::{
    Adx, Atr, Bar, BollingerBands, Ema, Indicator, IndicatorError, Macd, RealizedVolatility, Roc,
    Rsi, Sma, StdDev, TrueRange, Wma,
};

/// Every spec form the parser accepts, for help texts and error messages.
pub const SPECS: &str = "sma:N, ema:N, wma:N, rsi:N, atr:N, adx:N, roc:N, stddev:N, \
                         volatility:N, macd:FAST:SLOW:SIGNAL, bbands:N:K, trange";

/// Why a spec was refused, so callers can tell a typo from a parameter out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The spec, or its indicator name, is empty.
    #[error("empty spec; expected one of {SPECS}")]
    Empty,
    /// The indicator name is not one the parser knows.
    #[error("unknown indicator {kind:?}; expected one of {SPECS}")]
    Unknown {
        /// The name given, lower-cased.
        kind: String,
    },
    /// The indicator was given the wrong number of parameters.
    #[error("expected {usage}")]
    Arity {
        /// The form the indicator expects, e.g. `sma:PERIOD`.
        usage: &'static str,
    },
    /// A period is not a whole number.
    #[error("{0:?} is not a whole number")]
    NotWholeNumber(String),
    /// A multiplier (Bollinger's deviations) is not a number.
    #[error("{0:?} is not a number")]
    NotANumber(String),
    /// Two specs would produce the same output column.
    #[error("column {0:?} would appear twice")]
    Duplicate(String),
    /// The parameters parse but the indicator refuses them (e.g. a zero period).
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
}

/// A running indicator, one variant per kind so each keeps its concrete type.
#[derive(Debug, Clone)]
enum Runner {
    Sma(Sma),
    Ema(Ema),
    Wma(Wma),
    Rsi(Rsi),
    Roc(Roc),
    StdDev(StdDev),
    Volatility(RealizedVolatility),
    Atr(Atr),
    TrueRange(TrueRange),
    Adx(Adx),
    Macd(Macd),
    Bbands(BollingerBands),
}

impl Runner {
    /// Feeds one bar and appends one cell per output column (`None` during warm-up).
    fn step(&mut self, bar: Bar, out: &mut Vec<Option<f64>>) {
        let close = bar.close;
        match self {
            Self::Sma(i) => out.push(i.update(close)),
            Self::Ema(i) => out.push(i.update(close)),
            Self::Wma(i) => out.push(i.update(close)),
            Self::Rsi(i) => out.push(i.update(close)),
            Self::Roc(i) => out.push(i.update(close)),
            Self::StdDev(i) => out.push(i.update(close)),
            Self::Volatility(i) => out.push(i.update(close)),
            Self::Atr(i) => out.push(i.update(bar)),
            Self::TrueRange(i) => out.push(i.update(bar)),
            Self::Adx(i) => {
                let o = i.update(bar);
                out.extend([
                    o.and_then(|o| o.adx),
                    o.map(|o| o.plus_di),
                    o.map(|o| o.minus_di),
                ]);
            }
            Self::Macd(i) => {
                let o = i.update(close);
                out.extend([
                    o.map(|o| o.macd),
                    o.map(|o| o.signal),
                    o.map(|o| o.histogram),
                ]);
            }
            Self::Bbands(i) => {
                let o = i.update(close);
                out.extend([o.map(|o| o.upper), o.map(|o| o.middle), o.map(|o| o.lower)]);
            }
        }
    }
}

/// The parameters after the indicator name, with the checks every kind needs.
struct Args<'a>(Vec<&'a str>);

impl Args<'_> {
    /// Refuses anything but exactly `n` parameters, quoting the expected form.
    fn expect(&self, n: usize, usage: &'static str) -> Result<(), SpecError> {
        if self.0.len() == n {
            Ok(())
        } else {
            Err(SpecError::Arity { usage })
        }
    }

    /// Parameter `i` as a period; call only after [`expect`](Self::expect).
    fn period(&self, i: usize) -> Result<usize, SpecError> {
        let raw = self.0[i];
        raw.trim()
            .parse()
            .map_err(|_| SpecError::NotWholeNumber(raw.to_owned()))
    }

    /// Parameter `i` as a number; call only after [`expect`](Self::expect).
    fn number(&self, i: usize) -> Result<f64, SpecError> {
        let raw = self.0[i];
        raw.trim()
            .parse()
            .map_err(|_| SpecError::NotANumber(raw.to_owned()))
    }
}

/// What parsing yields: the output column names and the indicator that fills them.
type Parsed = (Vec<String>, Runner);

/// Builds an indicator of one period from that period.
type Build = fn(usize) -> Result<Runner, IndicatorError>;

/// One parsed spec: its output column names and its running state.
#[derive(Debug, Clone)]
pub struct IndicatorSpec {
    names: Vec<String>,
    runner: Runner,
}

impl IndicatorSpec {
    /// Parses a spec such as `sma:20` or `macd:12:26:9` (see [`SPECS`]); the name is
    /// case-insensitive and spaces around the spec and its numbers are ignored.
    pub fn parse(spec: &str) -> Result<Self, SpecError> {
        let mut parts = spec.trim().split(':');
        let kind = parts.next().unwrap_or_default().to_ascii_lowercase();
        let args = Args(parts.collect());
        let (names, runner) = match kind.as_str() {
            "" => return Err(SpecError::Empty),
            "trange" => {
                args.expect(0, "trange without parameters")?;
                let names = vec!["trange".to_owned()];
                (names, Runner::TrueRange(TrueRange::new()))
            }
            "adx" => {
                args.expect(1, "adx:PERIOD")?;
                let n = args.period(0)?;
                let names = ["adx", "plus_di", "minus_di"].map(|p| format!("{p}_{n}"));
                (names.to_vec(), Runner::Adx(Adx::new(n)?))
            }
            "macd" => {
                args.expect(3, "macd:FAST:SLOW:SIGNAL")?;
                let (f, s, g) = (args.period(0)?, args.period(1)?, args.period(2)?);
                let names =
                    ["macd", "macd_signal", "macd_hist"].map(|p| format!("{p}_{f}_{s}_{g}"));
                (names.to_vec(), Runner::Macd(Macd::new(f, s, g)?))
            }
            "bbands" => {
                args.expect(2, "bbands:PERIOD:DEVIATIONS")?;
                let (n, k) = (args.period(0)?, args.number(1)?);
                let names = ["bb_upper", "bb_middle", "bb_lower"].map(|p| format!("{p}_{n}_{k}"));
                (names.to_vec(), Runner::Bbands(BollingerBands::new(n, k)?))
            }
            other => Self::single(other, &args)?,
        };
        Ok(Self { names, runner })
    }

    /// The indicators with one period and one output column named `<kind>_<period>`.
    fn single(kind: &str, args: &Args<'_>) -> Result<Parsed, SpecError> {
        let (usage, build): (&'static str, Build) = match kind {
            "sma" => ("sma:PERIOD", |n| Ok(Runner::Sma(Sma::new(n)?))),
            "ema" => ("ema:PERIOD", |n| Ok(Runner::Ema(Ema::new(n)?))),
            "wma" => ("wma:PERIOD", |n| Ok(Runner::Wma(Wma::new(n)?))),
            "rsi" => ("rsi:PERIOD", |n| Ok(Runner::Rsi(Rsi::new(n)?))),
            "roc" => ("roc:PERIOD", |n| Ok(Runner::Roc(Roc::new(n)?))),
            "atr" => ("atr:PERIOD", |n| Ok(Runner::Atr(Atr::new(n)?))),
            "stddev" => ("stddev:PERIOD", |n| Ok(Runner::StdDev(StdDev::new(n)?))),
            "volatility" => ("volatility:PERIOD", |n| {
                Ok(Runner::Volatility(RealizedVolatility::new(n)?))
            }),
            other => {
                return Err(SpecError::Unknown {
                    kind: other.to_owned(),
                });
            }
        };
        args.expect(1, usage)?;
        let n = args.period(0)?;
        Ok((vec![format!("{kind}_{n}")], build(n)?))
    }

    /// The output column names, in the order [`update`](Self::update) appends cells:
    /// e.g. `sma_20`, or `adx_14`, `plus_di_14`, `minus_di_14`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Feeds the next bar and appends one cell per [`names`](Self::names) entry to
    /// `out`, `None` during warm-up. Price indicators read the bar's close.
    pub fn update(&mut self, bar: Bar, out: &mut Vec<Option<f64>>) {
        self.runner.step(bar, out);
    }
}

/// Refuses specs that would write the same column twice, so a table's columns are unique.
pub fn check_unique(specs: &[IndicatorSpec]) -> Result<(), SpecError> {
    let mut seen = BTreeSet::new();
    for name in specs.iter().flat_map(|s| &s.names) {
        if !seen.insert(name.as_str()) {
            return Err(SpecError::Duplicate(name.clone()));
        }
    }
    Ok(())
}

/// What [`run`] returns, ready to print or serialise: the column names, then one row
/// per bar with one cell per column (`None` during warm-up).
pub type Table = (Vec<String>, Vec<Vec<Option<f64>>>);

/// Parses `specs`, checks their columns are unique and runs them over `bars` in order:
/// the column names, then one row per bar with one cell per column. The error is the
/// first spec's that fails, so callers that must name the spec parse one at a time.
pub fn run<S: AsRef<str>>(specs: &[S], bars: &[Bar]) -> Result<Table, SpecError> {
    let mut parsed = specs
        .iter()
        .map(|s| IndicatorSpec::parse(s.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    check_unique(&parsed)?;
    let names: Vec<String> = parsed.iter().flat_map(|s| s.names.clone()).collect();
    let rows = bars
        .iter()
        .map(|&bar| {
            let mut row = Vec::with_capacity(names.len());
            for spec in &mut parsed {
                spec.update(bar, &mut row);
            }
            row
        })
        .collect();
    Ok((names, rows))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn names(spec: &str) -> Vec<String> {
        IndicatorSpec::parse(spec).unwrap().names().to_vec()
    }

    fn error(spec: &str) -> SpecError {
        IndicatorSpec::parse(spec).unwrap_err()
    }

    #[test]
    fn names_columns_after_the_spec() {
        assert_eq!(names("sma:20"), ["sma_20"]);
        assert_eq!(names(" EMA: 5 "), ["ema_5"]);
        assert_eq!(names("volatility:30"), ["volatility_30"]);
        assert_eq!(names("trange"), ["trange"]);
        assert_eq!(names("adx:14"), ["adx_14", "plus_di_14", "minus_di_14"]);
        assert_eq!(
            names("macd:12:26:9"),
            ["macd_12_26_9", "macd_signal_12_26_9", "macd_hist_12_26_9"]
        );
        assert_eq!(
            names("bbands:20:2"),
            ["bb_upper_20_2", "bb_middle_20_2", "bb_lower_20_2"]
        );
        assert_eq!(names("bbands:20:2.5")[2], "bb_lower_20_2.5");
    }

    #[test]
    fn refuses_each_kind_of_bad_spec() {
        assert_eq!(error(""), SpecError::Empty);
        assert_eq!(error(" :5"), SpecError::Empty);
        assert_eq!(
            error("Kama:10"),
            SpecError::Unknown {
                kind: "kama".into()
            }
        );
        assert_eq!(
            error("sma"),
            SpecError::Arity {
                usage: "sma:PERIOD"
            }
        );
        assert_eq!(
            error("macd:12:26"),
            SpecError::Arity {
                usage: "macd:FAST:SLOW:SIGNAL"
            }
        );
        assert_eq!(error("sma:x"), SpecError::NotWholeNumber("x".into()));
        assert_eq!(error("sma:-3"), SpecError::NotWholeNumber("-3".into()));
        assert_eq!(error("bbands:20:two"), SpecError::NotANumber("two".into()));
        assert!(matches!(
            error("sma:0"),
            SpecError::Indicator(IndicatorError::Period { value: 0, .. })
        ));
        assert!(matches!(
            error("macd:26:12:9"),
            SpecError::Indicator(IndicatorError::MacdOrder { .. })
        ));
        let twice = vec![IndicatorSpec::parse("sma:5").unwrap(); 2];
        assert_eq!(
            check_unique(&twice),
            Err(SpecError::Duplicate("sma_5".into()))
        );
    }

    #[test]
    fn messages_name_the_problem() {
        let msg = |spec: &str| error(spec).to_string();
        assert_eq!(
            msg("foo"),
            format!("unknown indicator \"foo\"; expected one of {SPECS}")
        );
        assert_eq!(msg(""), format!("empty spec; expected one of {SPECS}"));
        assert_eq!(msg("sma"), "expected sma:PERIOD");
        assert_eq!(msg("trange:3"), "expected trange without parameters");
        assert_eq!(msg("sma:x"), "\"x\" is not a whole number");
        assert_eq!(msg("bbands:20:k"), "\"k\" is not a number");
        assert!(msg("sma:0").contains("period must be between 1 and"));
        assert!(msg("bbands:20:-1").contains("deviations"));
        let dup = SpecError::Duplicate("sma_5".into()).to_string();
        assert_eq!(dup, "column \"sma_5\" would appear twice");
    }

    #[test]
    fn runs_specs_over_bars() {
        let bars = [
            Bar::new(2.0, 0.5, 1.0),
            Bar::new(3.0, 1.0, 2.0),
            Bar::new(4.0, 2.0, 3.0),
        ];
        let (names, rows) = run(&["sma:2", "trange"], &bars).unwrap();
        assert_eq!(names, ["sma_2", "trange"]);
        assert_eq!(
            rows,
            [
                vec![None, None],
                vec![Some(1.5), Some(2.0)],
                vec![Some(2.5), Some(2.0)]
            ]
        );
        let owned = vec!["sma:2".to_owned(), "SMA:2".to_owned()];
        assert_eq!(
            run(&owned, &bars),
            Err(SpecError::Duplicate("sma_2".into()))
        );
        assert_eq!(
            run(&["sma:2", "nope"], &bars),
            Err(SpecError::Unknown {
                kind: "nope".into()
            })
        );
    }

    proptest! {
        #[test]
        fn any_text_parses_or_errs_without_panicking(spec in any::<String>()) {
            let _ = IndicatorSpec::parse(&spec);
        }

        #[test]
        fn spec_like_text_fills_every_named_column(
            spec in "(sma|EMA|wma|rsi|atr|adx|roc|stddev|volatility|macd|bbands|trange|x)?\
                     (:([0-9]{1,3}|[ 0-9a-z.+-]{0,6})){0,4}",
            close in 1.0_f64..100.0,
        ) {
            if let Ok(mut parsed) = IndicatorSpec::parse(&spec) {
                prop_assert!(!parsed.names().is_empty());
                let mut out = Vec::new();
                parsed.update(Bar::new(close + 1.0, close - 0.5, close), &mut out);
                prop_assert_eq!(out.len(), parsed.names().len());
            }
        }
    }
}
