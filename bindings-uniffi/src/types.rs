//! The records and enums that cross the FFI, and the free functions that build and parse them.
//!
//! Three kinds, by how much of the core's type the Kotlin/Swift API takes over:
//! - **the core's type itself** (`#[uniffi::remote]`: no conversion code; a field added to the
//!   core fails to compile here until it is declared);
//! - **records with methods** (`toJson`, `text`, …), which UniFFI only exports on local types:
//!   [`same_as_core!`] declares each with the core type's fields and the moves both ways;
//! - **option records** whose every field is optional (`null`: the core's default) — their
//!   shape is the API, so they are declared here, but they convert through the core's
//!   canonical serde form ([`JsonForm`]): the core's parser validates them and fills the
//!   defaults, no field is mapped by hand (`SandboxConfig`, `GatewayOptions`).
//!
//! `StartEvent` converts through the core's canonical form too, but for `InstallFinished`'s
//! `status` (`exitCode`/`signal` here); `ServerConfig` and `ExecOutput` map by hand (their API
//! shape is not the core's); why the core does not derive the UniFFI records itself: README,
//! "How the records relate". Arbitrary JSON (schemas, arguments, structured content) crosses as JSON text: the
//! custom type `JsonValue`.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    time::Duration,
};

use corral_core as core;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
pub use serde_json::Value as JsonValue;

use crate::errors::{CorralError, ErrorKind};

uniffi::custom_type!(JsonValue, String, {
    remote,
    lower: |v| v.to_string(),
    try_lift: |text| serde_json::from_str(&text).map_err(|e| CorralError::bad_json("JSON text", &e).into()),
});

/// A string-to-string map (the core's ordered maps; a `Map<String, String>` in Kotlin and Swift).
pub type StringMap = BTreeMap<String, String>;

uniffi::custom_type!(StringMap, HashMap<String, String>, {
    remote,
    lower: |m| m.into_iter().collect(),
    try_lift: |m| Ok(m.into_iter().collect()),
});

uniffi::custom_type!(PathBuf, String, {
    remote,
    lower: |p| p.display().to_string(),
    try_lift: |s| Ok(PathBuf::from(s)),
});

/// Declares a local record (or enum of struct variants) with exactly the fields of a core type,
/// and the moves between the two.
macro_rules! same_as_core {
    ($(#[$m:meta])* pub struct $name:ident = $core:path {
        $($(#[$fm:meta])* $f:ident: $t:ty $(=> $conv:path)?,)*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, uniffi::Record)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }
        impl From<$core> for $name {
            fn from(c: $core) -> Self { Self { $($f: same_as_core!(@conv $($conv)?)(c.$f),)* } }
        }
        impl From<$name> for $core {
            fn from(c: $name) -> Self { Self { $($f: same_as_core!(@conv $($conv)?)(c.$f),)* } }
        }
    };
    (@conv) => { Into::into };
    (@conv $conv:path) => { $conv };
    ($(#[$m:meta])* pub enum $name:ident = $core:path {
        $($(#[$vm:meta])* $v:ident { $($f:ident: $t:ty),* $(,)? },)*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, uniffi::Enum)]
        pub enum $name { $($(#[$vm])* $v { $($f: $t),* },)* }
        impl From<$core> for $name {
            fn from(c: $core) -> Self {
                type C = $core;
                match c { $(C::$v { $($f),* } => Self::$v { $($f: $f.into()),* },)* }
            }
        }
        impl From<$name> for $core {
            fn from(c: $name) -> Self {
                match c { $($name::$v { $($f),* } => Self::$v { $($f: $f.into()),* },)* }
            }
        }
    };
}

/// Converts a list of core values.
pub(crate) fn all<T: From<C>, C>(items: Vec<C>) -> Vec<T> {
    items.into_iter().map(Into::into).collect()
}

/// A record whose JSON form is its core type's: it converts to and from the core type through
/// that form (serde both ways), for records whose fields are not the core's (optional where the
/// core has defaults).
pub(crate) trait JsonForm: Serialize + DeserializeOwned {
    /// The core type of the same JSON form.
    type Core: Serialize + DeserializeOwned;
    /// The field prefix of its errors (`gateway` → `gateway.toolBudget`).
    const WHAT: &'static str;

    /// The core value (validated by the core's deserialization; `null` fields are its defaults).
    fn to_core(&self) -> Result<Self::Core, CorralError> {
        via_json(Self::WHAT, self)
    }

    /// The record of a core value.
    fn from_core(core: &Self::Core) -> Result<Self, CorralError> {
        via_json(Self::WHAT, core)
            .map_err(|e| CorralError::new(ErrorKind::Internal, format!("does not cross: {e}")))
    }

    /// Parses JSON text in the core's form (validated by the core, aliases accepted).
    fn from_json(what: &str, text: &str) -> Result<Self, CorralError> {
        let core: Self::Core = via_json(Self::WHAT, &parse_json(what, text)?)?;
        Self::from_core(&core)
    }
}

/// Converts between two types of one JSON form; `null` members of the top-level object are left
/// out (the target's default). A failure is `CONFIG_INVALID` naming the field (`WHAT.path`).
pub(crate) fn via_json<T: DeserializeOwned>(
    what: &str,
    from: &impl Serialize,
) -> Result<T, CorralError> {
    let invalid = |field: String, e: &dyn std::fmt::Display| {
        CorralError::with_field(
            ErrorKind::ConfigInvalid,
            format!("{field}: {e}"),
            Some(field),
        )
    };
    let mut value = serde_json::to_value(from).map_err(|e| invalid(what.to_owned(), &e))?;
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    serde_path_to_error::deserialize(value).map_err(|e| match e.path().to_string() {
        p if p == "." => invalid(what.to_owned(), e.inner()),
        p => invalid(format!("{what}.{p}"), e.inner()),
    })
}

/// The canonical JSON text of a core value (its serde form).
pub(crate) fn json_of(core: impl Serialize) -> String {
    serde_json::to_string(&core).unwrap_or_default()
}

/// Parses a JSON text argument.
pub(crate) fn parse_json(what: &str, text: &str) -> Result<JsonValue, CorralError> {
    serde_json::from_str(text).map_err(|e| CorralError::bad_json(what, &e))
}

pub use core::{
    Command, CorralOptions, Limits, LogMessage, Mount, NetworkPolicy, PruneReport, Transport,
};

/// Options of a `Corral`.
#[uniffi::remote(Record)]
pub struct CorralOptions {
    /// `local` (bubblewrap, the default), `unsandboxed` or `e2b`.
    #[uniffi(default = None)]
    pub provider: Option<String>,
    /// corral's home (state, caches). Default: `$CORRAL_HOME`, else `<data dir>/corral`.
    #[uniffi(default = None)]
    pub home: Option<PathBuf>,
    /// The API key of a remote provider (`e2b`). Default: `$E2B_API_KEY`.
    #[uniffi(default = None)]
    pub api_key: Option<String>,
}

/// Network access of a sandbox.
#[uniffi::remote(Enum)]
pub enum NetworkPolicy {
    /// The host's network (the default).
    All,
    /// An empty network namespace: not even the host's loopback.
    None,
}

/// Resource limits of a sandbox; `null` means unlimited.
#[uniffi::remote(Record)]
pub struct Limits {
    /// Memory limit in MiB for all processes of the sandbox together.
    #[uniffi(default = None)]
    pub memory_mb: Option<u64>,
    /// Maximum number of processes (and threads).
    #[uniffi(default = None)]
    pub max_processes: Option<u64>,
    /// Size limit in MiB of the sandbox's writable layer (enforced, or `SANDBOX_FAILED`).
    #[uniffi(default = None)]
    pub disk_mb: Option<u64>,
}

/// A host directory made visible inside the sandbox.
#[uniffi::remote(Record)]
pub struct Mount {
    /// Absolute host path.
    pub host: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: PathBuf,
    /// Read-only (the default) or read-write.
    #[uniffi(default = true)]
    pub read_only: bool,
}

/// How corral reaches a server.
#[uniffi::remote(Enum)]
pub enum Transport {
    /// A command started inside a sandbox, spoken to over its stdio.
    Stdio {
        /// Program and arguments.
        argv: Vec<String>,
    },
    /// A remote server over Streamable HTTP.
    Http {
        /// The endpoint, e.g. `https://example.com/mcp`.
        url: String,
        /// Extra HTTP headers (for example `Authorization`).
        headers: StringMap,
    },
}

/// Everything corral needs to run one MCP server. Build one directly, or with
/// `serverConfigFromCommand` / `serverConfigFromUrl` / `serverConfigFromJson`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServerConfig {
    /// The server's name (1-64 letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Command or URL.
    pub transport: Transport,
    /// Environment of the server (the only way secrets reach it).
    #[uniffi(default)]
    pub env: StringMap,
    /// Shell commands run in order inside the sandbox before the first start (once per list).
    #[uniffi(default)]
    pub install_commands: Vec<String>,
    /// Working directory inside the sandbox (default: the server's home).
    #[uniffi(default = None)]
    pub cwd: Option<String>,
    /// Free text shown to users.
    #[uniffi(default = None)]
    pub description: Option<String>,
    /// Idle time after which a warm server is stopped (`null`: 10 minutes).
    #[uniffi(default = None)]
    pub idle_timeout: Option<Duration>,
    /// Timeout of one call, extended while progress arrives (`null`: 60 seconds).
    #[uniffi(default = None)]
    pub call_timeout: Option<Duration>,
    /// Network access (`null`: all).
    #[uniffi(default = None)]
    pub network: Option<NetworkPolicy>,
    /// Extra host directories visible inside the sandbox.
    #[uniffi(default)]
    pub mounts: Vec<Mount>,
    /// Memory, process and disk limits (`null`: none).
    #[uniffi(default = None)]
    pub limits: Option<Limits>,
    /// Start the sandbox from this template (`Corral.buildTemplate`); the server's own install
    /// commands run on top of it.
    #[uniffi(default = None)]
    pub template: Option<String>,
    /// Files written into the sandbox before the server starts: absolute path → text.
    #[uniffi(default)]
    pub files: StringMap,
    /// If set, only these tools are offered.
    #[uniffi(default = None)]
    pub allow_tools: Option<Vec<String>>,
    /// These tools are never offered (deny wins over allow).
    #[uniffi(default)]
    pub deny_tools: Vec<String>,
    /// Free labels for grouping servers.
    #[uniffi(default)]
    pub tags: Vec<String>,
}

impl From<ServerConfig> for core::ServerConfig {
    fn from(c: ServerConfig) -> Self {
        // Built from the core's constructor: it is non-exhaustive, and its defaults are its own.
        let mut config = Self::argv(c.name, Vec::<String>::new());
        config.transport = c.transport;
        config.env = c.env;
        config.install_commands = c.install_commands;
        config.cwd = c.cwd;
        config.description = c.description;
        config.idle_timeout = c.idle_timeout.unwrap_or(config.idle_timeout);
        config.call_timeout = c.call_timeout.unwrap_or(config.call_timeout);
        config.network = c.network.unwrap_or_default();
        config.mounts = c.mounts;
        config.limits = c.limits.unwrap_or_default();
        config.tools = core::ToolFilter {
            allow: c.allow_tools,
            deny: c.deny_tools,
        };
        config.template = c.template;
        config.files = c.files;
        config.tags = c.tags;
        config
    }
}

impl From<core::ServerConfig> for ServerConfig {
    fn from(c: core::ServerConfig) -> Self {
        Self {
            name: c.name,
            transport: c.transport,
            env: c.env,
            install_commands: c.install_commands,
            cwd: c.cwd,
            description: c.description,
            idle_timeout: Some(c.idle_timeout),
            call_timeout: Some(c.call_timeout),
            network: Some(c.network),
            mounts: c.mounts,
            limits: Some(c.limits),
            template: c.template,
            files: c.files,
            allow_tools: c.tools.allow,
            deny_tools: c.tools.deny,
            tags: c.tags,
        }
    }
}

/// What a sandbox made with `Corral.sandbox` is made of. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct SandboxConfig {
    /// A label for its id and logs (default `sandbox`).
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Environment of every process in it.
    #[uniffi(default)]
    #[serde(default)]
    pub env: StringMap,
    /// Network access (`null`: all).
    #[uniffi(default = None)]
    pub network: Option<NetworkPolicy>,
    /// Extra host directories.
    #[uniffi(default)]
    #[serde(default)]
    pub mounts: Vec<Mount>,
    /// Memory, process and disk limits.
    #[uniffi(default = None)]
    pub limits: Option<Limits>,
    /// Start from this template (`Corral.buildTemplate`): its layer is mounted, not copied.
    #[uniffi(default = None)]
    pub template: Option<String>,
}

/// Converted through the core's canonical form: the core's parser validates it and fills the
/// defaults.
impl JsonForm for SandboxConfig {
    type Core = core::SandboxConfig;
    const WHAT: &'static str = "sandbox";
}

same_as_core! {
    /// A template built with `Corral.buildTemplate`: a named layer made once from install
    /// commands, which servers and sandboxes start from (`template`).
    #[derive(Eq)]
    pub struct TemplateInfo = core::TemplateInfo {
        /// Its name.
        name: String,
        /// Content id (hash of the base's id and the install commands).
        id: String,
        /// The template it was built on, if any.
        base: Option<String>,
        /// The commands it was built from.
        install_commands: Vec<String>,
        /// Size of its layer on disk, in bytes.
        size_bytes: u64,
    }
}

/// What `Corral.prune` removed.
#[uniffi::remote(Record)]
pub struct PruneReport {
    /// Paths removed.
    pub removed: Vec<PathBuf>,
    /// Bytes freed.
    pub freed_bytes: u64,
}

same_as_core! {
    /// A tool a server offers. The schemas and annotations are JSON text.
    #[derive(Eq)]
    pub struct Tool = core::Tool {
        /// Its name, unique within its server.
        name: String,
        /// Human-readable title, if the server gives one.
        title: Option<String>,
        /// What it does.
        description: Option<String>,
        /// JSON Schema of its arguments (JSON text of an object schema).
        input_schema: JsonValue,
        /// JSON Schema of its structured content, if it declares one (JSON text).
        output_schema: Option<JsonValue>,
        /// Hints such as `readOnlyHint`, as the server sent them (JSON text).
        annotations: Option<JsonValue>,
    }
}

#[uniffi::export]
impl Tool {
    /// The OpenAI function-tool form, JSON text:
    /// `{"type": "function", "function": {"name", "description", "parameters"}}`.
    pub fn to_openai(&self) -> String {
        core::Tool::from(self.clone()).to_openai().to_string()
    }

    /// The Anthropic Messages API tool form, JSON text: `{"name", "description", "input_schema"}`.
    pub fn to_anthropic(&self) -> String {
        core::Tool::from(self.clone()).to_anthropic().to_string()
    }

    /// Checks arguments (JSON text) against the input schema's top level; `INVALID_ARGUMENT`
    /// says what the tool expects.
    pub fn check_arguments(&self, arguments: String) -> Result<(), CorralError> {
        let arguments = parse_json("arguments", &arguments)?;
        Ok(core::Tool::from(self.clone()).check_arguments(&arguments)?)
    }

    /// `name: type (required), ...` of the input schema, for messages and help.
    pub fn describe_parameters(&self) -> String {
        core::Tool::from(self.clone()).describe_parameters()
    }
}

same_as_core! {
    /// One item of a tool result, prompt message or resource.
    #[derive(Eq)]
    pub enum Content = core::Content {
        /// Text.
        Text { text: String },
        /// An image, base64-encoded.
        Image { data: String, mime_type: String },
        /// Audio, base64-encoded.
        Audio { data: String, mime_type: String },
        /// An embedded resource, as sent (JSON text with `uri`, `mimeType`, `text` or `blob`).
        Resource { resource: JsonValue },
        /// A link to a resource the client may read.
        ResourceLink {
            uri: String,
            name: String,
            mime_type: Option<String>,
            description: Option<String>,
        },
    }
}

#[uniffi::export]
impl Content {
    /// The text of a text item (or of an embedded text resource), else `null`.
    pub fn as_text(&self) -> Option<String> {
        core::Content::from(self.clone())
            .as_text()
            .map(str::to_owned)
    }
}

same_as_core! {
    /// The result of a tool call. A tool that runs and reports failure is a result with
    /// `is_error = true`, not an exception.
    #[derive(Eq)]
    pub struct ToolResult = core::ToolResult {
        /// The content items.
        content: Vec<Content> => all,
        /// Structured output as JSON text (matches the tool's output schema when it declares one).
        structured_content: Option<JsonValue>,
        /// Whether the tool reported failure.
        is_error: bool,
    }
}

#[uniffi::export]
impl ToolResult {
    /// All text items joined with newlines.
    pub fn text(&self) -> String {
        core::ToolResult::from(self.clone()).text()
    }
}

/// `to_json()`, the core type's canonical camelCase JSON form, on local records: `"doc":
/// Record = core::Type, …;`.
macro_rules! to_json {
    ($($doc:literal: $($name:ident = $core:path),+;)*) => {$($(
        #[uniffi::export]
        impl $name {
            #[doc = $doc]
            pub fn to_json(&self) -> String {
                json_of(<$core>::from(self.clone()))
            }
        }
    )+)*};
}

to_json! {
    " This config in the canonical camelCase JSON form (what `serverConfigFromJson` reads back).":
        ServerConfig = core::ServerConfig;
    " The canonical camelCase JSON form (`name`, `inputSchema`, …), text.": Tool = core::Tool;
    " The MCP JSON form (`content`, `structuredContent`, `isError`) as text.":
        ToolResult = core::ToolResult;
    " The canonical camelCase JSON form (`exitCode`, `signal`?, `stdout`, `stderr` as text).":
        ExecOutput = core::ExecOutput;
    " The canonical camelCase JSON form, text.": TemplateInfo = core::TemplateInfo,
        Resource = core::Resource, ResourceContents = core::ResourceContents,
        Prompt = core::Prompt, PromptResult = core::PromptResult, Progress = core::Progress;
}

same_as_core! {
    /// A resource a server offers.
    #[derive(Eq)]
    pub struct Resource = core::Resource {
        uri: String,
        name: String,
        description: Option<String>,
        mime_type: Option<String>,
    }
}

same_as_core! {
    /// One piece of a read resource: `text`, or base64 `blob`.
    #[derive(Eq)]
    pub struct ResourceContents = core::ResourceContents {
        uri: String,
        mime_type: Option<String>,
        text: Option<String>,
        blob: Option<String>,
    }
}

same_as_core! {
    /// A prompt template a server offers.
    #[derive(Eq)]
    pub struct Prompt = core::Prompt {
        name: String,
        description: Option<String>,
        /// Its arguments, each JSON text of `{"name", "description", "required"}`.
        arguments: Vec<JsonValue>,
    }
}

same_as_core! {
    /// One message of a rendered prompt.
    #[derive(Eq)]
    pub struct PromptMessage = core::PromptMessage {
        /// `user` or `assistant`.
        role: String,
        content: Content,
    }
}

same_as_core! {
    /// A rendered prompt.
    #[derive(Eq)]
    pub struct PromptResult = core::PromptResult {
        description: Option<String>,
        messages: Vec<PromptMessage> => all,
    }
}

same_as_core! {
    /// A progress report of a running call.
    pub struct Progress = core::Progress {
        /// Progress so far (increases).
        progress: f64,
        /// The total, if known.
        total: Option<f64>,
        message: Option<String>,
    }
}

/// A log message a server sent.
#[uniffi::remote(Record)]
pub struct LogMessage {
    /// The server it came from.
    pub server: String,
    /// `debug`, `info`, `warning`, `error`, ...
    pub level: String,
    pub logger: Option<String>,
    /// The data, JSON text (often a JSON string).
    pub data: JsonValue,
}

/// What happens while a server starts, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Enum)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
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
        exit_code: Option<i32>,
        signal: Option<i32>,
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

/// Converted through the core's canonical form, but for `InstallFinished`'s `status`
/// (`{code, signal}` in the core, `exitCode` and `signal` here).
impl StartEvent {
    /// `None` for kinds of events this binding does not know yet.
    pub(crate) fn from_core(e: core::StartEvent) -> Option<Self> {
        let mut v = serde_json::to_value(e).ok()?;
        if let Some(status) = v.as_object_mut().and_then(|o| o.remove("status")) {
            v["exitCode"] = status["code"].clone();
            v["signal"] = status["signal"].clone();
        }
        serde_json::from_value(v).ok()
    }
}

#[uniffi::export]
impl StartEvent {
    /// The canonical camelCase JSON form (tagged by `type`; `status` `{code, signal}`), text.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut()
            && let (Some(code), Some(signal)) = (o.remove("exitCode"), o.remove("signal"))
        {
            o.insert(
                "status".into(),
                serde_json::json!({"code": code, "signal": signal}),
            );
        }
        serde_json::from_value::<core::StartEvent>(v).map_or_else(|_| String::new(), json_of)
    }
}

/// Options of one call. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CallOptions {
    /// Overrides the server's per-call timeout (extended while progress arrives).
    #[uniffi(default = None)]
    pub timeout: Option<Duration>,
    /// Hard cap on the call however much progress arrives (default: 10 × the timeout).
    #[uniffi(default = None)]
    pub max_total: Option<Duration>,
}

/// One command for `Sandbox.execCommand`.
#[uniffi::remote(Record)]
#[uniffi(name = "ExecCommand")]
pub struct Command {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment for this command only.
    #[uniffi(default)]
    pub env: StringMap,
    /// Working directory inside the sandbox (default: its home).
    #[uniffi(default = None)]
    pub cwd: Option<String>,
    /// Overrides the sandbox's network policy for this command.
    #[uniffi(default = None)]
    pub network: Option<NetworkPolicy>,
    /// Bytes written to its stdin.
    #[uniffi(default = None)]
    pub stdin: Option<Vec<u8>>,
    /// Kill it after this long (a `TIMEOUT` error).
    #[uniffi(default = None)]
    pub timeout: Option<Duration>,
}

/// The result of a command run in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExecOutput {
    /// The exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

impl From<core::ExecOutput> for ExecOutput {
    fn from(o: core::ExecOutput) -> Self {
        let (exit_code, signal, stdout, stderr) =
            (o.status.code, o.status.signal, o.stdout, o.stderr);
        Self {
            exit_code,
            signal,
            stdout,
            stderr,
        }
    }
}

impl From<ExecOutput> for core::ExecOutput {
    fn from(o: ExecOutput) -> Self {
        let status = core::ExitStatus {
            code: o.exit_code,
            signal: o.signal,
        };
        Self {
            status,
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}

#[uniffi::export]
impl ExecOutput {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

// Free functions: config builders and parsers.

/// A stdio server from a command line, split like a POSIX shell would (`npx -y pkg /data`).
#[uniffi::export]
pub fn server_config_from_command(
    name: String,
    command: String,
) -> Result<ServerConfig, CorralError> {
    Ok(core::ServerConfig::command(name, &command)?.into())
}

/// A remote Streamable-HTTP server.
#[uniffi::export(default(headers = None))]
pub fn server_config_from_url(
    name: String,
    url: String,
    headers: Option<StringMap>,
) -> Result<ServerConfig, CorralError> {
    let mut config = core::ServerConfig::url(name, url);
    if let core::Transport::Http { headers: h, .. } = &mut config.transport {
        h.extend(headers.unwrap_or_default());
    }
    config.validate()?;
    Ok(config.into())
}

/// One server from JSON text in any accepted form (corral's own, the e2b dict, an
/// `mcpServers` entry). Errors name the offending field.
#[uniffi::export]
pub fn server_config_from_json(name: String, config: String) -> Result<ServerConfig, CorralError> {
    let value = parse_json("config", &config)?;
    Ok(core::ServerConfig::from_value(&name, &value)?.into())
}

/// Every server of an `mcpServers` / corral document (JSON or TOML text), without adding them.
#[uniffi::export]
pub fn parse_mcp_servers(document: String) -> Result<Vec<ServerConfig>, CorralError> {
    Ok(all(core::config::parse_servers_document(&document)?))
}

/// A sandbox config from JSON text `{"name", "env", "network", "mounts", "limits", "template"}`.
#[uniffi::export]
pub fn sandbox_config_from_json(config: String) -> Result<SandboxConfig, CorralError> {
    SandboxConfig::from_json("config", &config)
}

/// Parses a mount spec `HOST[:TARGET][:ro|:rw]` (read-only unless `:rw`).
#[uniffi::export]
pub fn parse_mount(spec: String) -> Result<Mount, CorralError> {
    core::Mount::parse(&spec)
        .map_err(|e| CorralError::new(ErrorKind::ConfigInvalid, format!("mount `{spec}`: {e}")))
}

/// corral's default home: `$CORRAL_HOME`, else the user's data dir + `corral`.
#[uniffi::export]
pub fn default_home() -> String {
    core::default_home().display().to_string()
}

/// This library's version.
#[uniffi::export]
pub fn corral_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_config_round_trips_through_the_core() {
        let json = serde_json::json!({"command": ["srv", "a b"], "network": "none",
            "mounts": ["/data:/mnt:rw"], "limits": {"max_processes": 8, "disk_mb": 32}, "allow_tools": ["echo"],
            "deny_tools": ["x"], "call_timeout_seconds": 2.5, "cwd": "/tmp", "env": {"A": "1"},
            "install_commands": ["true"], "description": "d", "timeout_minutes": 2, "tags": ["t"],
            "template": "tools", "files": {"/app/s.py": "print()"}});
        let core = core::ServerConfig::from_value("fx", &json).expect("valid");
        let ffi = ServerConfig::from(core.clone());
        assert_eq!(core::ServerConfig::from(ffi.clone()), core);
        let back = core::ServerConfig::from_json("fx", &ffi.to_json()).expect("valid");
        assert_eq!(back, core);
        // Unset fields are the core's defaults.
        let bare = ServerConfig {
            idle_timeout: None,
            call_timeout: None,
            network: None,
            limits: None,
            ..ServerConfig::from(core::ServerConfig::argv("fx", ["srv"]))
        };
        assert_eq!(
            core::ServerConfig::from(bare),
            core::ServerConfig::argv("fx", ["srv"])
        );
    }

    #[test]
    fn records_give_the_cores_json() {
        let o = ExecOutput {
            exit_code: Some(0),
            signal: None,
            stdout: b"hi\n".to_vec(),
            stderr: vec![],
        };
        let json: JsonValue = serde_json::from_str(&o.to_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"exitCode": 0, "stdout": "hi\n", "stderr": ""})
        );
        let p = Progress {
            progress: 1.0,
            total: None,
            message: None,
        };
        assert_eq!(p.to_json(), r#"{"progress":1.0}"#);
        let t = Tool {
            name: "add".into(),
            title: None,
            description: Some("Adds".into()),
            input_schema: serde_json::json!({"type": "object"}),
            output_schema: None,
            annotations: None,
        };
        let openai: JsonValue = serde_json::from_str(&t.to_openai()).expect("json");
        assert_eq!(
            openai["function"]["parameters"]["properties"],
            serde_json::json!({})
        );
        let r = ToolResult {
            content: vec![
                Content::Text { text: "a".into() },
                Content::Text { text: "b".into() },
            ],
            structured_content: Some(serde_json::json!({"sum": 5})),
            is_error: false,
        };
        assert_eq!(r.text(), "a\nb");
        let v: JsonValue = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(v["structuredContent"]["sum"], 5);
    }

    #[test]
    fn start_events_cross_in_the_cores_form() {
        let status = core::ExitStatus {
            code: None,
            signal: Some(9),
        };
        let (server, output) = ("fx".to_owned(), "out".to_owned());
        let e = core::StartEvent::InstallFinished {
            server,
            index: 2,
            status,
            output,
        };
        let ffi = StartEvent::from_core(e.clone()).expect("known");
        assert!(matches!(
            ffi,
            StartEvent::InstallFinished {
                index: 2,
                exit_code: None,
                signal: Some(9),
                ..
            }
        ));
        assert_eq!(ffi.to_json(), json_of(e));
        let ready = StartEvent::from_core(core::StartEvent::ServerReady {
            server: "fx".into(),
            protocol_version: "2025-06-18".into(),
        });
        let json = ready.map(|r| r.to_json()).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"type":"serverReady","server":"fx","protocolVersion":"2025-06-18"}"#
        );
    }

    #[test]
    fn sandbox_config_keeps_template_and_disk() {
        let c =
            sandbox_config_from_json(r#"{"template": "tools", "limits": {"disk_mb": 16}}"#.into())
                .expect("valid");
        let core = c.to_core().expect("valid");
        assert_eq!(
            (core.template.as_deref(), core.limits.disk_mb),
            (Some("tools"), Some(16))
        );
        // Unset fields are the core's defaults; the core's parser validates.
        let c = SandboxConfig::default().to_core().expect("valid");
        assert_eq!(
            (c.name.as_str(), c.network, c.limits),
            ("sandbox", NetworkPolicy::All, Limits::default())
        );
        let bad = SandboxConfig {
            env: [("1BAD".into(), "v".into())].into(),
            ..SandboxConfig::default()
        };
        let e = bad.to_core().expect_err("invalid");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    }
}
