//! # The canonical JSON shapes
//!
//! Every type that crosses into another language has exactly one JSON form: its serde form,
//! defined here in the core. Python's `to_dict()`, Node's `toJSON()`, UniFFI's `toJson()`, the
//! CLI's `--json` and the conformance suite all emit it. The rules:
//!
//! - **Keys are camelCase**, as on the MCP wire (`inputSchema`, `isError`, `mimeType`).
//! - **Input also accepts the snake_case spellings** users already write (`input_schema`,
//!   `install_commands`, `timeout_minutes`, `memory_mb`, ...), so corral's TOML/JSON files, the
//!   e2b-mcp dict and `mcpServers` documents keep working.
//! - **Optional fields are left out** when empty or unset; `ToolResult.isError` is always there.
//! - **Deserializing validates** (one parser: [`ServerConfig::from_value`] and `Deserialize` are
//!   the same code), and `serialize → deserialize` gives the same value back. Durations travel as
//!   numbers (`timeoutMinutes`, `callTimeoutSeconds`, `timeoutMs`) with millisecond precision,
//!   range-checked (at most [`MAX_TIMEOUT`](crate::config::MAX_TIMEOUT)), so no input panics.
//! - **Errors are data**: `{kind, message, field?, retryable}` ([`Error::to_value`]).
//!
//! Each example below is checked by `cargo test` (deserialize, then serialize back to the same
//! JSON).
//!
//! ## [`ServerConfig`]
//! `command` (the argv, for a stdio server) or `url` + `headers` (a remote one); `mounts` are
//! `HOST:TARGET:ro|rw` specs (an object `{host, target, readOnly}` when a path holds a `:`).
//! The name is the map key in documents; a standalone config carries it as `name`.
//! ```
//! # use corral_core::ServerConfig; use serde_json::json;
//! let canonical = json!({
//!     "name": "fs",
//!     "command": ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/data"],
//!     "env": {"LOG_LEVEL": "info"},
//!     "installCommands": ["npm install -g @modelcontextprotocol/server-filesystem"],
//!     "cwd": "/data",
//!     "description": "Files",
//!     "timeoutMinutes": 10.0,
//!     "callTimeoutSeconds": 60.0,
//!     "network": "none",
//!     "mounts": ["/srv/data:/data:ro"],
//!     "limits": {"memoryMb": 512, "maxProcesses": 64},
//!     "allowTools": ["read_file"],
//!     "denyTools": ["write_file"],
//!     "tags": ["prod"]
//! });
//! # let c: ServerConfig = serde_json::from_value(canonical.clone()).unwrap();
//! # assert_eq!(serde_json::to_value(&c).unwrap(), canonical);
//! // The snake_case spellings of corral's files and the e2b-mcp dict give the same config:
//! let snake = json!({"command": "npx -y @modelcontextprotocol/server-filesystem /data",
//!     "env": {"LOG_LEVEL": "info"}, "cwd": "/data", "description": "Files",
//!     "install_commands": ["npm install -g @modelcontextprotocol/server-filesystem"],
//!     "timeout_minutes": 10, "call_timeout_seconds": 60, "network": "none",
//!     "mounts": ["/srv/data:/data"], "limits": {"memory_mb": 512, "max_processes": 64},
//!     "allow_tools": ["read_file"], "deny_tools": ["write_file"], "tags": ["prod"]});
//! # assert_eq!(ServerConfig::from_value("fs", &snake).unwrap(), c);
//! let remote = json!({"name": "r", "url": "https://example.com/mcp",
//!     "headers": {"Authorization": "Bearer …"}, "timeoutMinutes": 10.0,
//!     "callTimeoutSeconds": 60.0, "network": "all"});
//! # let r: ServerConfig = serde_json::from_value(remote.clone()).unwrap();
//! # assert_eq!(serde_json::to_value(&r).unwrap(), remote);
//! ```
//!
//! ## [`SandboxConfig`]
//! ```
//! # use corral_core::SandboxConfig; use serde_json::json;
//! let canonical = json!({"name": "sandbox", "env": {"A": "1"}, "network": "none",
//!                        "mounts": ["/srv:/srv:rw"], "limits": {"memoryMb": 256}});
//! # let c: SandboxConfig = serde_json::from_value(canonical.clone()).unwrap();
//! # assert_eq!(serde_json::to_value(&c).unwrap(), canonical);
//! ```
//!
//! ## [`Tool`]
//! ```
//! # use corral_core::Tool; use serde_json::json;
//! let canonical = json!({
//!     "name": "add", "title": "Add", "description": "Adds two numbers",
//!     "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}}},
//!     "outputSchema": {"type": "object"},
//!     "annotations": {"readOnlyHint": true}
//! });
//! # let t: Tool = serde_json::from_value(canonical.clone()).unwrap();
//! # assert_eq!(serde_json::to_value(&t).unwrap(), canonical);
//! ```
//!
//! ## [`ToolResult`] and [`Content`]
//! Content items are MCP's own shapes: `text`, `image`, `audio`, `resource`, `resource_link`.
//! ```
//! # use corral_core::ToolResult; use serde_json::json;
//! let canonical = json!({
//!     "content": [
//!         {"type": "text", "text": "5"},
//!         {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"},
//!         {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"},
//!         {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "a"}},
//!         {"type": "resource_link", "uri": "file:///b.txt", "name": "b", "mimeType": "text/plain"}
//!     ],
//!     "structuredContent": {"sum": 5},
//!     "isError": false
//! });
//! # let r: ToolResult = serde_json::from_value(canonical.clone()).unwrap();
//! # assert_eq!(serde_json::to_value(&r).unwrap(), canonical);
//! ```
//!
//! ## [`Resource`], [`ResourceContents`], [`Prompt`], [`PromptResult`]
//! ```
//! # use corral_core::{Prompt, PromptResult, Resource, ResourceContents}; use serde_json::json;
//! let resource = json!({"uri": "file:///a.txt", "name": "a", "description": "A", "mimeType": "text/plain"});
//! let contents = json!({"uri": "file:///a.txt", "mimeType": "text/plain", "text": "hello"});
//! let prompt = json!({"name": "greet", "description": "Greets",
//!                     "arguments": [{"name": "who", "required": true}]});
//! let rendered = json!({"description": "Greets",
//!                       "messages": [{"role": "user", "content": {"type": "text", "text": "Hi"}}]});
//! # fn check<T: serde::Serialize + serde::de::DeserializeOwned>(v: serde_json::Value) {
//! #     let t: T = serde_json::from_value(v.clone()).unwrap();
//! #     assert_eq!(serde_json::to_value(&t).unwrap(), v);
//! # }
//! # check::<Resource>(resource); check::<ResourceContents>(contents);
//! # check::<Prompt>(prompt); check::<PromptResult>(rendered);
//! ```
//!
//! ## [`ExecOutput`] (the result of a command in a sandbox)
//! `exitCode` is `null` when a signal killed the command (then `signal` says which); stdout and
//! stderr are text (UTF-8, invalid bytes replaced).
//! ```
//! # use corral_core::ExecOutput; use serde_json::json;
//! let canonical = json!({"exitCode": 0, "stdout": "hi\n", "stderr": ""});
//! let killed = json!({"exitCode": null, "signal": 9, "stdout": "", "stderr": ""});
//! # for v in [canonical, killed] {
//! #     let o: ExecOutput = serde_json::from_value(v.clone()).unwrap();
//! #     assert_eq!(serde_json::to_value(&o).unwrap(), v);
//! # }
//! ```
//!
//! ## [`Progress`], [`LogMessage`], [`StartEvent`], [`CallOptions`]
//! ```
//! # use corral_core::{CallOptions, LogMessage, Progress, StartEvent}; use serde_json::json;
//! let progress = json!({"progress": 1.0, "total": 3.0, "message": "step 1"});
//! let log = json!({"server": "fx", "level": "info", "logger": "db", "data": "connected"});
//! let started = json!({"type": "installStarted", "server": "fx", "index": 1, "total": 2,
//!                      "command": "pip install x"});
//! let finished = json!({"type": "installFinished", "server": "fx", "index": 1,
//!                       "status": {"code": 0, "signal": null}, "output": "ok"});
//! let ready = json!({"type": "serverReady", "server": "fx", "protocolVersion": "2025-06-18"});
//! let options = json!({"timeoutMs": 5000.0, "maxTotalMs": 60000.0});
//! # fn check<T: serde::Serialize + serde::de::DeserializeOwned>(v: serde_json::Value) {
//! #     let t: T = serde_json::from_value(v.clone()).unwrap();
//! #     assert_eq!(serde_json::to_value(&t).unwrap(), v);
//! # }
//! # check::<Progress>(progress); check::<LogMessage>(log);
//! # check::<StartEvent>(started); check::<StartEvent>(finished); check::<StartEvent>(ready);
//! # check::<CallOptions>(options);
//! ```
//!
//! ## [`Error`]
//! `kind` is the stable code of an [`ErrorKind`] (the list: [`ErrorKind::ALL`], each with
//! [`ErrorKind::doc`]); `field` is the config path, when there is one.
//! ```
//! # use corral_core::ServerConfig; use serde_json::json;
//! let e = ServerConfig::from_value("fs", &json!({"command": "x", "env": {"1BAD": "v"}}))
//!     .unwrap_err();
//! assert_eq!(e.to_value(), json!({
//!     "kind": "CONFIG_INVALID",
//!     "message": "servers.fs.env.1BAD: not a valid variable name",
//!     "field": "servers.fs.env.1BAD",
//!     "retryable": false
//! }));
//! ```

#[allow(unused_imports)] // for the intra-doc links above
use crate::{
    CallOptions, Content, Error, ErrorKind, ExecOutput, LogMessage, Progress, Prompt, PromptResult,
    Resource, ResourceContents, SandboxConfig, ServerConfig, StartEvent, Tool, ToolResult,
};
