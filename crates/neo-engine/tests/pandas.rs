//! `RollingMean` against pandas' `rolling(n).mean()`, bit for bit: the reference
//! CSV under `tests/data/pandas/` was written by `scripts/pandas_reference.py`, so
//! this test needs no Python. Equality is exact because a crossover on a tie is
//! decided by the last bit.

// A malformed reference file or a mismatch should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use neo_engine::indicators::{Indicator, RollingMean, Sma};

/// The header and rows of the reference file; empty cells are `None`.
fn reference() -> (Vec<String>, Vec<Vec<Option<f64>>>) {
    let path =
        neo_testkit::workspace_root().join("crates/neo-engine/tests/data/pandas/rolling_mean.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|line| {
            line.split(',')
                .map(|c| (!c.is_empty()).then(|| c.parse::<f64>().unwrap()))
                .collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn rolling_mean_is_pandas_bit_for_bit() {
    let (header, rows) = reference();
    assert!(
        rows.len() > 4000,
        "the reference covers every kind of input"
    );
    for (col, name) in header.iter().enumerate().skip(1) {
        let n: usize = name.strip_prefix("mean_").unwrap().parse().unwrap();
        let mut mean = RollingMean::new(n).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let got = mean.update(row[0].unwrap());
            let want = row[col];
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "{name} at row {i}: got {got:?}, pandas {want:?}"
            );
        }
    }
}

/// The reason `RollingMean` exists: on this data TA-Lib's plain running sum
/// differs from pandas in the last bit somewhere, which would move a tie.
#[test]
fn talib_sma_is_not_pandas_bit_for_bit() {
    let (header, rows) = reference();
    let differs = header.iter().enumerate().skip(1).any(|(col, name)| {
        let n: usize = name.strip_prefix("mean_").unwrap().parse().unwrap();
        let mut sma = Sma::new(n).unwrap();
        rows.iter()
            .any(|row| sma.update(row[0].unwrap()).map(f64::to_bits) != row[col].map(f64::to_bits))
    });
    assert!(differs);
}
