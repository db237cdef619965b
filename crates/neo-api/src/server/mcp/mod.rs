//! NEO as an MCP server (the official Rust SDK, `rmcp`): its tools
//! ([`tools::catalog`]) and the contract schemas as resources, over streamable
//! HTTP at `/mcp` on the running server. `/mcp` sits behind the read key like
//! the REST API; a tool that needs more (the risk check, a backtest) checks
//! the caller's key for its own role. Served statelessly with JSON answers, so
//! any gateway answers any request and `neo mcp` can bridge stdio to it.

mod backtest;
mod indicators;
pub mod tools;

use std::sync::Arc;

use axum::http::request::Parts;
use neo_domain::schema;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use super::AppState;
use crate::auth::Role;
use tools::{ToolError, ToolSpec};

/// Where the contract schemas are listed as resources.
const SCHEMA_URI: &str = "neo://schemas/v1/";

/// The MCP service mounted at `/mcp`.
pub(super) type McpService = StreamableHttpService<NeoMcp, NeverSessionManager>;

/// The `/mcp` service over `state`.
pub(super) fn service(state: AppState) -> McpService {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        // The API's own middleware already refuses non-loopback hosts without keys.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(256 * 1024);
    StreamableHttpService::new(
        move || Ok(NeoMcp::new(state.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// One MCP server session over NEO's state.
#[derive(Clone)]
pub struct NeoMcp {
    state: AppState,
}

impl NeoMcp {
    fn new(state: AppState) -> Self {
        NeoMcp { state }
    }

    /// Whether the caller's key (from the HTTP request) holds `role`.
    fn permits(&self, role: Role, context: &RequestContext<RoleServer>) -> bool {
        if role == Role::Read {
            return true; // `/mcp` itself is behind the read key
        }
        let Some(parts) = context.extensions.get::<Parts>() else {
            return false;
        };
        self.state
            .auth
            .gate(role, self.state.clock.clone())
            .permits(parts)
    }
}

/// The MCP listing of `spec`.
pub fn tool(spec: &ToolSpec) -> Tool {
    let schema = match &spec.input_schema {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    Tool::new(spec.name, spec.description, Arc::new(schema))
}

fn resource(entry: &schema::SchemaEntry) -> Option<Resource> {
    serde_json::from_value(json!({
        "uri": format!("{SCHEMA_URI}{}", entry.name),
        "name": entry.name,
        "description": format!("{} Published on {}.", entry.about, entry.subjects),
        "mimeType": "application/schema+json",
    }))
    .ok()
}

impl ServerHandler for NeoMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("neo", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "NEO's paper-trading desk: quotes, candles, indicators, the portfolio, positions, \
                 each alert's story, a dry-run risk check, the feature flags and bounded backtests. \
                 Read-only except that nothing here places an order at all.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(
            tools::catalog().iter().map(tool).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(spec) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("no tool named {:?}", request.name),
                None,
            ));
        };
        if !self.permits(spec.role, &context) {
            let e = ToolError::Forbidden {
                tool: spec.name,
                role: spec.role,
            };
            return Ok(failure(&e).into());
        }
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        Ok(match tools::call(&self.state, spec.name, arguments).await {
            Ok(value) => CallToolResult::structured(value),
            Err(e) => failure(&e),
        }
        .into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            schema::registry().iter().filter_map(resource).collect(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let entry = request
            .uri
            .strip_prefix(SCHEMA_URI)
            .and_then(schema::find)
            .ok_or_else(|| {
                ErrorData::resource_not_found(format!("no resource {:?}", request.uri), None)
            })?;
        let contents = ResourceContents::TextResourceContents {
            uri: request.uri.clone(),
            mime_type: Some("application/schema+json".to_owned()),
            text: entry.render(),
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// A tool's failure as MCP reports it: a result marked as an error, with the reason.
fn failure(e: &ToolError) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": e.to_string() }))
}
