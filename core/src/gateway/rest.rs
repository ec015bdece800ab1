//! Plain HTTP beside MCP, for clients that do not speak MCP: `POST {url}/list_tools`,
//! `POST {url}/call_tool` (`{"name", "arguments"}`), `POST {url}/call_tool/<name>` (the body is
//! the arguments) and `GET {url}/openapi.json` (OpenAPI 3.1, one operation per tool, its request
//! body the tool's input schema). Same bearer token, same published names as MCP; JSON in and
//! out. A tool that runs and fails is a 200 with `isError: true`, as over MCP; an unknown tool is
//! a 404, a malformed body a 400.

use std::sync::Arc;

use axum::{
    extract::Path,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Map, Value, json};

use super::{
    CALL_TOOL, SEARCH_TOOLS, State,
    handler::{CallContext, GatewayHandler},
};

/// The routes, under the MCP endpoint's path (`/mcp`).
pub(super) fn routes(state: Arc<State>) -> axum::Router {
    let handler = GatewayHandler(state);
    let (h1, h2, h3, h4) = (handler.clone(), handler.clone(), handler.clone(), handler);
    axum::Router::new()
        .route(
            "/mcp/list_tools",
            post(move || {
                let h = h1.clone();
                async move { list_tools(&h).await }
            }),
        )
        .route(
            "/mcp/call_tool",
            post(move |body: axum::body::Bytes| {
                let h = h2.clone();
                async move { call_tool(&h, &body).await }
            }),
        )
        .route(
            "/mcp/call_tool/{name}",
            post(move |Path(name): Path<String>, body: axum::body::Bytes| {
                let h = h3.clone();
                async move { call_named(&h, name, &body).await }
            }),
        )
        .route(
            "/mcp/openapi.json",
            get(move |headers: HeaderMap| {
                let h = h4.clone();
                async move { openapi(&h, &headers).await }
            }),
        )
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"status": status.as_u16(), "message": message.into()}})),
    )
        .into_response()
}

async fn list_tools(h: &GatewayHandler) -> Response {
    h.discovery_wait().await;
    let tools = h.0.catalog().tools.clone();
    axum::Json(json!({ "tools": tools })).into_response()
}

/// The body as a JSON object (empty: `{}`), or the 400's message.
fn parse_object(body: &[u8], what: &str) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("{what} must be a JSON object")),
        Err(e) => Err(format!("{what} is not valid JSON: {e}")),
    }
}

async fn call_tool(h: &GatewayHandler, body: &[u8]) -> Response {
    let mut req = match parse_object(body, "the body") {
        Ok(m) => m,
        Err(m) => return problem(StatusCode::BAD_REQUEST, m),
    };
    let Some(Value::String(name)) = req.remove("name") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "the body needs `name` (a tool name from list_tools) and optionally `arguments`",
        );
    };
    let arguments = match req.remove("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return problem(StatusCode::BAD_REQUEST, "`arguments` must be an object"),
    };
    call(h, name, arguments).await
}

async fn call_named(h: &GatewayHandler, name: String, body: &[u8]) -> Response {
    match parse_object(body, "the body (the tool's arguments)") {
        Ok(arguments) => call(h, name, arguments).await,
        Err(m) => problem(StatusCode::BAD_REQUEST, m),
    }
}

async fn call(h: &GatewayHandler, name: String, arguments: Map<String, Value>) -> Response {
    if !h.0.catalog().routes.contains_key(&name) {
        h.discovery_wait().await;
    }
    let meta = name == SEARCH_TOOLS || name == CALL_TOOL;
    if h.route(&name).is_none() && !meta {
        return problem(
            StatusCode::NOT_FOUND,
            format!(
                "no tool named `{name}` is published by this gateway (POST list_tools lists them)"
            ),
        );
    }
    let context = CallContext {
        peer: None,
        progress: None,
        cancel: h.0.shutdown.child_token(),
        input: Default::default(),
    };
    match h.dispatch(name, Some(arguments), &context, 0).await {
        Ok(result) => {
            let mut v = serde_json::to_value(&result).unwrap_or(Value::Null);
            // An MCP wire detail of the 2026-07-28 era, meaningless here.
            if let Some(o) = v.as_object_mut() {
                o.remove("resultType");
            }
            axum::Json(v).into_response()
        }
        Err(e) => problem(StatusCode::BAD_GATEWAY, e.message.to_string()),
    }
}

fn result_schema(output: Option<&Value>) -> Value {
    let mut structured =
        json!({"type": "object", "description": "The tool's structured result, if it gives one."});
    if let Some(o) = output {
        structured = o.clone();
    }
    json!({
        "type": "object",
        "properties": {
            "content": {
                "type": "array",
                "description": "Content blocks (text, image, audio, resource links, embedded resources).",
                "items": {"type": "object", "properties": {"type": {"type": "string"}}, "required": ["type"]}
            },
            "structuredContent": structured,
            "isError": {"type": "boolean", "description": "True when the tool ran and reports failure."}
        },
        "required": ["content"]
    })
}

fn responses(result: Value) -> Value {
    json!({
        "200": {"description": "The tool's result (a failure it reports has isError: true).",
                "content": {"application/json": {"schema": result}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "404": {"$ref": "#/components/responses/NotFound"}
    })
}

/// The OpenAPI 3.1 document of the published tools.
pub(super) fn document(h: &GatewayHandler, base_url: &str) -> Value {
    let catalog = h.0.catalog();
    let mut paths = Map::new();
    paths.insert(
        "/list_tools".into(),
        json!({"post": {
            "operationId": "listTools",
            "summary": "List the published tools (the same names as MCP tools/list).",
            "responses": {
                "200": {"description": "The tools.", "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"tools": {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}}},
                    "required": ["tools"]}}}},
                "401": {"$ref": "#/components/responses/Unauthorized"}
            }
        }}),
    );
    paths.insert(
        "/call_tool".into(),
        json!({"post": {
            "operationId": "callTool",
            "summary": "Call a tool by name.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "A name from list_tools."},
                    "arguments": {"type": "object", "description": "The tool's arguments."}
                },
                "required": ["name"]}}}},
            "responses": responses(json!({"$ref": "#/components/schemas/CallToolResult"}))
        }}),
    );
    for tool in &catalog.tools {
        let name = tool.name.to_string();
        let operation_id = if name == "listTools" || name == "callTool" {
            format!("{name}_tool")
        } else {
            name.clone()
        };
        let mut op = Map::new();
        op.insert("operationId".into(), json!(operation_id));
        if let Some(t) = &tool.title {
            op.insert("summary".into(), json!(t));
        }
        if let Some(d) = &tool.description {
            op.insert("description".into(), json!(d));
        }
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {
                "schema": Value::Object((*tool.input_schema).clone())}}}),
        );
        let output = tool
            .output_schema
            .as_ref()
            .map(|o| Value::Object((**o).clone()));
        op.insert(
            "responses".into(),
            responses(result_schema(output.as_ref())),
        );
        paths.insert(format!("/call_tool/{name}"), json!({ "post": op }));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "corral gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The gateway's published MCP tools as plain HTTP operations. Every request needs `Authorization: Bearer <token>`."
        },
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Tool": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "title": {"type": "string"},
                    "description": {"type": "string"},
                    "inputSchema": {"type": "object"},
                    "outputSchema": {"type": "object"},
                    "annotations": {"type": "object"}
                }, "required": ["name", "inputSchema"]},
                "CallToolResult": result_schema(None),
                "Problem": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "status": {"type": "integer"}, "message": {"type": "string"}}}}}
            },
            "responses": {
                "BadRequest": {"description": "A malformed body.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                "Unauthorized": {"description": "A missing or wrong bearer token."},
                "NotFound": {"description": "No such tool.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            }
        }
    })
}

async fn openapi(h: &GatewayHandler, headers: &HeaderMap) -> Response {
    h.discovery_wait().await;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!("http://{host}/mcp");
    axum::Json(document(h, &base)).into_response()
}
