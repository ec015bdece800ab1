//! Server configuration: the typed [`ServerConfig`], its one canonical serde form, and the
//! parser of the three forms users write — corral's own JSON/TOML form, the e2b-mcp dict form,
//! and the `{"mcpServers": {...}}` documents of Claude Desktop, Cursor and Claude Code.
//!
//! There is one parser: the `Deserialize` impl (through a private raw form and `TryFrom`).
//! It accepts every known key of any form, in its canonical camelCase spelling
//! (`installCommands`, `timeoutMinutes`) and in the snake_case spelling of corral's own files
//! and the e2b-mcp dict (`install_commands`, `timeout_minutes`); keys that other MCP clients
//! add for their own use (`disabled`, `autoApprove`, ...) are ignored, and anything else is an
//! error. [`ServerConfig::from_value`] runs the same parser and keeps the error's structure:
//! kind `CONFIG_INVALID` and [`Error::field`], the path of the offending field, e.g.
//! `servers.fs.env.1BAD`. Paths name keys as the input spelled them when the input has the
//! wrong type, and by their canonical name when a value is out of range. No input panics: numbers
//! are range-checked before they become durations.
//!
//! Serializing gives the canonical form (documented in [`crate::boundary`]); deserializing it
//! gives the same value back.

use std::{
    collections::BTreeMap,
    fmt,
    marker::PhantomData,
    path::{Path, PathBuf},
    time::Duration,
};

use schemars::JsonSchema;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, IgnoredAny, value::MapAccessDeserializer},
};
use serde_json::Value;

use crate::error::{Error, Result};

/// Default idle timeout after which a warm server is stopped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Default timeout of one tool call (extended while the server reports progress).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest timeout a config may give (one year). Longer values are rejected, so no
/// arithmetic on deadlines can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Network access of a sandboxed server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NetworkPolicy {
    /// The host's network (the default, as E2B and Docker do).
    #[default]
    All,
    /// An empty network namespace: not even the host's loopback.
    None,
}

/// Resource limits of a sandbox; an unset limit means unlimited. Canonical form
/// `{"memoryMb"?, "maxProcesses"?}`; `memory_mb`/`max_processes` are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Memory limit in MiB for all processes of the sandbox together.
    #[serde(default, alias = "memory_mb", skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Maximum number of processes (and threads) in the sandbox.
    #[serde(
        default,
        alias = "max_processes",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_processes: Option<u64>,
    /// Size limit in MiB of the sandbox's writable layer (enforced, or `SANDBOX_FAILED`).
    #[serde(default, alias = "disk_mb", skip_serializing_if = "Option::is_none")]
    pub disk_mb: Option<u64>,
}

impl Limits {
    fn check(&self) -> Result<()> {
        if self.memory_mb == Some(0) {
            return Err(Error::config("limits.memoryMb", "must be positive"));
        }
        if self.max_processes == Some(0) {
            return Err(Error::config("limits.maxProcesses", "must be positive"));
        }
        Ok(())
    }
}

/// A host directory made visible inside the sandbox. Canonical form: the spec string
/// `"HOST:TARGET:ro|rw"`; an object `{"host", "target"?, "readOnly"?}` is accepted too (and
/// written for paths that hold a `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
        let mount = Self {
            host: host.into(),
            target: target.into(),
            read_only,
        };
        mount.check()?;
        Ok(mount)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if !self.host.is_absolute() || !self.target.is_absolute() {
            return Err("mount paths must be absolute".into());
        }
        Ok(())
    }

    /// `HOST:TARGET:ro|rw`, or `None` when a path holds a `:` (or is not UTF-8).
    fn spec(&self) -> Option<String> {
        let host = self.host.to_str().filter(|p| !p.contains(':'))?;
        let target = self.target.to_str().filter(|p| !p.contains(':'))?;
        let mode = if self.read_only { "ro" } else { "rw" };
        Some(format!("{host}:{target}:{mode}"))
    }
}

/// A mount whose paths hold a `:`, in parts.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct MountParts<'a> {
    host: &'a PathBuf,
    target: &'a PathBuf,
    read_only: bool,
}

/// A host directory visible inside the sandbox: the spec `HOST:TARGET:ro|rw`, or its parts.
#[derive(JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "Mount")]
#[allow(dead_code)] // only its schema is used
enum MountForm {
    /// `HOST:TARGET:ro|rw`.
    Spec(String),
    /// The parts (written for paths that hold a `:`).
    Parts(MountParts<'static>),
}

crate::boundary::schema_as!(Mount = MountForm);

impl Serialize for Mount {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.spec() {
            Some(spec) => s.serialize_str(&spec),
            None => MountParts {
                host: &self.host,
                target: &self.target,
                read_only: self.read_only,
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Mount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Full {
            host: PathBuf,
            #[serde(default)]
            target: Option<PathBuf>,
            #[serde(default, alias = "read_only")]
            read_only: Option<bool>,
        }
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Mount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mount `HOST[:TARGET][:ro|:rw]` or {host, target, readOnly}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Mount, E> {
                Mount::parse(s).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Mount, A::Error> {
                let full = Full::deserialize(MapAccessDeserializer::new(map))?;
                let mount = Mount {
                    target: full.target.unwrap_or_else(|| full.host.clone()),
                    host: full.host,
                    read_only: full.read_only.unwrap_or(true),
                };
                mount.check().map_err(de::Error::custom)?;
                Ok(mount)
            }
        }
        d.deserialize_any(V)
    }
}

/// Which tools of a server are offered. Deny wins over allow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// How corral reaches the server. In the canonical form it is flattened into the server's
/// object: `command` (the argv) for stdio, `url` and `headers` for HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Everything corral needs to run one MCP server. Serde gives the canonical camelCase form
/// (see [`crate::boundary`]); `Deserialize` is the one validating parser of every accepted form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawServer")]
#[non_exhaustive]
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
    /// Idle time after which a warm server is stopped (millisecond precision in JSON).
    pub idle_timeout: Duration,
    /// Timeout of one tool call; it is extended while progress notifications arrive
    /// (millisecond precision in JSON).
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
    /// Free labels for grouping and selecting servers (corral itself does not interpret them).
    pub tags: Vec<String>,
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
            tags: Vec::new(),
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

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Whether the server runs in a sandbox (a command) rather than remotely (a URL).
    pub fn is_remote(&self) -> bool {
        matches!(self.transport, Transport::Http { .. })
    }

    /// The `cwd` and arguments of a stdio server that name existing host paths a sandbox does
    /// not see as they are: absolute paths (also as `--option=/path`) outside the system dirs
    /// and not under a mount at the same path — a Claude Desktop `filesystem` entry's
    /// directories, a VS Code or Gemini CLI entry's `cwd`, say. Each needs a mount
    /// ([`ServerConfig::mount_host_paths_in_args`]) for the server to reach it.
    pub fn host_paths_in_args(&self) -> Vec<PathBuf> {
        let Transport::Stdio { argv } = &self.transport else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = Vec::new();
        for arg in self.cwd.iter().chain(argv.iter().skip(1)) {
            let path = std::path::Path::new(arg.split_once('=').map_or(arg.as_str(), |(_, v)| v));
            let seen = crate::sandbox::local::is_system_path(path)
                || self
                    .mounts
                    .iter()
                    .any(|m| m.host == m.target && path.starts_with(&m.host));
            if path.is_absolute() && !seen && path.exists() && !paths.iter().any(|p| p == path) {
                paths.push(path.to_owned());
            }
        }
        paths
    }

    /// Mounts every path of [`ServerConfig::host_paths_in_args`] read-write at the same path
    /// (what the server could do with them unsandboxed, and no more); returns them.
    pub fn mount_host_paths_in_args(&mut self) -> Vec<PathBuf> {
        let paths = self.host_paths_in_args();
        self.mounts.extend(paths.iter().map(|p| Mount {
            host: p.clone(),
            target: p.clone(),
            read_only: false,
        }));
        paths
    }

    /// A `docker run` / `podman run` of one of Docker's MCP catalog images (`mcp/time`, as the
    /// official servers' READMEs give) becomes the catalog server it packages, installed in the
    /// sandbox: a sandbox reaches no container daemon. Its arguments, `-e K=V`, bind mounts (at
    /// their container paths), `--network none` and `-w` carry over; the description says what
    /// replaced what. A config with its own install or template, and a command that does not
    /// carry over, is left as it is (its start error says what to do).
    /// The Windows spellings of a command, in files written on Windows (a project's
    /// `.mcp.json` or `.vscode/mcp.json`): `cmd /c npx …` is `npx …`, and `npx.cmd` or
    /// `uvx.exe` (a well-known runtime, `docker`, `pip` or `bunx`) are `npx` and `uvx`.
    fn without_windows_wrappers(&mut self) {
        let Transport::Stdio { argv } = &mut self.transport else {
            return;
        };
        let is_cmd = |a: &str| a.eq_ignore_ascii_case("cmd") || a.eq_ignore_ascii_case("cmd.exe");
        if argv.len() > 2 && is_cmd(&argv[0]) && argv[1].eq_ignore_ascii_case("/c") {
            argv.drain(..2);
        }
        if let Some(first) = argv.first_mut()
            && let Some((program, ext)) = first.rsplit_once('.')
            && ["cmd", "exe"].iter().any(|e| ext.eq_ignore_ascii_case(e))
            && crate::sandbox::local::WELL_KNOWN_RUNTIMES
                .iter()
                .chain(&["docker", "pip", "bunx"])
                .any(|r| r.eq_ignore_ascii_case(program))
        {
            *first = program.to_ascii_lowercase();
        }
    }

    fn run_without_container(&mut self) {
        let Transport::Stdio { argv } = &mut self.transport else {
            return;
        };
        if !self.install_commands.is_empty() || self.template.is_some() {
            return;
        }
        let Some(u) = crate::catalog::without_container(argv) else {
            return;
        };
        *argv = u.argv;
        self.install_commands = u.install_commands;
        self.env.extend(u.env);
        self.mounts.extend(u.mounts);
        if u.no_network {
            self.network = NetworkPolicy::None;
        }
        self.cwd = self.cwd.take().or(u.workdir);
        self.description.get_or_insert(u.note);
    }

    /// Parses one server from any of the accepted forms (see the module docs). `name` is the
    /// server's name; a `name` key in `value` is ignored. Errors carry the field's path under
    /// `servers.<name>`.
    pub fn from_value(name: &str, value: &Value) -> Result<Self> {
        let prefix = format!("servers.{name}");
        let raw: RawServer = deserialize_at(value).map_err(|e| e.under(&prefix))?;
        raw.into_config(name.to_owned())
    }

    /// Parses one server from a JSON text in any of the accepted forms.
    pub fn from_json(name: &str, json: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::config(format!("servers.{name}"), format!("invalid JSON: {e}")))?;
        Self::from_value(name, &value)
    }

    /// The canonical JSON form (its `Serialize` output; what [`ServerConfig::from_value`] and
    /// `Deserialize` read back). It holds `env` and `headers` values: treat it as secret.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Checks every field; the error's [`Error::field`] names the first offending one.
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|e| e.under(&format!("servers.{}", self.name)))
    }

    /// [`ServerConfig::validate`] with fields relative to the server.
    fn check(&self) -> Result<()> {
        if !valid_server_name(&self.name) {
            return Err(Error::config(
                "",
                "a server name is 1-64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        match &self.transport {
            Transport::Stdio { argv } => {
                if argv.first().is_none_or(|p| p.is_empty()) {
                    return Err(Error::config("command", "must not be empty"));
                }
            }
            Transport::Http { url, headers } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::config("url", "must start with http:// or https://"));
                }
                for key in headers.keys() {
                    if key.is_empty() || !key.bytes().all(is_header_char) {
                        return Err(Error::config(
                            format!("headers.{key}"),
                            "not a valid HTTP header name",
                        ));
                    }
                }
            }
        }
        check_env(&self.env)?;
        for (i, cmd) in self.install_commands.iter().enumerate() {
            if cmd.trim().is_empty() {
                return Err(Error::config(
                    format!("installCommands.{i}"),
                    "must not be empty",
                ));
            }
        }
        check_timeout(self.call_timeout, "callTimeoutSeconds")?;
        check_timeout(self.idle_timeout, "timeoutMinutes")?;
        self.limits.check()?;
        check_mounts(&self.mounts)?;
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.trim().is_empty() {
                return Err(Error::config(format!("tags.{i}"), "must not be empty"));
            }
        }
        if self.limits.disk_mb.is_some_and(|mb| mb < 8) {
            return Err(Error::config("limits.diskMb", "must be at least 8"));
        }
        if let Some(t) = &self.template
            && !valid_server_name(t)
        {
            return Err(Error::config(
                "template",
                "a template name is 1-64 characters of letters, digits, '-', '_' or '.'",
            ));
        }
        for path in self.files.keys() {
            if !crate::sandbox::machine::check_file_path(path) {
                return Err(Error::config(
                    format!("files.{path}"),
                    "must be an absolute path without `..`",
                ));
            }
        }
        Ok(())
    }
}

fn check_timeout(timeout: Duration, key: &str) -> Result<()> {
    if timeout.is_zero() {
        return Err(Error::config(key, "must be positive"));
    }
    if timeout > MAX_TIMEOUT {
        return Err(Error::config(key, "must be at most 366 days"));
    }
    Ok(())
}

fn check_env(env: &BTreeMap<String, String>) -> Result<()> {
    for key in env.keys() {
        if !valid_env_name(key) {
            return Err(Error::config(
                format!("env.{key}"),
                "not a valid variable name",
            ));
        }
    }
    Ok(())
}

fn check_mounts(mounts: &[Mount]) -> Result<()> {
    for (i, m) in mounts.iter().enumerate() {
        m.check()
            .map_err(|e| Error::config(format!("mounts.{i}"), e))?;
    }
    Ok(())
}

/// Milliseconds in a minute / a second, the units of `timeoutMinutes` / `callTimeoutSeconds`.
const MS_PER_MINUTE: f64 = 60_000.0;
const MS_PER_SECOND: f64 = 1_000.0;

/// A duration of `amount` units of `ms_per_unit` milliseconds, rounded to the millisecond
/// (at least 1 ms for a positive amount). Non-finite, negative and too large amounts are
/// errors: no input reaches a panicking conversion.
fn to_duration(amount: f64, ms_per_unit: f64) -> std::result::Result<Duration, &'static str> {
    if !amount.is_finite() || amount < 0.0 {
        return Err("must be a non-negative number");
    }
    let ms = amount * ms_per_unit;
    if !ms.is_finite() || ms > MAX_TIMEOUT.as_millis() as f64 {
        return Err("must be at most 366 days");
    }
    let ms = if amount > 0.0 {
        ms.round().max(1.0)
    } else {
        0.0
    };
    // In range: 0 ≤ ms ≤ 3.2e10, so the cast is exact.
    Ok(Duration::from_millis(ms as u64))
}

/// A positive config duration (`timeoutMinutes`, `callTimeoutSeconds`).
fn config_duration(amount: f64, ms_per_unit: f64, key: &str) -> Result<Duration> {
    if amount.is_finite() && amount <= 0.0 {
        return Err(Error::config(key, "must be a positive number"));
    }
    to_duration(amount, ms_per_unit).map_err(|m| Error::config(key, m))
}

/// A positive, finite amount as a duration of at most [`MAX_TIMEOUT`] (API timeouts).
fn api_duration(amount: f64, ms_per_unit: f64) -> std::result::Result<Duration, &'static str> {
    if amount.is_finite() && amount <= 0.0 {
        return Err("must be a positive number");
    }
    to_duration(amount, ms_per_unit)
}

/// Seconds as a duration, for API options such as a call's timeout: finite, > 0, at most
/// [`MAX_TIMEOUT`], millisecond precision (at least 1 ms). Otherwise `INVALID_ARGUMENT` with
/// `key` as field. Every binding passes the caller's raw number through this (or
/// [`duration_from_millis`]), so 0, negative, NaN, infinite and absurd timeouts fail alike.
pub fn duration_from_secs(seconds: f64, key: &str) -> Result<Duration> {
    api_duration(seconds, MS_PER_SECOND).map_err(|m| invalid_argument(key, m))
}

/// Milliseconds as a duration, checked like [`duration_from_secs`].
pub fn duration_from_millis(ms: f64, key: &str) -> Result<Duration> {
    api_duration(ms, 1.0).map_err(|m| invalid_argument(key, m))
}

/// An API timeout given as a [`Duration`] (Rust callers): > 0 and at most [`MAX_TIMEOUT`],
/// else `INVALID_ARGUMENT` with `key` as field.
pub fn check_api_timeout(timeout: Option<Duration>, key: &str) -> Result<()> {
    match timeout {
        Some(d) if d.is_zero() => Err(invalid_argument(key, "must be a positive number")),
        Some(d) if d > MAX_TIMEOUT => Err(invalid_argument(key, "must be at most 366 days")),
        _ => Ok(()),
    }
}

/// Serde of an optional duration as a number of milliseconds, checked like
/// [`duration_from_millis`] (for [`CallOptions`](crate::CallOptions)).
pub(crate) mod millis_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        d: &Option<Duration>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(super::millis_in(*d, 1.0)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|ms| super::api_duration(ms, 1.0).map_err(serde::de::Error::custom))
            .transpose()
    }
}

fn invalid_argument(key: &str, message: &str) -> Error {
    Error::new(
        crate::error::ErrorKind::InvalidArgument,
        format!("{key}: {message}"),
    )
    .with_field(key)
}

fn millis_in(d: Duration, ms_per_unit: f64) -> f64 {
    d.as_millis() as f64 / ms_per_unit
}

/// A server config in its canonical form (what `toJSON()` and `to_dict()` return, and every
/// parser reads back).
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "ServerConfig")]
struct CanonicalServer<'a> {
    name: &'a str,
    /// Program and arguments (a stdio server).
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a [String]>,
    /// The endpoint (a remote server).
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    env: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    install_commands: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    timeout_minutes: f64,
    call_timeout_seconds: f64,
    network: NetworkPolicy,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    mounts: &'a [Mount],
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<&'a Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allow_tools: Option<&'a [String]>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    deny_tools: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    files: &'a BTreeMap<String, String>,
}

crate::boundary::schema_as!(ServerConfig = CanonicalServer<'static>);

impl Serialize for ServerConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let (command, url, headers) = match &self.transport {
            Transport::Stdio { argv } => (Some(argv.as_slice()), None, None),
            Transport::Http { url, headers } => (
                None,
                Some(url.as_str()),
                Some(headers).filter(|h| !h.is_empty()),
            ),
        };
        CanonicalServer {
            name: &self.name,
            command,
            url,
            headers,
            env: &self.env,
            install_commands: &self.install_commands,
            cwd: self.cwd.as_deref(),
            description: self.description.as_deref(),
            timeout_minutes: millis_in(self.idle_timeout, MS_PER_MINUTE),
            call_timeout_seconds: millis_in(self.call_timeout, MS_PER_SECOND),
            network: self.network,
            mounts: &self.mounts,
            limits: Some(&self.limits).filter(|l| **l != Limits::default()),
            allow_tools: self.tools.allow.as_deref(),
            deny_tools: &self.tools.deny,
            tags: &self.tags,
            template: self.template.as_deref(),
            files: &self.files,
        }
        .serialize(s)
    }
}

/// Keys other MCP clients put in their server entries for their own use; accepted and ignored.
/// (Their spellings of corral's own fields are aliases in [`RawServer`] instead: Gemini CLI's
/// `httpUrl`, `includeTools`/`excludeTools`; Windsurf's `serverUrl`; Codex CLI's
/// `http_headers`, `tool_timeout_sec`, `enabled_tools`/`disabled_tools`; Roo Code's
/// `disabledTools`; Cline's `transportType`.)
const FOREIGN_KEYS: &[&str] = &[
    "disabled",
    "enabled",
    "autoApprove",
    "alwaysAllow",
    "envFile",
    "timeout",
    "trust",
    "source",
    "settings",
    "startup_timeout_sec",
    "startup_timeout_ms",
    "watchPaths",
];

/// Every accepted spelling of every field of every accepted form, type-checked by serde but not
/// yet validated. `into_config` maps it onto [`ServerConfig`] and validates.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type", alias = "transportType")]
    kind: Option<String>,
    #[serde(default)]
    command: Option<OneOrMany<String>>,
    #[serde(default)]
    args: Option<OneOrMany<String>>,
    #[serde(default, alias = "httpUrl", alias = "serverUrl")]
    url: Option<String>,
    #[serde(default, alias = "http_headers")]
    headers: Option<BTreeMap<String, Scalar>>,
    #[serde(default)]
    env: Option<BTreeMap<String, Scalar>>,
    #[serde(default, alias = "install_commands")]
    install_commands: Option<OneOrMany<String>>,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, alias = "timeout_minutes")]
    timeout_minutes: Option<f64>,
    #[serde(default, alias = "call_timeout_seconds", alias = "tool_timeout_sec")]
    call_timeout_seconds: Option<f64>,
    #[serde(default)]
    network: Option<NetworkPolicy>,
    #[serde(default)]
    mounts: Option<OneOrMany<Mount>>,
    #[serde(default)]
    limits: Option<Limits>,
    #[serde(
        default,
        alias = "allow_tools",
        alias = "includeTools",
        alias = "enabled_tools"
    )]
    allow_tools: Option<OneOrMany<String>>,
    #[serde(
        default,
        alias = "deny_tools",
        alias = "excludeTools",
        alias = "disabled_tools",
        alias = "disabledTools"
    )]
    deny_tools: Option<OneOrMany<String>>,
    #[serde(default)]
    tags: Option<OneOrMany<String>>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    files: Option<BTreeMap<String, String>>,
    /// Everything else: foreign keys (ignored) or unknown fields (errors).
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

impl TryFrom<RawServer> for ServerConfig {
    type Error = Error;

    fn try_from(raw: RawServer) -> Result<Self> {
        let name = raw
            .name
            .clone()
            .ok_or_else(|| Error::config("name", "missing"))?;
        raw.into_config(name)
    }
}

impl RawServer {
    fn into_config(self, name: String) -> Result<ServerConfig> {
        let prefix = format!("servers.{name}");
        self.build(name).map_err(|e| e.under(&prefix))
    }

    /// The config, with error fields relative to the server.
    fn build(self, name: String) -> Result<ServerConfig> {
        if let Some(key) = self
            .other
            .keys()
            .find(|k| !FOREIGN_KEYS.contains(&k.as_str()))
        {
            return Err(Error::config(key, "unknown field"));
        }
        let kind = self.kind.as_deref();
        let transport = match (self.command, self.url) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "",
                    "give either `command` or `url`, not both",
                ));
            }
            (None, None) => {
                return Err(Error::config(
                    "",
                    "needs a `command` (local server) or a `url` (remote server)",
                ));
            }
            (Some(command), None) => {
                if let Some(k) = kind
                    && k != "stdio"
                {
                    return Err(Error::config(
                        "type",
                        format!("`{k}` does not go with `command` (use \"stdio\")"),
                    ));
                }
                if self.headers.is_some() {
                    return Err(Error::config("headers", "only goes with `url`"));
                }
                let mut argv = match command {
                    OneOrMany::One(line) => {
                        split_command(&line).map_err(|m| Error::config("command", m))?
                    }
                    OneOrMany::Many(argv) => argv,
                };
                argv.extend(self.args.map(OneOrMany::into_vec).unwrap_or_default());
                Transport::Stdio { argv }
            }
            (None, Some(url)) => {
                match kind {
                    // The transport is what the server speaks: Streamable HTTP, else the
                    // legacy HTTP+SSE (`mcp/sse.rs`), whatever the entry calls it.
                    None
                    | Some(
                        "http" | "streamable-http" | "streamableHttp" | "streamable_http" | "sse",
                    ) => {}
                    Some(k) => {
                        return Err(Error::config(
                            "type",
                            format!("`{k}` does not go with `url` (use \"http\")"),
                        ));
                    }
                }
                if self.args.is_some() {
                    return Err(Error::config("args", "only goes with `command`"));
                }
                Transport::Http {
                    url,
                    headers: strings_of(self.headers),
                }
            }
        };
        let mut config = ServerConfig {
            name,
            transport,
            env: strings_of(self.env),
            install_commands: vec_of(self.install_commands),
            cwd: self.cwd,
            description: self.description,
            idle_timeout: self
                .timeout_minutes
                .map(|m| config_duration(m, MS_PER_MINUTE, "timeoutMinutes"))
                .transpose()?
                .unwrap_or(DEFAULT_IDLE_TIMEOUT),
            call_timeout: self
                .call_timeout_seconds
                .map(|s| config_duration(s, MS_PER_SECOND, "callTimeoutSeconds"))
                .transpose()?
                .unwrap_or(DEFAULT_CALL_TIMEOUT),
            network: self.network.unwrap_or_default(),
            mounts: vec_of(self.mounts),
            limits: self.limits.unwrap_or_default(),
            tools: ToolFilter {
                allow: self.allow_tools.map(OneOrMany::into_vec),
                deny: vec_of(self.deny_tools),
            },
            tags: vec_of(self.tags),
            template: self.template,
            files: self.files.unwrap_or_default(),
        };
        config.without_windows_wrappers();
        config.run_without_container();
        config.check()?;
        Ok(config)
    }
}

/// Deserializes `T` from a JSON value; a failure is `CONFIG_INVALID` with the path of the
/// offending key as its field (`env.A`, `installCommands.1`, or `""` for the value itself).
pub(crate) fn deserialize_at<'de, T: Deserialize<'de>>(value: &'de Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => index.to_string(),
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => key.clone(),
                serde_path_to_error::Segment::Unknown => "?".into(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let inner = e.into_inner();
        Error::config(&path, &inner).with_source(inner)
    })
}

/// Reads an options struct (for example `GatewayOptions`) from its JSON form, for bindings
/// that pass options as a dict: a `CONFIG_INVALID` error's field is `{under}.{path}`, and for
/// an unknown key `{under}.{key}`.
pub fn from_value_under<T: serde::de::DeserializeOwned>(value: &Value, under: &str) -> Result<T> {
    let unknown_key = |e: &Error| {
        let rest = e.message().split_once("unknown field `")?.1;
        rest.split_once('`').map(|(key, _)| key.to_owned())
    };
    deserialize_at(value).map_err(|e| match unknown_key(&e) {
        Some(key) if e.field().is_none_or(str::is_empty) => {
            Error::config(format!("{under}.{key}"), "unknown field")
        }
        _ => e.under(under),
    })
}

/// One value or a list of them (`"command": "srv --x"` or `["srv", "--x"]`).
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(v) => v,
        }
    }
}

fn vec_of<T>(v: Option<OneOrMany<T>>) -> Vec<T> {
    v.map(OneOrMany::into_vec).unwrap_or_default()
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(s)).map(OneOrMany::One)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An env or header value: a string, or a number or boolean taken as its text.
struct Scalar(String);

fn strings_of(map: Option<BTreeMap<String, Scalar>>) -> BTreeMap<String, String> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect()
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar(s.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar(b.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(n.to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(
                    serde_json::Number::from_f64(n)
                        .map_or_else(|| n.to_string(), |n| n.to_string()),
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a sandbox made directly (not for a server) is made of, in its canonical form
/// `{"name"?, "env"?, "network"?, "mounts"?, "limits"?}` — the server config's names and forms.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawSandbox {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    env: Option<BTreeMap<String, Scalar>>,
    #[serde(default)]
    network: Option<NetworkPolicy>,
    #[serde(default)]
    mounts: Option<OneOrMany<Mount>>,
    #[serde(default)]
    limits: Option<Limits>,
    /// Taken out by [`SandboxConfig`](crate::SandboxConfig)'s conversion before `build`.
    #[serde(default)]
    pub(crate) template: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, IgnoredAny>,
}

/// The validated parts of a [`RawSandbox`]: name, env, network, mounts, limits.
pub(crate) type SandboxParts = (
    Option<String>,
    BTreeMap<String, String>,
    NetworkPolicy,
    Vec<Mount>,
    Limits,
);

impl RawSandbox {
    /// Validates; error fields are relative to the sandbox object.
    pub(crate) fn build(self) -> Result<SandboxParts> {
        if let Some(key) = self.other.keys().next() {
            return Err(Error::config(key, "unknown field"));
        }
        let env = strings_of(self.env);
        check_env(&env)?;
        let mounts = vec_of(self.mounts);
        check_mounts(&mounts)?;
        let limits = self.limits.unwrap_or_default();
        limits.check()?;
        Ok((
            self.name,
            env,
            self.network.unwrap_or_default(),
            mounts,
            limits,
        ))
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

/// How a document's servers are added (`load_mcp_servers`, `loadMcpServers`). The JSON form is
/// camelCase (`{"mountArgs": true}`); every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LoadOptions {
    /// Mount the existing host paths each server's arguments name (absolute, outside the
    /// system dirs), read-write at the same path: a Claude Desktop `filesystem` entry's
    /// directories, a `uv --directory` project. Only for documents you trust: each server gets
    /// the host paths its entry names.
    #[serde(alias = "mount_args")]
    pub mount_args: bool,
    /// Expand `${VAR}` and `${VAR:-default}` (and `${env:VAR}`, `${userHome}`,
    /// `${workspaceFolder}`) in each server's `command`, `args`, `env`, `url` and `headers` from
    /// this process's environment, as Claude Code, Cursor and VS Code do, and read VS Code's
    /// `envFile`; an unset `${VAR}` without a default is `CONFIG_INVALID` naming the field.
    /// Only for documents you trust: each server gets the variables its entry names.
    #[serde(alias = "expand_env")]
    pub expand_env: bool,
    /// What `${workspaceFolder}` (VS Code, Cursor) expands to: the folder holding the
    /// document's `.vscode`/`.cursor` folder, set when it is read from a file.
    #[serde(skip)]
    #[schemars(skip)]
    pub workspace_folder: Option<PathBuf>,
}

impl LoadOptions {
    /// The options with these switches (what the bindings' arguments of the same names give).
    pub fn new(mount_args: bool, expand_env: bool) -> Self {
        Self {
            mount_args,
            expand_env,
            workspace_folder: None,
        }
    }

    /// These options for a document read from `path`: `${workspaceFolder}` is the folder that
    /// holds its `.vscode`, `.cursor`, `.claude` or `.gemini` folder, else its own folder.
    pub fn for_file(mut self, path: &std::path::Path) -> Self {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let dir = path.parent().map(std::path::Path::to_path_buf);
        self.workspace_folder = match dir {
            Some(d)
                if d.file_name().is_some_and(|n| {
                    [".vscode", ".cursor", ".claude", ".gemini"]
                        .contains(&n.to_str().unwrap_or_default())
                }) =>
            {
                d.parent().map(std::path::Path::to_path_buf)
            }
            d => d,
        };
        self
    }

    /// The value of the reference `${name}`: a variable (`VAR`, `env:VAR`), or one of VS Code's
    /// and Cursor's (`userHome`, `workspaceFolder`); `Err` for one corral cannot resolve.
    fn resolve(&self, name: &str) -> std::result::Result<Option<String>, String> {
        let path = |p: Option<&std::path::Path>| p.map(|p| p.display().to_string());
        match name {
            "userHome" => Ok(path(dirs::home_dir().as_deref())),
            "workspaceFolder" => path(self.workspace_folder.as_deref()).map(Some).ok_or_else(|| {
                "`${workspaceFolder}` is the folder of the document's project, known only when it \
                 is read from a file"
                    .to_owned()
            }),
            _ if name.starts_with("input:") => Err(format!(
                "`${{{name}}}` asks for a VS Code input, which corral cannot prompt for: write the \
                 value, or `${{VAR}}` to take it from the environment"
            )),
            _ => Ok(std::env::var(name.strip_prefix("env:").unwrap_or(name)).ok()),
        }
    }
}

/// Parses a document holding several servers: `{"mcpServers": {...}}` (Claude Desktop, Cursor,
/// Claude Code, Gemini CLI, Windsurf), `{"servers": {...}}` (corral's own form and VS Code's),
/// `[mcp_servers.NAME]` (Codex CLI's `config.toml`), `{"context_servers": {...}}` (Zed), or a
/// bare map of name → server. Servers marked `"disabled": true` or `"enabled": false` are
/// skipped. The text may be JSON or TOML.
pub fn parse_servers_document(text: &str) -> Result<Vec<ServerConfig>> {
    parse_servers_document_with(text, &LoadOptions::default())
}

/// [`parse_servers_document`] with [`LoadOptions`].
pub fn parse_servers_document_with(text: &str, options: &LoadOptions) -> Result<Vec<ServerConfig>> {
    parse_servers_value_with(&parse_document(text)?, options)
}

/// A document's text as a JSON value: JSON, JSON with comments and trailing commas (JSONC),
/// or TOML.
pub fn parse_document(text: &str) -> Result<Value> {
    // JSON with comments and trailing commas (VS Code's and Zed's files) is JSON too.
    let parsed = serde_json::from_str(text).or_else(|e| match without_comments(text) {
        Some(plain) => serde_json::from_str(&plain),
        None => Err(e),
    });
    let value: Value = match parsed {
        Ok(v) => v,
        Err(json_err) => match toml::from_str::<toml::Value>(text) {
            Ok(t) => serde_json::to_value(t)
                .map_err(|e| Error::config("document", format!("invalid TOML: {e}")))?,
            Err(_) if looks_like_a_path(text) => {
                return Err(Error::config(
                    "document",
                    "this is the path of a file, not a document's text: load the file (`load_mcp_servers_file`, `loadMcpServersFile`)",
                ));
            }
            Err(_) => {
                return Err(Error::config(
                    "document",
                    format!("neither valid JSON ({json_err}) nor TOML"),
                ));
            }
        },
    };
    Ok(value)
}

/// Whether a text that is no document is rather a file's path (`~/.cursor/mcp.json`).
fn looks_like_a_path(text: &str) -> bool {
    let text = text.trim();
    !text.contains(['\n', '{', '=']) && {
        let path = Path::new(text);
        text.starts_with(['/', '~', '.'])
            || path.extension().is_some_and(|e| e == "json" || e == "toml")
            || path.exists()
    }
}

/// The name → entry object of a document, with its key: under the key its client uses
/// (`mcpServers`, `servers`, `mcp_servers`, `context_servers`), else `None` (a bare map of
/// name → entry is the document itself).
pub fn document_entries(document: &Value) -> Option<(&'static str, &Value)> {
    DOCUMENT_KEYS
        .iter()
        .find_map(|k| document.get(*k).map(|s| (*k, s)))
}

/// JSONC as JSON: `//` and `/* */` comments become spaces (newlines stay, so error positions
/// hold) and a comma before `}` or `]` goes; `None` when the text has neither.
fn without_comments(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A string, escapes and all.
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                out.extend_from_slice(&bytes[start..i]);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
                changed = true;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                out.extend(
                    bytes[i..end]
                        .iter()
                        .map(|&b| if b == b'\n' { b'\n' } else { b' ' }),
                );
                i = end;
                changed = true;
                continue;
            }
            b'}' | b']' => {
                // Drop a trailing comma: the last non-blank byte written before this one.
                if let Some(p) = out.iter().rposition(|b| !b.is_ascii_whitespace())
                    && out[p] == b','
                {
                    out[p] = b' ';
                    changed = true;
                }
            }
            _ => {}
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Only ASCII bytes were replaced, by ASCII: still UTF-8.
    changed.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// Like [`parse_servers_document`], for an already parsed JSON value.
pub fn parse_servers_value(value: &Value) -> Result<Vec<ServerConfig>> {
    parse_servers_value_with(value, &LoadOptions::default())
}

/// [`parse_servers_value`] with [`LoadOptions`].
pub fn parse_servers_value_with(value: &Value, options: &LoadOptions) -> Result<Vec<ServerConfig>> {
    if !value.is_object() {
        return Err(Error::config("document", "must be a JSON object"));
    }
    let (key, servers) = document_entries(value).unwrap_or(("servers", value));
    let servers = servers
        .as_object()
        .ok_or_else(|| Error::config(key, "must be an object of name → server"))?;
    let mut out = Vec::with_capacity(servers.len());
    for (name, server) in servers {
        // Off, or (Zed) the settings of an extension's own server, which holds no command.
        if server.get("disabled").and_then(Value::as_bool) == Some(true)
            || server.get("enabled").and_then(Value::as_bool) == Some(false)
            || server.get("source").and_then(Value::as_str) == Some("extension")
        {
            continue;
        }
        let mut server = server.clone();
        zed_command_object(&mut server, &format!("servers.{name}"))?;
        env_names_as_refs(&mut server, &format!("servers.{name}"), options.expand_env)?;
        if options.expand_env {
            expand_env_refs(&mut server, &format!("servers.{name}"), &|v| {
                options.resolve(v)
            })?;
        }
        let mut config = ServerConfig::from_value(name, &server)?;
        if options.mount_args {
            config.mount_host_paths_in_args();
        }
        out.push(config);
    }
    Ok(out)
}

/// The keys of the documents that hold servers, by client (the first present is read).
const DOCUMENT_KEYS: &[&str] = &["mcpServers", "servers", "mcp_servers", "context_servers"];

/// Zed's earlier entry form, `"command": {"path", "args", "env"}`, as the flat form it means
/// (`command`, `args`, `env`); `at` is the entry's field path.
fn zed_command_object(server: &mut Value, at: &str) -> Result<()> {
    let Some(entry) = server.as_object_mut() else {
        return Ok(());
    };
    if !entry.get("command").is_some_and(Value::is_object) {
        return Ok(());
    }
    let Some(Value::Object(mut command)) = entry.remove("command") else {
        return Ok(());
    };
    let field = |k: &str| format!("{at}.command.{k}");
    let path = command
        .remove("path")
        .ok_or_else(|| Error::config(field("path"), "missing (the program to run)"))?;
    entry.insert("command".into(), path);
    for key in ["args", "env"] {
        if let Some(v) = command.remove(key) {
            if entry.contains_key(key) {
                return Err(Error::config(
                    field(key),
                    format!("give `{key}` in `command` or beside it, not both"),
                ));
            }
            entry.insert(key.into(), v);
        }
    }
    match command.keys().next() {
        Some(key) => Err(Error::config(field(key), "unknown field")),
        None => Ok(()),
    }
}

/// Codex CLI's entries name variables of the environment rather than values:
/// `bearer_token_env_var` (the `Authorization: Bearer` token), `env_vars` (variables passed
/// through) and `env_http_headers` (header → variable). They become the `${VAR}` references
/// they mean, in `headers` and `env`, which expansion then fills; without expansion they are
/// `CONFIG_INVALID` (corral would have no value to give).
fn env_names_as_refs(server: &mut Value, at: &str, expand: bool) -> Result<()> {
    let Some(entry) = server.as_object_mut() else {
        return Ok(());
    };
    let field = |k: &str| format!("{at}.{k}");
    let name_of = |k: &str, v: &Value| -> Result<String> {
        v.as_str()
            .filter(|n| valid_env_name(n))
            .map(str::to_owned)
            .ok_or_else(|| Error::config(field(k), "must name an environment variable"))
    };
    let mut refs: Vec<(&str, String, String)> = Vec::new(); // (into, key, variable)
    if let Some(v) = entry.remove("bearer_token_env_var") {
        let var = name_of("bearer_token_env_var", &v)?;
        refs.push((
            "headers",
            "Authorization".into(),
            format!("Bearer ${{{var}}}"),
        ));
    }
    if let Some(v) = entry.remove("env_vars") {
        let names = v
            .as_array()
            .ok_or_else(|| Error::config(field("env_vars"), "must be a list of names"))?;
        for (i, n) in names.iter().enumerate() {
            let var = name_of(&format!("env_vars.{i}"), n)?;
            refs.push(("env", var.clone(), format!("${{{var}}}")));
        }
    }
    if let Some(v) = entry.remove("env_http_headers") {
        let map = v.as_object().ok_or_else(|| {
            Error::config(
                field("env_http_headers"),
                "must map header names to variables",
            )
        })?;
        for (header, n) in map {
            let var = name_of(&format!("env_http_headers.{header}"), n)?;
            refs.push(("headers", header.clone(), format!("${{{var}}}")));
        }
    }
    if refs.is_empty() {
        return Ok(());
    }
    // Codex's spelling of `headers`, which the references join.
    if !entry.contains_key("headers")
        && let Some(h) = entry.remove("http_headers")
    {
        entry.insert("headers".into(), h);
    }
    if !expand {
        return Err(Error::config(
            at,
            "`bearer_token_env_var`, `env_vars` and `env_http_headers` name environment variables: load the document with expand_env to pass their values",
        ));
    }
    for (into, key, reference) in refs {
        let slot = entry
            .entry(into)
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(map) = slot.as_object_mut() {
            map.entry(key).or_insert(Value::String(reference));
        }
    }
    Ok(())
}

/// Expands `${VAR}`, `${VAR:-default}` and `${env:VAR}` in the fields of one server entry that
/// Claude Code expands: `command`, `args`, `env` and `headers` values, `url` (see
/// [`LoadOptions::expand_env`]). `at` is the entry's field path.
fn expand_env_refs(server: &mut Value, at: &str, lookup: &Lookup<'_>) -> Result<()> {
    let Some(entry) = server.as_object_mut() else {
        return Ok(());
    };
    for (key, value) in entry.iter_mut() {
        let mut texts: Vec<(String, &mut String)> = match (key.as_str(), value) {
            ("command" | "url" | "envFile", Value::String(s)) => vec![(key.clone(), s)],
            ("command" | "args", Value::Array(items)) => items
                .iter_mut()
                .enumerate()
                .filter_map(|(i, v)| match v {
                    Value::String(s) => Some((format!("{key}.{i}"), s)),
                    _ => None,
                })
                .collect(),
            ("env" | "headers", Value::Object(map)) => map
                .iter_mut()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((format!("{key}.{k}"), s)),
                    _ => None,
                })
                .collect(),
            _ => continue,
        };
        for (field, text) in &mut texts {
            **text =
                expand_refs(text, lookup).map_err(|m| Error::config(format!("{at}.{field}"), m))?;
        }
    }
    // VS Code's `envFile`: its variables join `env` (where `env` names one too, `env` wins).
    if let Some(Value::String(path)) = entry.get("envFile") {
        let field = format!("{at}.envFile");
        let vars = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_env_file(&text))
            .map_err(|m| Error::config(&field, format!("{path}: {m}")))?;
        let env = entry
            .entry("env")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(env) = env {
            for (k, v) in vars {
                env.entry(k).or_insert(Value::String(v));
            }
        }
    }
    Ok(())
}

/// The variables of a dotenv file: `KEY=VALUE` lines (`export ` before the key, quotes around
/// the value and `#` comment lines allowed).
fn parse_env_file(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected KEY=VALUE", n + 1));
        };
        let key = key.trim();
        if !valid_env_name(key) {
            return Err(format!("line {}: `{key}` is not a variable name", n + 1));
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q));
        vars.push((key.to_owned(), unquoted.unwrap_or(value).to_owned()));
    }
    Ok(vars)
}

/// What a `${name}` reference is (`Ok(None)`: unset); `Err` says why it cannot be resolved.
type Lookup<'a> = dyn Fn(&str) -> std::result::Result<Option<String>, String> + 'a;

/// `text` with `${VAR}`, `${VAR:-default}` (the default when `VAR` is unset or empty),
/// `${env:VAR}` and VS Code's `${userHome}`, `${workspaceFolder}` replaced, in one pass (an
/// expanded value is not expanded again); anything else, `$VAR` included, is kept as it is.
fn expand_refs(text: &str, lookup: &Lookup<'_>) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = inner
            .split_once(":-")
            .map_or((inner, None), |(n, d)| (n, Some(d)));
        let var = name.strip_prefix("env:").unwrap_or(name);
        if valid_env_name(var) || name.starts_with("input:") {
            match (lookup(name)?, default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "`${{{var}}}` is not set (give it a default: `${{{var}:-…}}`)"
                    ));
                }
            }
        } else {
            out.push_str(&rest[start..start + 3 + end]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn field(name: &str, key: &str) -> String {
    format!("servers.{name}.{key}")
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
    #[test]
    fn env_refs_expand_as_claude_code_does() {
        let lookup = |n: &str| {
            Ok(match n.strip_prefix("env:").unwrap_or(n) {
                "TOKEN" => Some("t0k".to_owned()),
                "EMPTY" => Some(String::new()),
                _ => None,
            })
        };
        let expand = |t: &str| expand_refs(t, &lookup);
        assert_eq!(expand("Bearer ${TOKEN}"), Ok("Bearer t0k".into()));
        assert_eq!(
            expand("${NOPE:-/data}/x ${EMPTY:-d} [${EMPTY}] ${env:TOKEN}"),
            Ok("/data/x d [] t0k".into())
        );
        let kept = "$TOKEN ${1BAD} ${TOKEN";
        assert_eq!(expand(kept), Ok(kept.into()), "not references");
        let mut entry = json!({"command": "${NOPE:-srv}", "args": ["--t", "${TOKEN}", 3],
            "env": {"K": "${TOKEN}"}, "headers": {"A": "B ${TOKEN}"}, "url": "${NOPE:-http://h}",
            "description": "${TOKEN}"});
        expand_env_refs(&mut entry, "servers.a", &lookup).expect("expands");
        assert_eq!(
            entry,
            json!({"command": "srv", "args": ["--t", "t0k", 3], "env": {"K": "t0k"},
                "headers": {"A": "B t0k"}, "url": "http://h", "description": "${TOKEN}"})
        );
        let mut unset = json!({"args": ["${NOPE}"]});
        let e = expand_env_refs(&mut unset, "servers.a", &lookup).expect_err("unset");
        assert_eq!(e.field(), Some("servers.a.args.0"));
        // Only when asked: by default a document's text is taken as it is.
        let doc = json!({"mcpServers": {"a": {"command": "srv", "env": {"K": "${HOME}"}}}});
        assert_eq!(
            parse_servers_value(&doc).expect("valid")[0].env["K"],
            "${HOME}"
        );
        let home = std::env::var("HOME").unwrap_or_default();
        let options = LoadOptions {
            expand_env: true,
            ..LoadOptions::default()
        };
        let servers = parse_servers_value_with(&doc, &options).expect("valid");
        assert_eq!(servers[0].env["K"], home);
        // VS Code's references: a file's workspace folder, the home; an input prompt is refused.
        let vscode = json!({"servers": {"v": {"command": "node",
            "args": ["${workspaceFolder}/s.js", "${userHome}"]}}});
        let from_file = options
            .clone()
            .for_file(std::path::Path::new("/proj/.vscode/mcp.json"));
        let v = parse_servers_value_with(&vscode, &from_file).expect("valid");
        let want = Transport::Stdio {
            argv: vec!["node".into(), "/proj/s.js".into(), home],
        };
        assert_eq!(v[0].transport, want);
        let e = parse_servers_value_with(&vscode, &options).expect_err("no file");
        assert_eq!(e.field(), Some("servers.v.args.0"));
        // Its `envFile`: the file's variables join `env`, which wins.
        let dir = tempfile::tempdir().expect("tempdir");
        let dotenv = "# keys\nexport A=1\nB = \"two words\"\nK=from-file\n";
        std::fs::write(dir.path().join(".env"), dotenv).expect("write");
        let with_file = json!({"servers": {"f": {"command": "srv", "env": {"K": "own"},
            "envFile": "${workspaceFolder}/.env"}}});
        let here = options.clone().for_file(&dir.path().join("mcp.json"));
        let f = parse_servers_value_with(&with_file, &here).expect("valid");
        let env: Vec<(&str, &str)> = f[0]
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("B", "two words"), ("K", "own")]);
        std::fs::write(dir.path().join(".env"), "not a line\n").expect("write");
        let e = parse_servers_value_with(&with_file, &here).expect_err("bad file");
        assert_eq!(e.field(), Some("servers.f.envFile"));
        let input = json!({"servers": {"p": {"command": "srv", "env": {"K": "${input:key}"}}}});
        let e = parse_servers_value_with(&input, &options).expect_err("a prompt");
        assert_eq!(e.field(), Some("servers.p.env.K"));
    }

    #[test]
    fn host_paths_in_args_are_the_unmounted_existing_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        let d = data.display().to_string();
        let args = [
            "npx",
            "-y",
            "pkg",
            &d,
            "--db-path=/nonexistent/x.db",
            "/usr/bin",
            &d,
            "relative",
        ];
        let mut c = ServerConfig::argv("fs", args);
        let want = vec![data.clone()];
        assert_eq!(c.host_paths_in_args(), want, "once, existing, not system");
        let option = ServerConfig::argv("fs", ["srv".to_owned(), format!("--root={d}")]);
        assert_eq!(option.host_paths_in_args(), want);
        // A `cwd` on the host is one too (VS Code's and Gemini CLI's entries have it).
        let mut relative = ServerConfig::argv("w", ["python", "server.py"]);
        relative.cwd = Some(d.clone());
        assert_eq!(relative.host_paths_in_args(), want);
        assert_eq!(c.mount_host_paths_in_args(), want);
        assert_eq!(
            c.mounts,
            [Mount {
                host: data.clone(),
                target: data,
                read_only: false
            }]
        );
        assert!(c.host_paths_in_args().is_empty(), "mounted now");
        assert!(
            ServerConfig::url("r", "http://127.0.0.1:9/mcp")
                .host_paths_in_args()
                .is_empty()
        );
    }

    #[test]
    fn options_from_a_dict_name_the_unknown_or_bad_field() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        #[allow(dead_code)]
        struct Opts {
            #[serde(default)]
            tool_budget: usize,
        }
        let e = from_value_under::<Opts>(&serde_json::json!({"nope": 1}), "gateway")
            .expect_err("unknown");
        assert_eq!(e.field(), Some("gateway.nope"));
        let e = from_value_under::<Opts>(&serde_json::json!({"toolBudget": "x"}), "gateway")
            .expect_err("bad type");
        assert_eq!(e.field(), Some("gateway.toolBudget"));
    }

    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    /// The field of the `CONFIG_INVALID` error parsing `v` gives.
    fn err(name: &str, v: Value) -> String {
        let e = ServerConfig::from_value(name, &v).expect_err("should fail");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
        e.field().expect("has a field").to_owned()
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
                    "env": {"TZ": "UTC", "N": 3}, "description": "Time", "timeout_minutes": 2}),
        )
        .expect("valid");
        assert_eq!(c.install_commands.len(), 1);
        assert_eq!(c.idle_timeout, Duration::from_secs(120));
        assert_eq!(c.description.as_deref(), Some("Time"));
        assert_eq!(c.env["TZ"], "UTC");
        assert_eq!(c.env["N"], "3");
    }

    #[test]
    fn camel_and_snake_spellings_are_the_same() {
        let snake = json!({"command": "x", "install_commands": ["a"], "timeout_minutes": 1.5,
                           "call_timeout_seconds": 2, "allow_tools": ["t"], "deny_tools": "u",
                           "limits": {"memory_mb": 64, "max_processes": 4}});
        let camel = json!({"command": "x", "installCommands": ["a"], "timeoutMinutes": 1.5,
                           "callTimeoutSeconds": 2, "allowTools": ["t"], "denyTools": "u",
                           "limits": {"memoryMb": 64, "maxProcesses": 4}});
        let a = ServerConfig::from_value("s", &snake).expect("valid");
        let b = ServerConfig::from_value("s", &camel).expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.idle_timeout, Duration::from_secs(90));
        assert_eq!(a.tools.deny, vec!["u".to_owned()]);
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
    fn other_clients_documents() {
        // Codex CLI's config.toml: other top-level keys, its own field names, variables named.
        let codex = r#"
model = "o4-mini"
[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-server"]
env_vars = ["HOME"]
tool_timeout_sec = 90
startup_timeout_sec = 20
enabled_tools = ["search"]
[mcp_servers.api]
url = "https://example.com/mcp"
bearer_token_env_var = "PATH"
http_headers = { "X-Team" = "t" }
[mcp_servers.off]
command = "x"
enabled = false
"#;
        let expand = LoadOptions::new(false, true);
        let servers = parse_servers_document_with(codex, &expand).expect("valid");
        assert_eq!(servers.len(), 2, "{servers:?}");
        let api = &servers[0];
        let Transport::Http { headers, .. } = &api.transport else {
            panic!("{api:?}");
        };
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(headers["Authorization"], format!("Bearer {path}"));
        assert_eq!(headers["X-Team"], "t");
        let docs = &servers[1];
        assert_eq!(docs.call_timeout, Duration::from_secs(90));
        assert_eq!(docs.tools.allow, Some(vec!["search".to_owned()]));
        assert_eq!(
            docs.env.get("HOME").map(String::as_str),
            std::env::var("HOME").ok().as_deref()
        );
        // Without expansion there is no value to give: an error naming the entry.
        let e = parse_servers_document(codex).expect_err("needs expand_env");
        assert_eq!(e.field(), Some("servers.api"));

        // Gemini CLI (httpUrl, includeTools/excludeTools), Windsurf (serverUrl), Zed.
        let gemini = json!({"theme": "Default", "mcpServers": {
            "g": {"httpUrl": "http://127.0.0.1:1/mcp", "timeout": 30000, "trust": false,
                  "includeTools": ["a", "b"], "excludeTools": ["b"]}}});
        let g = &parse_servers_value(&gemini).expect("valid")[0];
        assert!(g.is_remote());
        assert_eq!(g.tools.allow, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(g.tools.deny, vec!["b".to_owned()]);
        let windsurf = json!({"mcpServers": {"w": {"serverUrl": "http://127.0.0.1:1/mcp"}}});
        assert!(parse_servers_value(&windsurf).expect("valid")[0].is_remote());
        let zed = json!({"context_servers": {"z": {"source": "custom", "enabled": true,
            "command": "npx", "args": ["-y", "pkg"], "env": {}, "settings": {}},
            "ext": {"source": "extension", "settings": {"token": "x"}}}});
        let servers = parse_servers_value(&zed).expect("valid");
        assert_eq!(servers.len(), 1, "an extension's settings are no server");
        assert_eq!(servers[0].name, "z");
        // Zed's earlier form: the command is an object.
        let old = json!({"context_servers": {"z": {"command": {"path": "npx",
            "args": ["-y", "pkg"], "env": {"K": "v"}}, "settings": {}}}});
        let z = &parse_servers_value(&old).expect("valid")[0];
        assert_eq!(
            z.transport,
            parse_servers_value(&zed).expect("valid")[0].transport
        );
        assert_eq!(z.env.get("K").map(String::as_str), Some("v"));
        let both = json!({"context_servers": {"z": {"command": {"path": "x", "args": ["a"]},
            "args": ["b"]}}});
        let e = parse_servers_value(&both).expect_err("args twice");
        assert_eq!(e.field(), Some("servers.z.command.args"));
        let bad = json!({"context_servers": {"z": {"command": {"args": ["a"]}}}});
        let e = parse_servers_value(&bad).expect_err("no path");
        assert_eq!(e.field(), Some("servers.z.command.path"));
        // Cline's transportType is the type; Roo Code's disabledTools are denied, not ignored.
        let cline = json!({"mcpServers": {"c": {"transportType": "stdio", "command": "x",
            "disabled": false, "autoApprove": [], "timeout": 60, "watchPaths": ["/w"]}}});
        assert_eq!(parse_servers_value(&cline).expect("valid")[0].name, "c");
        let roo = json!({"mcpServers": {"r": {"command": "x", "disabledTools": ["rm"]}}});
        assert_eq!(
            parse_servers_value(&roo).expect("valid")[0].tools.deny,
            vec!["rm".to_owned()]
        );
    }

    #[test]
    fn windows_spellings_of_a_command() {
        let argv = |v: Value| match ServerConfig::from_value("w", &v).expect("valid").transport {
            Transport::Stdio { argv } => argv,
            t => panic!("{t:?}"),
        };
        assert_eq!(
            argv(json!({"command": "cmd", "args": ["/c", "npx", "-y", "pkg"]})),
            ["npx", "-y", "pkg"]
        );
        assert_eq!(
            argv(json!({"command": "npx.cmd", "args": ["pkg"]})),
            ["npx", "pkg"]
        );
        assert_eq!(
            argv(json!({"command": "CMD.EXE /C uvx.exe srv"})),
            ["uvx", "srv"]
        );
        // Anything else stays as written.
        assert_eq!(argv(json!({"command": "my.exe"})), ["my.exe"]);
        assert_eq!(argv(json!({"command": "cmd"})), ["cmd"]);
        let e = ServerConfig::from_value("w", &json!({"command": []})).expect_err("empty");
        assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
    }

    #[test]
    fn a_path_given_as_the_text_is_named_so() {
        for path in ["~/.cursor/mcp.json", "/etc/claude/config.json", "mcp.toml"] {
            assert!(looks_like_a_path(path), "{path}");
            let e = parse_servers_document(path).expect_err("a path");
            assert_eq!(
                (e.kind(), e.field()),
                (ErrorKind::ConfigInvalid, Some("document"))
            );
        }
        for text in ["{\"mcpServers\": ", "[servers.a]\ncommand = 1", "servers"] {
            assert!(!looks_like_a_path(text), "{text}");
        }
    }

    #[test]
    fn json_with_comments_and_trailing_commas() {
        let doc = "{\n  // VS Code's own comment\n  \"servers\": {\n    \"m\": {\"command\": \"npx\", /* why */ \"args\": [\"-y\", \"a//b\", \"c/*d*/\",], },\n  },\n}\n";
        let servers = parse_servers_document(doc).expect("valid");
        let Transport::Stdio { argv } = &servers[0].transport else {
            panic!("{servers:?}");
        };
        assert_eq!(argv, &["npx", "-y", "a//b", "c/*d*/"]);
        // Still an error where it is one, with the line it is on.
        let e = parse_servers_document("{\n// c\n\"servers\": {\"m\": }\n}").expect_err("bad");
        assert!(e.to_string().contains("line 3"), "{e}");
    }

    #[test]
    fn toml_document() {
        let doc = "[servers.fx]\ncommand = \"srv --flag\"\nnetwork = \"none\"\nlimits = { memory_mb = 256 }\ntags = [\"a\"]\n";
        let servers = parse_servers_document(doc).expect("valid");
        assert_eq!(servers[0].network, NetworkPolicy::None);
        assert_eq!(servers[0].limits.memory_mb, Some(256));
        assert_eq!(servers[0].tags, vec!["a".to_owned()]);
    }

    #[test]
    fn errors_name_the_field() {
        for (name, v, want) in [
            (
                "fs",
                json!({"command": "x", "env": {"1BAD": "v"}}),
                "servers.fs.env.1BAD",
            ),
            (
                "fs",
                json!({"command": "x", "env": {"A": [1]}}),
                "servers.fs.env.A",
            ),
            (
                "fs",
                json!({"command": "x", "netwrk": "none"}),
                "servers.fs.netwrk",
            ),
            (
                "fs",
                json!({"command": "x", "network": "some"}),
                "servers.fs.network",
            ),
            ("fs", json!({}), "servers.fs"),
            ("fs", json!([1]), "servers.fs"),
            (
                "fs",
                json!({"command": "'unbalanced"}),
                "servers.fs.command",
            ),
            ("fs", json!({"command": ["a", 1]}), "servers.fs.command.1"),
            (
                "fs",
                json!({"command": "x", "limits": {"memory_mb": 0}}),
                "servers.fs.limits.memoryMb",
            ),
            (
                "fs",
                json!({"command": "x", "limits": {"memory_mb": -1}}),
                "servers.fs.limits.memory_mb",
            ),
            (
                "fs",
                json!({"command": "x", "limits": {"cpu": 1}}),
                "servers.fs.limits.cpu",
            ),
            (
                "fs",
                json!({"command": "x", "mounts": ["rel"]}),
                "servers.fs.mounts.0",
            ),
            (
                "fs",
                json!({"command": "x", "install_commands": [" "]}),
                "servers.fs.installCommands.0",
            ),
            (
                "fs",
                json!({"command": "x", "tags": [""]}),
                "servers.fs.tags.0",
            ),
            (
                "fs",
                json!({"command": "x", "headers": {}}),
                "servers.fs.headers",
            ),
            ("bad name", json!({"command": "x"}), "servers.bad name"),
            ("r", json!({"url": "ftp://x"}), "servers.r.url"),
            (
                "r",
                json!({"url": "http://x", "type": "stdio"}),
                "servers.r.type",
            ),
            (
                "r",
                json!({"url": "http://x", "headers": {"a b": "1"}}),
                "servers.r.headers.a b",
            ),
        ] {
            assert_eq!(err(name, v.clone()), want, "{v}");
        }
    }

    #[test]
    fn extreme_numbers_are_errors_not_panics() {
        for (v, want) in [
            (
                json!({"command": "x", "timeout_minutes": 1e300}),
                "servers.t.timeoutMinutes",
            ),
            (
                json!({"command": "x", "timeout_minutes": -1}),
                "servers.t.timeoutMinutes",
            ),
            (
                json!({"command": "x", "timeout_minutes": 0}),
                "servers.t.timeoutMinutes",
            ),
            (
                json!({"command": "x", "timeout_minutes": "NaN"}),
                "servers.t.timeout_minutes",
            ),
            (
                json!({"command": "x", "callTimeoutSeconds": u64::MAX}),
                "servers.t.callTimeoutSeconds",
            ),
            (json!({"command": "x", "callTimeoutSeconds": 1e-300}), ""),
            (
                json!({"command": "x", "limits": {"memoryMb": 1e300}}),
                "servers.t.limits.memoryMb",
            ),
        ] {
            match ServerConfig::from_value("t", &v) {
                Ok(c) => {
                    assert_eq!(want, "", "{v} should fail");
                    assert_eq!(c.call_timeout, Duration::from_millis(1));
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::ConfigInvalid);
                    assert_eq!(e.field(), Some(want), "{v}");
                }
            }
        }
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e300] {
            let e = duration_from_millis(bad, "timeoutMs").expect_err("out of range");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.field(), Some("timeoutMs"));
        }
        for bad in [
            0.0,
            -0.0,
            -1.0,
            f64::NAN,
            f64::NEG_INFINITY,
            f64::INFINITY,
            1e12,
        ] {
            let e = duration_from_secs(bad, "timeout").expect_err("not a timeout");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(e.field(), Some("timeout"));
        }
        assert_eq!(
            duration_from_secs(1e-9, "timeout").expect("valid"),
            Duration::from_millis(1)
        );
        for bad in [Some(Duration::ZERO), Some(Duration::MAX)] {
            let e = check_api_timeout(bad, "timeout").expect_err("not a timeout");
            assert_eq!(e.field(), Some("timeout"));
        }
        check_api_timeout(None, "timeout").expect("default");
        assert_eq!(
            duration_from_secs(2.5, "timeout").expect("valid"),
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn own_form_round_trips() {
        let c = ServerConfig::from_value(
            "fx",
            &json!({"command": ["srv", "a b"], "network": "none", "mounts": ["/data:/mnt:rw", {"host": "/a:b"}],
                    "limits": {"max_processes": 8}, "allow_tools": ["echo"], "deny_tools": ["x"],
                    "call_timeout_seconds": 2.5, "timeout_minutes": 0.1234, "cwd": "/tmp",
                    "tags": ["prod", "fs"], "env": {"A": "1"}}),
        )
        .expect("valid");
        let v = serde_json::to_value(&c).expect("serializes");
        assert_eq!(v["name"], "fx");
        assert_eq!(v["callTimeoutSeconds"], 2.5);
        assert_eq!(v["limits"], json!({"maxProcesses": 8}));
        assert_eq!(v["mounts"][0], "/data:/mnt:rw");
        assert_eq!(
            v["mounts"][1],
            json!({"host": "/a:b", "target": "/a:b", "readOnly": true})
        );
        let back: ServerConfig = serde_json::from_value(v.clone()).expect("valid");
        assert_eq!(c, back);
        assert_eq!(ServerConfig::from_value("fx", &v).expect("valid"), c);
        assert!(c.tools.permits("echo") && !c.tools.permits("x") && !c.tools.permits("y"));
        assert!(!c.mounts[0].read_only);

        let remote = ServerConfig::url("r", "https://example.com/mcp");
        let v = serde_json::to_value(&remote).expect("serializes");
        assert_eq!(
            v,
            json!({"name": "r", "url": "https://example.com/mcp", "timeoutMinutes": 10.0,
                   "callTimeoutSeconds": 60.0, "network": "all"})
        );
        assert_eq!(
            serde_json::from_value::<ServerConfig>(v).expect("valid"),
            remote
        );
    }

    #[test]
    fn deserialize_without_name_fails() {
        let e = serde_json::from_value::<ServerConfig>(json!({"command": "x"}))
            .expect_err("needs a name");
        assert!(e.to_string().contains("name"));
    }
}
