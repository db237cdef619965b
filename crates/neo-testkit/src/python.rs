//! Python with pyarrow and pandas, for tests that show NEO's Parquet files are
//! read by the tools people use: a script's output, or `None` (with a note on
//! stderr, past the harness's capture, so a CI log shows the skip) when
//! pyarrow or pandas is not installed.

use std::io::Write;
use std::process::{Command, Output};

/// Runs `script` with `python3 -c`, or `None` when pyarrow and pandas are missing.
pub fn with_pyarrow(script: &str) -> Option<Output> {
    let probe = Command::new("python3")
        .args(["-c", "import pyarrow, pandas"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: pyarrow not installed (pip install pyarrow pandas)"
        );
        return None;
    }
    Command::new("python3").args(["-c", script]).output().ok()
}

/// Rows of the hive-partitioned Parquet dataset under `dir` as pyarrow counts
/// them, so a test shows the files read outside NEO; `None` without pyarrow.
/// Fails the test when pyarrow cannot read them.
pub fn pyarrow_rows(dir: &std::path::Path) -> Option<usize> {
    let script = format!(
        "import pyarrow.dataset as ds; print(ds.dataset({:?}, format='parquet', partitioning='hive').count_rows())",
        dir.display().to_string()
    );
    let out = with_pyarrow(&script)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pyarrow could not read {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = stdout.trim().parse().ok();
    assert!(rows.is_some(), "pyarrow printed {stdout:?}, not a count");
    rows
}

#[cfg(test)]
mod tests {
    #[test]
    fn pyarrow_counts_a_hive_dataset() {
        let dir = std::env::temp_dir().join(format!("neo-pyarrow-{}", std::process::id()));
        let part = dir.join("venue=binance").join("date=2026-12-07");
        let script = format!(
            "import os, pyarrow as pa, pyarrow.parquet as pq; os.makedirs({p:?}, exist_ok=True); pq.write_table(pa.table({{'price': ['1.5', '2', '3']}}), os.path.join({p:?}, 'part-0.parquet'))",
            p = part.display().to_string()
        );
        let Some(out) = super::with_pyarrow(&script) else {
            return;
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = super::pyarrow_rows(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(rows, Some(3));
    }
}
