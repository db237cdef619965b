//! `neo schema ...` and `neo version` as a user runs them: the real binary,
//! real files, exit codes and output.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use neo_domain::schema::registry;
use neo_testkit::{fixtures, schema_dir, workspace_root};

fn neo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run neo")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn version_names_the_contract_version() {
    let out = neo(&["version"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with(&format!(
        "neo {} (contracts v1, ",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn list_names_every_contract() {
    let out = neo(&["schema", "list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for e in registry() {
        assert!(
            text.lines().any(|l| l.starts_with(e.name)),
            "{} missing from:\n{text}",
            e.name
        );
    }
    let json = stdout(&neo(&["schema", "list", "--json"]));
    let names: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, registry().iter().map(|e| e.name).collect::<Vec<_>>());
}

#[test]
fn show_prints_the_checked_in_schema() {
    let out = neo(&["schema", "show", "SignalEventV1"]);
    assert!(out.status.success());
    let file = std::fs::read_to_string(schema_dir().join("SignalEventV1.schema.json")).unwrap();
    assert_eq!(stdout(&out), file);
    let unknown = neo(&["schema", "show", "SignalEvent"]);
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        err.contains("no contract named \"SignalEvent\"") && err.contains("SignalEventV1"),
        "{err}"
    );
}

#[test]
fn validate_accepts_every_valid_fixture_and_refuses_every_invalid_one() {
    for e in registry() {
        for f in fixtures(e.name) {
            let path = f.path.to_string_lossy().into_owned();
            let out = neo(&["schema", "validate", e.name, &path]);
            let expected = if f.valid { 0 } else { 1 };
            assert_eq!(
                out.status.code(),
                Some(expected),
                "{path}:\n{}",
                stdout(&out)
            );
            if !f.valid {
                // Every problem is printed on its own line with its path.
                assert!(
                    stdout(&out).lines().skip(1).all(|l| l.starts_with("  /")),
                    "{}",
                    stdout(&out)
                );
            }
        }
    }
}

#[test]
fn validate_prints_json_and_reads_stdin() {
    let fixture = workspace_root()
        .join("fixtures/v1/OrderIntentV1/invalid/limit_without_price@limit_price.json");
    let out = neo(&[
        "schema",
        "validate",
        "OrderIntentV1",
        &fixture.to_string_lossy(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["issues"][0]["path"], "/limit_price");

    let mut child = Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(["schema", "validate", "TickV1", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    let tick = r#"{"instrument":"ETH-USDT","price":"3120.45","size":"1","ts_event":"2026-11-21T00:00:00Z"}"#;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(tick.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stdout(&out));

    let missing = neo(&["schema", "validate", "TickV1", "/no/such/file.json"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn generate_check_passes_on_the_repository() {
    let out = neo(&["schema", "generate", "--check"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

fn copy_schemas(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in registry() {
        std::fs::copy(schema_dir().join(e.file_name()), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn generate_refuses_to_overwrite_a_schema_with_a_narrower_one() {
    let dir = std::env::temp_dir().join(format!("neo-schema-gen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_schemas(&dir);
    let dir_arg = dir.to_string_lossy().into_owned();
    // Pretend the published schema had a field the type has since lost.
    let path = dir.join("TickV1.schema.json");
    let mut published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    published["properties"]["venue"] = serde_json::json!({"type": "string"});
    std::fs::write(&path, serde_json::to_string_pretty(&published).unwrap()).unwrap();

    let check = neo(&["schema", "generate", "--dir", &dir_arg, "--check"]);
    assert_eq!(check.status.code(), Some(1));
    let out = neo(&["schema", "generate", "--dir", &dir_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("TickV1/venue: field removed"),
        "{}",
        stdout(&out)
    );
    assert!(
        std::fs::read_to_string(&path).unwrap().contains("venue"),
        "file must be left alone"
    );

    // A compatible drift (an older schema without an optional field) is rewritten.
    let mut older = published.clone();
    older["properties"].as_object_mut().unwrap().remove("venue");
    older["properties"].as_object_mut().unwrap().remove("bid");
    std::fs::write(&path, serde_json::to_string_pretty(&older).unwrap()).unwrap();
    let out = neo(&["schema", "generate", "--dir", &dir_arg]);
    assert!(out.status.success(), "{}", stdout(&out));
    let regenerated = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        regenerated,
        std::fs::read_to_string(schema_dir().join("TickV1.schema.json")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compat_reports_breaking_changes_between_files() {
    let dir = std::env::temp_dir().join(format!("neo-schema-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join("old.json");
    let new = dir.join("new.json");
    std::fs::write(
        &old,
        r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
    )
    .unwrap();
    std::fs::write(
        &new,
        r#"{"type":"object","properties":{"a":{"type":"string"},"b":{}}}"#,
    )
    .unwrap();
    let ok = neo(&[
        "schema",
        "compat",
        &old.to_string_lossy(),
        &new.to_string_lossy(),
    ]);
    assert!(ok.status.success());
    assert_eq!(stdout(&ok), "compatible\n");
    let bad = neo(&[
        "schema",
        "compat",
        &new.to_string_lossy(),
        &old.to_string_lossy(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(stdout(&bad), "/b: field removed\n");
    std::fs::remove_dir_all(&dir).unwrap();
}
