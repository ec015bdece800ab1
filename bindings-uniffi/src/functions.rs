//! Free functions: config builders and parsers.

use std::collections::HashMap;

use corral_core as core;

use crate::{
    error::CorralError,
    types::{Mount, SandboxConfig, ServerConfig, parse_json},
};

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

/// A sandbox config from JSON text `{"name", "env", "network", "mounts", "limits"}`.
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
        .map_err(|e| CorralError::ConfigInvalid {
            detail: format!("mount `{spec}`: {e}"),
        })
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
