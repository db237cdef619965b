//! Helpers shared by NEO's tests: where the repository's data lives and the
//! contract fixtures under `fixtures/v1/<TypeName>/{valid,invalid}/`.

pub mod binance;
pub mod coinbase;
pub mod db;
pub mod kraken;
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

/// `ms` Unix milliseconds as RFC 3339 in UTC with microseconds (the venues'
/// message times), without a date library: days to a civil date (Hinnant).
pub fn rfc3339(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}000Z")
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

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_names_the_civil_date() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            super::rfc3339(1_796_637_600_123),
            "2026-12-07T10:00:00.123000Z"
        );
        assert_eq!(
            super::rfc3339(951_782_400_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(super::rfc3339(-1), "1969-12-31T23:59:59.999000Z");
    }
}
