//! Contract tests: every fixture under `fixtures/v1/<TypeName>/` behaves as its
//! folder says. Valid ones validate and survive a trip through the Rust type
//! unchanged; invalid ones are refused, reporting the JSON path their file name
//! names after `@` (`limit_without_price@limit_price.json` -> `/limit_price`,
//! dots for nesting, nothing after `@` for the whole document).

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use neo_domain::schema::registry;
use neo_testkit::{fixture_dir, fixtures};

/// The JSON pointer an invalid fixture's file name promises.
fn expected_path(file_stem: &str) -> Option<String> {
    let (_, path) = file_stem.split_once('@')?;
    Some(if path.is_empty() {
        String::new()
    } else {
        format!("/{}", path.replace('.', "/"))
    })
}

#[test]
fn every_contract_has_valid_and_invalid_fixtures() {
    for entry in registry() {
        let all = fixtures(entry.name);
        let valid = all.iter().filter(|f| f.valid).count();
        assert!(
            valid >= 2,
            "{}: needs at least 2 valid fixtures, has {valid}",
            entry.name
        );
        assert!(
            all.len() - valid >= 4,
            "{}: needs at least 4 invalid fixtures",
            entry.name
        );
    }
}

#[test]
fn valid_fixtures_validate_and_roundtrip_unchanged() {
    for entry in registry() {
        for fixture in fixtures(entry.name).into_iter().filter(|f| f.valid) {
            let shown = fixture.path.display();
            let doc = fixture
                .json
                .unwrap_or_else(|e| panic!("{shown}: not JSON: {e}"));
            let issues = entry.validate(&doc).unwrap();
            assert!(issues.is_empty(), "{shown}: {issues:?}");
            let back = entry
                .roundtrip(&doc)
                .unwrap_or_else(|i| panic!("{shown}: {i}"));
            assert_eq!(
                back, doc,
                "{shown}: changed by a trip through the Rust type"
            );
        }
    }
}

#[test]
fn invalid_fixtures_are_refused_at_the_named_path() {
    for entry in registry() {
        for fixture in fixtures(entry.name).into_iter().filter(|f| !f.valid) {
            let shown = fixture.path.display();
            let stem = fixture
                .path
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let want = expected_path(&stem)
                .unwrap_or_else(|| panic!("{shown}: name it <what>@<json.path>.json"));
            let issues = match fixture.json {
                Ok(doc) => entry.validate(&doc).unwrap(),
                // Not JSON at all: refused before any schema is involved.
                Err(_) => {
                    assert_eq!(want, "", "{shown}: unparseable fixtures fail at the root");
                    continue;
                }
            };
            assert!(
                !issues.is_empty(),
                "{shown}: accepted but should be refused"
            );
            assert!(
                issues.iter().any(|i| i.path == want),
                "{shown}: expected a problem at {want:?}, got {issues:?}"
            );
        }
    }
}

#[test]
fn no_fixture_folder_without_a_contract() {
    let known: Vec<&str> = registry().iter().map(|e| e.name).collect();
    for item in std::fs::read_dir(fixture_dir()).unwrap() {
        let name = item.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            known.contains(&name.as_str()),
            "fixtures/v1/{name} matches no contract"
        );
    }
}
