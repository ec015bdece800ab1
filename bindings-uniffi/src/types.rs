//! Records and enums that cross the FFI, their conversion from and to the core's types, and the
//! free functions that build and parse them.
//!
//! Everything is typed except the values that are arbitrary JSON in MCP itself (tool arguments,
//! schemas, structured content, annotations, embedded resources, log data): UniFFI has no JSON
//! type, so those travel as JSON text (`String`).

use std::{collections::HashMap, path::PathBuf, time::Duration};

use corral_core as core;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::errors::{CorralError, ErrorKind};

/// A record whose canonical JSON form is its core type's: it converts to and from the core type
/// through that form (serde both ways), so the field mapping is serde's and written nowhere
/// else. Adding a field to the core type is one line in the record.
pub(crate) trait JsonForm: Serialize + DeserializeOwned {
    /// The core type of the same JSON form.
    type Core: Serialize + DeserializeOwned;
    /// The field prefix of its errors (`gateway` → `gateway.toolBudget`).
    const WHAT: &'static str;

    /// The core value (validated by the core's deserialization; `null` fields are the core's
    /// defaults).
    fn to_core(&self) -> Result<Self::Core, CorralError> {
        via_json(Self::WHAT, self)
    }

    /// The record of a core value.
    fn from_core(core: &Self::Core) -> Result<Self, CorralError> {
        via_json(Self::WHAT, core).map_err(|e| {
            CorralError::new(
                ErrorKind::Internal,
                format!("{} does not cross: {e}", Self::WHAT),
            )
        })
    }

    /// Parses JSON text in the core's form (validated by the core, aliases accepted).
    fn from_json(what: &str, text: &str) -> Result<Self, CorralError> {
        let value = parse_json(what, text)?;
        Self::from_core(&via_json::<Self::Core>(Self::WHAT, &value)?)
    }

    /// The canonical JSON text (the core type's serde form).
    fn canonical_json(&self) -> String {
        let text = self.to_core().map(|c| serde_json::to_string(&c));
        match text {
            Ok(Ok(text)) => text,
            _ => serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

/// `#[serde(default, with = "crate::types::json_text")]` on an `Option<String>` record field
/// that holds JSON text (the binding's convention for arbitrary JSON): in the JSON form it is
/// the JSON value itself, so the record still converts to and from the core type by serde.
#[allow(dead_code)] // for fields the integrator adds (GatewayOptions.mcp)
pub(crate) mod json_text {
    use serde::{
        Deserialize, Deserializer, Serialize, Serializer, de::Error as _, ser::Error as _,
    };
    use serde_json::Value;

    pub(crate) fn serialize<S: Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        let value: Option<Value> = text
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| S::Error::custom(format!("not valid JSON: {e}")))?;
        value.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let value = Option::<Value>::deserialize(d)?;
        value
            .map(|v| serde_json::to_string(&v).map_err(D::Error::custom))
            .transpose()
    }
}

/// Converts between two types of one JSON form; `null` members of the top-level object are left
/// out (the target's default). A failure is `CONFIG_INVALID` naming the field (`WHAT.path`).
pub(crate) fn via_json<T: DeserializeOwned>(
    what: &str,
    from: &impl Serialize,
) -> Result<T, CorralError> {
    let mut value = serde_json::to_value(from).map_err(|e| {
        CorralError::with_field(
            ErrorKind::ConfigInvalid,
            format!("{what}: {e}"),
            Some(what.to_owned()),
        )
    })?;
    if let Some(map) = value.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            what.to_owned()
        } else {
            format!("{what}.{path}")
        };
        CorralError::with_field(
            ErrorKind::ConfigInvalid,
            format!("{field}: {}", e.into_inner()),
            Some(field),
        )
    })
}

/// Options of a [`Corral`](crate::runner::Corral).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct CorralOptions {
    /// `local` (bubblewrap, the default) or `unsandboxed`.
    #[uniffi(default = None)]
    pub provider: Option<String>,
    /// corral's home (state, caches). Default: `$CORRAL_HOME`, else `<data dir>/corral`.
    #[uniffi(default = None)]
    pub home: Option<String>,
    /// The API key of a remote provider (`e2b`). Default: `$E2B_API_KEY`.
    #[uniffi(default = None)]
    pub api_key: Option<String>,
}

impl From<CorralOptions> for core::CorralOptions {
    fn from(o: CorralOptions) -> Self {
        Self {
            provider: o.provider,
            home: o.home.map(PathBuf::from),
            api_key: o.api_key,
        }
    }
}

// Mirrors of core types whose fields are all UniFFI types (`#[uniffi::remote]`): the core's
// own types cross the FFI, with no conversion code; a field added to the core fails to compile
// here until it is mirrored (one line).

pub use core::NetworkPolicy;

/// Network access of a sandbox.
#[uniffi::remote(Enum)]
pub enum NetworkPolicy {
    /// The host's network (the default).
    All,
    /// An empty network namespace: not even the host's loopback.
    None,
}

pub use core::Limits;

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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Mount {
    /// Absolute host path.
    pub host: String,
    /// Absolute path inside the sandbox.
    pub target: String,
    /// Read-only (the default) or read-write.
    #[uniffi(default = true)]
    pub read_only: bool,
}

impl From<Mount> for core::Mount {
    fn from(m: Mount) -> Self {
        Self {
            host: m.host.into(),
            target: m.target.into(),
            read_only: m.read_only,
        }
    }
}

impl From<core::Mount> for Mount {
    fn from(m: core::Mount) -> Self {
        Self {
            host: m.host.display().to_string(),
            target: m.target.display().to_string(),
            read_only: m.read_only,
        }
    }
}

/// How corral reaches a server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
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
        headers: HashMap<String, String>,
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
    pub env: HashMap<String, String>,
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
    pub files: HashMap<String, String>,
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

#[uniffi::export]
impl ServerConfig {
    /// This config in the canonical camelCase JSON form (what `serverConfigFromJson` reads back).
    pub fn to_json(&self) -> String {
        core::ServerConfig::from(self.clone())
            .to_value()
            .to_string()
    }
}

impl From<ServerConfig> for core::ServerConfig {
    fn from(c: ServerConfig) -> Self {
        let transport = match c.transport {
            Transport::Stdio { argv } => core::Transport::Stdio { argv },
            Transport::Http { url, headers } => core::Transport::Http {
                url,
                headers: headers.into_iter().collect(),
            },
        };
        let mut config = match &transport {
            core::Transport::Stdio { argv } => Self::argv(c.name, argv.clone()),
            core::Transport::Http { url, .. } => Self::url(c.name, url.clone()),
        };
        config.transport = transport;
        config.env = c.env.into_iter().collect();
        config.install_commands = c.install_commands;
        config.cwd = c.cwd;
        config.description = c.description;
        if let Some(t) = c.idle_timeout {
            config.idle_timeout = t;
        }
        if let Some(t) = c.call_timeout {
            config.call_timeout = t;
        }
        config.network = c.network.unwrap_or_default();
        config.mounts = c.mounts.into_iter().map(Into::into).collect();
        config.limits = c.limits.unwrap_or_default();
        config.tools = core::ToolFilter {
            allow: c.allow_tools,
            deny: c.deny_tools,
        };
        config.template = c.template;
        config.files = c.files.into_iter().collect();
        config.tags = c.tags;
        config
    }
}

impl From<core::ServerConfig> for ServerConfig {
    fn from(c: core::ServerConfig) -> Self {
        Self {
            name: c.name,
            transport: match c.transport {
                core::Transport::Stdio { argv } => Transport::Stdio { argv },
                core::Transport::Http { url, headers } => Transport::Http {
                    url,
                    headers: headers.into_iter().collect(),
                },
            },
            env: c.env.into_iter().collect(),
            install_commands: c.install_commands,
            cwd: c.cwd,
            description: c.description,
            idle_timeout: Some(c.idle_timeout),
            call_timeout: Some(c.call_timeout),
            network: Some(c.network),
            mounts: c.mounts.into_iter().map(Into::into).collect(),
            limits: Some(c.limits),
            template: c.template,
            files: c.files.into_iter().collect(),
            allow_tools: c.tools.allow,
            deny_tools: c.tools.deny,
            tags: c.tags,
        }
    }
}

/// What a sandbox made with `Corral.sandbox` is made of. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SandboxConfig {
    /// A label for its id and logs (default `sandbox`).
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Environment of every process in it.
    #[uniffi(default)]
    pub env: HashMap<String, String>,
    /// Network access (`null`: all).
    #[uniffi(default = None)]
    pub network: Option<NetworkPolicy>,
    /// Extra host directories.
    #[uniffi(default)]
    pub mounts: Vec<Mount>,
    /// Memory, process and disk limits.
    #[uniffi(default = None)]
    pub limits: Option<Limits>,
    /// Start from this template (`Corral.buildTemplate`): its layer is mounted, not copied.
    #[uniffi(default = None)]
    pub template: Option<String>,
}

impl From<SandboxConfig> for core::SandboxConfig {
    fn from(c: SandboxConfig) -> Self {
        Self {
            name: c.name.unwrap_or_else(|| "sandbox".into()),
            state_dir: None,
            env: c.env.into_iter().collect(),
            network: c.network.unwrap_or_default(),
            mounts: c.mounts.into_iter().map(Into::into).collect(),
            limits: c.limits.unwrap_or_default(),
            programs: Vec::new(),
            reuse_key: None,
            template: c.template,
            layer_dir: None,
        }
    }
}

impl From<core::SandboxConfig> for SandboxConfig {
    fn from(c: core::SandboxConfig) -> Self {
        Self {
            name: Some(c.name),
            env: c.env.into_iter().collect(),
            network: Some(c.network),
            mounts: c.mounts.into_iter().map(Into::into).collect(),
            limits: Some(c.limits),
            template: c.template,
        }
    }
}

/// A template built with `Corral.buildTemplate`: a named layer made once from install commands,
/// which servers and sandboxes start from (`template`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// Its name.
    pub name: String,
    /// Content id (hash of the base's id and the install commands).
    pub id: String,
    /// The template it was built on, if any.
    pub base: Option<String>,
    /// The commands it was built from.
    pub install_commands: Vec<String>,
    /// Size of its layer on disk, in bytes.
    pub size_bytes: u64,
}

impl JsonForm for TemplateInfo {
    type Core = core::TemplateInfo;
    const WHAT: &'static str = "template";
}

#[uniffi::export]
impl TemplateInfo {
    /// The canonical camelCase JSON form (the core's).
    pub fn to_json(&self) -> String {
        self.canonical_json()
    }
}

/// What `Corral.prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    /// Paths removed.
    pub removed: Vec<String>,
    /// Bytes freed.
    pub freed_bytes: u64,
}

/// A tool a server offers. The schemas and annotations are JSON text.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Tool {
    /// Its name, unique within its server.
    pub name: String,
    /// Human-readable title, if the server gives one.
    pub title: Option<String>,
    /// What it does.
    pub description: Option<String>,
    /// JSON Schema of its arguments (JSON text of an object schema).
    pub input_schema: String,
    /// JSON Schema of its structured content, if it declares one (JSON text).
    pub output_schema: Option<String>,
    /// Hints such as `readOnlyHint`, as the server sent them (JSON text).
    pub annotations: Option<String>,
}

#[uniffi::export]
impl Tool {
    /// The canonical camelCase JSON form (`name`, `inputSchema`, …), text.
    pub fn to_json(&self) -> String {
        to_json_text(&core::Tool::from(self.clone()))
    }

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

fn json_text(v: &Value) -> String {
    v.to_string()
}

/// The serde form of a core value, as JSON text.
fn to_json_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Parses JSON text that came back from the foreign side; text that is not JSON is kept as a
/// JSON string rather than lost.
fn json_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

impl From<core::Tool> for Tool {
    fn from(t: core::Tool) -> Self {
        Self {
            name: t.name,
            title: t.title,
            description: t.description,
            input_schema: json_text(&t.input_schema),
            output_schema: t.output_schema.as_ref().map(json_text),
            annotations: t.annotations.as_ref().map(json_text),
        }
    }
}

impl From<Tool> for core::Tool {
    fn from(t: Tool) -> Self {
        Self {
            name: t.name,
            title: t.title,
            description: t.description,
            input_schema: json_value(&t.input_schema),
            output_schema: t.output_schema.as_deref().map(json_value),
            annotations: t.annotations.as_deref().map(json_value),
        }
    }
}

/// One item of a tool result, prompt message or resource.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Content {
    /// Text.
    Text { text: String },
    /// An image, base64-encoded.
    Image { data: String, mime_type: String },
    /// Audio, base64-encoded.
    Audio { data: String, mime_type: String },
    /// An embedded resource, as sent (JSON text with `uri`, `mimeType`, `text` or `blob`).
    Resource { resource: String },
    /// A link to a resource the client may read.
    ResourceLink {
        uri: String,
        name: String,
        mime_type: Option<String>,
        description: Option<String>,
    },
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

impl From<core::Content> for Content {
    fn from(c: core::Content) -> Self {
        match c {
            core::Content::Text { text } => Self::Text { text },
            core::Content::Image { data, mime_type } => Self::Image { data, mime_type },
            core::Content::Audio { data, mime_type } => Self::Audio { data, mime_type },
            core::Content::Resource { resource } => Self::Resource {
                resource: json_text(&resource),
            },
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

impl From<Content> for core::Content {
    fn from(c: Content) -> Self {
        match c {
            Content::Text { text } => Self::Text { text },
            Content::Image { data, mime_type } => Self::Image { data, mime_type },
            Content::Audio { data, mime_type } => Self::Audio { data, mime_type },
            Content::Resource { resource } => Self::Resource {
                resource: json_value(&resource),
            },
            Content::ResourceLink {
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
/// `is_error = true`, not an exception.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ToolResult {
    /// The content items.
    pub content: Vec<Content>,
    /// Structured output as JSON text (matches the tool's output schema when it declares one).
    pub structured_content: Option<String>,
    /// Whether the tool reported failure.
    pub is_error: bool,
}

#[uniffi::export]
impl ToolResult {
    /// All text items joined with newlines.
    pub fn text(&self) -> String {
        core::ToolResult::from(self.clone()).text()
    }

    /// The MCP JSON form (`content`, `structuredContent`, `isError`) as text.
    pub fn to_json(&self) -> String {
        core::ToolResult::from(self.clone()).to_value().to_string()
    }
}

impl From<core::ToolResult> for ToolResult {
    fn from(r: core::ToolResult) -> Self {
        Self {
            content: r.content.into_iter().map(Into::into).collect(),
            structured_content: r.structured_content.as_ref().map(json_text),
            is_error: r.is_error,
        }
    }
}

impl From<ToolResult> for core::ToolResult {
    fn from(r: ToolResult) -> Self {
        Self {
            content: r.content.into_iter().map(Into::into).collect(),
            structured_content: r.structured_content.as_deref().map(json_value),
            is_error: r.is_error,
        }
    }
}

/// A resource a server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub uri: String,
    pub name: String,
    pub description: Option<String>,
    pub mime_type: Option<String>,
}

impl JsonForm for Resource {
    type Core = core::Resource;
    const WHAT: &'static str = "resource";
}

#[uniffi::export]
impl Resource {
    /// The canonical camelCase JSON form, text.
    pub fn to_json(&self) -> String {
        self.canonical_json()
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents {
    pub uri: String,
    pub mime_type: Option<String>,
    pub text: Option<String>,
    pub blob: Option<String>,
}

impl JsonForm for ResourceContents {
    type Core = core::ResourceContents;
    const WHAT: &'static str = "resourceContents";
}

#[uniffi::export]
impl ResourceContents {
    /// The canonical camelCase JSON form, text.
    pub fn to_json(&self) -> String {
        self.canonical_json()
    }
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Prompt {
    pub name: String,
    pub description: Option<String>,
    /// Its arguments, each JSON text of `{"name", "description", "required"}`.
    pub arguments: Vec<String>,
}

#[uniffi::export]
impl Prompt {
    /// The canonical camelCase JSON form, text.
    pub fn to_json(&self) -> String {
        to_json_text(&core::Prompt {
            name: self.name.clone(),
            description: self.description.clone(),
            arguments: self.arguments.iter().map(|a| json_value(a)).collect(),
        })
    }
}

impl From<core::Prompt> for Prompt {
    fn from(p: core::Prompt) -> Self {
        Self {
            name: p.name,
            description: p.description,
            arguments: p.arguments.iter().map(json_text).collect(),
        }
    }
}

/// One message of a rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PromptMessage {
    /// `user` or `assistant`.
    pub role: String,
    pub content: Content,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PromptResult {
    pub description: Option<String>,
    pub messages: Vec<PromptMessage>,
}

#[uniffi::export]
impl PromptResult {
    /// The canonical camelCase JSON form (`messages` of `{role, content}`), text.
    pub fn to_json(&self) -> String {
        to_json_text(&core::PromptResult {
            description: self.description.clone(),
            messages: self
                .messages
                .iter()
                .map(|m| core::PromptMessage {
                    role: m.role.clone(),
                    content: m.content.clone().into(),
                })
                .collect(),
        })
    }
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, uniffi::Record)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Progress so far (increases).
    pub progress: f64,
    /// The total, if known.
    pub total: Option<f64>,
    pub message: Option<String>,
}

impl JsonForm for Progress {
    type Core = core::Progress;
    const WHAT: &'static str = "progress";
}

#[uniffi::export]
impl Progress {
    /// The canonical camelCase JSON form, text.
    pub fn to_json(&self) -> String {
        self.canonical_json()
    }
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
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogMessage {
    /// The server it came from.
    pub server: String,
    /// `debug`, `info`, `warning`, `error`, ...
    pub level: String,
    pub logger: Option<String>,
    /// The data, JSON text (often a JSON string).
    pub data: String,
}

impl From<core::LogMessage> for LogMessage {
    fn from(m: core::LogMessage) -> Self {
        Self {
            server: m.server,
            level: m.level,
            logger: m.logger,
            data: json_text(&m.data),
        }
    }
}

/// What happens while a server starts, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
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

impl StartEvent {
    /// `None` for kinds of events this binding does not know yet.
    pub(crate) fn from_core(e: core::StartEvent) -> Option<Self> {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(match e {
            core::StartEvent::InstallStarted {
                server,
                index,
                total,
                command,
            } => Self::InstallStarted {
                server,
                index: count(index),
                total: count(total),
                command,
            },
            core::StartEvent::InstallFinished {
                server,
                index,
                status,
                output,
            } => Self::InstallFinished {
                server,
                index: count(index),
                exit_code: status.code,
                signal: status.signal,
                output,
            },
            core::StartEvent::ServerStarting { server } => Self::ServerStarting { server },
            core::StartEvent::ServerReady {
                server,
                protocol_version,
            } => Self::ServerReady {
                server,
                protocol_version,
            },
            _ => return None,
        })
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

/// One command for `SandboxHandle.execCommand`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ExecCommand {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment for this command only.
    #[uniffi(default)]
    pub env: HashMap<String, String>,
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

impl From<ExecCommand> for core::Command {
    fn from(c: ExecCommand) -> Self {
        Self {
            argv: c.argv,
            env: c.env.into_iter().collect(),
            cwd: c.cwd,
            network: c.network,
            stdin: c.stdin,
            timeout: c.timeout,
        }
    }
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

    /// The canonical camelCase JSON form (`exitCode`, `signal`?, `stdout`, `stderr` as text).
    pub fn to_json(&self) -> String {
        to_json_text(&core::ExecOutput {
            status: core::ExitStatus {
                code: self.exit_code,
                signal: self.signal,
            },
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
        })
    }
}

impl From<core::ExecOutput> for ExecOutput {
    fn from(o: core::ExecOutput) -> Self {
        Self {
            exit_code: o.status.code,
            signal: o.status.signal,
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}

/// Parses a JSON text argument.
pub(crate) fn parse_json(what: &str, text: &str) -> Result<Value, CorralError> {
    serde_json::from_str(text).map_err(|e| CorralError::bad_json(what, &e))
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
    }

    #[test]
    fn defaults_are_the_cores() {
        let c = ServerConfig {
            name: "fx".into(),
            transport: Transport::Stdio {
                argv: vec!["srv".into()],
            },
            env: HashMap::new(),
            install_commands: Vec::new(),
            cwd: None,
            description: None,
            idle_timeout: None,
            call_timeout: None,
            network: None,
            mounts: Vec::new(),
            limits: None,
            template: None,
            files: HashMap::new(),
            allow_tools: None,
            deny_tools: Vec::new(),
            tags: Vec::new(),
        };
        assert_eq!(
            core::ServerConfig::from(c),
            core::ServerConfig::argv("fx", ["srv"])
        );
    }

    #[test]
    fn templates_and_prune_reports_cross() {
        let core = core::TemplateInfo {
            name: "tools".into(),
            id: "abc".into(),
            base: None,
            install_commands: vec!["true".into()],
            size_bytes: 42,
        };
        let t = TemplateInfo::from_core(&core).expect("crosses");
        assert_eq!((t.size_bytes, t.base.as_deref()), (42, None));
        let json: Value = serde_json::from_str(&t.to_json()).expect("json");
        assert_eq!(json, serde_json::to_value(&core).expect("core json"));
        let report = core::PruneReport {
            removed: vec![PathBuf::from("/x/y")],
            freed_bytes: 9,
        };
        let r: PruneReport = via_json("prune", &report).expect("crosses");
        assert_eq!((r.removed, r.freed_bytes), (vec!["/x/y".to_owned()], 9));
    }

    #[test]
    fn json_text_fields_are_json_values_in_the_json_form() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Record {
            #[serde(default, with = "json_text")]
            mcp: Option<String>,
        }
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Core {
            mcp: Option<serde_json::Map<String, Value>>,
        }
        let r = Record {
            mcp: Some(r#"{"fetch":{}}"#.into()),
        };
        let core: Core = via_json("gateway", &r).expect("crosses");
        assert!(core.mcp.as_ref().is_some_and(|m| m.contains_key("fetch")));
        assert_eq!(via_json::<Record>("gateway", &core).expect("back"), r);
        let none: Core = via_json("gateway", &Record { mcp: None }).expect("crosses");
        assert_eq!(none.mcp, None);
        let bad = Record {
            mcp: Some("{nope".into()),
        };
        let e = via_json::<Core>("gateway", &bad).expect_err("not JSON");
        assert_eq!(e.code(), "CONFIG_INVALID");
    }

    #[test]
    fn records_give_the_cores_json() {
        let o = ExecOutput {
            exit_code: Some(0),
            signal: None,
            stdout: b"hi\n".to_vec(),
            stderr: Vec::new(),
        };
        let json: Value = serde_json::from_str(&o.to_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"exitCode": 0, "stdout": "hi\n", "stderr": ""})
        );
        let r = Resource {
            uri: "u".into(),
            name: "n".into(),
            description: None,
            mime_type: Some("text/plain".into()),
        };
        let json: Value = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"uri": "u", "name": "n", "mimeType": "text/plain"})
        );
        let p = Progress {
            progress: 1.0,
            total: None,
            message: None,
        };
        assert_eq!(p.to_json(), r#"{"progress":1.0}"#);
    }

    #[test]
    fn sandbox_config_keeps_template_and_disk() {
        let c =
            sandbox_config_from_json(r#"{"template": "tools", "limits": {"disk_mb": 16}}"#.into())
                .expect("valid");
        assert_eq!(c.template.as_deref(), Some("tools"));
        assert_eq!(c.limits.as_ref().and_then(|l| l.disk_mb), Some(16));
        let core = core::SandboxConfig::from(c);
        assert_eq!(core.template.as_deref(), Some("tools"));
        assert_eq!(core.limits.disk_mb, Some(16));
    }

    #[test]
    fn tool_exports_and_results() {
        let t = Tool {
            name: "add".into(),
            title: None,
            description: Some("Adds".into()),
            input_schema: r#"{"type":"object"}"#.into(),
            output_schema: None,
            annotations: None,
        };
        let openai: Value = serde_json::from_str(&t.to_openai()).expect("json");
        assert_eq!(
            openai["function"]["parameters"]["properties"],
            serde_json::json!({})
        );
        let r = ToolResult {
            content: vec![
                Content::Text { text: "a".into() },
                Content::Text { text: "b".into() },
            ],
            structured_content: Some(r#"{"sum":5}"#.into()),
            is_error: false,
        };
        assert_eq!(r.text(), "a\nb");
        let v: Value = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(v["structuredContent"]["sum"], 5);
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
    headers: Option<HashMap<String, String>>,
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
    Ok(core::config::parse_servers_document(&document)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// A sandbox config from JSON text `{"name", "env", "network", "mounts", "limits", "template"}`.
#[uniffi::export]
pub fn sandbox_config_from_json(config: String) -> Result<SandboxConfig, CorralError> {
    let value = parse_json("config", &config)?;
    Ok(core::SandboxConfig::from_value(&value)?.into())
}

/// Parses a mount spec `HOST[:TARGET][:ro|:rw]` (read-only unless `:rw`).
#[uniffi::export]
pub fn parse_mount(spec: String) -> Result<Mount, CorralError> {
    core::Mount::parse(&spec)
        .map(Into::into)
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
