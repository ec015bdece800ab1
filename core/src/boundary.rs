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

//!
//! ## As JSON Schema
//! [`json_schema()`] describes every form above (and [`GatewayOptions`], [`LoadOptions`], [`ServerHealth`],
//! [`TemplateInfo`], [`PruneReport`]) in one JSON Schema document; `corral schema` prints it,
//! and the Node binding's TypeScript shapes are generated from it. Each schema is derived from
//! the very type serde writes (for [`ServerConfig`] and [`ExecOutput`], the private struct
//! their serializers go through), so it cannot drift from the form.
//! ```
//! let doc = corral_core::boundary::json_schema();
//! let tool = &doc["$defs"]["Tool"];
//! assert_eq!(tool["required"], serde_json::json!(["name", "inputSchema"]));
//! // Optional fields are left out when unset, never `null`:
//! assert_eq!(tool["properties"]["title"]["type"], "string");
//! ```

use std::sync::OnceLock;

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

#[allow(unused_imports)] // for the intra-doc links above
use crate::{
    CallOptions, Content, Error, ErrorKind, ExecOutput, LoadOptions, LogMessage, Progress, Prompt,
    PromptMessage, PromptResult, PruneReport, Resource, ResourceContents, SandboxConfig,
    ServerConfig, StartEvent, TemplateInfo, Tool, ToolResult,
    gateway::{GatewayOptions, ServerHealth},
};

/// `impl JsonSchema for $ty` with the schema of `$form`: the private type that `$ty`'s serde
/// form is written through, so that the schema is the serializer's own struct, not a copy.
macro_rules! schema_as {
    ($ty:ty = $form:ty) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$form as schemars::JsonSchema>::schema_name()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <$form as schemars::JsonSchema>::json_schema(generator)
            }
        }
    };
}
pub(crate) use schema_as;

/// The JSON Schema (draft 2020-12) of the canonical forms, one document whose `$defs` hold
/// each by its type's name: what corral writes (`Tool`, `ToolResult`, `Content`,
/// `ServerConfig`, `ExecOutput`, `StartEvent`, …, as serialized: a field that is left out when
/// unset is optional and never `null`) and the options it reads (`GatewayOptions`, `LoadOptions`, every field
/// optional, `null` where it means the default).
pub fn json_schema() -> Value {
    let mut written = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    macro_rules! roots {
        ($generator:ident: $($ty:ty),*) => { $( $generator.subschema_for::<$ty>(); )* };
    }
    roots!(written: ServerConfig, Tool, ToolResult, Content, Resource, ResourceContents, Prompt,
        PromptMessage, PromptResult, Progress, LogMessage, StartEvent, ExecOutput, TemplateInfo,
        PruneReport, ServerHealth);
    let mut defs = Value::Object(written.take_definitions(true));
    optional_not_null(&mut defs);
    let mut read = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    roots!(read: GatewayOptions, LoadOptions);
    if let Value::Object(defs) = &mut defs {
        for (name, schema) in read.take_definitions(true) {
            defs.entry(name).or_insert(schema);
        }
    }
    json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": defs})
}

/// Checks `value` against the schema of the form `name` of [`json_schema()`] (`"Tool"`,
/// `"ToolResult"`, …): every key is one of the form's, every required one is there, each of
/// its type; the error names the path (`ToolResult.content[0].mimeType`). It understands the
/// subset of JSON Schema these schemas use.
/// ```
/// # use corral_core::boundary::conforms; use serde_json::json;
/// assert!(conforms("ToolResult", &json!({"content": [], "isError": false})).is_ok());
/// let e = conforms("ToolResult", &json!({"content": [], "is_error": false})).unwrap_err();
/// assert_eq!(e, "ToolResult: `is_error` is not a key of the form");
/// ```
pub fn conforms(name: &str, value: &Value) -> std::result::Result<(), String> {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(json_schema);
    if schema["$defs"].get(name).is_none() {
        return Err(format!("`{name}` is not a form"));
    }
    let reference = json!({"$ref": format!("#/$defs/{name}")});
    conforms_to(&schema["$defs"], &reference, value, name)
}

fn conforms_to(defs: &Value, s: &Value, v: &Value, path: &str) -> std::result::Result<(), String> {
    if let Some(name) = s["$ref"].as_str() {
        let name = name.trim_start_matches("#/$defs/");
        return conforms_to(defs, &defs[name], v, path);
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{path}: {c} expected, got {v}"));
    }
    if let Some(values) = s["enum"].as_array()
        && !values.contains(v)
    {
        return Err(format!("{path}: one of {values:?} expected, got {v}"));
    }
    if let Some(alternatives) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        let errors: Vec<String> = alternatives
            .iter()
            .filter_map(|alt| conforms_to(defs, alt, v, path).err())
            .collect();
        if errors.len() == alternatives.len() {
            return Err(errors.join("; or "));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            t => t.as_str().into_iter().collect(),
        };
        if !types.iter().any(|t| of_type(t, v)) {
            return Err(format!("{path}: {} expected, got {v}", types.join(" or ")));
        }
    }
    if let (Some(object), Some(properties)) = (v.as_object(), s["properties"].as_object()) {
        if let Some(key) = object.keys().find(|k| !properties.contains_key(*k)) {
            return Err(format!("{path}: `{key}` is not a key of the form"));
        }
        for key in s["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{path}: `{key}` is missing"));
            }
        }
        for (key, value) in object {
            conforms_to(defs, &properties[key], value, &format!("{path}.{key}"))?;
        }
    } else if let (Some(object), Some(values)) = (v.as_object(), s.get("additionalProperties")) {
        for (key, value) in object {
            conforms_to(defs, values, value, &format!("{path}.{key}"))?;
        }
    }
    if let (Some(items), Some(item)) = (v.as_array(), s.get("items")) {
        for (i, value) in items.iter().enumerate() {
            conforms_to(defs, item, value, &format!("{path}[{i}]"))?;
        }
    }
    Ok(())
}

fn of_type(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        // JavaScript and Python may write an integral number as `1.0`.
        "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

/// Drops `null` from the types of the properties an object may leave out (serde skips them
/// when unset): `title?: string`, not `title?: string | null`.
fn optional_not_null(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            let required: Vec<Value> = object
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = object.get_mut("properties") {
                for (key, property) in properties.iter_mut() {
                    if !required.contains(&Value::String(key.clone())) {
                        drop_null(property);
                    }
                }
            }
            object.values_mut().for_each(optional_not_null);
        }
        Value::Array(items) => items.iter_mut().for_each(optional_not_null),
        _ => {}
    }
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`; `{"anyOf": [A, {"type": "null"}]}` → A.
fn drop_null(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    let is_null = |s: &Value| s.get("type").is_some_and(|t| t == "null");
    if let Some(Value::Array(any)) = object.get("anyOf")
        && any.iter().any(is_null)
    {
        let mut rest: Vec<Value> = any.iter().filter(|s| !is_null(s)).cloned().collect();
        object.remove("anyOf");
        match rest.len() {
            1 => {
                if let Value::Object(only) = rest.remove(0) {
                    object.extend(only);
                }
            }
            _ => {
                object.insert("anyOf".into(), Value::Array(rest));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_describe_the_written_forms() {
        let mut config = ServerConfig::url("r", "https://example.com/mcp");
        config.tags = vec!["t".into()];
        assert_eq!(conforms("ServerConfig", &config.to_value()), Ok(()));
        let config = ServerConfig::from_value(
            "fs",
            &json!({"command": "srv", "env": {"A": "1"}, "install_commands": ["true"],
                    "mounts": ["/a:/b:rw", {"host": "/c:d", "target": "/e"}],
                    "limits": {"memory_mb": 5}, "allow_tools": ["x"], "deny_tools": ["y"],
                    "template": "t", "files": {"/f": "x"}, "cwd": "/", "description": "d"}),
        )
        .expect("valid");
        assert_eq!(conforms("ServerConfig", &config.to_value()), Ok(()));
        let exec = ExecOutput {
            status: crate::sandbox::ExitStatus {
                code: None,
                signal: Some(9),
            },
            stdout: vec![],
            stderr: vec![],
        };
        let exec = serde_json::to_value(exec).expect("json");
        assert_eq!(conforms("ExecOutput", &exec), Ok(()));
        let options = serde_json::to_value(GatewayOptions::default()).expect("json");
        assert_eq!(conforms("GatewayOptions", &options), Ok(()));
        assert_eq!(conforms("GatewayOptions", &json!({})), Ok(()));
        let event = StartEvent::InstallFinished {
            server: "fx".into(),
            index: 1,
            status: crate::sandbox::ExitStatus {
                code: Some(0),
                signal: None,
            },
            output: String::new(),
        };
        let event = serde_json::to_value(event).expect("json");
        assert_eq!(conforms("StartEvent", &event), Ok(()));
    }

    #[test]
    fn drifted_forms_fail() {
        let e = conforms(
            "ExecOutput",
            &json!({"exit_code": 0, "stdout": "", "stderr": ""}),
        );
        assert_eq!(
            e,
            Err("ExecOutput: `exit_code` is not a key of the form".into())
        );
        let image = json!({"content": [{"type": "image", "data": "x"}], "isError": false});
        let e = conforms("ToolResult", &image).expect_err("no mimeType");
        assert!(
            e.contains("ToolResult.content[0]: `mimeType` is missing"),
            "{e}"
        );
        let e = conforms("Progress", &json!({"progress": "1"})).expect_err("a string");
        assert_eq!(e, "Progress.progress: number expected, got \"1\"");
        assert!(conforms("Nothing", &json!({})).is_err());
    }

    #[test]
    fn optional_fields_are_not_nullable_but_required_ones_may_be() {
        let doc = json_schema();
        let exec = &doc["$defs"]["ExecOutput"]["properties"];
        assert_eq!(exec["signal"]["type"], "integer");
        assert_eq!(exec["exitCode"]["type"], json!(["integer", "null"]));
        let content = doc["$defs"]["Content"].to_string();
        assert!(content.contains("resource_link"), "{content}");
    }
}
