//! Templates and layers on disk: named, content-addressed layers built once from install
//! commands (`corral template build NAME --install-commands …`), and the per-server layers
//! that `corral server prune` cleans up.
//!
//! Layout under corral's home:
//! - `templates/<name>.json` — `{name, id, base, installCommands}`: a name points at a layer;
//! - `templates/layers/<id>/` — the layer (one `upper` tree per overlaid dir), where `id` is
//!   the hash of the base template's id and the install commands: building the same template
//!   again reuses it, and starting a sandbox from it mounts it (nothing is copied);
//! - `servers/<name>/layers/<key>/` — a server's own layer, keyed by the hash of its template
//!   and install commands (a change of either starts from a clean layer);
//! - `servers/<name>/installed` — the key whose install commands completed in that layer, so
//!   they run once per distinct list ([`run_install_commands`]; a remote sandbox keeps the
//!   marker inside itself).
//!
//! The file-system work here is blocking: async callers run it on the blocking pool.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    config::{NetworkPolicy, ServerConfig},
    error::{Error, ErrorKind, Result},
    runner::StartEvent,
    sandbox::{Command, ExecOutput, Provider, Sandbox, SandboxConfig},
    sync::blocking,
};

/// How long one install command may run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Lines of install output quoted in an `INSTALL_FAILED` error.
const INSTALL_TAIL_LINES: usize = 30;
/// Where a remote sandbox keeps the hash of its completed install commands.
const REMOTE_INSTALL_MARKER: &str = ".corral/installed";

/// A built template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// Its name.
    pub name: String,
    /// Content id (hash of the base's id and the install commands).
    pub id: String,
    /// The template it was built on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The commands it was built from.
    #[serde(default, alias = "install_commands")]
    pub install_commands: Vec<String>,
    /// Size of its layer on disk, in bytes (0 right after a build; filled in by a listing).
    #[serde(default)]
    pub size_bytes: u64,
}

fn templates_dir(home: &Path) -> PathBuf {
    home.join("templates")
}

fn layer_path(home: &Path, id: &str) -> PathBuf {
    templates_dir(home).join("layers").join(id)
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "template",
            "a template name is 1-64 characters of letters, digits, '-', '_' or '.'",
        ))
    }
}

/// A hex sha256 of `parts` (NUL-separated).
pub(crate) fn hash_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The template of this name, if it is built.
pub fn template(home: &Path, name: &str) -> Option<TemplateInfo> {
    check_name(name).ok()?;
    let text = std::fs::read_to_string(templates_dir(home).join(format!("{name}.json"))).ok()?;
    let info: TemplateInfo = serde_json::from_str(&text).ok()?;
    layer_path(home, &info.id).is_dir().then_some(info)
}

/// The `catalog-<name>` template (`corral pull`) built from exactly these install commands, if
/// any: a server that would run them (a catalog server, or a Docker entry run without its
/// container) starts from it instead.
pub(crate) fn pulled_template(home: &Path, install_commands: &[String]) -> Option<String> {
    if install_commands.is_empty() {
        return None;
    }
    std::fs::read_dir(templates_dir(home))
        .ok()?
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_prefix("catalog-")?.strip_suffix(".json")?;
            template(home, file.strip_suffix(".json")?)
        })
        .find(|t| t.replaces(install_commands))
        .map(|t| t.name)
}

impl TemplateInfo {
    /// Whether a server of these install commands may start from this template instead: it
    /// was built from exactly them, on no base.
    pub(crate) fn replaces(&self, install_commands: &[String]) -> bool {
        self.base.is_none() && self.install_commands == install_commands
    }
}

fn not_built(name: &str) -> Error {
    Error::sandbox(format!(
        "template `{name}` is not built: build it with `corral template build {name} \
         --install-commands …` (or Corral::build_template)"
    ))
}

/// The layers of template `name`, topmost first (its own, then its base's, …).
pub(crate) fn template_layers(home: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut next = Some(name.to_owned());
    while let Some(n) = next {
        let info = template(home, &n).ok_or_else(|| not_built(&n))?;
        out.push(layer_path(home, &info.id));
        if out.len() > 16 {
            return Err(Error::sandbox("templates are nested more than 16 deep"));
        }
        next = info.base;
    }
    Ok(out)
}

/// The content id of template `name` (for a server's layer key).
pub(crate) fn template_id(home: &Path, name: &str) -> Result<String> {
    template(home, name)
        .map(|t| t.id)
        .ok_or_else(|| not_built(name))
}

/// Builds template `name` from `install_commands` (on top of `base`, if given): once per
/// content; building the same content again only (re)names it.
pub async fn build_template(
    provider: &dyn Provider,
    home: &Path,
    name: &str,
    install_commands: &[String],
    base: Option<&str>,
) -> Result<TemplateInfo> {
    check_name(name)?;
    if provider.name() != "local" {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            format!(
                "templates are layers of the local provider; the `{}` provider has none",
                provider.name()
            ),
        ));
    }
    let base_id = match base {
        Some(b) => {
            let (home, b) = (home.to_owned(), b.to_owned());
            Some(blocking(move || template_id(&home, &b)).await?)
        }
        None => None,
    };
    let id = hash_parts(
        std::iter::once(base_id.as_deref().unwrap_or(""))
            .chain(install_commands.iter().map(String::as_str)),
    )[..32]
        .to_owned();
    let info = TemplateInfo {
        name: name.to_owned(),
        id: id.clone(),
        base: base.map(str::to_owned),
        install_commands: install_commands.to_vec(),
        size_bytes: 0,
    };
    let layer = layer_path(home, &id);
    let building = layer.with_extension(format!("building-{}", std::process::id()));
    let fresh = {
        let (layer, building) = (layer.clone(), building.clone());
        blocking(move || {
            if layer.is_dir() {
                return Ok(false);
            }
            let _ = remove_tree(&building);
            std::fs::create_dir_all(&building).map_err(|e| Error::io(building.display(), e))?;
            Ok(true)
        })
        .await?
    };
    if fresh {
        let result = run_build(provider, name, &building, install_commands, base).await;
        let failed = result.is_err();
        let (layer, building) = (layer.clone(), building.clone());
        blocking(move || {
            if failed {
                let _ = remove_tree(&building);
                return Ok(());
            }
            // Work dirs are scratch space of the build's mounts: not part of the layer.
            if let Ok(entries) = std::fs::read_dir(&building) {
                for e in entries.flatten() {
                    let _ = remove_tree(&e.path().join("work"));
                }
            }
            std::fs::rename(&building, &layer).map_err(|e| Error::io(layer.display(), e))
        })
        .await?;
        result?;
    }
    let meta = templates_dir(home).join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&info)
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    blocking(move || {
        let tmp = meta.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &meta))
            .map_err(|e| Error::io(meta.display(), e))
    })
    .await?;
    Ok(info)
}

async fn run_build(
    provider: &dyn Provider,
    name: &str,
    layer: &Path,
    install_commands: &[String],
    base: Option<&str>,
) -> Result<()> {
    let sandbox = provider
        .create(SandboxConfig {
            name: format!("template-{name}"),
            network: NetworkPolicy::All,
            template: base.map(str::to_owned),
            layer_dir: Some(layer.to_owned()),
            ..SandboxConfig::default()
        })
        .await?;
    let total = install_commands.len();
    let mut result = Ok(());
    for (i, script) in install_commands.iter().enumerate() {
        let mut command = Command::shell(script.clone());
        command.timeout = Some(INSTALL_TIMEOUT);
        let out = match sandbox.exec(command).await {
            Ok(o) => o,
            Err(e) => {
                result = Err(install_failed(name, i, total, script, e.message()));
                break;
            }
        };
        if !out.status.success() {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(INSTALL_TAIL_LINES)..].join("\n");
            result = Err(install_failed(
                name,
                i,
                total,
                script,
                &format!("{}:\n{tail}", out.status),
            ));
            break;
        }
    }
    let _ = sandbox.kill().await;
    result
}

fn install_failed(name: &str, i: usize, total: usize, script: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InstallFailed,
        format!(
            "install command {} of {total} for template `{name}` (`{script}`) failed: {why}",
            i + 1
        ),
    )
}

/// The key of a server's layer: the hash of its template's content id (when it starts from
/// one) and its install commands. Blocking (reads the template's metadata).
pub(crate) fn layer_key(
    home: &Path,
    template: Option<&str>,
    install_commands: &[String],
) -> Result<String> {
    let template_id = template.map(|t| template_id(home, t)).transpose()?;
    Ok(hash_parts(
        std::iter::once(template_id.as_deref().unwrap_or(""))
            .chain(install_commands.iter().map(String::as_str)),
    )[..32]
        .to_owned())
}

/// Makes `<state_dir>/layers/<key>` the server's layer: removes its other layers and records
/// the key for [`prune`]. Returns the layer's path. Blocking.
pub(crate) fn prepare_layers(state_dir: &Path, key: &str) -> Result<PathBuf> {
    let layers = state_dir.join("layers");
    if let Ok(entries) = std::fs::read_dir(&layers) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.split('.').next() != Some(key) {
                let _ = remove_tree(&e.path());
            }
        }
    }
    std::fs::create_dir_all(&layers).map_err(|e| Error::io(layers.display(), e))?;
    let _ = std::fs::write(state_dir.join("layer-key"), key);
    Ok(layers.join(key))
}

/// Runs a server's install commands in its sandbox, once per distinct list: `layer_key` is
/// recorded (in `state_dir` for a local sandbox, inside a remote one) when they all succeed,
/// and a start that finds it skips them.
pub(crate) async fn run_install_commands(
    sandbox: &dyn Sandbox,
    config: &ServerConfig,
    state_dir: Option<&Path>,
    layer_key: &str,
    emit: &(dyn Fn(StartEvent) + Sync),
) -> Result<()> {
    if config.install_commands.is_empty() {
        return Ok(());
    }
    // A remote sandbox keeps the marker inside itself (a new sandbox has nothing installed).
    let remote = !sandbox.state_is_local();
    let marker = state_dir.filter(|_| !remote).map(|d| d.join("installed"));
    if let Some(m) = &marker
        && tokio::fs::read_to_string(m)
            .await
            .is_ok_and(|s| s.trim() == layer_key)
    {
        return Ok(());
    }
    if remote
        && sandbox
            .read_file(REMOTE_INSTALL_MARKER)
            .await
            .is_ok_and(|s| String::from_utf8_lossy(&s).trim() == layer_key)
    {
        return Ok(());
    }
    let total = config.install_commands.len();
    for (i, script) in config.install_commands.iter().enumerate() {
        let mut command = Command::shell(script.clone());
        command.cwd = config.cwd.clone();
        command.network = Some(NetworkPolicy::All);
        command.timeout = Some(INSTALL_TIMEOUT);
        emit(StartEvent::InstallStarted {
            server: config.name.clone(),
            index: i + 1,
            total,
            command: script.clone(),
        });
        let out: ExecOutput = sandbox.exec(command).await.map_err(|e| {
            let message = format!(
                "install command {} of {total} for `{}` (`{script}`) failed: {}",
                i + 1,
                config.name,
                e.message()
            );
            Error::new(ErrorKind::InstallFailed, message).with_source(e)
        })?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        emit(StartEvent::InstallFinished {
            server: config.name.clone(),
            index: i + 1,
            status: out.status,
            output: text.clone(),
        });
        if !out.status.success() {
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(INSTALL_TAIL_LINES)..].join("\n");
            return Err(Error::new(
                ErrorKind::InstallFailed,
                format!(
                    "install command {} of {total} for `{}` (`{script}`) failed with {}:\n{tail}",
                    i + 1,
                    config.name,
                    out.status
                ),
            ));
        }
    }
    if let Some(m) = marker {
        tokio::fs::write(&m, layer_key)
            .await
            .map_err(|e| Error::io(m.display(), e))?;
    }
    if remote {
        sandbox
            .write_file(REMOTE_INSTALL_MARKER, layer_key.as_bytes())
            .await?;
    }
    Ok(())
}

/// The built templates, by name, with their sizes.
pub fn list_templates(home: &Path) -> Vec<TemplateInfo> {
    let Ok(entries) = std::fs::read_dir(templates_dir(home)) else {
        return Vec::new();
    };
    let mut out: Vec<TemplateInfo> = entries
        .flatten()
        .filter_map(|e| {
            let name = e
                .file_name()
                .to_string_lossy()
                .strip_suffix(".json")?
                .to_owned();
            let mut t = template(home, &name)?;
            t.size_bytes = tree_size(&layer_path(home, &t.id));
            Some(t)
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Removes template `name` (its layer too, unless another name points at the same content).
pub fn remove_template(home: &Path, name: &str) -> Result<()> {
    check_name(name)?;
    let meta = templates_dir(home).join(format!("{name}.json"));
    let info = template(home, name);
    std::fs::remove_file(&meta).map_err(|e| {
        Error::new(
            ErrorKind::ConfigInvalid,
            format!("no template named `{name}`: {e}"),
        )
    })?;
    if let Some(info) = info
        && !list_templates(home).iter().any(|t| t.id == info.id)
    {
        remove_tree(&layer_path(home, &info.id)).map_err(|e| Error::io("template layer", e))?;
    }
    Ok(())
}

/// What [`prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    /// Paths removed.
    pub removed: Vec<PathBuf>,
    /// Bytes freed.
    pub freed_bytes: u64,
}

/// Removes server state no longer needed: the whole state of servers not in `keep` (when
/// given), layers of kept servers that their current config no longer uses, shared tools of
/// other versions, and leftovers of sandboxes whose corral process is gone. Running sandboxes
/// are never touched.
pub fn prune(home: &Path, keep: Option<&[String]>) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let remove = |p: PathBuf, report: &mut PruneReport| {
        let size = tree_size(&p);
        if remove_tree(&p).is_ok() {
            report.freed_bytes += size;
            report.removed.push(p);
        }
    };
    if let Ok(entries) = std::fs::read_dir(home.join("servers")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if keep.is_some_and(|k| !k.contains(&name)) {
                remove(e.path(), &mut report);
                continue;
            }
            let current = std::fs::read_to_string(e.path().join("layer-key"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            if let Ok(layers) = std::fs::read_dir(e.path().join("layers")) {
                for l in layers.flatten() {
                    let lname = l.file_name().to_string_lossy().into_owned();
                    if lname.split('.').next() != Some(current.as_str()) {
                        remove(l.path(), &mut report);
                    }
                }
            }
        }
    }
    let pid_alive = |pid: &str| {
        pid.parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    };
    // Leftovers of sandboxes whose process is gone (each run dir names its owner's pid).
    let alive = |id: &str| {
        std::fs::read_to_string(home.join("run").join(id).join("owner"))
            .is_ok_and(|s| pid_alive(s.trim()))
    };
    for sub in ["run", "sandboxes"] {
        if let Ok(entries) = std::fs::read_dir(home.join(sub)) {
            for e in entries.flatten() {
                if !alive(&e.file_name().to_string_lossy()) {
                    remove(e.path(), &mut report);
                }
            }
        }
    }
    // Shared tools of other versions, and installs that a gone process left (`.uv-PID-…`).
    let current = crate::sandbox::local::shared_uv(home);
    if let Ok(entries) = std::fs::read_dir(home.join("tools")) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let installing = name
                .strip_prefix(".uv-")
                .and_then(|rest| rest.split('-').next())
                .is_some_and(pid_alive);
            if e.path() != current && !installing {
                remove(e.path(), &mut report);
            }
        }
    }
    Ok(report)
}

/// Size of a tree in bytes (not following symlinks).
pub(crate) fn tree_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|it| it.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes a tree that may contain dirs made unreadable by overlayfs (`work/work` is mode 000).
pub(crate) fn remove_tree(p: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(p);
            std::fs::remove_dir_all(p)
        }
    }
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::symlink_metadata(p)
        && meta.is_dir()
    {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(p) {
            for e in entries.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_content_addressed() {
        let a = hash_parts(["", "apt-get update"]);
        assert_eq!(a, hash_parts(["", "apt-get update"]));
        assert_ne!(a, hash_parts(["x", "apt-get update"]));
        assert_ne!(hash_parts(["a", "b"]), hash_parts(["ab"]));
    }

    #[test]
    fn names_are_checked_and_missing_templates_fail() {
        let home = tempfile::tempdir().expect("tmp");
        assert!(check_name("node-tools").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
        let e = template_layers(home.path(), "nope").expect_err("missing");
        assert_eq!(e.kind(), ErrorKind::SandboxFailed);
        assert!(list_templates(home.path()).is_empty());
    }
}
