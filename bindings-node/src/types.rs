//! The values that cross between JavaScript and the core. Plain values cross as the core's
//! canonical serde JSON (`serde_json::Value` ↔ JS objects, napi's `serde-json` feature, never
//! text to re-parse); the `#[napi(object)]` structs here only declare their TypeScript shapes.
//! `ServerConfig`, `Tool` and `ToolResult` are classes (they have methods); `toJSON()` is the
//! core's canonical JSON.

use std::{collections::HashMap, sync::Arc, time::Duration};

use corral_core as core;
use napi::{
    Env, Status,
    bindgen_prelude::{FnArgs, Function, FunctionRef, JsObjectValue, Object, ObjectRef},
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
};
use napi_derive::napi;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::errors::{self, JsResult};

/// Options of `new Corral(...)`.
#[napi(object)]
#[derive(Default)]
pub struct CorralOptions {
    /// `local` (bubblewrap, the default) or `unsandboxed` (no isolation; only when asked for).
    pub provider: Option<String>,
    /// corral's home (state, caches). Default: `$CORRAL_HOME`, else `<data dir>/corral`.
    pub home: Option<String>,
    /// The API key of a remote provider (`e2b`). Default: `$E2B_API_KEY`.
    pub api_key: Option<String>,
}

impl From<CorralOptions> for core::CorralOptions {
    fn from(o: CorralOptions) -> Self {
        Self {
            provider: o.provider,
            home: o.home.map(Into::into),
            api_key: o.api_key,
        }
    }
}

/// The accepted forms of a server config (corral's own form shown; the e2b-mcp dict form and an
/// `mcpServers` entry — `command`/`args`/`env`, `type`/`url`/`headers` — are accepted as well).
/// Keys are snake_case, exactly as in JSON/TOML config files.
#[napi(object, object_to_js = false, js_name = "ServerConfigDict")]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct ServerConfigDict {
    /// The command line (split like a shell would, no expansion) or argv.
    #[napi(ts_type = "string | string[]")]
    pub command: Option<Value>,
    /// Extra arguments appended to `command`.
    pub args: Option<Vec<String>>,
    /// Environment of the server (the only way secrets reach it).
    pub env: Option<HashMap<String, String>>,
    /// Shell commands run once (per distinct list) inside the sandbox, with network.
    #[napi(js_name = "install_commands")]
    pub install_commands: Option<Vec<String>>,
    /// Working directory inside the sandbox.
    pub cwd: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Idle minutes after which a warm server is stopped (default 10).
    #[napi(js_name = "timeout_minutes")]
    pub timeout_minutes: Option<f64>,
    /// Per-call timeout in seconds (default 60), extended while progress arrives.
    #[napi(js_name = "call_timeout_seconds")]
    pub call_timeout_seconds: Option<f64>,
    /// `all` (default) or `none`.
    #[napi(ts_type = "'all' | 'none'")]
    pub network: Option<String>,
    /// Extra host directories: `host:target[:ro|rw]`.
    pub mounts: Option<Vec<String>>,
    /// `{memory_mb, max_processes, disk_mb}` (MiB, processes, MiB of writable layer).
    #[napi(ts_type = "{ memory_mb?: number; max_processes?: number; disk_mb?: number }")]
    pub limits: Option<Value>,
    /// Start the sandbox from this template (`corral.buildTemplate()`); the server's own
    /// install commands are layered on top.
    pub template: Option<String>,
    /// Files written into the sandbox before the server starts: absolute path → text.
    pub files: Option<HashMap<String, String>>,
    /// Only these tools are visible.
    #[napi(js_name = "allow_tools")]
    pub allow_tools: Option<Vec<String>>,
    /// These tools are hidden.
    #[napi(js_name = "deny_tools")]
    pub deny_tools: Option<Vec<String>>,
    /// A remote Streamable-HTTP server instead of a command.
    pub url: Option<String>,
    /// HTTP headers of a remote server (for example `Authorization`).
    pub headers: Option<HashMap<String, String>>,
    /// `stdio` or `http` (the `mcpServers` form).
    #[napi(js_name = "type")]
    pub kind: Option<String>,
    /// Free labels for grouping servers.
    pub tags: Option<Vec<String>>,
}

/// A server config in the canonical JSON form that `toJSON()` returns (the same as Python's
/// `to_dict()` and the CLI's `--json`); the constructor reads it back.
#[napi(object, object_from_js = false, js_name = "ServerConfigJson")]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct ServerConfigJson {
    pub name: String,
    /// Program and arguments (a stdio server).
    pub command: Option<Vec<String>>,
    /// The endpoint (a remote server).
    pub url: Option<String>,
    pub headers: Option<HashMap<String, String>>,
    pub env: Option<HashMap<String, String>>,
    pub install_commands: Option<Vec<String>>,
    pub cwd: Option<String>,
    pub description: Option<String>,
    pub timeout_minutes: f64,
    pub call_timeout_seconds: f64,
    #[napi(ts_type = "'all' | 'none'")]
    pub network: String,
    pub mounts: Option<Vec<String>>,
    #[napi(ts_type = "{ memoryMb?: number; maxProcesses?: number; diskMb?: number }")]
    pub limits: Option<Value>,
    pub template: Option<String>,
    pub files: Option<HashMap<String, String>>,
    pub allow_tools: Option<Vec<String>>,
    pub deny_tools: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
}

/// A validated server config. `new ServerConfig(name, dict)` throws `CONFIG_INVALID` naming the
/// offending field.
#[napi]
pub struct ServerConfig {
    pub(crate) inner: core::ServerConfig,
}

#[napi]
impl ServerConfig {
    /// Parses `dict` in any accepted form.
    #[napi(
        catch_unwind,
        constructor,
        ts_args_type = "name: string, config: ServerConfigDict"
    )]
    pub fn new(env: Env, name: String, config: Value) -> napi::Result<Self> {
        let inner =
            core::ServerConfig::from_value(&name, &config).map_err(|e| errors::to_js(&env, &e))?;
        Ok(Self { inner })
    }

    /// A stdio server from a command line (split like a shell would).
    #[napi(catch_unwind, factory)]
    pub fn command(env: Env, name: String, command: String) -> napi::Result<Self> {
        let inner =
            core::ServerConfig::command(name, &command).map_err(|e| errors::to_js(&env, &e))?;
        Ok(Self { inner })
    }

    /// A remote Streamable-HTTP server.
    #[napi(catch_unwind, factory)]
    pub fn url(name: String, url: String, headers: Option<HashMap<String, String>>) -> Self {
        let mut inner = core::ServerConfig::url(name, url);
        if let core::Transport::Http { headers: h, .. } = &mut inner.transport {
            h.extend(headers.unwrap_or_default());
        }
        Self { inner }
    }

    /// The server's name.
    #[napi(catch_unwind, getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Whether it is a remote (`url`) server.
    #[napi(catch_unwind, getter)]
    pub fn is_remote(&self) -> bool {
        self.inner.is_remote()
    }

    /// Its free labels.
    #[napi(catch_unwind, getter)]
    pub fn tags(&self) -> Vec<String> {
        self.inner.tags.clone()
    }

    /// The config in the canonical camelCase form (what the constructor reads back).
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ServerConfigJson")]
    pub fn to_json(&self) -> Value {
        self.inner.to_value()
    }
}

/// A tool a server offers.
#[napi]
pub struct Tool {
    pub(crate) inner: core::Tool,
}

impl Tool {
    pub(crate) fn list(tools: Vec<core::Tool>) -> Vec<Self> {
        tools.into_iter().map(|inner| Self { inner }).collect()
    }
}

#[napi]
impl Tool {
    /// Its name, unique within its server.
    #[napi(catch_unwind, getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Human-readable title, if any.
    #[napi(catch_unwind, getter)]
    pub fn title(&self) -> Option<String> {
        self.inner.title.clone()
    }

    /// What it does.
    #[napi(catch_unwind, getter)]
    pub fn description(&self) -> Option<String> {
        self.inner.description.clone()
    }

    /// JSON Schema of its arguments.
    #[napi(catch_unwind, getter, ts_return_type = "Record<string, any>")]
    pub fn input_schema(&self) -> Value {
        self.inner.input_schema.clone()
    }

    /// JSON Schema of its structured output, if it declares one.
    #[napi(
        catch_unwind,
        getter,
        ts_return_type = "Record<string, any> | undefined"
    )]
    pub fn output_schema(&self) -> Option<Value> {
        self.inner.output_schema.clone()
    }

    /// Hints such as `readOnlyHint`, as the server sent them.
    #[napi(
        catch_unwind,
        getter,
        ts_return_type = "Record<string, any> | undefined"
    )]
    pub fn annotations(&self) -> Option<Value> {
        self.inner.annotations.clone()
    }

    /// The OpenAI function-tool form: `{type: "function", function: {name, description, parameters}}`.
    #[napi(catch_unwind, js_name = "toOpenAI", ts_return_type = "OpenAITool")]
    pub fn to_openai(&self) -> Value {
        self.inner.to_openai()
    }

    /// The Anthropic Messages API tool form: `{name, description, input_schema}`.
    #[napi(catch_unwind, ts_return_type = "AnthropicTool")]
    pub fn to_anthropic(&self) -> Value {
        self.inner.to_anthropic()
    }

    /// `{name, title?, description?, inputSchema, outputSchema?, annotations?}`: the core's
    /// canonical form.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ToolJson")]
    pub fn to_json(&self) -> Value {
        json(&self.inner)
    }
}

/// The OpenAI function-tool form of a tool.
#[napi(object, object_from_js = false, js_name = "OpenAITool")]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct OpenAITool {
    /// Always `function`.
    #[napi(ts_type = "'function'")]
    pub r#type: String,
    /// `{name, description, parameters}`.
    #[napi(ts_type = "{ name: string; description: string; parameters: Record<string, any> }")]
    pub function: Value,
}

/// The Anthropic Messages API form of a tool.
#[napi(object, object_from_js = false)]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct AnthropicTool {
    /// The tool's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its input schema (always an object schema).
    #[napi(js_name = "input_schema", ts_type = "Record<string, any>")]
    pub input_schema: Value,
}

/// One item of a tool result or prompt message (MCP's own shapes, tagged by `type`).
#[napi(
    discriminant = "type",
    discriminant_case = "snake_case",
    object_from_js = false
)]
#[allow(dead_code)] // only its TypeScript declaration is used: values cross as serde JSON
pub enum Content {
    /// Text.
    Text { text: String },
    /// An image, base64-encoded.
    Image { data: String, mime_type: String },
    /// Audio, base64-encoded.
    Audio { data: String, mime_type: String },
    /// An embedded resource, as sent (`uri`, `mimeType`, `text` or `blob`).
    Resource {
        #[napi(ts_type = "{ uri: string; mimeType?: string; text?: string; blob?: string }")]
        resource: Value,
    },
    /// A link to a resource the client may read.
    ResourceLink {
        uri: String,
        name: String,
        mime_type: Option<String>,
        description: Option<String>,
    },
}

/// What a server start reports to `setStartCallback`, tagged by `type`.
#[napi(
    discriminant = "type",
    discriminant_case = "camelCase",
    object_from_js = false
)]
#[allow(dead_code)] // only its TypeScript declaration is used
pub enum StartEvent {
    /// Install command `index` (1-based) of `total` is starting.
    InstallStarted {
        server: String,
        index: u32,
        total: u32,
        command: String,
    },
    /// Install command `index` finished (successfully or not), with its output.
    InstallFinished {
        server: String,
        index: u32,
        #[napi(ts_type = "{ code: number | null; signal: number | null }")]
        status: Value,
        output: String,
    },
    /// The server process is starting (sandbox ready, install done).
    ServerStarting { server: String },
    /// The MCP handshake completed.
    ServerReady {
        server: String,
        protocol_version: String,
    },
}

/// The result of a tool call. A tool that runs and reports failure is a result with
/// `isError === true`, not a rejection.
#[napi]
pub struct ToolResult {
    pub(crate) inner: core::ToolResult,
}

impl From<core::ToolResult> for ToolResult {
    fn from(inner: core::ToolResult) -> Self {
        Self { inner }
    }
}

#[napi]
impl ToolResult {
    /// The content items.
    #[napi(catch_unwind, getter, ts_return_type = "Content[]")]
    pub fn content(&self) -> Value {
        json(&self.inner.content)
    }

    /// Structured output (matches the tool's output schema when it declares one).
    #[napi(catch_unwind, getter, ts_return_type = "any")]
    pub fn structured_content(&self) -> Option<Value> {
        self.inner.structured_content.clone()
    }

    /// Whether the tool reported failure.
    #[napi(catch_unwind, getter)]
    pub fn is_error(&self) -> bool {
        self.inner.is_error
    }

    /// All text items, joined by newlines.
    #[napi(catch_unwind, getter)]
    pub fn text(&self) -> String {
        self.inner.text()
    }

    /// The MCP JSON form: `{content, structuredContent?, isError}`.
    #[napi(catch_unwind, js_name = "toJSON", ts_return_type = "ToolResultJson")]
    pub fn to_json(&self) -> Value {
        self.inner.to_value()
    }
}

// The plain values below cross as the core's canonical serde JSON (`json`); these structs only
// declare their TypeScript shapes.

/// The canonical JSON form of a `ToolResult`.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct ToolResultJson {
    pub content: Vec<Content>,
    #[napi(ts_type = "any")]
    pub structured_content: Option<Value>,
    pub is_error: bool,
}

/// The canonical JSON form of a `Tool`.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct ToolJson {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    #[napi(ts_type = "Record<string, any>")]
    pub input_schema: Value,
    #[napi(ts_type = "Record<string, any>")]
    pub output_schema: Option<Value>,
    #[napi(ts_type = "Record<string, any>")]
    pub annotations: Option<Value>,
}

/// A resource a server offers.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct Resource {
    pub uri: String,
    pub name: String,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

/// One piece of a read resource: `text`, or base64 `blob`.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub text: Option<String>,
    pub blob: Option<String>,
}

/// A prompt template a server offers.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct Prompt {
    pub name: String,
    pub description: Option<String>,
    /// `{name, description?, required?}` objects.
    #[napi(ts_type = "Array<{ name: string; description?: string; required?: boolean }>")]
    pub arguments: Vec<Value>,
}

/// One message of a rendered prompt.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    pub content: Content,
}

/// A rendered prompt.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct PromptResult {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
}

/// A progress report of a running call.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct Progress {
    /// Progress so far (increases).
    pub progress: f64,
    /// The total, if known.
    pub total: Option<f64>,
    pub message: Option<String>,
}

/// A log message a server sent.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct LogMessage {
    /// The server it came from.
    pub server: String,
    /// `debug`, `info`, `warning`, `error`, ...
    pub level: String,
    pub logger: Option<String>,
    /// The data (often a string).
    #[napi(ts_type = "any")]
    pub data: Value,
}

/// How a command in a sandbox ended, and what it wrote.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct ExecOutput {
    /// The exit code (`null` if a signal killed it).
    #[napi(ts_type = "number | null")]
    pub exit_code: Value,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// stdout, decoded as UTF-8 (invalid sequences replaced).
    pub stdout: String,
    /// stderr, decoded as UTF-8 (invalid sequences replaced).
    pub stderr: String,
}

/// A built template (`corral.buildTemplate()`, `corral.listTemplates()`).
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct TemplateInfo {
    pub name: String,
    /// Content id (hash of the base's id and the install commands).
    pub id: String,
    /// The template it was built on, if any.
    pub base: Option<String>,
    /// The commands it was built from.
    pub install_commands: Vec<String>,
    /// Size of its layer on disk, in bytes (0 right after a build; see `listTemplates()`).
    pub size_bytes: f64,
}

/// What `corral.prune()` removed.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct PruneReport {
    /// Paths removed.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub freed_bytes: f64,
}

/// The session info of `ServerSession.toJSON()`.
#[napi(object, object_from_js = false)]
#[allow(dead_code)]
pub struct SessionInfo {
    pub server: String,
    pub session_id: String,
    pub sandbox_id: Option<String>,
    pub protocol_version: String,
}

/// A core value in its canonical serde JSON form.
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JS callback called from the runtime's threads with a canonical JSON value; weak, so it
/// never keeps Node alive on its own (a pending Promise does).
pub(crate) type Callback = ThreadsafeFunction<Value, (), Value, Status, false, true>;

/// A core callback (`LogCallback`, `StartCallback`, the progress callback).
pub(crate) type Sink<T> = Arc<dyn Fn(T) + Send + Sync>;

/// Wraps an optional JS function as a core callback fed with `T`'s canonical JSON.
pub(crate) fn callback<T: serde::Serialize>(
    f: Option<Function<Value, ()>>,
) -> JsResult<Option<Sink<T>>> {
    let Some(f) = f else { return Ok(None) };
    let tsfn: Callback = f
        .build_threadsafe_function()
        .callee_handled::<false>()
        .weak::<true>()
        .build()
        .map_err(|e| errors::invalid(e.reason))?;
    Ok(Some(Arc::new(move |v: T| {
        tsfn.call(json(&v), ThreadsafeFunctionCallMode::NonBlocking);
    })))
}

/// Options of one call (`executeTool`, `callTool`). Times are in milliseconds.
#[napi(object, object_to_js = false)]
#[allow(dead_code)] // only its TypeScript declaration is used
pub struct CallOptions {
    /// Overrides the server's per-call timeout; extended while progress arrives.
    pub timeout_ms: Option<f64>,
    /// Hard cap on the call however much progress arrives (default: 10 × the timeout).
    pub max_total_ms: Option<f64>,
    /// Receives the call's progress notifications (on the JS thread).
    #[napi(ts_type = "(progress: Progress) => void")]
    pub on_progress: Option<Value>,
    /// Aborting it cancels the call (the server gets `notifications/cancelled`); the Promise
    /// rejects with `CANCELLED`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Value>,
}

/// A JS abort listener registered for one call; removed when the call settles.
pub(crate) struct AbortHook {
    signal: ObjectRef<false>,
    listener: FunctionRef<(), ()>,
}

impl AbortHook {
    /// Removes the listener from the signal (on the JS thread, once the call settled).
    pub(crate) fn detach(self, env: &Env) {
        if let Ok(signal) = self.signal.get_value(env)
            && let Ok(remove) = signal
                .get_named_property::<Function<FnArgs<(&str, Function<(), ()>)>, ()>>(
                    "removeEventListener",
                )
            && let Ok(listener) = self.listener.borrow_back(env)
        {
            let _ = remove.apply(signal, FnArgs::from(("abort", listener)));
        }
        let _ = self.signal.unref(env);
    }
}

/// Reads `{timeoutMs, maxTotalMs, onProgress, signal}` (on the JS thread). An already aborted
/// signal is a `CANCELLED` error.
pub(crate) fn call_options(
    env: &Env,
    options: Option<Object>,
) -> JsResult<(core::CallOptions, Option<AbortHook>)> {
    let mut out = core::CallOptions::default();
    let Some(options) = options else {
        return Ok((out, None));
    };
    let ms = |key: &str| -> JsResult<Option<Duration>> {
        options
            .get::<f64>(key)
            .map_err(|_| errors::invalid(format!("{key} must be a number")))?
            .map(|ms| core::config::duration_from_millis(ms, key))
            .transpose()
    };
    out.timeout = ms("timeoutMs")?;
    out.max_total = ms("maxTotalMs")?;
    let on_progress = options.get::<Function<Value, ()>>("onProgress");
    out.on_progress =
        callback(on_progress.map_err(|_| errors::invalid("onProgress must be a function"))?)?;
    let Some(signal) = options
        .get::<Object>("signal")
        .map_err(|_| errors::invalid("signal must be an AbortSignal"))?
    else {
        return Ok((out, None));
    };
    if signal.get::<bool>("aborted").ok().flatten() == Some(true) {
        return Err(core::Error::new(
            core::ErrorKind::Cancelled,
            "the signal was aborted before the call started",
        ));
    }
    let token = CancellationToken::new();
    let trigger = token.clone();
    let napi_err = |e: napi::Error| errors::invalid(e.reason);
    let listener = env
        .create_function_from_closure::<(), (), _>("onabort", move |_| {
            trigger.cancel();
            Ok(())
        })
        .map_err(napi_err)?;
    let add = signal
        .get_named_property::<Function<FnArgs<(&str, Function<(), ()>)>, ()>>("addEventListener")
        .map_err(|_| errors::invalid("signal must be an AbortSignal"))?;
    add.apply(signal, FnArgs::from(("abort", listener)))
        .map_err(napi_err)?;
    let hook = AbortHook {
        signal: signal.create_ref().map_err(napi_err)?,
        listener: listener.create_ref().map_err(napi_err)?,
    };
    out.cancel = Some(token);
    Ok((out, Some(hook)))
}
