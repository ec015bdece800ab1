//! The E2B-style `mcp` object: `{"<catalog name>": {keys}, "github/<owner>/<repo>[#ref]":
//! {"installCmd", "runCmd", "envs"}, "<name>": {<server config>}, "mcpServers": {…}}`, mixed.

use serde_json::{Map, Value};

use super::Catalog;
use crate::{
    config::{Mount, ServerConfig, parse_servers_value},
    error::{Error, Result},
    install::TemplateInfo,
};

/// The default base of `github/<owner>/<repo>` clones.
pub const DEFAULT_GIT_BASE: &str = "https://github.com";

/// The base URL (or local directory) `github/<owner>/<repo>` servers are cloned from:
/// `CORRAL_GIT_BASE`, else `https://github.com`.
pub fn git_base() -> String {
    std::env::var("CORRAL_GIT_BASE")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_GIT_BASE.to_owned())
}

/// Turns an `mcp` object into server configs (see the module docs). `templates` are the
/// built templates (a catalog server whose `catalog-<name>` template is built and current starts
/// from it instead of installing); `git_base` is where `github/…` servers are cloned from.
/// Every error is `CONFIG_INVALID` with its field under `mcp.`.
pub fn resolve_mcp(
    mcp: &Map<String, Value>,
    templates: &[TemplateInfo],
    git_base: &str,
) -> Result<Vec<ServerConfig>> {
    let catalog = Catalog::get();
    let mut out: Vec<ServerConfig> = Vec::new();
    for (key, value) in mcp {
        let field = format!("mcp.{key}");
        if key == "mcpServers" || key == "servers" {
            let doc = serde_json::json!({ "mcpServers": value });
            out.extend(parse_servers_value(&doc)?);
            continue;
        }
        if let Some(spec) = key.strip_prefix("github/") {
            out.push(github_server(spec, value, git_base, &field)?);
            continue;
        }
        let mut obj = match value {
            Value::Object(o) => o.clone(),
            Value::Null | Value::Bool(true) => Map::new(),
            _ => {
                return Err(Error::config(
                    &field,
                    "must be an object (the server's keys, or a server config)",
                ));
            }
        };
        if obj.contains_key("command") || obj.contains_key("url") {
            out.push(ServerConfig::from_value(key, value)?);
            continue;
        }
        let entry = catalog.require(key, &field)?;
        // Besides its own keys, every catalog server takes corral's `network`.
        let network = obj.remove("network");
        let mut config = entry.server_config(&obj, &field)?;
        if let Some(n) = network {
            config.network = serde_json::from_value(n).map_err(|_| {
                Error::config(format!("{field}.network"), "must be \"all\" or \"none\"")
            })?;
        }
        let template = entry.template_name();
        if templates
            .iter()
            .any(|t| t.name == template && t.replaces(&config.install_commands))
        {
            config.template = Some(template);
            config.install_commands.clear();
        }
        out.push(config);
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &out {
        if !seen.insert(c.name.clone()) {
            return Err(Error::config(
                format!("mcp.{}", c.name),
                format!("two servers are named `{}`", c.name),
            ));
        }
    }
    Ok(out)
}

fn git_part_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn string_of(obj: &Map<String, Value>, keys: &[&str], field: &str) -> Result<Option<String>> {
    let mut found = None;
    for k in keys {
        match obj.get(*k) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if !s.trim().is_empty() => found = Some(s.clone()),
            Some(_) => {
                return Err(Error::config(
                    format!("{field}.{k}"),
                    "must be a non-empty string",
                ));
            }
        }
    }
    Ok(found)
}

/// `github/<owner>/<repo>[#ref]` → a server cloned into its sandbox, installed in the repo root
/// with `installCmd`, run with `runCmd` as a stdio server.
fn github_server(spec: &str, value: &Value, git_base: &str, field: &str) -> Result<ServerConfig> {
    let (path, git_ref) = match spec.split_once('#') {
        Some((p, r)) => (p, Some(r)),
        None => (spec, None),
    };
    let (owner, repo) = path.split_once('/').ok_or_else(|| {
        Error::config(field, "expected github/<owner>/<repo> (optionally #<ref>)")
    })?;
    if !git_part_ok(owner) || !git_part_ok(repo) {
        return Err(Error::config(
            field,
            "owner and repo may hold letters, digits, `-`, `_` and `.`",
        ));
    }
    if let Some(r) = git_ref
        && (r.is_empty()
            || r.starts_with('-')
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b)))
    {
        return Err(Error::config(field, format!("`{r}` is not a git ref")));
    }
    let obj = value
        .as_object()
        .ok_or_else(|| Error::config(field, "must be an object with `runCmd`"))?;
    for k in obj.keys() {
        if !matches!(
            k.as_str(),
            "installCmd" | "install_cmd" | "runCmd" | "run_cmd" | "envs" | "env"
        ) {
            return Err(Error::config(
                format!("{field}.{k}"),
                format!("unknown key `{k}`: a github server takes installCmd, runCmd and envs"),
            ));
        }
    }
    let install = string_of(obj, &["installCmd", "install_cmd"], field)?;
    let run = string_of(obj, &["runCmd", "run_cmd"], field)?.ok_or_else(|| {
        Error::config(
            format!("{field}.runCmd"),
            "a github server needs `runCmd`, the command that starts its stdio MCP server",
        )
    })?;
    let mut env = std::collections::BTreeMap::new();
    for k in ["envs", "env"] {
        match obj.get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (name, v) in m {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(Error::config(
                                format!("{field}.{k}.{name}"),
                                "must be a string",
                            ));
                        }
                    };
                    env.insert(name.clone(), v);
                }
            }
            Some(_) => {
                return Err(Error::config(
                    format!("{field}.{k}"),
                    "must be an object of name → value",
                ));
            }
        }
    }
    let name = repo.trim_end_matches(".git").to_owned();
    let base = git_base.trim_end_matches('/');
    let url = format!("{base}/{owner}/{repo}");
    let dir = format!("/opt/corral/src/{name}");
    let mut install_commands = vec![format!(
        "rm -rf {dir} && mkdir -p /opt/corral/src && git -c safe.directory='*' clone --quiet {} {dir}",
        shell_quote(&url)
    )];
    if let Some(r) = git_ref {
        install_commands.push(format!(
            "cd {dir} && git -c advice.detachedHead=false checkout --quiet {}",
            shell_quote(r)
        ));
    }
    if let Some(i) = &install {
        install_commands.push(format!("cd {dir} && {i}"));
    }
    let mut config = ServerConfig::argv(
        name.clone(),
        [
            "sh".to_owned(),
            "-c".to_owned(),
            format!("cd {dir} && {run}"),
        ],
    );
    config.env = env;
    config.install_commands = install_commands;
    config.description = Some(format!(
        "github/{owner}/{repo}{}",
        git_ref.map(|r| format!("#{r}")).unwrap_or_default()
    ));
    config.tags = vec!["github".into()];
    // A local base (a directory, or file://) is made visible to the clone, read-only.
    let local = base
        .strip_prefix("file://")
        .or_else(|| base.starts_with('/').then_some(base));
    if let Some(dir) = local {
        config.mounts.push(Mount {
            host: dir.into(),
            target: dir.into(),
            read_only: true,
        });
    }
    config
        .validate()
        .map_err(|e| Error::config(field, e.message()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{ErrorKind, Transport};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn mixed_forms_resolve() {
        let servers = resolve_mcp(
            &map(json!({
                "memory": {},
                "github/acme/tools#v1": {"install_cmd": "make", "runCmd": "./serve", "envs": {"A": "1"}},
                "mine": {"command": "my-server --x"},
                "mcpServers": {"other": {"command": "npx", "args": ["-y", "pkg"]}}
            })),
            &[],
            "/srv/git",
        )
        .expect("resolve");
        let mut names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["memory", "mine", "other", "tools"]);
        let by = |n: &str| servers.iter().find(|s| s.name == n).expect("server");
        let gh = by("tools");
        assert_eq!(gh.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(gh.install_commands.len(), 3);
        assert!(gh.install_commands[0].contains("'/srv/git/acme/tools'"));
        assert!(gh.install_commands[1].contains("checkout --quiet 'v1'"));
        assert_eq!(gh.mounts.len(), 1);
        assert!(matches!(&gh.transport, Transport::Stdio { argv } if argv[2].ends_with("./serve")));
        assert_eq!(by("memory").install_commands.len(), 1);
    }

    #[test]
    fn odd_input_is_an_error_never_a_panic() {
        for key in [
            "",
            "github/",
            "github//",
            "github/a",
            "github/a/",
            "github/a/b/c",
            "github/a/b#",
            "github/a/b#-x",
            "github/../b",
            "github/a/.git",
            "github/a b/c",
            "github/a/b#x y",
            "mcpServers",
        ] {
            for value in [
                json!(null),
                json!(1),
                json!("x"),
                json!([]),
                json!({"runCmd": 1}),
                json!({"runCmd": "x", "envs": [1]}),
                json!({"runCmd": "x", "envs": {"1BAD": "v"}}),
            ] {
                let input = map(json!({ key: value }));
                if let Err(e) = resolve_mcp(&input, &[], DEFAULT_GIT_BASE) {
                    assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{key}: {e}");
                }
            }
        }
    }

    #[test]
    fn pulled_templates_replace_the_install() {
        let entry = Catalog::get().entry("time").expect("time");
        let t = TemplateInfo {
            name: entry.template_name(),
            id: "x".into(),
            base: None,
            install_commands: entry.install_commands(),
            size_bytes: 0,
        };
        let s = resolve_mcp(&map(json!({"time": {}})), &[t], DEFAULT_GIT_BASE).expect("resolve");
        assert_eq!(s[0].template.as_deref(), Some("catalog-time"));
        assert!(s[0].install_commands.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        for (input, field) in [
            (json!({"nope": {}}), "mcp.nope"),
            (
                json!({"github": {}}),
                "mcp.github.githubPersonalAccessToken",
            ),
            (
                json!({"github/a/b": {"installCmd": "x"}}),
                "mcp.github/a/b.runCmd",
            ),
            (
                json!({"github/a/b": {"runCmd": "x", "bogus": 1}}),
                "mcp.github/a/b.bogus",
            ),
            (json!({"github/a": {"runCmd": "x"}}), "mcp.github/a"),
            (json!({"time": 3}), "mcp.time"),
            (json!({"time": {"zone": "x"}}), "mcp.time.zone"),
            (json!({"time": {"network": "some"}}), "mcp.time.network"),
        ] {
            let e = resolve_mcp(&map(input.clone()), &[], DEFAULT_GIT_BASE).expect_err("error");
            assert_eq!(e.kind(), ErrorKind::ConfigInvalid, "{input}");
            assert_eq!(e.field(), Some(field), "{input}: {e}");
        }
    }
}
