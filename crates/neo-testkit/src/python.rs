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
