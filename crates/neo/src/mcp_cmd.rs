//! `neo mcp`: NEO's MCP server for desktop clients that speak stdio. Each
//! JSON-RPC message read from standard input (one per line) is posted to the
//! running NEO's streamable HTTP endpoint (`/mcp`), and whatever it answers
//! (a JSON body, or the messages of an event stream) is written to standard
//! output, one per line. The tools run once, in the server; this is only the
//! transport. Logs go to standard error, never into the protocol stream.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use neo_agents::tools::{ToolDef, ToolFailure, Toolbox};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::api_client::{ApiTarget, runtime};

/// Longest line read from standard input (a bigger message is refused, not buffered forever).
const MAX_LINE: usize = 1024 * 1024;

/// Bridges stdio to `target`'s `/mcp` until standard input closes.
pub(crate) fn run(target: &ApiTarget) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    rt.block_on(bridge(target))?;
    Ok(ExitCode::SUCCESS)
}

async fn bridge(target: &ApiTarget) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!("{}/mcp", target.url.trim_end_matches('/'));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut protocol: Option<String> = None;
    while let Some(line) = lines.next_line().await.context("reading standard input")? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let answers = if line.len() > MAX_LINE {
            vec![error(None, -32600, "message too large")]
        } else {
            match serde_json::from_str::<Value>(line) {
                Ok(message) => forward(&client, &url, target, &message, &mut protocol).await,
                Err(e) => vec![error(None, -32700, &format!("not JSON: {e}"))],
            }
        };
        let mut out = std::io::stdout().lock();
        for answer in answers {
            writeln!(out, "{answer}").context("writing standard output")?;
        }
        out.flush().context("writing standard output")?;
    }
    Ok(())
}

/// Posts one message; the messages to write back (none for a notification).
async fn forward(
    client: &reqwest::Client,
    url: &str,
    target: &ApiTarget,
    message: &Value,
    protocol: &mut Option<String>,
) -> Vec<Value> {
    let id = message.get("id").cloned();
    let mut request = client
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(message);
    if let Some(version) = protocol.as_deref() {
        request = request.header("MCP-Protocol-Version", version);
    }
    if let Some(key) = &target.api_key {
        request = request.bearer_auth(key);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return reply_error(id, &format!("NEO at {url} is unreachable: {e}"));
        }
    };
    let status = response.status();
    let sse = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) => return reply_error(id, &format!("NEO's answer broke off: {e}")),
    };
    if !status.is_success() {
        let why = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(body);
        return reply_error(id, &format!("NEO answered {status}: {why}"));
    }
    let answers: Vec<Value> = if sse {
        events(&body)
    } else {
        serde_json::from_str::<Value>(&body).into_iter().collect()
    };
    for answer in &answers {
        if let Some(version) = answer["result"]["protocolVersion"].as_str() {
            *protocol = Some(version.to_owned());
        }
    }
    answers
}

/// The JSON messages in an event stream's `data:` lines.
fn events(body: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut data = String::new();
    for line in body.lines().chain(std::iter::once("")) {
        if let Some(rest) = line.strip_prefix("data:") {
            data.push_str(rest.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            if let Ok(v) = serde_json::from_str(&data) {
                out.push(v);
            }
            data.clear();
        }
    }
    out
}

fn reply_error(id: Option<Value>, message: &str) -> Vec<Value> {
    // Standard output is the protocol stream: the operator's log is standard error.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("neo mcp: {message}");
    }
    // A notification has no id and gets no answer.
    id.map(|id| error(Some(id), -32603, message))
        .into_iter()
        .collect()
}

fn error(id: Option<Value>, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// A running NEO's `/mcp` tools as an agent's toolbox (for `neo agents test`):
/// the tools marked for agents, called over HTTP.
#[derive(Debug)]
pub(crate) struct RemoteTools {
    client: reqwest::Client,
    url: String,
    key: Option<String>,
}

impl RemoteTools {
    /// Tools at `base`'s `/mcp`, called with `key`.
    pub(crate) fn new(base: &str, key: Option<String>) -> anyhow::Result<Self> {
        Ok(RemoteTools {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: format!("{}/mcp", base.trim_end_matches('/')),
            key,
        })
    }

    async fn call_remote(&self, name: &str, arguments: Value) -> Result<Value, ToolFailure> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": { "name": name, "arguments": arguments } });
        let mut request = self
            .client
            .post(&self.url)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18")
            .json(&body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let fail = |why: String| ToolFailure(why);
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("NEO at {} is unreachable: {e}", self.url)))?;
        let text = response
            .text()
            .await
            .map_err(|e| fail(format!("NEO's answer broke off: {e}")))?;
        let answer = serde_json::from_str::<Value>(&text)
            .ok()
            .or_else(|| events(&text).into_iter().next())
            .ok_or_else(|| fail(format!("not a JSON-RPC answer: {text}")))?;
        if let Some(message) = answer["error"]["message"].as_str() {
            return Err(fail(message.to_owned()));
        }
        let result = &answer["result"];
        let content = result["structuredContent"].clone();
        if result["isError"] == true {
            return Err(fail(
                content["error"]
                    .as_str()
                    .unwrap_or("the tool failed")
                    .to_owned(),
            ));
        }
        Ok(content)
    }
}

impl Toolbox for RemoteTools {
    fn list(&self) -> Vec<ToolDef> {
        neo_pipeline::agents::agent_tools()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Value,
    ) -> BoxFuture<'a, Result<Value, ToolFailure>> {
        Box::pin(self.call_remote(name, arguments))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn event_streams_give_each_message() {
        let body = "id: 1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n: ping\n\ndata: {\"jsonrpc\":\"2.0\",\ndata: \"method\":\"x\"}\n";
        let got = events(body);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["id"], 1);
        assert_eq!(got[1]["method"], "x");
    }

    #[test]
    fn a_notification_gets_no_error_reply() {
        assert!(reply_error(None, "down").is_empty());
        assert_eq!(reply_error(Some(json!(7)), "down")[0]["id"], 7);
    }
}
