//! NEO's MCP tools handed to the LLM agent: the same implementations `/mcp`
//! serves, limited to the reads marked for agents.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use neo_agents::tools::{ToolDef, ToolFailure, Toolbox};
use neo_api::server::AppState;
use neo_api::server::mcp::tools;
use serde_json::Value;

/// NEO's MCP tools as the LLM agent's toolbox, only those marked for agents
/// (reads: quotes, candles, indicators, the portfolio, positions, flags). The
/// server's state is handed over once it is built.
#[derive(Clone, Default)]
pub struct McpToolbox {
    state: Arc<OnceLock<AppState>>,
}

impl std::fmt::Debug for McpToolbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpToolbox")
            .field("ready", &self.state.get().is_some())
            .finish()
    }
}

impl McpToolbox {
    /// Serves the tools over `state` from now on.
    pub fn serve(&self, state: AppState) {
        let _ = self.state.set(state);
    }
}

/// The MCP tools an LLM agent may call, as it is told of them.
pub fn agent_tools() -> Vec<ToolDef> {
    tools::catalog()
        .into_iter()
        .filter(|t| t.for_agents)
        .map(|t| ToolDef {
            name: t.name.to_owned(),
            description: t.description.to_owned(),
            parameters: t.input_schema,
        })
        .collect()
}

impl Toolbox for McpToolbox {
    fn list(&self) -> Vec<ToolDef> {
        agent_tools()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Value,
    ) -> BoxFuture<'a, Result<Value, ToolFailure>> {
        Box::pin(async move {
            let Some(state) = self.state.get() else {
                return Err(ToolFailure("NEO's tools are not ready yet".to_owned()));
            };
            if !tools::find(name).is_some_and(|t| t.for_agents) {
                return Err(ToolFailure(format!(
                    "no tool named {name:?} is available to you"
                )));
            }
            tools::call(state, name, arguments)
                .await
                .map_err(|e| ToolFailure(e.to_string()))
        })
    }
}
