//! Backward compatibility of a schema change within a major version: a new
//! schema must accept every document the old one accepted. This finds the
//! changes that break that: a field lost, a field newly required, a type,
//! enum, pattern, format or bound narrowed.
//!
//! Policy, not pure set logic: adding an optional field is allowed (older
//! writers never sent it and readers ignore unknown fields), and so is adding
//! an enum value (widening), though a strict reader must be ready for it.

use serde_json::{Map, Value};

use crate::Issue;

/// Every way `new` refuses documents that `old` accepted (empty when compatible),
/// each located by the JSON pointer of the instances it affects.
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<Issue> {
    let mut walk = Walk {
        old_root: old,
        new_root: new,
        found: Vec::new(),
        depth: 0,
    };
    walk.compare(old, new, "");
    walk.found
}

struct Walk<'a> {
    old_root: &'a Value,
    new_root: &'a Value,
    found: Vec<Issue>,
    depth: usize,
}

/// Deep enough for any contract; stops a recursive schema from looping.
const MAX_DEPTH: usize = 64;

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..16 {
        let Some(pointer) = current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        else {
            break;
        };
        match root.pointer(pointer) {
            Some(target) => current = target,
            None => break,
        }
    }
    current
}

/// The set of JSON types a schema allows; `None` when it does not restrict them.
fn types(schema: &Map<String, Value>) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// The alternatives of an `anyOf`/`oneOf` (a plain schema is its own single alternative).
fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
}

impl Walk<'_> {
    fn report(&mut self, path: &str, problem: String) {
        self.found.push(Issue::new(path, problem));
    }

    fn compare(&mut self, old: &Value, new: &Value, path: &str) {
        if self.depth > MAX_DEPTH {
            return;
        }
        self.depth += 1;
        let (old, new) = (resolve(self.old_root, old), resolve(self.new_root, new));
        self.compare_resolved(old, new, path);
        self.depth -= 1;
    }

    fn compare_resolved(&mut self, old: &Value, new: &Value, path: &str) {
        if new == &Value::Bool(true) || old == new {
            return;
        }
        let (Some(old_obj), Some(new_obj)) = (old.as_object(), new.as_object()) else {
            if new == &Value::Bool(false) || old.is_object() {
                self.report(path, "now accepts less than before".into());
            }
            return;
        };
        if new_obj.is_empty() {
            return;
        }
        // Alternatives: each old one must still be accepted by some new one.
        if let Some(new_alts) = alternatives(new) {
            let old_alts = alternatives(old)
                .cloned()
                .unwrap_or_else(|| vec![old.clone()]);
            for (i, old_alt) in old_alts.iter().enumerate() {
                let fits = new_alts.iter().any(|new_alt| {
                    let mut probe = Walk {
                        old_root: self.old_root,
                        new_root: self.new_root,
                        found: Vec::new(),
                        depth: self.depth,
                    };
                    probe.compare(old_alt, new_alt, path);
                    probe.found.is_empty()
                });
                if !fits {
                    self.report(
                        path,
                        format!("alternative {i} of the old schema is no longer accepted"),
                    );
                }
            }
            return;
        }
        if let Some(old_alts) = alternatives(old) {
            for old_alt in old_alts.clone() {
                self.compare(&old_alt, new, path);
            }
            return;
        }
        self.compare_types(old_obj, new_obj, path);
        self.compare_values(old_obj, new_obj, path);
        self.compare_bounds(old_obj, new_obj, path);
        self.compare_properties(old_obj, new_obj, path);
        if let (Some(old_items), Some(new_items)) = (old_obj.get("items"), new_obj.get("items")) {
            self.compare(old_items, new_items, &format!("{path}/items"));
        } else if new_obj.contains_key("items") {
            self.report(path, "array items are now restricted".into());
        }
    }

    fn compare_types(&mut self, old: &Map<String, Value>, new: &Map<String, Value>, path: &str) {
        let Some(new_types) = types(new) else { return };
        let old_types = types(old)
            .unwrap_or_else(|| vec!["null", "boolean", "object", "array", "number", "string"]);
        for t in old_types {
            let kept = new_types.contains(&t) || (t == "integer" && new_types.contains(&"number"));
            if !kept {
                self.report(path, format!("no longer accepts type {t}"));
            }
        }
    }

    fn compare_values(&mut self, old: &Map<String, Value>, new: &Map<String, Value>, path: &str) {
        for key in ["pattern", "format", "const"] {
            if let Some(new_value) = new.get(key)
                && old.get(key) != Some(new_value)
            {
                self.report(path, format!("{key} added or changed to {new_value}"));
            }
        }
        if let Some(new_enum) = new.get("enum").and_then(Value::as_array) {
            match old.get("enum").and_then(Value::as_array) {
                Some(old_enum) => {
                    for v in old_enum.iter().filter(|v| !new_enum.contains(v)) {
                        self.report(path, format!("enum value {v} removed"));
                    }
                }
                None => self.report(path, "now restricted to an enum".into()),
            }
        }
        if old.get("additionalProperties") != Some(&Value::Bool(false))
            && new.get("additionalProperties") == Some(&Value::Bool(false))
        {
            self.report(path, "unknown fields are now refused".into());
        }
    }

    fn compare_bounds(&mut self, old: &Map<String, Value>, new: &Map<String, Value>, path: &str) {
        // Lower bounds may only fall, upper bounds only rise.
        let lower = [
            "minimum",
            "exclusiveMinimum",
            "minLength",
            "minItems",
            "minProperties",
        ];
        let upper = [
            "maximum",
            "exclusiveMaximum",
            "maxLength",
            "maxItems",
            "maxProperties",
        ];
        for (keys, tighter) in [(&lower, 1.0), (&upper, -1.0)] {
            for key in keys.iter() {
                let Some(new_bound) = new.get(*key).and_then(Value::as_f64) else {
                    continue;
                };
                let narrowed = match old.get(*key).and_then(Value::as_f64) {
                    Some(old_bound) => (new_bound - old_bound) * tighter > 0.0,
                    None => true,
                };
                if narrowed {
                    self.report(path, format!("{key} tightened to {new_bound}"));
                }
            }
        }
    }

    fn compare_properties(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        path: &str,
    ) {
        let empty = Map::new();
        let old_props = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_props = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, old_prop) in old_props {
            let field = format!("{path}/{name}");
            match new_props.get(name) {
                Some(new_prop) => self.compare(old_prop, new_prop, &field),
                None => self.report(&field, "field removed".into()),
            }
        }
        let required = |m: &Map<String, Value>| -> Vec<String> {
            m.get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let old_required = required(old);
        for name in required(new)
            .into_iter()
            .filter(|n| !old_required.contains(n))
        {
            self.report(&format!("{path}/{name}"), "field is newly required".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(old: Value, new: Value) -> Vec<String> {
        breaking_changes(&old, &new)
            .into_iter()
            .map(|b| b.to_string())
            .collect()
    }

    fn base() -> Value {
        json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "side": {"$ref": "#/$defs/Side"},
                "qty": {"type": ["string", "number"], "minimum": 0},
                "note": {"type": ["string", "null"], "maxLength": 100},
                "tags": {"type": "array", "items": {"type": "string"}}
            },
            "$defs": {"Side": {"type": "string", "enum": ["buy", "sell"]}}
        })
    }

    fn edit(f: impl FnOnce(&mut Value)) -> Value {
        let mut v = base();
        f(&mut v);
        v
    }

    #[test]
    fn identical_and_widened_schemas_are_compatible() {
        assert!(problems(base(), base()).is_empty());
        let widened = edit(|v| {
            v["properties"]["extra"] = json!({"type": "string"});
            v["properties"]["id"]["type"] = json!(["string", "number"]);
            v["$defs"]["Side"]["enum"] = json!(["buy", "sell", "short"]);
            v["properties"]["note"]["maxLength"] = json!(200);
            v["properties"]["qty"]
                .as_object_mut()
                .unwrap()
                .remove("minimum");
        });
        assert_eq!(problems(base(), widened), Vec::<String>::new());
    }

    #[test]
    fn each_narrowing_is_reported() {
        let cases: Vec<(Value, &str)> = vec![
            (
                edit(|v| {
                    v["properties"].as_object_mut().unwrap().remove("qty");
                }),
                "/qty: field removed",
            ),
            (
                edit(|v| v["required"] = json!(["id", "side"])),
                "/side: field is newly required",
            ),
            (
                edit(|v| v["properties"]["qty"]["type"] = json!("string")),
                "/qty: no longer accepts type number",
            ),
            (
                edit(|v| v["$defs"]["Side"]["enum"] = json!(["buy"])),
                "/side: enum value \"sell\" removed",
            ),
            (
                edit(|v| v["properties"]["note"]["maxLength"] = json!(50)),
                "/note: maxLength tightened to 50",
            ),
            (
                edit(|v| v["properties"]["qty"]["minimum"] = json!(1)),
                "/qty: minimum tightened to 1",
            ),
            (
                edit(|v| v["properties"]["id"]["pattern"] = json!("^a")),
                "/id: pattern added or changed to \"^a\"",
            ),
            (
                edit(|v| v["properties"]["tags"]["items"] = json!({"type": "integer"})),
                "/tags/items: no longer accepts type string",
            ),
            (
                edit(|v| v["additionalProperties"] = json!(false)),
                "/: unknown fields are now refused",
            ),
            (
                edit(|v| v["properties"]["note"]["type"] = json!("string")),
                "/note: no longer accepts type null",
            ),
        ];
        for (new, expected) in cases {
            let found = problems(base(), new);
            assert!(
                found.iter().any(|p| p == expected),
                "expected {expected:?}, found {found:?}"
            );
        }
    }

    #[test]
    fn alternatives_must_keep_every_old_branch() {
        let old = json!({"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}], "$defs": {"A": {"type": "string"}}});
        let same = json!({"anyOf": [{"type": "null"}, {"$ref": "#/$defs/A"}], "$defs": {"A": {"type": "string"}}});
        assert!(problems(old.clone(), same).is_empty());
        let lost_null = json!({"$ref": "#/$defs/A", "$defs": {"A": {"type": "string", "anyOf": [{"type": "string"}]}}});
        assert!(!problems(old, lost_null).is_empty());
    }
}
