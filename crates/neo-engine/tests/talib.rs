//! Every indicator against TA-Lib 0.8: the reference CSVs under `tests/data/talib/`
//! were written by `scripts/talib_reference.py` with the Python wheel, so this test
//! needs no Python. For each output column it checks the first valid index and every
//! value (relative error < 1e-9; absolute < 1e-12 where TA-Lib's value is near 0).

// A malformed reference file or a mismatch should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use neo_engine::indicators::{
    Adx, AdxOutput, Atr, Bar, BollingerBands, BollingerOutput, Ema, Indicator, Macd, MacdOutput,
    Roc, Rsi, Sma, StdDev, TrueRange, Wma,
};

/// Below this magnitude a value is compared absolutely (a relative error of a
/// difference of near-equal numbers, e.g. MACD crossing 0, means nothing).
const NEAR_ZERO: f64 = 1e-3;
const REL_TOL: f64 = 1e-9;
const ABS_TOL: f64 = 1e-12;

type Column = Vec<Option<f64>>;
/// Extracts one output column from an indicator's output.
type Pick<O> = fn(&O) -> Option<f64>;

fn data_dir(set: &str) -> PathBuf {
    neo_testkit::workspace_root()
        .join("crates/neo-engine/tests/data/talib")
        .join(set)
}

/// Header and columns of one reference CSV; empty cells are `None`.
fn read_csv(set: &str, file: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let path = data_dir(set).join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let mut columns = vec![Vec::new(); header.len()];
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), header.len(), "{file}: {line}");
        for (col, cell) in columns.iter_mut().zip(cells) {
            col.push(cell.to_owned());
        }
    }
    (header, columns)
}

fn numbers(cells: &[String]) -> Column {
    cells
        .iter()
        .map(|c| (!c.is_empty()).then(|| c.parse::<f64>().unwrap()))
        .collect()
}

struct Input {
    close: Vec<f64>,
    bars: Vec<Bar>,
}

fn input(set: &str) -> Input {
    let (header, columns) = read_csv(set, "ohlcv.csv");
    assert_eq!(header, ["date", "open", "high", "low", "close", "volume"]);
    let col = |i: usize| -> Vec<f64> {
        numbers(&columns[i])
            .into_iter()
            .map(Option::unwrap)
            .collect()
    };
    let (high, low, close) = (col(2), col(3), col(4));
    let bars = (0..close.len())
        .map(|i| Bar::new(high[i], low[i], close[i]))
        .collect();
    Input { close, bars }
}

fn first_valid(column: &Column) -> Option<usize> {
    column.iter().position(Option::is_some)
}

/// Runs `indicator` over `inputs` and splits each output into columns with `pick`.
fn run<I: Indicator>(
    mut indicator: I,
    inputs: &[I::Input],
    pick: &[Pick<I::Output>],
) -> Vec<Column> {
    let outputs = indicator.batch(inputs);
    pick.iter()
        .map(|p| outputs.iter().map(|o| o.as_ref().and_then(p)).collect())
        .collect()
}

/// Compares our columns with the reference file's, named in the same order.
fn check(set: &str, file: &str, ours: Vec<Column>, warmup: &[usize]) {
    let (header, columns) = read_csv(set, &format!("{file}.csv"));
    assert_eq!(header.len(), ours.len(), "{set}/{file}: column count");
    for (i, (name, (theirs, ours))) in header.iter().zip(columns.iter().zip(&ours)).enumerate() {
        let theirs = numbers(theirs);
        assert_eq!(theirs.len(), ours.len(), "{set}/{name}: length");
        assert_eq!(
            first_valid(ours),
            first_valid(&theirs),
            "{set}/{name}: first valid index"
        );
        assert_eq!(first_valid(ours), Some(warmup[i]), "{set}/{name}: warmup()");
        for (t, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            match (a, b) {
                (None, None) => {}
                (Some(a), Some(b)) => {
                    let err = (a - b).abs();
                    let ok = if b.abs() < NEAR_ZERO {
                        err < ABS_TOL
                    } else {
                        err < REL_TOL * b.abs()
                    };
                    assert!(ok, "{set}/{name}[{t}]: ours {a:?}, TA-Lib {b:?}");
                }
                _ => panic!("{set}/{name}[{t}]: ours {a:?}, TA-Lib {b:?}"),
            }
        }
    }
}

fn one(x: &f64) -> Option<f64> {
    Some(*x)
}

/// The period-specific checks shared by both data sets.
fn check_set(set: &str, n: usize, macd: (usize, usize, usize), bb: (usize, f64), bb_name: &str) {
    let data = input(set);
    let c = &data.close[..];

    let sma = Sma::new(n).unwrap();
    let w = sma.warmup();
    check(set, &format!("sma_{n}"), run(sma, c, &[one]), &[w]);
    let wma = Wma::new(n).unwrap();
    let w = wma.warmup();
    check(set, &format!("wma_{n}"), run(wma, c, &[one]), &[w]);
    let std = StdDev::new(n).unwrap();
    let w = std.warmup();
    check(set, &format!("stddev_{n}"), run(std, c, &[one]), &[w]);

    let (f, s, g) = macd;
    let m = Macd::new(f, s, g).unwrap();
    let w = m.warmup();
    let picks: [Pick<MacdOutput>; 3] =
        [|o| Some(o.macd), |o| Some(o.signal), |o| Some(o.histogram)];
    check(
        set,
        &format!("macd_{f}_{s}_{g}"),
        run(m, c, &picks),
        &[w, w, w],
    );

    let b = BollingerBands::new(bb.0, bb.1).unwrap();
    let w = b.warmup();
    let picks: [Pick<BollingerOutput>; 3] =
        [|o| Some(o.upper), |o| Some(o.middle), |o| Some(o.lower)];
    check(set, bb_name, run(b, c, &picks), &[w, w, w]);
}

#[test]
fn main_set_matches_talib() {
    check_set("main", 20, (12, 26, 9), (20, 2.0), "bbands_20_2");
    let data = input("main");
    let (c, bars) = (&data.close[..], &data.bars[..]);

    check(
        "main",
        "ema_20",
        run(Ema::new(20).unwrap(), c, &[one]),
        &[19],
    );
    check(
        "main",
        "rsi_14",
        run(Rsi::new(14).unwrap(), c, &[one]),
        &[14],
    );
    check(
        "main",
        "roc_10",
        run(Roc::new(10).unwrap(), c, &[one]),
        &[10],
    );
    check("main", "trange", run(TrueRange::new(), bars, &[one]), &[1]);
    check(
        "main",
        "atr_14",
        run(Atr::new(14).unwrap(), bars, &[one]),
        &[14],
    );
    let picks: [Pick<AdxOutput>; 3] = [|o| o.adx, |o| Some(o.plus_di), |o| Some(o.minus_di)];
    let adx = Adx::new(14).unwrap();
    let (w_adx, w_di) = (adx.adx_warmup(), adx.warmup());
    assert_eq!((w_adx, w_di), (27, 14));
    check(
        "main",
        "adx_14",
        run(adx, bars, &picks),
        &[w_adx, w_di, w_di],
    );
}

#[test]
fn edge_set_matches_talib() {
    check_set("edge", 2, (2, 3, 1), (2, 1.5), "bbands_2_1.5");
    let data = input("edge");
    let (c, bars) = (&data.close[..], &data.bars[..]);

    check("edge", "sma_1", run(Sma::new(1).unwrap(), c, &[one]), &[0]);
    check("edge", "ema_1", run(Ema::new(1).unwrap(), c, &[one]), &[0]);
    check(
        "edge",
        "ema_50",
        run(Ema::new(50).unwrap(), c, &[one]),
        &[49],
    );
    check("edge", "rsi_2", run(Rsi::new(2).unwrap(), c, &[one]), &[2]);
    check("edge", "roc_1", run(Roc::new(1).unwrap(), c, &[one]), &[1]);
    check(
        "edge",
        "atr_1",
        run(Atr::new(1).unwrap(), bars, &[one]),
        &[1],
    );
    let picks: [Pick<AdxOutput>; 3] = [|o| o.adx, |o| Some(o.plus_di), |o| Some(o.minus_di)];
    check(
        "edge",
        "adx_2",
        run(Adx::new(2).unwrap(), bars, &picks),
        &[3, 2, 2],
    );
}

#[test]
fn macd_12_26_9_starts_at_index_33_like_talib() {
    let data = input("main");
    let mut macd = Macd::new(12, 26, 9).unwrap();
    assert_eq!(macd.warmup(), 33);
    let out = macd.batch(&data.close);
    assert!(out[32].is_none() && out[33].is_some());
}
