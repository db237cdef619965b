//! Helpers shared by NEO's tests: where the repository's data lives and the
//! contract fixtures under `fixtures/v1/<TypeName>/{valid,invalid}/`.

pub mod binance;
pub mod db;
pub mod mock;
pub mod nats;
pub mod python;
pub mod venue;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The repository root (the directory holding `Cargo.lock`), found at run time:
/// a path compiled in with `env!` goes stale when a shared target directory
/// serves several checkouts (as CI's cache does).
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let mut dir = start.clone();
    while !dir.join("Cargo.lock").exists() {
        if !dir.pop() {
            return start;
        }
    }
    dir
}

/// `schemas/v1`.
pub fn schema_dir() -> PathBuf {
    workspace_root().join("schemas").join("v1")
}

/// `fixtures/v1`.
pub fn fixture_dir() -> PathBuf {
    workspace_root().join("fixtures").join("v1")
}

/// One fixture document and whether it must validate.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The file.
    pub path: PathBuf,
    /// True under `valid/`, false under `invalid/`.
    pub valid: bool,
    /// Its JSON, or the parse error's text when it is not JSON (only invalid fixtures may be).
    pub json: Result<Value, String>,
}

/// Every fixture of a contract, valid ones first, each folder in name order.
pub fn fixtures(type_name: &str) -> Vec<Fixture> {
    let base = fixture_dir().join(type_name);
    let mut out = Vec::new();
    for (folder, valid) in [("valid", true), ("invalid", false)] {
        for path in json_files(&base.join(folder)) {
            let json = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()));
            out.push(Fixture { path, valid, json });
        }
    }
    out
}

/// The `.json` files directly in `dir`, sorted; none when it does not exist.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(items) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = items
        .filter_map(|i| i.ok().map(|i| i.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}
