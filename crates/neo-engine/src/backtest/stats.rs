//! Performance statistics of a run, defined as backtesting.py 0.6 defines them
//! (so NEO's figures can be checked against it), gathered in one pass so a run of
//! millions of bars keeps only a day's equity per calendar day.
//!
//! The equity curve here is `f64`: these are ratios for reading, not money. Cash,
//! fills and PnL stay exact in the portfolio and the trade list.

use neo_domain::Timestamp;
use serde::Serialize;

use super::trades::Trade;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;
/// Most points the report's equity curve keeps (it is thinned by halves beyond that).
const CURVE_POINTS: usize = 2_000;

/// One point of the equity curve the report draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Bar time.
    pub ts: Timestamp,
    /// Equity at the bar's close.
    pub equity: f64,
    /// Drawdown from the peak so far, a fraction (0.1 = 10% below the peak).
    pub drawdown: f64,
}

/// Equity as it unfolds: drawdown, per-day closes and a thinned curve.
#[derive(Debug, Clone)]
pub(crate) struct EquityStats {
    first: Option<(Timestamp, f64)>,
    last: Option<(Timestamp, f64)>,
    peak: f64,
    max_drawdown: f64,
    /// Last equity of each calendar day (UTC), in order.
    daily: Vec<f64>,
    /// The current day's start and end (nanoseconds), so most bars skip the division.
    day_span: (i64, i64),
    weekend_day: bool,
    weekend_bars: u64,
    bars: u64,
    /// The last 100 gaps between bar times, as a ring.
    gaps: [i64; GAPS],
    gap_count: usize,
    curve: Vec<CurvePoint>,
    stride: u64,
    /// Bars until the next curve point.
    countdown: u64,
}

/// Bar gaps the period estimate looks at (backtesting.py's `index[-100:]`).
const GAPS: usize = 100;

impl EquityStats {
    pub(crate) fn new() -> Self {
        EquityStats {
            first: None,
            last: None,
            peak: f64::MIN,
            max_drawdown: 0.0,
            daily: Vec::new(),
            day_span: (i64::MAX, i64::MIN),
            weekend_day: false,
            weekend_bars: 0,
            bars: 0,
            gaps: [0; GAPS],
            gap_count: 0,
            curve: Vec::new(),
            stride: 1,
            countdown: 0,
        }
    }

    /// Records the equity at a bar's close (`ts` is the bar's time, its index).
    pub(crate) fn record(&mut self, ts: Timestamp, equity: f64) {
        if let Some((previous, _)) = self.last {
            self.gaps[self.gap_count % GAPS] = ts.nanos_since(previous);
            self.gap_count += 1;
        }
        self.first.get_or_insert((ts, equity));
        self.last = Some((ts, equity));
        if equity > self.peak {
            self.peak = equity;
        }
        let drawdown = if self.peak > 0.0 {
            1.0 - equity / self.peak
        } else {
            0.0
        };
        if drawdown > self.max_drawdown {
            self.max_drawdown = drawdown;
        }
        let nanos = ts.as_nanos();
        if (self.day_span.0..self.day_span.1).contains(&nanos) {
            if let Some(last) = self.daily.last_mut() {
                *last = equity;
            }
        } else {
            let day = nanos.div_euclid(NANOS_PER_DAY);
            self.day_span = (
                day.saturating_mul(NANOS_PER_DAY),
                day.saturating_add(1).saturating_mul(NANOS_PER_DAY),
            );
            self.weekend_day = crate::history::weekday(ts) >= 5;
            self.daily.push(equity);
        }
        self.weekend_bars += u64::from(self.weekend_day);
        if self.countdown == 0 {
            self.countdown = self.stride;
            self.curve.push(CurvePoint {
                ts,
                equity,
                drawdown,
            });
            if self.curve.len() >= 2 * CURVE_POINTS {
                let mut i = 0;
                self.curve.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
                self.countdown = self.stride;
            }
        }
        self.countdown -= 1;
        self.bars += 1;
    }

    /// The thinned curve, ending with the last bar.
    pub(crate) fn curve(&self) -> Vec<CurvePoint> {
        let mut curve = self.curve.clone();
        if let (Some((ts, equity)), Some(last)) = (self.last, curve.last())
            && last.ts != ts
        {
            let drawdown = if self.peak > 0.0 {
                1.0 - equity / self.peak
            } else {
                0.0
            };
            curve.push(CurvePoint {
                ts,
                equity,
                drawdown,
            });
        }
        curve
    }

    /// The median bar gap in whole days (backtesting.py's `_data_period(...).days`).
    fn period_days(&self) -> i64 {
        let mut gaps: Vec<i64> = self.gaps[..self.gap_count.min(GAPS)].to_vec();
        if gaps.is_empty() {
            return 0;
        }
        gaps.sort_unstable();
        let n = gaps.len();
        let median = if n % 2 == 1 {
            gaps[n / 2]
        } else {
            i64::midpoint(gaps[n / 2 - 1], gaps[n / 2])
        };
        median / NANOS_PER_DAY
    }

    /// Periods a year the annualisation uses (252 trading days, or 365 when
    /// weekends trade; 52, 12 or 1 for weekly, monthly and yearly bars).
    fn periods_per_year(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let weekend_share = self.weekend_bars as f64 / self.bars.max(1) as f64;
        match self.period_days() {
            7 => 52.0,
            31 => 12.0,
            365 => 1.0,
            _ if weekend_share > 2.0 / 7.0 * 0.6 => 365.0,
            _ => 252.0,
        }
    }
}

/// The figures `neo backtest --json` prints (timings are added by the caller,
/// since the core has no clock).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Bars processed.
    pub bars: u64,
    /// First bar time.
    pub start: Option<Timestamp>,
    /// Last bar time.
    pub end: Option<Timestamp>,
    /// Equity at the last close, exact.
    pub final_equity: String,
    /// Highest equity at any close.
    pub equity_peak: f64,
    /// `(final - initial) / initial`, in percent.
    pub return_pct: f64,
    /// Long-only return from the close of the strategy's first ready bar to the last close.
    pub buy_hold_return_pct: f64,
    /// Geometric mean daily return, annualised, in percent.
    pub return_ann_pct: f64,
    /// Annualised volatility of daily returns, in percent.
    pub volatility_ann_pct: f64,
    /// Compound annual growth over the run's calendar time, in percent.
    pub cagr_pct: f64,
    /// Annualised return over annualised volatility (risk-free rate 0).
    pub sharpe: f64,
    /// Annualised return over annualised downside deviation.
    pub sortino: f64,
    /// Deepest fall from a peak, in percent, negative (as backtesting.py prints it).
    pub max_drawdown_pct: f64,
    /// Closed trades (one still open at the end is not counted).
    pub trades: usize,
    /// Share of closed trades with a positive PnL, in percent.
    pub win_rate_pct: f64,
    /// Best trade return, in percent.
    pub best_trade_pct: f64,
    /// Worst trade return, in percent.
    pub worst_trade_pct: f64,
    /// Sum of winning trade returns over the absolute sum of losing ones.
    pub profit_factor: f64,
    /// Share of bars spent in a closed trade (entry to exit bar inclusive), in percent.
    pub exposure_pct: f64,
    /// Fees paid on closed trades, exact.
    pub commissions: String,
}

/// What the summary needs besides the equity statistics.
pub(crate) struct Inputs<'a> {
    pub(crate) stats: &'a EquityStats,
    pub(crate) trades: &'a [Trade],
    pub(crate) initial: f64,
    pub(crate) final_equity: String,
    pub(crate) final_f64: f64,
    pub(crate) buy_hold: Option<(f64, f64)>,
    pub(crate) commissions: String,
}

/// `exp(mean(log(1 + r))) - 1`, or 0 when a return wipes out the equity.
fn geometric_mean(returns: &[f64]) -> f64 {
    if returns.is_empty() {
        return f64::NAN;
    }
    if returns.iter().any(|r| 1.0 + r <= 0.0) {
        return 0.0;
    }
    let sum: f64 = returns.iter().map(|r| (1.0 + r).ln()).sum();
    #[allow(clippy::cast_precision_loss)]
    let n = returns.len() as f64;
    (sum / n).exp() - 1.0
}

/// Sample variance (ddof = 1).
fn variance(values: &[f64]) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    if values.len() < 2 {
        return f64::NAN;
    }
    let mean = values.iter().sum::<f64>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

/// Computes every figure at the end of the run.
pub(crate) fn summarize(inputs: &Inputs<'_>) -> Summary {
    let stats = inputs.stats;
    let daily_returns: Vec<f64> = stats.daily.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let years_n = stats.periods_per_year();
    // Undefined (NaN) under a day of data, as backtesting.py has it.
    let gmean = geometric_mean(&daily_returns);
    let annual = (1.0 + gmean).powf(years_n) - 1.0;
    let var = if daily_returns.is_empty() {
        f64::NAN
    } else {
        variance(&daily_returns)
    };
    let volatility =
        ((var + (1.0 + gmean).powi(2)).powf(years_n) - (1.0 + gmean).powf(2.0 * years_n)).sqrt();
    #[allow(clippy::cast_precision_loss)]
    let downside = (daily_returns
        .iter()
        .map(|r| r.min(0.0).powi(2))
        .sum::<f64>()
        / daily_returns.len() as f64)
        .sqrt()
        * years_n.sqrt();
    let cagr = match (stats.first, stats.last) {
        (Some((start, _)), Some((end, _))) if end > start => {
            #[allow(clippy::cast_precision_loss)]
            let years = end.nanos_since(start) as f64 / NANOS_PER_DAY as f64 / 365.25;
            (inputs.final_f64 / inputs.initial).powf(1.0 / years) - 1.0
        }
        _ => f64::NAN,
    };
    let trades = inputs.trades;
    let returns: Vec<f64> = trades.iter().map(|t| t.return_pct / 100.0).collect();
    let wins = trades
        .iter()
        .filter(|t| t.pnl.value().is_positive())
        .count();
    let gains: f64 = returns.iter().filter(|r| **r > 0.0).sum();
    let losses: f64 = returns.iter().filter(|r| **r < 0.0).sum::<f64>().abs();
    let mut covered = vec![false; usize::try_from(stats.bars).unwrap_or(0)];
    for t in trades {
        let end = usize::try_from(t.exit_bar).unwrap_or(usize::MAX);
        let start = usize::try_from(t.entry_bar).unwrap_or(usize::MAX);
        for slot in covered.iter_mut().take(end.saturating_add(1)).skip(start) {
            *slot = true;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ratio = |n: usize, of: usize| {
        if of == 0 {
            f64::NAN
        } else {
            n as f64 / of as f64 * 100.0
        }
    };
    let pct = |x: f64| x * 100.0;
    Summary {
        bars: stats.bars,
        start: stats.first.map(|f| f.0),
        end: stats.last.map(|l| l.0),
        final_equity: inputs.final_equity.clone(),
        equity_peak: if stats.bars == 0 {
            f64::NAN
        } else {
            stats.peak
        },
        return_pct: pct((inputs.final_f64 - inputs.initial) / inputs.initial),
        buy_hold_return_pct: inputs
            .buy_hold
            .map_or(f64::NAN, |(from, to)| pct((to - from) / from)),
        return_ann_pct: pct(annual),
        volatility_ann_pct: pct(volatility),
        cagr_pct: pct(cagr),
        sharpe: if volatility > 0.0 {
            annual / volatility
        } else {
            f64::NAN
        },
        sortino: if downside > 0.0 {
            annual / downside
        } else {
            f64::NAN
        },
        max_drawdown_pct: -pct(stats.max_drawdown),
        trades: trades.len(),
        win_rate_pct: ratio(wins, trades.len()),
        best_trade_pct: returns.iter().copied().fold(f64::NAN, f64::max) * 100.0,
        worst_trade_pct: returns.iter().copied().fold(f64::NAN, f64::min) * 100.0,
        profit_factor: if losses > 0.0 {
            gains / losses
        } else {
            f64::NAN
        },
        exposure_pct: ratio(covered.iter().filter(|c| **c).count(), covered.len()),
        commissions: inputs.commissions.clone(),
    }
}
