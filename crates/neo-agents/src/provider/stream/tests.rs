//! The stream parsers on each API's documented events: text answers, tool
//! calls split across pieces, token counts, errors and broken streams.

use proptest::prelude::*;

use super::*;
use crate::provider::{Answer, Reply, reply};
use crate::tools::ToolCall;

/// Server-sent events carrying each value as `data`, named or not, closed by `end`.
fn sse(events: &[(&str, Value)], end: &str) -> String {
    let mut text = String::new();
    for (name, data) in events {
        if !name.is_empty() {
            text.push_str(&format!("event: {name}\n"));
        }
        text.push_str(&format!("data: {data}\n\n"));
    }
    text + end
}

fn ndjson(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn read(kind: ProviderKind, text: &str) -> Result<Reply, ProviderError> {
    reply(kind, &body(kind, text)?)
}

fn why(result: Result<Reply, ProviderError>) -> String {
    match result {
        Err(ProviderError::Malformed(why)) => why,
        other => unreachable!("not malformed: {other:?}"),
    }
}

fn verdict(text: &str, input_tokens: u64, output_tokens: u64) -> Reply {
    Reply::Verdict(Answer {
        text: text.to_owned(),
        input_tokens,
        output_tokens,
    })
}

fn delta(delta: Value) -> (&'static str, Value) {
    let chunk = json!({ "object": "chat.completion.chunk",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": null }], "usage": null });
    ("", chunk)
}

fn usage(prompt: u64, completion: u64) -> (&'static str, Value) {
    let usage = json!({ "prompt_tokens": prompt, "completion_tokens": completion });
    ("", json!({ "choices": [], "usage": usage }))
}

#[test]
fn events_follow_the_sse_spec() {
    let text = ": comment\r\nevent: a\r\ndata: {\"x\":\r\ndata:1}\r\nid: 7\r\n\r\ndata:  two\r\r\
                data: dropped\n";
    let got = events(text);
    let want = [("a", "{\"x\":\n1}"), ("message", " two")];
    let want: Vec<Event> = want
        .iter()
        .map(|(n, d)| Event {
            name: (*n).to_owned(),
            data: (*d).to_owned(),
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn openai_text_pieces_and_usage_make_the_unstreamed_verdict() {
    let text = sse(
        &[
            delta(json!({ "role": "assistant", "content": "" })),
            delta(json!({ "content": "{\"recommendation\":" })),
            delta(json!({ "content": "\"buy\"}" })),
            usage(120, 9),
        ],
        "data: [DONE]\n\n",
    );
    let got = read(ProviderKind::Openai, &text).unwrap();
    assert_eq!(got, verdict("{\"recommendation\":\"buy\"}", 120, 9));
    let asked = &mut json!({ "model": "m" });
    ask_for_stream(ProviderKind::Openai, asked);
    assert_eq!(asked["stream_options"]["include_usage"], true);
}

#[test]
fn openai_tool_calls_are_joined_by_index() {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, args: &str| {
        delta(
            json!({ "tool_calls": [{ "index": index, "id": id, "type": "function",
            "function": { "name": name, "arguments": args } }] }),
        )
    };
    let text = sse(
        &[
            call(0, Some("call_a"), Some("get_candles"), ""),
            call(0, None, None, "{\"count\""),
            call(1, Some("call_b"), Some("get_portfolio"), "{}"),
            call(0, None, None, ":5}"),
            usage(50, 7),
        ],
        "data: [DONE]\n\n",
    );
    let streamed = read(ProviderKind::Openai, &text).unwrap();
    let unstreamed = json!({ "choices": [{ "index": 0, "finish_reason": null,
        "message": { "role": "assistant", "content": null, "tool_calls": [
            { "id": "call_a", "type": "function", "function": { "name": "get_candles", "arguments": "{\"count\":5}" } },
            { "id": "call_b", "type": "function", "function": { "name": "get_portfolio", "arguments": "{}" } }
        ] } }], "usage": { "prompt_tokens": 50, "completion_tokens": 7 } });
    assert_eq!(streamed, reply(ProviderKind::Openai, &unstreamed).unwrap());
    let Reply::Calls { calls, .. } = streamed else {
        unreachable!()
    };
    assert_eq!(
        calls[0],
        ToolCall {
            id: "call_a".to_owned(),
            name: "get_candles".to_owned(),
            arguments: Ok(json!({ "count": 5 })),
        }
    );
}

#[test]
fn openai_refusals_errors_and_broken_streams_are_malformed() {
    let refusal = sse(
        &[delta(json!({ "refusal": "I can't" }))],
        "data: [DONE]\n\n",
    );
    assert!(why(read(ProviderKind::Openai, &refusal)).contains("refused: I can't"));
    let cut = sse(&[delta(json!({ "content": "{" }))], "data: [DO");
    assert!(why(read(ProviderKind::Openai, &cut)).contains("ended before data: [DONE]"));
    let garbage = "data: {\"choices\": [\n\ndata: [DONE]\n\n";
    assert!(why(read(ProviderKind::Openai, garbage)).contains("event 1 is not JSON"));
    let error = "data: {\"error\": {\"message\": \"boom\"}}\n\n";
    assert!(why(read(ProviderKind::Openai, error)).contains("reported an error: boom"));
    let huge = format!("data: \"{}\"\n\n", "x".repeat(MAX_BYTES));
    assert!(why(read(ProviderKind::Openai, &huge)).contains("exceeds 1 MiB"));
}

fn anthropic_start(input_tokens: u64) -> (&'static str, Value) {
    let message = json!({ "id": "msg_1", "type": "message", "role": "assistant",
        "content": [], "model": "m", "stop_reason": null,
        "usage": { "input_tokens": input_tokens, "output_tokens": 1 } });
    (
        "message_start",
        json!({ "type": "message_start", "message": message }),
    )
}

fn anthropic_block(index: u64, block: Value) -> [(&'static str, Value); 1] {
    let start = json!({ "type": "content_block_start", "index": index, "content_block": block });
    [("content_block_start", start)]
}

fn anthropic_delta(index: u64, delta: Value) -> (&'static str, Value) {
    let data = json!({ "type": "content_block_delta", "index": index, "delta": delta });
    ("content_block_delta", data)
}

fn anthropic_end(output_tokens: u64) -> [(&'static str, Value); 2] {
    let delta = json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use" },
        "usage": { "output_tokens": output_tokens } });
    [
        ("message_delta", delta),
        ("message_stop", json!({ "type": "message_stop" })),
    ]
}

#[test]
fn anthropic_blocks_are_rebuilt_into_the_unstreamed_content() {
    let mut events = vec![anthropic_start(80), ("ping", json!({ "type": "ping" }))];
    events.extend(anthropic_block(0, json!({ "type": "text", "text": "" })));
    events.push(anthropic_delta(
        0,
        json!({ "type": "text_delta", "text": "Let me " }),
    ));
    events.push(anthropic_delta(
        0,
        json!({ "type": "text_delta", "text": "look." }),
    ));
    events.extend(anthropic_block(
        1,
        json!({ "type": "tool_use", "id": "toolu_1", "name": "get_candles", "input": {} }),
    ));
    for piece in ["{\"count\"", ": 5}"] {
        let piece = json!({ "type": "input_json_delta", "partial_json": piece });
        events.push(anthropic_delta(1, piece));
    }
    events.extend(anthropic_end(12));
    let streamed = read(ProviderKind::Anthropic, &sse(&events, "")).unwrap();
    let content = json!([
        { "type": "text", "text": "Let me look." },
        { "type": "tool_use", "id": "toolu_1", "name": "get_candles", "input": { "count": 5 } }
    ]);
    let unstreamed = json!({ "type": "message", "role": "assistant", "content": content,
        "usage": { "input_tokens": 80, "output_tokens": 12 } });
    assert_eq!(
        streamed,
        reply(ProviderKind::Anthropic, &unstreamed).unwrap()
    );
    assert!(matches!(
        streamed,
        Reply::Calls {
            input_tokens: 80,
            output_tokens: 12,
            ..
        }
    ));
}

#[test]
fn anthropic_submit_verdict_streamed_is_the_verdict() {
    let mut events = vec![anthropic_start(900)];
    events.extend(anthropic_block(
        0,
        json!({ "type": "tool_use", "id": "toolu_2", "name": "submit_verdict", "input": {} }),
    ));
    for piece in ["", "{\"recommendation\":", " \"hold\"}"] {
        let piece = json!({ "type": "input_json_delta", "partial_json": piece });
        events.push(anthropic_delta(0, piece));
    }
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.extend(anthropic_end(60));
    let got = read(ProviderKind::Anthropic, &sse(&events, "")).unwrap();
    assert_eq!(got, verdict("{\"recommendation\":\"hold\"}", 900, 60));
}

#[test]
fn anthropic_error_events_and_broken_streams_fail() {
    let error = |kind: &str| {
        let data = json!({ "type": "error", "error": { "type": kind, "message": "Overloaded" } });
        sse(&[anthropic_start(1), ("error", data)], "")
    };
    assert!(matches!(
        read(ProviderKind::Anthropic, &error("overloaded_error")),
        Err(ProviderError::Server(529))
    ));
    assert!(why(read(ProviderKind::Anthropic, &error("api_error"))).contains("api_error"));
    let cut = sse(&[anthropic_start(1)], "event: content_block_start\ndata: {");
    assert!(why(read(ProviderKind::Anthropic, &cut)).contains("ended before message_stop"));
    let orphan = sse(
        &[anthropic_delta(
            3,
            json!({ "type": "text_delta", "text": "x" }),
        )],
        "",
    );
    assert!(why(read(ProviderKind::Anthropic, &orphan)).contains("never started"));
    let mut bad_input = anthropic_block(0, json!({ "type": "tool_use", "name": "t" })).to_vec();
    let piece = json!({ "type": "input_json_delta", "partial_json": "{\"a\":" });
    bad_input.push(anthropic_delta(0, piece));
    bad_input.extend(anthropic_end(1));
    let got = why(read(ProviderKind::Anthropic, &sse(&bad_input, "")));
    assert!(got.contains("block 0's input is not JSON"), "{got}");
}

#[test]
fn ollama_pieces_calls_and_counts_make_the_unstreamed_body() {
    let piece = |content: &str| json!({ "model": "m", "message": { "role": "assistant", "content": content }, "done": false });
    let done = json!({ "model": "m", "message": { "role": "assistant", "content": "" },
        "done": true, "done_reason": "stop", "prompt_eval_count": 700, "eval_count": 50 });
    let text = ndjson(&[
        piece("{\"recommendation\""),
        piece(":\"sell\"}"),
        done.clone(),
    ]);
    let got = read(ProviderKind::Ollama, &text).unwrap();
    assert_eq!(got, verdict("{\"recommendation\":\"sell\"}", 700, 50));
    let calls = json!([{ "function": { "name": "get_candles", "arguments": { "count": 5 } } }]);
    let call = json!({ "message": { "role": "assistant", "content": "", "tool_calls": calls }, "done": false });
    let streamed = read(ProviderKind::Ollama, &ndjson(&[call, done.clone()])).unwrap();
    let mut unstreamed = done;
    unstreamed["message"]["tool_calls"] = calls;
    assert_eq!(streamed, reply(ProviderKind::Ollama, &unstreamed).unwrap());
}

#[test]
fn ollama_errors_and_broken_streams_are_malformed() {
    let error = ndjson(&[json!({ "error": "model 'm' not found" })]);
    assert!(why(read(ProviderKind::Ollama, &error)).contains("not found"));
    let cut = ndjson(&[json!({ "message": { "content": "{" }, "done": false })]);
    assert!(why(read(ProviderKind::Ollama, &cut)).contains("ended before done: true"));
    let garbage = "{\"done\": false}\nnot json\n";
    assert!(why(read(ProviderKind::Ollama, garbage)).contains("line 2 is not JSON"));
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (0u64..4).prop_map(Value::from),
        prop_oneof![
            Just("text_delta"),
            Just("input_json_delta"),
            Just("tool_use"),
            Just("{"),
            Just("[DONE]"),
            Just("content_block_start"),
            Just("content_block_delta"),
            Just("message_stop"),
        ]
        .prop_map(Value::from),
        "\\PC{0,6}".prop_map(Value::from),
    ];
    let keys = prop_oneof![
        Just("type"),
        Just("index"),
        Just("delta"),
        Just("content_block"),
        Just("message"),
        Just("choices"),
        Just("tool_calls"),
        Just("function"),
        Just("arguments"),
        Just("partial_json"),
        Just("content"),
        Just("usage"),
        Just("done"),
        Just("error"),
    ]
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any text at all: a body or a typed error, never a panic.
    #[test]
    fn reading_any_text_never_panics(text in "\\PC{0,200}") {
        for kind in [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Ollama] {
            let _ = read(kind, &text);
        }
    }

    /// Streams of plausible events with arbitrary contents never panic either.
    #[test]
    fn reading_any_events_never_panics(values in prop::collection::vec(any_json(), 0..8)) {
        let events: Vec<(&str, Value)> = values.iter().map(|v| ("", v.clone())).collect();
        let _ = read(ProviderKind::Openai, &sse(&events, "data: [DONE]\n\n"));
        let _ = read(ProviderKind::Anthropic, &sse(&events, "data: {\"type\":\"message_stop\"}\n\n"));
        let _ = read(ProviderKind::Ollama, &ndjson(&values));
    }
}
