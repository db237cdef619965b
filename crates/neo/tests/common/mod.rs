//! Helpers shared by the `neo data` command-line tests.

// Each test binary uses its own subset of these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use neo_testkit::workspace_root;

/// Runs the real binary from the workspace root.
pub(crate) fn neo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run neo")
}

/// A path under the temp dir no other test (or test run) uses.
pub(crate) fn temp_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("neo-data-cli-{}-{n}-{name}", std::process::id()))
}

/// A CSV file with `contents` under a fresh temp path.
pub(crate) fn temp_csv(contents: &str) -> PathBuf {
    let path = temp_path("input.csv");
    std::fs::write(&path, contents).unwrap();
    path
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
