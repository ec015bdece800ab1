//! The catalog: well-known MCP servers that exist as npm or PyPI packages, each with a pinned
//! version, how to install and run it, and an explicit mapping of its config keys (in E2B's
//! camelCase style: `githubPersonalAccessToken`, `apiKey`, `paths`) to what the server reads —
//! an environment variable or a command-line argument. Secrets reach servers by env only, never
//! argv; the loader refuses an entry that would put a secret in argv.
//!
//! The data is `servers.toml` next to this file, embedded at build time. [`Catalog::get`] loads
//! and validates it once.
//!
//! Besides its own keys, every catalog server takes corral's `network` (`"all"`, the default,
//! or `"none"`).
//!
//! [`resolve_mcp`] turns an E2B-style `mcp` object (catalog names with their keys,
//! `github/<owner>/<repo>[#ref]` custom servers, plain corral configs and `mcpServers`
//! documents, mixed) into [`ServerConfig`]s.
//!
//! **Install.** An npm package is installed with `npm install -g PKG@VERSION` and run by its
//! bin; a PyPI package is installed into a venv at `/opt/corral/<name>` and run from it. The
//! install commands run once per server (the per-server install cache); after `corral pull NAME`
//! they are a template named `catalog-<name>` and a server starts from it without installing.

mod docker;
mod mcp;

use std::{collections::BTreeMap, sync::OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use self::docker::{hint as docker_hint, without_container};
pub use self::mcp::{git_base, resolve_mcp};
use crate::{
    config::ServerConfig,
    error::{Error, Result},
};

/// The embedded data file.
pub const DATA: &str = include_str!("servers.toml");

/// Where a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// npmjs.com: installed with `npm install -g`, run by its bin (as `npx` would).
    Npm,
    /// pypi.org: installed with pip into a venv, run by its console script (as `uvx` would).
    Pypi,
}

/// The type of a config key's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// A string.
    #[default]
    String,
    /// A list of strings.
    List,
    /// `true` / `false`.
    Boolean,
    /// An integer.
    Integer,
}

/// One config key of a catalog server and how it reaches the server: exactly one of `env`,
/// `arg` or `positional`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Key {
    /// What it is.
    pub description: String,
    /// Whether the server needs it.
    #[serde(default)]
    pub required: bool,
    /// Its value's type.
    #[serde(default, rename = "type")]
    pub kind: KeyType,
    /// A credential: only ever passed through `env`.
    #[serde(default)]
    pub secret: bool,
    /// The environment variable that carries it (a list is joined with `separator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The command-line flag that carries it: `--flag VALUE` (a boolean: `--flag` when true; a
    /// list: the flag once per item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
    /// Appended as positional arguments (a list: one argument per item).
    #[serde(default)]
    pub positional: bool,
    /// How a list is joined for `env` (default `,`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

/// One catalog server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    /// Its name in `mcp={…}` (and the server's name in the corral).
    pub name: String,
    /// One line about what it does.
    pub description: String,
    /// npm or PyPI.
    pub registry: Registry,
    /// The package's name.
    pub package: String,
    /// The pinned version.
    pub version: String,
    /// The executable the package installs.
    pub bin: String,
    /// Fixed arguments, before those from keys.
    #[serde(default)]
    pub args: Vec<String>,
    /// Packages installed beside it, each pinned (`name==version` on PyPI, `name@version` on
    /// npm): a dependency its own metadata leaves open and a newer release broke.
    #[serde(default, rename = "with", skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// Its config keys, by their E2B-style name.
    #[serde(default)]
    pub keys: BTreeMap<String, Key>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    servers: Vec<Entry>,
}

/// The loaded, validated catalog.
#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn camel_case(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_alphanumeric())
}

impl Entry {
    fn check(&self) -> std::result::Result<(), String> {
        let n = &self.name;
        let name_ok = !n.is_empty()
            && n.len() <= 48
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err("name must be lowercase letters, digits and `-`".into());
        }
        if self.description.trim().is_empty() {
            return Err("description is empty".into());
        }
        let pkg_ok = match self.registry {
            Registry::Npm => {
                let bare = self
                    .package
                    .strip_prefix('@')
                    .map_or(self.package.as_str(), |s| {
                        s.split_once('/').map_or("", |(_, p)| p)
                    });
                !bare.is_empty()
                    && self.package.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"@/-._".contains(&b)
                    })
            }
            Registry::Pypi => {
                !self.package.is_empty()
                    && self
                        .package
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            }
        };
        if !pkg_ok {
            return Err(format!("package `{}` is not a valid name", self.package));
        }
        let version_ok = !self.version.is_empty()
            && self.version.as_bytes()[0].is_ascii_digit()
            && self
                .version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-+".contains(&b));
        if !version_ok {
            return Err(format!(
                "version `{}` must be one exact version",
                self.version
            ));
        }
        if self.bin.is_empty()
            || !self
                .bin
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(format!("bin `{}` is not a plain executable name", self.bin));
        }
        for w in &self.with {
            let pin = match self.registry {
                Registry::Pypi => "==",
                Registry::Npm => "@",
            };
            let ok = w.split_once(pin).is_some_and(|(n, v)| {
                !n.is_empty() && v.as_bytes().first().is_some_and(u8::is_ascii_digit)
            }) && !w.contains(char::is_whitespace);
            if !ok {
                return Err(format!("with: `{w}` must be pinned as name{pin}version"));
            }
        }
        let mut envs = std::collections::BTreeSet::new();
        for (k, key) in &self.keys {
            if !camel_case(k) {
                return Err(format!("key `{k}` must be camelCase (E2B style)"));
            }
            if key.description.trim().is_empty() {
                return Err(format!("key `{k}` has no description"));
            }
            let routes = usize::from(key.env.is_some())
                + usize::from(key.arg.is_some())
                + usize::from(key.positional);
            if routes != 1 {
                return Err(format!(
                    "key `{k}` needs exactly one of env, arg, positional"
                ));
            }
            if key.secret && key.env.is_none() {
                return Err(format!(
                    "key `{k}` is a secret: it may only reach the server by env"
                ));
            }
            if let Some(e) = &key.env {
                if !valid_env_name(e) {
                    return Err(format!("key `{k}`: `{e}` is not an UPPER_CASE env name"));
                }
                if !envs.insert(e.clone()) {
                    return Err(format!("env `{e}` is used by two keys"));
                }
            }
            if let Some(a) = &key.arg
                && (!a.starts_with('-') || a.contains(char::is_whitespace))
            {
                return Err(format!("key `{k}`: arg `{a}` must be one flag"));
            }
            if key.separator.is_some() && !(key.env.is_some() && key.kind == KeyType::List) {
                return Err(format!(
                    "key `{k}`: separator is for list keys passed by env"
                ));
            }
        }
        Ok(())
    }

    /// The install commands (run once per server, or once per template after `corral pull`).
    pub fn install_commands(&self) -> Vec<String> {
        match self.registry {
            Registry::Npm => vec![format!(
                "npm install -g --no-audit --no-fund --loglevel=error {}@{}{}",
                self.package,
                self.version,
                self.with
                    .iter()
                    .map(|w| format!(" {w}"))
                    .collect::<String>()
            )],
            Registry::Pypi => {
                let venv = self.venv();
                vec![format!(
                    "mkdir -p /opt/corral && python3 -m venv {venv} && {venv}/bin/pip install --quiet --disable-pip-version-check {}=={}{}",
                    self.package,
                    self.version,
                    self.with
                        .iter()
                        .map(|w| format!(" {w}"))
                        .collect::<String>()
                )]
            }
        }
    }

    fn venv(&self) -> String {
        format!("/opt/corral/{}", self.name)
    }

    /// The program that runs the server, once installed.
    pub fn program(&self) -> String {
        match self.registry {
            Registry::Npm => self.bin.clone(),
            Registry::Pypi => format!("{}/bin/{}", self.venv(), self.bin),
        }
    }

    /// The template `corral pull` builds for this entry.
    pub fn template_name(&self) -> String {
        format!("catalog-{}", self.name)
    }

    /// The required keys, by name.
    pub fn required_keys(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|(_, k)| k.required)
            .map(|(n, _)| n.as_str())
    }

    /// The server config for `values` (the user's keys). `field` prefixes error paths
    /// (e.g. `mcp.github`). Unknown keys, missing required keys and values of the wrong type
    /// are `CONFIG_INVALID` naming the key.
    pub fn server_config(
        &self,
        values: &serde_json::Map<String, Value>,
        field: &str,
    ) -> Result<ServerConfig> {
        for k in values.keys() {
            if !self.keys.contains_key(k) {
                let known: Vec<&str> = self.keys.keys().map(String::as_str).collect();
                let known = if known.is_empty() {
                    "it takes no keys".to_owned()
                } else {
                    format!("its keys are {}", known.join(", "))
                };
                return Err(Error::config(
                    format!("{field}.{k}"),
                    format!(
                        "unknown key `{k}` for catalog server `{}`: {known}",
                        self.name
                    ),
                ));
            }
        }
        let mut argv = vec![self.program()];
        argv.extend(self.args.iter().cloned());
        let mut env = BTreeMap::new();
        let mut positional = Vec::new();
        for (k, key) in &self.keys {
            let at = format!("{field}.{k}");
            let value = match values.get(k) {
                None | Some(Value::Null) => {
                    if key.required {
                        return Err(Error::config(
                            at,
                            format!(
                                "catalog server `{}` needs `{k}` ({})",
                                self.name, key.description
                            ),
                        ));
                    }
                    continue;
                }
                Some(v) => v,
            };
            let items = typed(key.kind, value).map_err(|m| Error::config(&at, m))?;
            if let Some(e) = &key.env {
                let sep = key.separator.as_deref().unwrap_or(",");
                env.insert(e.clone(), items.join(sep));
            } else if let Some(flag) = &key.arg {
                if key.kind == KeyType::Boolean {
                    if items.first().is_some_and(|v| v == "true") {
                        argv.push(flag.clone());
                    }
                } else {
                    for item in items {
                        argv.push(flag.clone());
                        argv.push(item);
                    }
                }
            } else {
                positional.extend(items);
            }
        }
        argv.extend(positional);
        let mut config = ServerConfig::argv(self.name.clone(), argv);
        config.env = env;
        config.install_commands = self.install_commands();
        config.description = Some(self.description.clone());
        config.tags = vec!["catalog".into()];
        Ok(config)
    }
}

/// A key's value as strings (one per list item), type-checked.
fn typed(kind: KeyType, value: &Value) -> std::result::Result<Vec<String>, String> {
    match (kind, value) {
        (KeyType::String, Value::String(s)) => Ok(vec![s.clone()]),
        (KeyType::String, Value::Number(n)) => Ok(vec![n.to_string()]),
        (KeyType::List, Value::String(s)) => Ok(vec![s.clone()]),
        (KeyType::List, Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err("must be a list of strings".to_owned()),
            })
            .collect(),
        (KeyType::Boolean, Value::Bool(b)) => Ok(vec![b.to_string()]),
        (KeyType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(vec![n.to_string()]),
        (KeyType::Integer, Value::String(s)) if s.parse::<i64>().is_ok() => Ok(vec![s.clone()]),
        (kind, _) => Err(format!(
            "must be {}",
            match kind {
                KeyType::String => "a string",
                KeyType::List => "a list of strings",
                KeyType::Boolean => "true or false",
                KeyType::Integer => "an integer",
            }
        )),
    }
}

impl Catalog {
    /// Parses and validates a catalog data file (the embedded one is [`Catalog::get`]).
    pub fn parse(text: &str) -> Result<Self> {
        let data: Data =
            toml::from_str(text).map_err(|e| Error::config("catalog", format!("{e}")))?;
        let mut seen = std::collections::BTreeSet::new();
        for e in &data.servers {
            e.check()
                .map_err(|m| Error::config(format!("catalog.{}", e.name), m))?;
            if !seen.insert(e.name.clone()) {
                return Err(Error::config(format!("catalog.{}", e.name), "listed twice"));
            }
        }
        Ok(Self {
            entries: data.servers,
        })
    }

    /// The embedded catalog (parsed once; a broken data file is a build defect caught by the
    /// catalog's tests, and yields an empty catalog here rather than a panic).
    pub fn get() -> &'static Self {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Self::parse(DATA).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the embedded catalog is invalid");
                Self {
                    entries: Vec::new(),
                }
            })
        })
    }

    /// Every entry, by name.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// One entry.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// One entry, or `CONFIG_INVALID` naming it.
    pub fn require(&self, name: &str, field: &str) -> Result<&Entry> {
        self.entry(name).ok_or_else(|| {
            Error::config(
                field,
                format!(
                    "unknown MCP server `{name}`: not in the catalog (`corral catalog list` shows its {} servers), not `github/<owner>/<repo>`, and not a server config (`command` or `url`)",
                    self.entries.len()
                ),
            )
        })
    }

    /// The README's catalog table (Markdown), generated from the data file.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| name | package | keys (→ env var or argument) | description |\n|---|---|---|---|\n",
        );
        for e in &self.entries {
            let keys: Vec<String> = e
                .keys
                .iter()
                .map(|(k, key)| {
                    let to = if let Some(env) = &key.env {
                        format!("`{env}`")
                    } else if let Some(a) = &key.arg {
                        format!("`{a}`")
                    } else {
                        "args".to_owned()
                    };
                    let req = if key.required { " (required)" } else { "" };
                    format!("`{k}`{req} → {to}")
                })
                .collect();
            let keys = if keys.is_empty() {
                "—".to_owned()
            } else {
                keys.join("<br>")
            };
            let registry = match e.registry {
                Registry::Npm => "npm",
                Registry::Pypi => "PyPI",
            };
            out.push_str(&format!(
                "| `{}` | {registry} `{}@{}` | {keys} | {} |\n",
                e.name,
                e.package,
                e.version,
                e.description.replace('|', "\\|")
            ));
        }
        out
    }
}

impl crate::Corral {
    /// Installs catalog servers ahead of time (`corral pull`): builds each one's template
    /// `catalog-<name>` from its install commands, so a later `start_gateway(mcp={…})` naming it
    /// starts from the template instead of installing. Every name is checked before anything is
    /// built (an unknown one is `CONFIG_INVALID`); building again what is current is cheap.
    pub async fn pull(&self, names: &[String]) -> Result<Vec<crate::TemplateInfo>> {
        let catalog = Catalog::get();
        let entries = names
            .iter()
            .map(|n| catalog.require(n, &format!("pull.{n}")))
            .collect::<Result<Vec<_>>>()?;
        let mut built = Vec::with_capacity(entries.len());
        for e in entries {
            built.push(
                self.build_template(&e.template_name(), &e.install_commands(), None)
                    .await?,
            );
        }
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ErrorKind;

    #[test]
    fn every_entry_is_valid() {
        let c = Catalog::parse(DATA).expect("the data file is valid");
        assert!(c.entries().len() >= 40, "{} entries", c.entries().len());
        for e in c.entries() {
            // Every key maps somewhere; secrets only to env.
            for (k, key) in &e.keys {
                assert!(!key.secret || key.env.is_some(), "{}.{k}", e.name);
            }
            // A config with every required key (dummy values of the right type) builds, and
            // no secret shows up in argv.
            let mut values = serde_json::Map::new();
            for (k, key) in &e.keys {
                let v = match key.kind {
                    KeyType::String => json!(format!("secret-{k}")),
                    KeyType::List => json!([format!("/x/{k}")]),
                    KeyType::Boolean => json!(true),
                    KeyType::Integer => json!(7),
                };
                values.insert(k.clone(), v);
            }
            let config = e
                .server_config(&values, &format!("mcp.{}", e.name))
                .expect("config");
            config.validate().expect("valid server config");
            if let crate::Transport::Stdio { argv } = &config.transport {
                for (k, key) in &e.keys {
                    if key.secret {
                        assert!(
                            !argv.iter().any(|a| a.contains(&format!("secret-{k}"))),
                            "{}.{k} leaked into argv",
                            e.name
                        );
                        assert!(config.env.values().any(|v| v == &format!("secret-{k}")));
                    }
                }
            }
            // Each required key missing → CONFIG_INVALID naming it.
            for req in e.required_keys() {
                let mut partial = values.clone();
                partial.remove(req);
                let err = e
                    .server_config(&partial, &format!("mcp.{}", e.name))
                    .expect_err("missing key");
                assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
                assert_eq!(err.field(), Some(format!("mcp.{}.{req}", e.name).as_str()));
            }
        }
    }

    #[test]
    fn unknown_keys_and_types_are_refused() {
        let c = Catalog::get();
        let gh = c.entry("github").expect("github");
        let err = gh
            .server_config(
                json!({"token": "x"}).as_object().expect("obj"),
                "mcp.github",
            )
            .expect_err("unknown");
        assert_eq!(err.field(), Some("mcp.github.token"));
        let err = gh
            .server_config(&serde_json::Map::new(), "mcp.github")
            .expect_err("missing");
        assert_eq!(err.field(), Some("mcp.github.githubPersonalAccessToken"));
        let fs = c.entry("filesystem").expect("filesystem");
        let err = fs
            .server_config(
                json!({"paths": [1]}).as_object().expect("obj"),
                "mcp.filesystem",
            )
            .expect_err("type");
        assert_eq!(err.field(), Some("mcp.filesystem.paths"));
        let err = c.require("nope", "mcp.nope").expect_err("unknown server");
        assert_eq!(err.kind(), ErrorKind::ConfigInvalid);
        assert_eq!(err.field(), Some("mcp.nope"));
    }

    #[test]
    fn keys_reach_the_server_as_mapped() {
        let c = Catalog::get();
        let fs = c
            .entry("filesystem")
            .expect("fs")
            .server_config(
                json!({"paths": ["/data", "/tmp"]})
                    .as_object()
                    .expect("obj"),
                "mcp.filesystem",
            )
            .expect("fs");
        assert_eq!(
            fs.transport,
            crate::Transport::Stdio {
                argv: vec![
                    "mcp-server-filesystem".into(),
                    "/data".into(),
                    "/tmp".into()
                ]
            }
        );
        let slack = c
            .entry("slack")
            .expect("slack")
            .server_config(
                json!({"botToken": "xoxb-1", "teamId": "T1"})
                    .as_object()
                    .expect("obj"),
                "mcp.slack",
            )
            .expect("slack");
        assert_eq!(
            slack.env.get("SLACK_BOT_TOKEN").map(String::as_str),
            Some("xoxb-1")
        );
        assert_eq!(
            slack.env.get("SLACK_TEAM_ID").map(String::as_str),
            Some("T1")
        );
    }

    #[test]
    fn the_readme_table_is_generated_from_the_data_file() {
        let readme = include_str!("../../../README.md");
        let start = "<!-- catalog:start -->\n";
        let (_, rest) = readme
            .split_once(start)
            .expect("README catalog start marker");
        let (table, _) = rest
            .split_once("<!-- catalog:end -->")
            .expect("README catalog end marker");
        assert_eq!(
            table,
            Catalog::get().markdown_table(),
            "README's catalog table is stale: regenerate it with `corral catalog list --markdown`"
        );
    }

    #[test]
    fn the_checker_refuses_secrets_in_argv() {
        let bad = r#"
[[servers]]
name = "x"
description = "x"
registry = "npm"
package = "x"
version = "1.0.0"
bin = "x"
[servers.keys.apiKey]
description = "k"
secret = true
arg = "--api-key"
"#;
        let err = Catalog::parse(bad).expect_err("secret in argv");
        assert_eq!(err.field(), Some("catalog.x"));
    }
}
