//! The values that cross between JavaScript and the core: plain objects (`#[napi(object)]`),
//! the `Content` union, and the `Tool` / `ToolResult` / `ServerConfig` classes. JSON crosses as
//! JS values (`serde_json::Value` ↔ objects, arrays, strings, numbers), never as text to re-parse.

use std::{collections::HashMap, sync::Arc, time::Duration};

use corral_core as core;
use napi::{
    Env, Status,
    bindgen_prelude::{Buffer, FnArgs, Function, FunctionRef, JsObjectValue, Object, ObjectRef},
    threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode},
};
use napi_derive::napi;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::errors::{self, Code, JsResult};

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
    /// `{memory_mb, max_processes}`.
    #[napi(ts_type = "{ memory_mb?: number; max_processes?: number }")]
    pub limits: Option<Value>,
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
    #[napi(ts_type = "{ memoryMb?: number; maxProcesses?: number }")]
    pub limits: Option<Value>,
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
        let inner = core::ServerConfig::from_value(&name, &config)
            .map_err(|e| errors::thrown(&env, errors::to_js(e)))?;
        Ok(Self { inner })
    }

    /// A stdio server from a command line (split like a shell would).
    #[napi(catch_unwind, factory)]
    pub fn command(name: String, command: String) -> napi::Result<Self, Code> {
        let inner = core::ServerConfig::command(name, &command).map_err(errors::to_js)?;
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
    #[napi(
        catch_unwind,
        js_name = "toJSON",
        ts_return_type = "Record<string, any>"
    )]
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.inner).unwrap_or(Value::Null)
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

/// One item of a tool result or prompt message.
#[napi(
    discriminant = "type",
    discriminant_case = "snake_case",
    object_from_js = false
)]
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

impl From<core::Content> for Content {
    fn from(c: core::Content) -> Self {
        match c {
            core::Content::Text { text } => Self::Text { text },
            core::Content::Image { data, mime_type } => Self::Image { data, mime_type },
            core::Content::Audio { data, mime_type } => Self::Audio { data, mime_type },
            core::Content::Resource { resource } => Self::Resource { resource },
            core::Content::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            } => Self::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            },
        }
    }
}

/// The result of a tool call. A tool that runs and reports failure is a result with
/// `isError === true`, not a rejection.
#[napi]
pub struct ToolResult {
    pub(crate) inner: core::ToolResult,
}

#[napi]
impl ToolResult {
    /// The content items.
    #[napi(catch_unwind, getter)]
    pub fn content(&self) -> Vec<Content> {
        self.inner.content.iter().cloned().map(Into::into).collect()
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
    #[napi(
        catch_unwind,
        js_name = "toJSON",
        ts_return_type = "{ content: Content[]; structuredContent?: any; isError: boolean }"
    )]
    pub fn to_json(&self) -> Value {
        self.inner.to_value()
    }
}

/// A resource a server offers.
#[napi(object, object_from_js = false)]
pub struct Resource {
    pub uri: String,
    pub name: String,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

impl From<core::Resource> for Resource {
    fn from(r: core::Resource) -> Self {
        Self {
            uri: r.uri,
            name: r.name,
            description: r.description,
            mime_type: r.mime_type,
        }
    }
}

/// One piece of a read resource: `text`, or base64 `blob`.
#[napi(object, object_from_js = false)]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub text: Option<String>,
    pub blob: Option<String>,
}

impl From<core::ResourceContents> for ResourceContents {
    fn from(r: core::ResourceContents) -> Self {
        Self {
            uri: r.uri,
            mime_type: r.mime_type,
            text: r.text,
            blob: r.blob,
        }
    }
}

/// A prompt template a server offers.
#[napi(object, object_from_js = false)]
pub struct Prompt {
    pub name: String,
    pub description: Option<String>,
    /// `{name, description?, required?}` objects.
    #[napi(ts_type = "Array<{ name: string; description?: string; required?: boolean }>")]
    pub arguments: Vec<Value>,
}

impl From<core::Prompt> for Prompt {
    fn from(p: core::Prompt) -> Self {
        Self {
            name: p.name,
            description: p.description,
            arguments: p.arguments,
        }
    }
}

/// One message of a rendered prompt.
#[napi(object, object_from_js = false)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    pub content: Content,
}

/// A rendered prompt.
#[napi(object, object_from_js = false)]
pub struct PromptResult {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
}

impl From<core::PromptResult> for PromptResult {
    fn from(p: core::PromptResult) -> Self {
        Self {
            description: p.description,
            messages: p
                .messages
                .into_iter()
                .map(|m| PromptMessage {
                    role: m.role,
                    content: m.content.into(),
                })
                .collect(),
        }
    }
}

/// A progress report of a running call.
#[napi(object, object_from_js = false)]
pub struct Progress {
    /// Progress so far (increases).
    pub progress: f64,
    /// The total, if known.
    pub total: Option<f64>,
    pub message: Option<String>,
}

impl From<core::Progress> for Progress {
    fn from(p: core::Progress) -> Self {
        Self {
            progress: p.progress,
            total: p.total,
            message: p.message,
        }
    }
}

/// A log message a server sent.
#[napi(object, object_from_js = false)]
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

impl From<core::LogMessage> for LogMessage {
    fn from(m: core::LogMessage) -> Self {
        Self {
            server: m.server,
            level: m.level,
            logger: m.logger,
            data: m.data,
        }
    }
}

/// How a command in a sandbox ended, and what it wrote.
#[napi(object, object_from_js = false)]
pub struct ExecResult {
    /// The exit code (`null` if a signal killed it).
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// stdout, decoded as UTF-8 (invalid sequences replaced).
    pub stdout: String,
    /// stderr, decoded as UTF-8 (invalid sequences replaced).
    pub stderr: String,
}

impl From<core::ExecOutput> for ExecResult {
    fn from(o: core::ExecOutput) -> Self {
        Self {
            exit_code: o.status.code,
            signal: o.status.signal,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The bytes of a file, as a Node `Buffer`.
pub(crate) fn buffer(data: Vec<u8>) -> Buffer {
    data.into()
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

/// The progress callback as napi sees it: called from the runtime's thread, never keeping Node
/// alive on its own (the pending Promise does).
type ProgressTsfn = ThreadsafeFunction<Progress, (), Progress, Status, false, true>;

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
            .map(|ms| core::config::duration_from_millis(ms, key).map_err(errors::to_js))
            .transpose()
    };
    out.timeout = ms("timeoutMs")?;
    out.max_total = ms("maxTotalMs")?;
    if let Some(f) = options
        .get::<Function<Progress, ()>>("onProgress")
        .map_err(|_| errors::invalid("onProgress must be a function"))?
    {
        let tsfn: ProgressTsfn = f
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()
            .map_err(|e| errors::invalid(e.reason))?;
        out.on_progress = Some(Arc::new(move |p: core::Progress| {
            tsfn.call(p.into(), ThreadsafeFunctionCallMode::NonBlocking);
        }));
    }
    let mut hook = None;
    if let Some(signal) = options
        .get::<Object>("signal")
        .map_err(|_| errors::invalid("signal must be an AbortSignal"))?
    {
        if signal
            .get::<bool>("aborted")
            .ok()
            .flatten()
            .unwrap_or(false)
        {
            return Err(errors::to_js(core::Error::new(
                core::ErrorKind::Cancelled,
                "the signal was aborted before the call started",
            )));
        }
        let token = CancellationToken::new();
        let trigger = token.clone();
        let listener = env
            .create_function_from_closure::<(), (), _>("onabort", move |_| {
                trigger.cancel();
                Ok(())
            })
            .map_err(|e| errors::invalid(e.reason))?;
        let add = signal
            .get_named_property::<Function<FnArgs<(&str, Function<(), ()>)>, ()>>(
                "addEventListener",
            )
            .map_err(|_| errors::invalid("signal must be an AbortSignal"))?;
        add.apply(signal, FnArgs::from(("abort", listener)))
            .map_err(|e| errors::invalid(e.reason))?;
        hook = Some(AbortHook {
            signal: signal.create_ref().map_err(|e| errors::invalid(e.reason))?,
            listener: listener
                .create_ref()
                .map_err(|e| errors::invalid(e.reason))?,
        });
        out.cancel = Some(token);
    }
    Ok((out, hook))
}
