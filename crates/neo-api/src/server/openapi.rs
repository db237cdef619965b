//! `GET /openapi.json` (OpenAPI 3.1) and `/docs` (Swagger UI, vendored: no CDN).
//! The message schemas are the registry's own (generated from the Rust types),
//! so the document cannot drift from the contracts; the paths are listed here.

use axum::Router;
use neo_domain::schema::registry;
use serde_json::{Map, Value, json};
use utoipa_swagger_ui::SwaggerUi;

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Moves `$defs` into `components/schemas` and points every `#/$defs/` ref there.
fn hoist(mut schema: Value, out: &mut Map<String, Value>) -> Value {
    if let Some(obj) = schema.as_object_mut() {
        obj.remove("$schema");
        if let Some(Value::Object(defs)) = obj.remove("$defs") {
            for (name, def) in defs {
                let def = hoist(def, out);
                out.insert(name, def);
            }
        }
    }
    rewrite_refs(&mut schema);
    schema
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(obj) => {
            for (key, v) in obj.iter_mut() {
                if key == "$ref"
                    && let Some(r) = v.as_str()
                    && let Some(name) = r.strip_prefix("#/$defs/")
                {
                    *v = Value::String(format!("#/components/schemas/{name}"));
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema_ref("Error") } } })
}

fn page_of(name: &str) -> Value {
    json!({ "type": "object", "required": ["items"], "properties": {
        "items": { "type": "array", "items": schema_ref(name) },
        "next": { "type": ["string", "null"], "description": "pass as `cursor` for the next page" }
    }})
}

fn trading_state() -> Value {
    json!({ "type": "object", "required": ["state", "reason", "since", "by"], "properties": {
        "state": { "enum": ["active", "reducing", "halted"] },
        "reason": { "type": "string" },
        "since": { "type": "string", "format": "date-time" },
        "by": { "type": "string", "description": "`risk` for automatic changes, else the operator" },
        "cause": { "type": "object", "description": "the typed cause (`kind` and its figures)" } } })
}

fn idempotency_key() -> Value {
    json!([{ "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "the same key is the same command: a retry changes nothing twice",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255 } }])
}

fn command_responses() -> Value {
    json!({
        "200": ok("applied by the desk", json!({ "type": "object", "required": ["command_id", "outcome", "trading"],
            "properties": { "command_id": { "type": "string" }, "duplicate": { "type": "boolean" },
                "outcome": { "enum": ["applied", "unchanged"] }, "trading": trading_state(),
                "flatten": { "type": "object", "description": "closed and refused instruments" } } })),
        "202": ok("committed; the desk has not applied it yet", json!({ "type": "object" })),
        "400": error_response("a malformed Idempotency-Key"),
        "409": error_response("risk refused the change (resuming during a drawdown breach)"),
        "415": error_response("the body is not application/json"),
        "422": error_response("the body names the problem"),
        "503": error_response("no desk runs here, or the store is down") })
}

fn paging_params() -> Value {
    json!([
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 500, "default": 50 } },
        { "name": "cursor", "in": "query", "schema": { "type": "string" } }
    ])
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// Operations anyone may call: the webhooks carry their own passphrase or signature.
const OPEN: [(&str, &str); 4] = [
    ("/v1/webhooks/tradingview", "post"),
    ("/v1/webhooks/generic", "post"),
    ("/health", "get"),
    ("/ready", "get"),
];

/// Operations that need an `admin` key (every other one needs `read`), as `router()` gates them.
const ADMIN: [(&str, &str); 5] = [
    ("/v1/risk/check", "post"),
    ("/v1/alt/{source}", "post"),
    ("/v1/trading/state", "post"),
    ("/v1/trading/flatten", "post"),
    ("/v1/flags/{name}", "put"),
];

/// Marks every operation with the key it needs and the refusals that come with it.
fn secure(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let at = (path.as_str(), method.as_str());
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            if OPEN.contains(&at) {
                op.insert("security".to_owned(), json!([]));
                continue;
            }
            let admin = ADMIN.contains(&at);
            let role = if admin { "admin" } else { "read" };
            op.insert("security".to_owned(), json!([{ "bearer": [] }]));
            op.insert("x-neo-role".to_owned(), json!(role));
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.insert("401".to_owned(), error_response(
                    "no key, an unknown key (`unauthorized`) or an expired one (`key_expired`); carries WWW-Authenticate: Bearer"));
                if admin {
                    responses.insert(
                        "403".to_owned(),
                        error_response("the key's role is read; this needs admin (`forbidden`)"),
                    );
                }
                responses.insert(
                    "421".to_owned(),
                    error_response(
                        "no key is configured and the Host is not loopback (`misdirected_host`)",
                    ),
                );
                responses.insert(
                    "429".to_owned(),
                    error_response("over the API's rate limit (see Retry-After)"),
                );
            }
        }
    }
}

/// The whole document.
pub(super) fn document() -> Value {
    let mut schemas = Map::new();
    for entry in registry() {
        let schema = hoist(entry.schema(), &mut schemas);
        schemas.insert(entry.name.to_owned(), schema);
    }
    schemas.insert("Error".to_owned(), json!({
        "type": "object", "required": ["error", "message", "details"],
        "properties": {
            "error": { "type": "string", "description": "stable machine-readable code" },
            "message": { "type": "string" },
            "details": { "type": "array", "items": { "type": "object",
                "properties": { "path": { "type": "string" }, "problem": { "type": "string" } } } }
        }
    }));
    schemas.insert("Accepted".to_owned(), json!({
        "type": "object", "required": ["signal_id", "duplicate"],
        "properties": { "signal_id": { "type": "string", "format": "uuid" }, "duplicate": { "type": "boolean" } }
    }));
    let webhook_errors = |op: Value| -> Value {
        let mut op = op;
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for (code, text) in [
                ("400", "unparseable body"),
                ("401", "bad passphrase or signature"),
                ("403", "source address not in the allow list"),
                (
                    "409",
                    "idempotency_conflict: this id was accepted with other content (the differing fields are listed)",
                ),
                ("413", "body over the limit"),
                ("415", "unsupported content type"),
                ("422", "invalid or unnormalizable content"),
                ("429", "over the rate limit (see Retry-After)"),
                (
                    "503",
                    "store unavailable, or the intake's flag (`tv_slice`) is off (`intake_disabled`): nothing was accepted",
                ),
            ] {
                responses.insert(code.to_owned(), error_response(text));
            }
        }
        op
    };
    let accepted = ok(
        "committed (or the same alert again, with duplicate: true)",
        schema_ref("Accepted"),
    );
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": { "title": "NEO", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Trading signals in; analysed, risk-sized, bracketed paper orders out." },
        "paths": {
            "/v1/webhooks/tradingview": { "post": webhook_errors(json!({
                "summary": "A TradingView alert (JSON or key=value text) with its passphrase",
                "requestBody": { "required": true, "content": {
                    "application/json": { "schema": { "type": "object" } },
                    "text/plain": { "schema": { "type": "string" } } } },
                "responses": { "202": accepted }
            })) },
            "/v1/webhooks/generic": { "post": webhook_errors(json!({
                "summary": "A SignalEventV1-shaped body signed with X-Neo-Signature",
                "parameters": [{ "name": "X-Neo-Signature", "in": "header", "required": true,
                    "schema": { "type": "string", "example": "t=1767225600,v1=<hex hmac-sha256>" } }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
                "responses": { "202": accepted }
            })) },
            "/v1/signals": { "get": { "summary": "Signals, newest first", "parameters": paging_params(),
                "responses": { "200": ok("a page", page_of("SignalEventV1")), "400": error_response("bad limit or cursor") } } },
            "/v1/signals/{id}": { "get": { "summary": "The whole story of one alert",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }],
                "responses": {
                    "200": ok("signal, decisions, each agent's answer, intents, refusals, orders, fills, notifications", json!({
                        "type": "object", "required": ["signal", "decisions", "orders", "fills", "notifications"],
                        "properties": {
                            "signal": schema_ref("SignalEventV1"),
                            "status": { "enum": ["accepted", "decided", "refused", "filled"] },
                            "decisions": { "type": "array", "items": schema_ref("AgentOutputV1") },
                            "agents": { "type": "array", "items": { "type": "object" },
                                "description": "Each agent's answer (the rule analyst's own, and the LLM's with provider, latency, tokens, cost and prompt version, or why it has none), when the agents' policy combined them" },
                            "intents": { "type": "array", "items": schema_ref("OrderIntentV1") },
                            "refusals": { "type": "array", "items": { "type": "object" } },
                            "orders": { "type": "array", "items": schema_ref("OrderV1") },
                            "fills": { "type": "array", "items": schema_ref("FillV1") },
                            "notifications": { "type": "array", "items": { "type": "object" } }
                        }})),
                    "400": error_response("not a signal id"),
                    "404": error_response("no such signal") } } },
            "/v1/orders": { "get": { "summary": "Orders, newest first", "parameters": paging_params(),
                "responses": { "200": ok("a page", page_of("OrderV1")), "400": error_response("bad limit or cursor") } } },
            "/v1/positions": { "get": { "summary": "Every instrument that traded",
                "responses": { "200": ok("positions", json!({ "type": "object", "properties": {
                    "items": { "type": "array", "items": schema_ref("PositionV1") } } })) } } },
            "/v1/portfolio": { "get": { "summary": "Cash, equity, PnL, drawdown and trading state",
                "responses": { "200": ok("the account", json!({ "type": "object" })), "503": error_response("no desk runs here") } } },
            "/v1/tickers": { "get": { "summary": "Price, bid, ask and volume per instrument",
                "responses": { "200": ok("tickers", json!({ "type": "object" })), "503": error_response("no desk runs here") } } },
            "/v1/system/checks": { "get": { "summary": "Every dependency checked now (store, bus, market freshness, each notification channel and LLM provider), each within 5 s; what `neo doctor` prints",
                "responses": { "200": ok("each check and whether all passed", json!({ "type": "object", "required": ["ok", "checks"],
                    "properties": { "ok": { "type": "boolean" }, "checks": { "type": "array", "items": { "type": "object",
                        "required": ["name", "ok", "detail", "millis"] } } } })) } } },
            "/v1/execution/quality": { "get": { "summary": "Execution quality over [from, to): slippage vs arrival (bps), fill ratio and decision-to-fill latency by instrument, side and order type",
                "parameters": [
                    { "name": "from", "in": "query", "schema": { "type": "string" } },
                    { "name": "to", "in": "query", "schema": { "type": "string" } },
                    { "name": "instrument", "in": "query", "schema": { "type": "string" } }],
                "responses": { "200": ok("the report", json!({ "type": "object", "required": ["groups", "total"] })),
                    "400": error_response("a bad time or instrument"), "503": error_response("the store is down") } } },
            "/v1/history/candles": { "get": { "summary": "Stored candles at any interval the store makes exactly, opening in [from, to)",
                "parameters": [
                    { "name": "instrument", "in": "query", "required": true, "schema": { "type": "string" } },
                    { "name": "interval", "in": "query", "schema": { "type": "string", "default": "1m" } },
                    { "name": "from", "in": "query", "schema": { "type": "string" } },
                    { "name": "to", "in": "query", "schema": { "type": "string" } },
                    { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } }],
                "responses": { "200": ok("bars, oldest first, and the next page's from", json!({ "type": "object", "required": ["instrument", "interval", "bars"] })),
                    "400": error_response("a bad instrument, interval, time or limit"), "404": error_response("nothing stored"),
                    "503": error_response("no history store here") } } },
            "/v1/alt/{source}": {
                "get": { "summary": "A source's alternative-data events in [from, to), oldest first",
                    "parameters": [
                        { "name": "source", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "from", "in": "query", "schema": { "type": "string" } },
                        { "name": "to", "in": "query", "schema": { "type": "string" } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 10000 } }],
                    "responses": { "200": ok("events", json!({ "type": "object", "required": ["source", "items"] })),
                        "400": error_response("a bad source, time or limit"), "503": error_response("no history store here") } },
                "post": { "summary": "Store one alternative-data event (news, a funding rate, an on-chain figure): any JSON object, with `ts` when it has its own time",
                    "parameters": [
                        { "name": "source", "in": "path", "required": true, "schema": { "type": "string" } },
                        { "name": "kind", "in": "query", "schema": { "type": "string", "default": "event" } }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object" } } } },
                    "responses": { "201": ok("stored", json!({ "type": "object" })),
                        "400": error_response("a bad ts or query"), "415": error_response("not JSON"),
                        "422": error_response("not an alternative-data event"), "503": error_response("no history store here") } } },
            "/v1/features/{instrument}": { "get": { "summary": "What the desk uses about an instrument now: indicators, regime, quote, position, volatility percentile, freshness",
                "parameters": [{ "name": "instrument", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": ok("features", json!({ "type": "object", "required": ["instrument", "volatility", "ts"] })),
                    "400": error_response("not an instrument"), "404": error_response("no market data for it"),
                    "503": error_response("no desk runs here") } } },
            "/v1/risk/check": { "post": { "summary": "Would risk approve this intent now? (nothing is placed)",
                "requestBody": { "required": true, "content": { "application/json": { "schema": schema_ref("OrderIntentV1") } } },
                "responses": {
                    "200": ok("approved, or refused with every reason", json!({ "type": "object",
                        "required": ["approved", "reasons"], "properties": {
                            "approved": { "type": "boolean" },
                            "reasons": { "type": "array", "items": { "type": "object" } } } })),
                    "415": error_response("the body is not application/json"),
                    "422": error_response("not an OrderIntentV1"),
                    "503": error_response("no desk runs here") } } },
            "/v1/trading/state": {
                "get": { "summary": "The trading state (active, reducing, halted), since when, why and by whom",
                    "responses": { "200": ok("the state", trading_state()), "503": error_response("no desk runs here") } },
                "post": { "summary": "Halt or resume trading (exits and flatten still pass while halted)",
                    "parameters": idempotency_key(),
                    "requestBody": { "required": true, "content": { "application/json": { "schema": json!({
                        "type": "object", "required": ["state", "reason"], "additionalProperties": false,
                        "properties": { "state": { "enum": ["halted", "active"] }, "reason": { "type": "string", "minLength": 1, "maxLength": 500 } } }) } } },
                    "responses": command_responses() } },
            "/v1/trading/flatten": { "post": { "summary": "Cancel every working order and close every position through risk",
                "parameters": idempotency_key(),
                "requestBody": { "required": true, "content": { "application/json": { "schema": json!({
                    "type": "object", "required": ["reason"], "additionalProperties": false,
                    "properties": { "reason": { "type": "string", "minLength": 1, "maxLength": 500 } } }) } } },
                "responses": command_responses() } },
            "/health": { "get": { "summary": "Liveness", "responses": { "200": ok("alive", json!({ "type": "object" })) } } },
            "/ready": { "get": { "summary": "Store and bus reachable; market data's source, connection and freshness as details",
                "responses": { "200": ok("ready", json!({ "type": "object" })), "503": error_response("a dependency is down") } } },
            "/metrics": { "get": { "summary": "Prometheus metrics",
                "responses": { "200": { "description": "text exposition format", "content": { "text/plain": { "schema": { "type": "string" } } } } } } }
        },
        "components": { "schemas": schemas, "securitySchemes": { "bearer": {
            "type": "http", "scheme": "bearer",
            "description": "An API key from `[[api.keys]]` (`neo keys new` makes one): `read` for the read endpoints and /metrics (unless `[api] public_metrics`), `admin` also for operator actions and the risk check. With no key configured NEO serves loopback only and needs none." } } }
    });
    if let (Some(Value::Object(paths)), Value::Object(flags)) = (doc.get_mut("paths"), flag_paths())
    {
        paths.extend(flags);
    }
    if let Some(paths) = doc.get_mut("paths") {
        secure(paths);
        edge_limits(paths);
    }
    doc
}

/// `/v1/flags`: list, one flag, its history, and changing it.
fn flag_paths() -> Value {
    let name = json!([{ "name": "name", "in": "path", "required": true,
        "description": "the flag (`output_slack`) or its alias (`FF_OUTPUT_SLACK`)",
        "schema": { "type": "string", "example": "output_slack" } }]);
    let state = json!({ "enum": ["disabled", "rolling_out", "enabled", "rollback"] });
    let flag = json!({ "type": "object", "required": ["name", "alias", "state", "guards"],
        "properties": {
            "name": { "type": "string" }, "alias": { "type": "string" }, "state": state,
            "percent": { "type": "number" }, "reason": { "type": "string" },
            "allow": { "type": "array", "items": { "type": "string" } },
            "deny": { "type": "array", "items": { "type": "string" } },
            "requires": { "type": "array", "items": { "type": "string" } },
            "schedule": { "type": "array", "items": { "type": "object" } },
            "plan": { "type": "object" }, "since": { "type": "string" },
            "guards": { "type": "array", "items": { "type": "object" } } } });
    let unknown = error_response("no such flag (`not_found`)");
    json!({
        "/v1/flags": { "get": { "summary": "Every feature flag: state, share of units, lists, schedule, guards",
            "responses": { "200": ok("the flags", json!({ "type": "object", "required": ["version", "flags"],
                "properties": { "version": { "type": "integer" }, "flags": { "type": "array", "items": flag } } })),
                "503": error_response("no flags are kept here") } } },
        "/v1/flags/{name}": {
            "get": { "summary": "One flag and its guard rules' current figures", "parameters": name,
                "responses": { "200": ok("the flag", flag), "404": unknown, "503": error_response("no flags are kept here") } },
            "put": { "summary": "Change a flag; lists left out keep what the flag has; the history records who, when, from, to and why",
                "parameters": name,
                "requestBody": { "required": true, "content": { "application/json": { "schema": json!({
                    "type": "object", "required": ["state"], "additionalProperties": false,
                    "properties": {
                        "state": state,
                        "percent": { "type": "number", "minimum": 0, "maximum": 100, "description": "with rolling_out: the share of units, two decimals at most" },
                        "reason": { "type": "string", "description": "why (required for rollback)" },
                        "allow": { "type": "array", "items": { "type": "string" } },
                        "deny": { "type": "array", "items": { "type": "string" } },
                        "requires": { "type": "array", "items": { "type": "string" } },
                        "schedule": { "type": "array", "items": { "type": "object" } },
                        "plan": { "type": "object" } } }) } } },
                "responses": {
                    "200": ok("the flag after the change, and the change", json!({ "type": "object", "required": ["flag", "change"] })),
                    "404": unknown,
                    "415": error_response("the body is not application/json"),
                    "422": error_response("settings that are not valid (every problem listed)"),
                    "503": error_response("the store is unavailable: nothing changed") } } },
        "/v1/flags/{name}/compare": { "get": { "summary": "A/B: the flag's on and off cohorts (win rate, mean R, Brier, decision latency) with sample sizes and significance tests, since this process started",
            "parameters": name,
            "responses": { "200": ok("the cohorts", json!({ "type": "object", "required": ["flag", "enabled", "disabled", "tests"] })),
                "404": unknown, "503": error_response("no flags are kept here") } } },
        "/v1/slo": { "get": { "summary": "Every SLO: target, live value, met, error budget left, burn rates and alert",
            "responses": { "200": ok("the SLOs", json!({ "type": "object", "required": ["slos"], "properties": {
                "slos": { "type": "array", "items": { "type": "object",
                    "required": ["name", "target", "value", "met", "budget_remaining", "burn_rate"] } } } })) } } },
        "/v1/flags/{name}/history": { "get": { "summary": "Every change of a flag, oldest first", "parameters": name,
            "responses": { "200": ok("the changes", json!({ "type": "object", "required": ["flag", "changes"],
                "properties": { "flag": { "type": "string" }, "changes": { "type": "array", "items": { "type": "object",
                    "required": ["flag", "from", "to", "by", "reason", "version", "at"] } } } })),
                "404": unknown, "503": error_response("no flags are kept here") } } }
    })
}

/// What the HTTP edge may answer on any route (`server::limits`).
fn edge_limits(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
    {
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses
                .entry("408")
                .or_insert_with(|| error_response("the request (body included) took too long"));
            responses
                .entry("413")
                .or_insert_with(|| error_response("the declared body is over the limit"));
        }
    }
}

/// `/openapi.json` and the Swagger UI at `/docs`.
pub(super) fn router() -> Router {
    Router::from(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", document()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(obj) => {
                for (k, v) in obj {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_owned()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_inside_the_document() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 20, "{}", all.len());
        for r in all {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
        assert!(doc.pointer("/components/schemas/SignalEventV1").is_some());
    }

    #[test]
    fn every_operation_says_which_key_it_needs() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        let mut admin = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let at = (path.as_str(), method.as_str());
                let security = op["security"].as_array().unwrap();
                if OPEN.contains(&at) {
                    assert!(security.is_empty(), "{at:?}");
                    continue;
                }
                assert_eq!(security[0], json!({ "bearer": [] }), "{at:?}");
                assert!(op["responses"]["401"].is_object(), "{at:?}");
                if op["x-neo-role"] == "admin" {
                    admin += 1;
                    assert!(op["responses"]["403"].is_object(), "{at:?}");
                }
            }
        }
        assert_eq!(admin, ADMIN.len());
        assert!(doc.pointer("/components/securitySchemes/bearer").is_some());
    }
}
