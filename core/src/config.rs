//! Server configuration: the typed [`ServerConfig`], and parsing of the three forms users write —
//! corral's own JSON/TOML form, the e2b-mcp dict form, and the `{"mcpServers": {...}}` documents
//! of Claude Desktop, Cursor and Claude Code.
//!
//! One lenient-but-checked parser handles all three: every known key of any form is accepted,
//! keys that other MCP clients add for their own use (`disabled`, `autoApprove`, ...) are
//! ignored, and anything else is an error that names the offending field, e.g.
//! `servers.fs.env.1BAD: not a valid variable name`.

use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Default idle timeout after which a warm server is stopped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Default timeout of one tool call (extended while the server reports progress).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Network access of a sandboxed server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    /// The host's network (the default, as E2B and Docker do).
    #[default]
    All,
    /// An empty network namespace: not even the host's loopback.
    None,
}

/// Resource limits of a sandbox. `None` means unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Memory limit in MiB for all processes of the sandbox together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Maximum number of processes (and threads) in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_processes: Option<u64>,
    /// Size limit in MiB of the sandbox's writable layer (enforced, or `SANDBOX_FAILED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_mb: Option<u64>,
}

/// A host directory made visible inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Absolute host path.
    pub host: PathBuf,
    /// Absolute path inside the sandbox (defaults to the host path).
    pub target: PathBuf,
    /// Read-only (the default) or read-write.
    pub read_only: bool,
}

impl Mount {
    /// Parses `HOST[:TARGET][:ro|:rw]`.
    pub fn parse(spec: &str) -> std::result::Result<Self, String> {
        let mut parts: Vec<&str> = spec.split(':').collect();
        let mut read_only = true;
        if let Some(last) = parts.last()
            && (*last == "ro" || *last == "rw")
            && parts.len() > 1
        {
            read_only = *last == "ro";
            parts.pop();
        }
        let (host, target) = match parts.as_slice() {
            [host] => (*host, *host),
            [host, target] => (*host, *target),
            _ => return Err("expected HOST[:TARGET][:ro|:rw]".into()),
        };
        if !host.starts_with('/') || !target.starts_with('/') {
            return Err("mount paths must be absolute".into());
        }
        Ok(Self {
            host: host.into(),
            target: target.into(),
            read_only,
        })
    }
}

/// Which tools of a server are offered. Deny wins over allow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolFilter {
    /// If set, only these tools are offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// These tools are never offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl ToolFilter {
    /// Whether a tool of this name passes the filter.
    pub fn permits(&self, tool: &str) -> bool {
        if self.deny.iter().any(|d| d == tool) {
            return false;
        }
        self.allow
            .as_ref()
            .is_none_or(|allow| allow.iter().any(|a| a == tool))
    }
}

/// How corral reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        headers: BTreeMap<String, String>,
    },
}

/// Everything corral needs to run one MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerConfig {
    /// The server's name (unique within one [`Corral`](crate::Corral)).
    pub name: String,
    /// Command or URL.
    pub transport: Transport,
    /// Environment of the server (the only way secrets reach it).
    pub env: BTreeMap<String, String>,
    /// Shell commands run in order inside the sandbox before the first start; their success is
    /// remembered per server (keyed by their hash), so they run once, not at every start.
    pub install_commands: Vec<String>,
    /// Working directory inside the sandbox (default: the server's home).
    pub cwd: Option<String>,
    /// Free text shown to users.
    pub description: Option<String>,
    /// Idle time after which a warm server is stopped.
    pub idle_timeout: Duration,
    /// Timeout of one tool call; it is extended while progress notifications arrive.
    pub call_timeout: Duration,
    /// Network access.
    pub network: NetworkPolicy,
    /// Extra host directories visible inside the sandbox.
    pub mounts: Vec<Mount>,
    /// Memory and process limits.
    pub limits: Limits,
    /// Which tools are offered.
    pub tools: ToolFilter,
    /// Start the sandbox from this template (`corral template build NAME …`); the server's own
    /// install commands run on top of it.
    pub template: Option<String>,
    /// Files written into the sandbox before the server starts: absolute path → text.
    pub files: BTreeMap<String, String>,
}

impl ServerConfig {
    /// A stdio server from a command line, split like a POSIX shell would (`npx -y pkg /data`).
    pub fn command(name: impl Into<String>, command: &str) -> Result<Self> {
        let name = name.into();
        let argv = split_command(command).map_err(|m| Error::config(field(&name, "command"), m))?;
        let config = Self::with_transport(name, Transport::Stdio { argv });
        config.validate()?;
        Ok(config)
    }

    /// A stdio server from a program and its arguments (no splitting).
    pub fn argv(
        name: impl Into<String>,
        argv: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::with_transport(
            name.into(),
            Transport::Stdio {
                argv: argv.into_iter().map(Into::into).collect(),
            },
        )
    }

    /// A remote Streamable-HTTP server.
    pub fn url(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self::with_transport(
            name.into(),
            Transport::Http {
                url: url.into(),
                headers: BTreeMap::new(),
            },
        )
    }

    fn with_transport(name: String, transport: Transport) -> Self {
        Self {
            name,
            transport,
            env: BTreeMap::new(),
            install_commands: Vec::new(),
            cwd: None,
            description: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            network: NetworkPolicy::All,
            mounts: Vec::new(),
            limits: Limits::default(),
            tools: ToolFilter::default(),
            template: None,
            files: BTreeMap::new(),
        }
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Appends an install command.
    pub fn install(mut self, command: impl Into<String>) -> Self {
        self.install_commands.push(command.into());
        self
    }

    /// Sets the network policy.
    pub fn network(mut self, network: NetworkPolicy) -> Self {
        self.network = network;
        self
    }

    /// Sets the per-call timeout.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether the server runs in a sandbox (a command) rather than remotely (a URL).
    pub fn is_remote(&self) -> bool {
        matches!(self.transport, Transport::Http { .. })
    }

    /// Parses one server from any of the accepted forms (see the module docs).
    pub fn from_value(name: &str, value: &Value) -> Result<Self> {
        parse_server(name, value)
    }

    /// Parses one server from a JSON text in any of the accepted forms.
    pub fn from_json(name: &str, json: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::config(format!("servers.{name}"), format!("invalid JSON: {e}")))?;
        parse_server(name, &value)
    }

    /// This config in corral's own JSON form (what [`ServerConfig::from_value`] reads back).
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        match &self.transport {
            Transport::Stdio { argv } => {
                out.insert("command".into(), Value::from(argv.clone()));
            }
            Transport::Http { url, headers } => {
                out.insert("url".into(), url.clone().into());
                if !headers.is_empty() {
                    out.insert("headers".into(), serde_json::json!(headers));
                }
            }
        }
        if !self.env.is_empty() {
            out.insert("env".into(), serde_json::json!(self.env));
        }
        if !self.install_commands.is_empty() {
            out.insert(
                "install_commands".into(),
                Value::from(self.install_commands.clone()),
            );
        }
        if let Some(cwd) = &self.cwd {
            out.insert("cwd".into(), cwd.clone().into());
        }
        if let Some(d) = &self.description {
            out.insert("description".into(), d.clone().into());
        }
        out.insert(
            "timeout_minutes".into(),
            serde_json::json!(self.idle_timeout.as_secs_f64() / 60.0),
        );
        out.insert(
            "call_timeout_seconds".into(),
            serde_json::json!(self.call_timeout.as_secs_f64()),
        );
        out.insert("network".into(), serde_json::json!(self.network));
        if !self.mounts.is_empty() {
            let mounts: Vec<Value> = self
                .mounts
                .iter()
                .map(|m| {
                    let mode = if m.read_only { "ro" } else { "rw" };
                    format!("{}:{}:{mode}", m.host.display(), m.target.display()).into()
                })
                .collect();
            out.insert("mounts".into(), mounts.into());
        }
        if self.limits != Limits::default() {
            out.insert("limits".into(), serde_json::json!(self.limits));
        }
        if let Some(allow) = &self.tools.allow {
            out.insert("allow_tools".into(), Value::from(allow.clone()));
        }
        if !self.tools.deny.is_empty() {
            out.insert("deny_tools".into(), Value::from(self.tools.deny.clone()));
        }
        if let Some(t) = &self.template {
            out.insert("template".into(), t.clone().into());
        }
        if !self.files.is_empty() {
            out.insert("files".into(), serde_json::json!(self.files));
        }
        Value::Object(out)
    }

    /// Checks every field; the error names the first offending one.
    pub fn validate(&self) -> Result<()> {
        let name = &self.name;
        if !valid_server_name(name) {
            return Err(Error::config(
                format!("servers.{name}"),
                "a server name is 1-64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        match &self.transport {
            Transport::Stdio { argv } => {
                if argv.first().is_none_or(|p| p.is_empty()) {
                    return Err(Error::config(field(name, "command"), "must not be empty"));
                }
            }
            Transport::Http { url, headers } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::config(
                        field(name, "url"),
                        "must start with http:// or https://",
                    ));
                }
                for key in headers.keys() {
                    if key.is_empty() || !key.bytes().all(is_header_char) {
                        return Err(Error::config(
                            field(name, &format!("headers.{key}")),
                            "not a valid HTTP header name",
                        ));
                    }
                }
            }
        }
        for key in self.env.keys() {
            if !valid_env_name(key) {
                return Err(Error::config(
                    field(name, &format!("env.{key}")),
                    "not a valid variable name",
                ));
            }
        }
        for (i, cmd) in self.install_commands.iter().enumerate() {
            if cmd.trim().is_empty() {
                return Err(Error::config(
                    field(name, &format!("install_commands.{i}")),
                    "must not be empty",
                ));
            }
        }
        if self.call_timeout.is_zero() {
            return Err(Error::config(
                field(name, "call_timeout_seconds"),
                "must be positive",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(Error::config(
                field(name, "timeout_minutes"),
                "must be positive",
            ));
        }
        if self.limits.memory_mb == Some(0) {
            return Err(Error::config(
                field(name, "limits.memory_mb"),
                "must be positive",
            ));
        }
        if self.limits.max_processes == Some(0) {
            return Err(Error::config(
                field(name, "limits.max_processes"),
                "must be positive",
            ));
        }
        if self.limits.disk_mb.is_some_and(|mb| mb < 8) {
            return Err(Error::config(
                field(name, "limits.disk_mb"),
                "must be at least 8",
            ));
        }
        if let Some(t) = &self.template
            && !valid_server_name(t)
        {
            return Err(Error::config(
                field(name, "template"),
                "a template name is 1-64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        for path in self.files.keys() {
            if !crate::sandbox::machine::check_file_path(path) {
                return Err(Error::config(
                    field(name, &format!("files.{path}")),
                    "must be an absolute path without `..`",
                ));
            }
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.host.is_absolute() || !m.target.is_absolute() {
                return Err(Error::config(
                    field(name, &format!("mounts.{i}")),
                    "mount paths must be absolute",
                ));
            }
        }
        Ok(())
    }
}

/// Splits a command line like a POSIX shell would (quotes and backslashes; no expansion).
pub fn split_command(command: &str) -> std::result::Result<Vec<String>, String> {
    let argv = shlex::split(command).ok_or("unbalanced quotes")?;
    if argv.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(argv)
}

/// Parses a document holding several servers: `{"mcpServers": {...}}` (Claude Desktop, Cursor,
/// Claude Code), `{"servers": {...}}` (corral's own form and VS Code's), or a bare map of
/// name → server. Servers marked `"disabled": true` are skipped. The text may be JSON or TOML.
pub fn parse_servers_document(text: &str) -> Result<Vec<ServerConfig>> {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(json_err) => match toml::from_str::<toml::Value>(text) {
            Ok(t) => serde_json::to_value(t)
                .map_err(|e| Error::config("document", format!("invalid TOML: {e}")))?,
            Err(_) => {
                return Err(Error::config(
                    "document",
                    format!("neither valid JSON ({json_err}) nor TOML"),
                ));
            }
        },
    };
    parse_servers_value(&value)
}

/// Like [`parse_servers_document`], for an already parsed JSON value.
pub fn parse_servers_value(value: &Value) -> Result<Vec<ServerConfig>> {
    let obj = value
        .as_object()
        .ok_or_else(|| Error::config("document", "must be a JSON object"))?;
    let (key, servers) = if let Some(s) = obj.get("mcpServers") {
        ("mcpServers", s)
    } else if let Some(s) = obj.get("servers") {
        ("servers", s)
    } else {
        ("servers", value)
    };
    let servers = servers
        .as_object()
        .ok_or_else(|| Error::config(key, "must be an object of name → server"))?;
    let mut out = Vec::with_capacity(servers.len());
    for (name, server) in servers {
        if server.get("disabled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        out.push(parse_server(name, server)?);
    }
    Ok(out)
}

/// Keys other MCP clients put in their server entries for their own use; accepted and ignored.
const FOREIGN_KEYS: &[&str] = &[
    "disabled",
    "autoApprove",
    "alwaysAllow",
    "disabledTools",
    "envFile",
    "timeout",
    "trust",
    "includeTools",
    "excludeTools",
];

fn field(name: &str, key: &str) -> String {
    format!("servers.{name}.{key}")
}

fn parse_server(name: &str, value: &Value) -> Result<ServerConfig> {
    let path = |key: &str| field(name, key);
    let obj = value
        .as_object()
        .ok_or_else(|| Error::config(format!("servers.{name}"), "must be an object"))?;

    let string = |key: &str| -> Result<Option<String>> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::config(path(key), "must be a string")),
        }
    };
    let strings = |key: &str| -> Result<Vec<String>> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::config(path(&format!("{key}.{i}")), "must be a string")
                    })
                })
                .collect(),
            Some(_) => Err(Error::config(path(key), "must be a list of strings")),
        }
    };
    let string_map = |key: &str| -> Result<BTreeMap<String, String>> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(Error::config(
                                path(&format!("{key}.{k}")),
                                "must be a string",
                            ));
                        }
                    };
                    Ok((k.clone(), v))
                })
                .collect(),
            Some(_) => Err(Error::config(path(key), "must be an object of strings")),
        }
    };
    let number = |key: &str| -> Result<Option<f64>> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(n) if n.is_finite() && n > 0.0 => Ok(Some(n)),
                _ => Err(Error::config(path(key), "must be a positive number")),
            },
        }
    };

    const KNOWN: &[&str] = &[
        "name",
        "type",
        "command",
        "args",
        "url",
        "headers",
        "env",
        "install_commands",
        "cwd",
        "description",
        "timeout_minutes",
        "call_timeout_seconds",
        "network",
        "mounts",
        "limits",
        "allow_tools",
        "deny_tools",
        "template",
        "files",
    ];
    for key in obj.keys() {
        if !KNOWN.contains(&key.as_str()) && !FOREIGN_KEYS.contains(&key.as_str()) {
            return Err(Error::config(path(key), "unknown field"));
        }
    }

    let kind = string("type")?;
    let url = string("url")?;
    let transport = match (obj.get("command"), url) {
        (Some(_), Some(_)) => {
            return Err(Error::config(
                format!("servers.{name}"),
                "give either `command` or `url`, not both",
            ));
        }
        (None, None) => {
            return Err(Error::config(
                format!("servers.{name}"),
                "needs a `command` (local server) or a `url` (remote server)",
            ));
        }
        (Some(command), None) => {
            if let Some(k) = kind.as_deref()
                && k != "stdio"
            {
                return Err(Error::config(
                    path("type"),
                    format!("`{k}` does not go with `command` (use \"stdio\")"),
                ));
            }
            let mut argv = match command {
                Value::String(s) => {
                    split_command(s).map_err(|m| Error::config(path("command"), m))?
                }
                Value::Array(_) => strings("command")?,
                _ => return Err(Error::config(path("command"), "must be a string or a list")),
            };
            argv.extend(strings("args")?);
            Transport::Stdio { argv }
        }
        (None, Some(url)) => {
            match kind.as_deref() {
                None | Some("http" | "streamable-http" | "streamableHttp" | "streamable_http") => {}
                Some("sse") => {
                    return Err(Error::config(
                        path("type"),
                        "the legacy SSE transport is not supported; use the server's Streamable HTTP endpoint",
                    ));
                }
                Some(k) => {
                    return Err(Error::config(
                        path("type"),
                        format!("`{k}` does not go with `url` (use \"http\")"),
                    ));
                }
            }
            if obj.contains_key("args") {
                return Err(Error::config(path("args"), "only goes with `command`"));
            }
            Transport::Http {
                url,
                headers: string_map("headers")?,
            }
        }
    };
    if !matches!(transport, Transport::Http { .. }) && obj.contains_key("headers") {
        return Err(Error::config(path("headers"), "only goes with `url`"));
    }

    let network = match string("network")?.as_deref() {
        None | Some("all") => NetworkPolicy::All,
        Some("none") => NetworkPolicy::None,
        Some(_) => {
            return Err(Error::config(
                path("network"),
                "must be \"all\" or \"none\"",
            ));
        }
    };
    let mounts = strings("mounts")?
        .iter()
        .enumerate()
        .map(|(i, m)| Mount::parse(m).map_err(|e| Error::config(path(&format!("mounts.{i}")), e)))
        .collect::<Result<Vec<_>>>()?;
    let limits = match obj.get("limits") {
        None | Some(Value::Null) => Limits::default(),
        Some(Value::Object(m)) => {
            let mut limits = Limits::default();
            for (k, v) in m {
                let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    Error::config(path(&format!("limits.{k}")), "must be a positive integer")
                })?;
                match k.as_str() {
                    "memory_mb" => limits.memory_mb = Some(n),
                    "max_processes" => limits.max_processes = Some(n),
                    "disk_mb" => limits.disk_mb = Some(n),
                    _ => return Err(Error::config(path(&format!("limits.{k}")), "unknown field")),
                }
            }
            limits
        }
        Some(_) => return Err(Error::config(path("limits"), "must be an object")),
    };
    let allow = if obj.get("allow_tools").is_some_and(|v| !v.is_null()) {
        Some(strings("allow_tools")?)
    } else {
        None
    };

    let config = ServerConfig {
        name: name.to_owned(),
        transport,
        env: string_map("env")?,
        install_commands: strings("install_commands")?,
        cwd: string("cwd")?,
        description: string("description")?,
        idle_timeout: number("timeout_minutes")?
            .map(|m| Duration::from_secs_f64(m * 60.0))
            .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        call_timeout: number("call_timeout_seconds")?
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_CALL_TIMEOUT),
        network,
        mounts,
        limits,
        tools: ToolFilter {
            allow,
            deny: strings("deny_tools")?,
        },
        template: string("template")?,
        files: string_map("files")?,
    };
    config.validate()?;
    Ok(config)
}

fn valid_server_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name != "."
        && name != ".."
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_header_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    fn err(name: &str, v: Value) -> String {
        let e = ServerConfig::from_value(name, &v).expect_err("should fail");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        e.message().to_owned()
    }

    #[test]
    fn command_string_is_split_like_a_shell() {
        let c = ServerConfig::from_value(
            "fs",
            &json!({"command": "npx -y '@scope/pkg' \"/my data\"", "args": ["--x"]}),
        )
        .expect("valid");
        assert_eq!(
            c.transport,
            Transport::Stdio {
                argv: vec!["npx", "-y", "@scope/pkg", "/my data", "--x"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            }
        );
        assert_eq!(c.call_timeout, DEFAULT_CALL_TIMEOUT);
        assert_eq!(c.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    }

    #[test]
    fn seed_dict_form() {
        let c = ServerConfig::from_value(
            "time",
            &json!({"command": "mcp-server-time", "install_commands": ["pip install mcp-server-time"],
                    "env": {"TZ": "UTC"}, "description": "Time", "timeout_minutes": 2}),
        )
        .expect("valid");
        assert_eq!(c.install_commands.len(), 1);
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.description.as_deref(), Some("Time"));
        assert_eq!(c.env["TZ"], "UTC");
    }

    #[test]
    fn mcp_servers_document() {
        let doc = r#"{"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/d"], "env": {"A": "1"}},
            "remote": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}},
            "off": {"command": "x", "disabled": true}
        }}"#;
        let servers = parse_servers_document(doc).expect("valid");
        assert_eq!(servers.len(), 2);
        assert!(servers[1].is_remote());
    }

    #[test]
    fn toml_document() {
        let doc = "[servers.fx]\ncommand = \"srv --flag\"\nnetwork = \"none\"\nlimits = { memory_mb = 256 }\n";
        let servers = parse_servers_document(doc).expect("valid");
        assert_eq!(servers[0].network, NetworkPolicy::None);
        assert_eq!(servers[0].limits.memory_mb, Some(256));
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            err("fs", json!({"command": "x", "env": {"1BAD": "v"}})),
            "servers.fs.env.1BAD: not a valid variable name"
        );
        assert_eq!(
            err("fs", json!({"command": "x", "netwrk": "none"})),
            "servers.fs.netwrk: unknown field"
        );
        assert_eq!(
            err("fs", json!({"command": "x", "network": "some"})),
            "servers.fs.network: must be \"all\" or \"none\""
        );
        assert!(err("fs", json!({})).starts_with("servers.fs: needs"));
        assert_eq!(
            err("fs", json!({"command": "'unbalanced"})),
            "servers.fs.command: unbalanced quotes"
        );
        assert_eq!(
            err("fs", json!({"command": "x", "limits": {"memory_mb": 0}})),
            "servers.fs.limits.memory_mb: must be a positive integer"
        );
        assert!(err("bad name", json!({"command": "x"})).starts_with("servers.bad name:"));
        assert!(err("r", json!({"url": "ftp://x"})).starts_with("servers.r.url:"));
        assert!(err("r", json!({"url": "http://x", "type": "sse"})).starts_with("servers.r.type:"));
    }

    #[test]
    fn own_form_round_trips() {
        let c = ServerConfig::from_value(
            "fx",
            &json!({"command": ["srv", "a b"], "network": "none", "mounts": ["/data:/mnt:rw"],
                    "limits": {"max_processes": 8}, "allow_tools": ["echo"], "deny_tools": ["x"],
                    "call_timeout_seconds": 2.5, "cwd": "/tmp"}),
        )
        .expect("valid");
        let back = ServerConfig::from_value("fx", &c.to_value()).expect("valid");
        assert_eq!(c, back);
        assert!(c.tools.permits("echo") && !c.tools.permits("x") && !c.tools.permits("y"));
        assert!(!c.mounts[0].read_only);
    }
}
