//! The local provider: every process runs under bubblewrap (`bwrap`) on Linux.
//!
//! A sandbox is a small machine ([`super::machine`]): its own user namespace (root inside, a
//! range of ids mapped) and mount namespace holding a writable root of overlay layers — the
//! sandbox's own persisted layer over its template's and over a view of the host's system
//! dirs (`/usr`, `/bin`, `/lib*`, `/etc` with its secrets masked, `/var/lib/dpkg`) and the
//! install prefixes of the runtimes it needs (one under the host's `/tmp` or `/run`, such as a
//! test's venv, is bound read-only instead: the sandbox has its own of those); writes land in
//! the layer, never in host files.
//! Nothing else of the host is visible (not its home, not other sandboxes) except the user's
//! declared mounts. Each process also gets its own pid, ipc and uts namespaces (and an empty
//! network namespace under `network = "none"`). The sandbox's persistent home is
//! `<state>/home`, seen inside as `/home/corral`; `/tmp` is private to the sandbox. The
//! environment is clean: PATH, HOME, LANG, the host's TLS trust settings (`SSL_CERT_FILE` and
//! the like, when they name system files: see `TRUST_ENV`) and the server's own env only.
//! Limits use cgroups.
//! `--die-with-parent` and the pid namespace make sure nothing outlives the sandbox.

use std::{
    collections::BTreeMap,
    ffi::CString,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    BoxFuture, ChildControl, Command, ExecOutput, Process, ProcessControl, Provider, Sandbox,
    SandboxConfig,
    cgroup::Cgroup,
    collect_output,
    machine::{Machine, MachineSpec, OverlayDir},
    new_id,
};
use crate::{
    config::NetworkPolicy,
    error::{Error, Result},
    sync::{blocking, lock},
};

/// The sandbox's home directory, as seen inside.
pub const SANDBOX_HOME: &str = "/home/corral";

/// Runtimes whose install prefix is always made visible (install commands use them).
pub(crate) const WELL_KNOWN_RUNTIMES: &[&str] = &[
    "node", "npm", "npx", "python3", "python", "pip3", "uv", "uvx", "bun", "deno",
];

/// System dirs mounted read-only (or re-created as symlinks where they are symlinks on the host).
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host's TLS trust settings, passed into every sandbox when set: a machine behind a
/// TLS-inspecting proxy trusts its CA through them, and a server's `uvx`, `npx`, `pip` or
/// `git` inside must too (uv ignores pip's config and reads only `SSL_CERT_FILE`). Only paths
/// in the system dirs the sandbox sees as they are on the host.
const TRUST_ENV: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "GIT_SSL_CAINFO",
];

/// [`TRUST_ENV`] as the host sets it (`get` reads the host's environment).
fn host_trust_env(get: impl Fn(&str) -> Option<String>) -> Vec<(&'static str, String)> {
    TRUST_ENV
        .iter()
        .filter_map(|k| get(k).map(|v| (*k, v)))
        .filter(|(_, v)| {
            v.split(':')
                .all(|p| p.starts_with('/') && is_system_path(Path::new(p)) && !p.contains(".."))
        })
        .collect()
}

/// Host dirs a sandbox has its own of (bound over the root): a runtime installed under one
/// of them is bound read-only on top rather than overlaid (an overlay would be hidden).
const PRIVATE_DIRS: &[&str] = &["/tmp", "/run"];

/// Runs sandboxes with bubblewrap.
#[derive(Debug, Clone)]
pub struct LocalProvider {
    bwrap: PathBuf,
    home: PathBuf,
}

impl LocalProvider {
    /// Finds `bwrap` and checks that it can create a sandbox here. Never falls back to running
    /// unsandboxed: a missing or unusable bubblewrap is a `SANDBOX_FAILED` error.
    pub fn new(corral_home: &Path) -> Result<Self> {
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
        let bwrap = which("bwrap", &path).ok_or_else(|| {
            Error::sandbox(
                "bubblewrap (`bwrap`) is not installed, and the local provider needs it. Install it \
                 with `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf install \
                 bubblewrap` (Fedora) or `sudo pacman -S bubblewrap` (Arch). corral never falls \
                 back to running servers without a sandbox unless you ask for the `unsandboxed` \
                 provider by name.",
            )
        })?;
        let probe = std::process::Command::new(&bwrap)
            .args([
                "--ro-bind",
                "/",
                "/",
                "--unshare-user",
                "--unshare-pid",
                "--die-with-parent",
                "true",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::sandbox(format!("cannot run {}: {e}", bwrap.display())))?;
        if !probe.status.success() {
            return Err(Error::sandbox(format!(
                "bubblewrap cannot create a sandbox on this machine ({}). Unprivileged user \
                 namespaces may be disabled: see `sysctl kernel.unprivileged_userns_clone` / \
                 `user.max_user_namespaces`, or AppArmor's `kernel.apparmor_restrict_unprivileged_userns`.",
                String::from_utf8_lossy(&probe.stderr).trim()
            )));
        }
        Ok(Self {
            bwrap,
            home: corral_home.to_owned(),
        })
    }
}

impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn create(&self, config: SandboxConfig) -> BoxFuture<'_, Result<Arc<dyn Sandbox>>> {
        Box::pin(async move {
            let sandbox = LocalSandbox::create(self, config).await?;
            Ok(Arc::new(sandbox) as Arc<dyn Sandbox>)
        })
    }
}

/// The filesystem and process policy of one sandbox, turned into bwrap arguments per command.
#[derive(Debug, Clone)]
struct Policy {
    /// The merged root (a path in the sandbox's mount namespace).
    root: PathBuf,
    /// corral's helpers (the `sudo`, `uv` and `uvx` shims), seen at [`HELPERS_DIR`].
    helpers_dir: PathBuf,
    home_dir: PathBuf,
    tmp_dir: PathBuf,
    network: NetworkPolicy,
    rw_binds: Vec<(PathBuf, PathBuf)>,
    ro_binds: Vec<(PathBuf, PathBuf)>,
    path_env: String,
    env: BTreeMap<String, String>,
}

/// The capabilities root has inside (Docker's default set).
const ROOT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
];

/// Where corral's helper programs are seen inside (last on PATH: a real `sudo` wins).
const HELPERS_DIR: &str = "/run/corral/bin";

/// The `sudo` of a sandbox without one: the caller is root already, so it runs the command.
const SUDO_SHIM: &str = r#"#!/bin/sh
# corral's sudo: everything here already runs as root (in the sandbox's own user namespace).
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -u|-g|-p|-C|-h|-r|-t|-U|--user|--group|--prompt|--close-from|--host|--role|--type|--other-user) shift 2 ;;
    --user=*|--group=*|--prompt=*|--preserve-env=*) shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then exec "${SHELL:-/bin/sh}"; fi
exec "$@"
"#;

/// The version of uv the `uv`/`uvx` shim installs (pinned: every sandbox gets the same one).
const SHIM_UV_VERSION: &str = "0.13.9";

/// The `uv` and `uvx` of a sandbox whose view has neither (the host has no uv): the first use
/// installs uv from PyPI into the sandbox (`/usr/local/bin`, in its layer, else
/// `~/.local/bin`), then runs it; every later use finds the real one earlier on PATH. Its
/// output goes to stderr (a server's stdout is its MCP channel).
const UV_SHIM: &str = r#"#!/bin/sh
# corral's uv and uvx: the host has no uv for this sandbox to see, so the first use installs
# uv @VERSION@ from PyPI into the sandbox and runs it. A real uv earlier on PATH wins, and so
# does the corral home's shared one (@SHARED@) where the sandbox has it.
name=${0##*/}
for dir in /usr/local/bin "$HOME/.local/bin" @SHARED@; do
  [ -x "$dir/$name" ] && exec "$dir/$name" "$@"
done
for dir in /usr/local/bin "$HOME/.local/bin"; do
  mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ] && break
done
echo "corral: installing uv @VERSION@ from PyPI into $dir (the first use of $name in this sandbox)" >&2
venv=$(mktemp -d "${TMPDIR:-/tmp}/corral-uv.XXXXXX") &&
  python3 -m venv "$venv" >&2 &&
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==@VERSION@" >&2 &&
  for b in uv uvx; do cp "$venv/bin/$b" "$dir/.$b.$$" && mv -f "$dir/.$b.$$" "$dir/$b" || break; done
[ -n "$venv" ] && rm -rf "$venv"
[ -x "$dir/$name" ] && exec "$dir/$name" "$@"
echo "corral: cannot install uv in this sandbox (that needs python3 with venv, and network access to PyPI): install uv on the host (pip install uv) or in the server's install_commands" >&2
exit 127
"#;

/// Where the shared uv ([`ensure_shared_uv`]) is seen inside: on PATH after the system dirs
/// (a uv the server installs itself wins), before the shims.
const SHARED_UV_DIR: &str = "/run/corral/uv";

/// The shared uv of a corral home: `uv` and `uvx` of the pinned version.
pub(crate) fn shared_uv(home: &Path) -> PathBuf {
    home.join("tools").join(format!("uv-{SHIM_UV_VERSION}"))
}

/// Whether a sandbox for these programs runs `uv` or `uvx` (a server's command).
fn runs_uv(programs: &[String]) -> bool {
    programs
        .iter()
        .any(|p| matches!(p.rsplit('/').next(), Some("uv" | "uvx")))
}

/// On a host without uv, a sandbox whose server runs `uv`/`uvx` gets the pinned uv read-only
/// from the corral home, installed there once (by the uv shim's own steps, in a sandbox that
/// sees only the target directory) rather than by each sandbox's shim: ~20 MB and a few
/// seconds less per server and per `quick`. Sandboxes only ever see it read-only, so none can
/// change the uv another one runs. Where it cannot be installed, the shim still installs uv in
/// the sandbox itself.
async fn ensure_shared_uv(provider: &LocalProvider) {
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    // Tried once per process: offline, a second try would only wait for pip again.
    static FAILED: AtomicBool = AtomicBool::new(false);
    let dir = shared_uv(&provider.home);
    let needed = |dir: PathBuf| {
        blocking(move || {
            let host_path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
            Ok(!dir.join("uvx").is_file() && which("uv", &host_path).is_none())
        })
    };
    if FAILED.load(Ordering::Relaxed) || !needed(dir.clone()).await.unwrap_or(false) {
        return;
    }
    let _one_at_a_time = INSTALLING.lock().await;
    if FAILED.load(Ordering::Relaxed) || !needed(dir.clone()).await.unwrap_or(false) {
        return;
    }
    match Box::pin(install_shared_uv(provider, &dir)).await {
        Ok(()) => {
            tracing::info!(dir = %dir.display(), "installed uv {SHIM_UV_VERSION} for sandboxes");
        }
        Err(e) => {
            FAILED.store(true, Ordering::Relaxed);
            tracing::warn!("cannot install uv for sandboxes (each installs its own): {e}");
        }
    }
}

async fn install_shared_uv(provider: &LocalProvider, dir: &Path) -> Result<()> {
    let fail = |what: &str, e: &dyn std::fmt::Display| Error::sandbox(format!("{what}: {e}"));
    let parent = dir.parent().unwrap_or(dir).to_owned();
    let staging = parent.join(format!(".uv-{}-{}", std::process::id(), new_id("i")));
    let made = staging.clone();
    blocking(move || std::fs::create_dir_all(&made).map_err(|e| fail("create", &e))).await?;
    let out = "/run/corral/out";
    let config = SandboxConfig {
        name: "uv-install".into(),
        mounts: vec![crate::config::Mount {
            host: staging.clone(),
            target: out.into(),
            read_only: false,
        }],
        ..SandboxConfig::default()
    };
    let script = format!(
        "v=$(mktemp -d) && python3 -m venv \"$v\" && \"$v/bin/python\" -m pip install --quiet \
         --disable-pip-version-check uv=={SHIM_UV_VERSION} && cp \"$v/bin/uv\" \"$v/bin/uvx\" {out}/"
    );
    let mut command = Command::shell(script);
    command.timeout = Some(std::time::Duration::from_secs(600));
    let result = match LocalSandbox::create(provider, config).await {
        Ok(sandbox) => {
            let result = sandbox.exec(command).await;
            Sandbox::kill(&sandbox).await.ok();
            result
        }
        Err(e) => Err(e),
    };
    let target = dir.to_owned();
    blocking(move || {
        let done = match result {
            Ok(o) if o.status.success() && staging.join("uvx").is_file() => {
                // Another process may have won: its uv is as good.
                std::fs::rename(&staging, &target).or_else(|e| {
                    if target.join("uvx").is_file() {
                        Ok(())
                    } else {
                        Err(fail("rename", &e))
                    }
                })
            }
            Ok(o) => Err(fail("install", &String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&staging);
        done
    })
    .await
}

/// A bubblewrap sandbox: a writable root of layers, a private /tmp, a policy, a cgroup, and its
/// processes.
pub struct LocalSandbox {
    id: String,
    bwrap: PathBuf,
    policy: Policy,
    machine: Mutex<Option<Machine>>,
    ns_fds: (i32, i32),
    cgroup: Option<Arc<Cgroup>>,
    procs_files: Vec<CString>,
    rlimits: Vec<(libc::c_int, u64)>,
    processes: Mutex<Vec<Weak<ChildControl>>>,
    killed: AtomicBool,
    remove_on_kill: Vec<PathBuf>,
    memory_mb: Option<u64>,
}

/// The directories of the merged root made of overlays (`/` first) and the root's symlinks.
fn overlay_dirs(prefixes: &[PathBuf]) -> (Vec<OverlayDir>, Vec<(String, String)>) {
    let mut dirs = vec![OverlayDir {
        target: "/".into(),
        host: None,
        key: "rootfs".into(),
    }];
    let mut links = Vec::new();
    for dir in SYSTEM_DIRS.iter().chain(&["/etc", "/var/lib/dpkg"]) {
        let p = Path::new(dir);
        if let Ok(target) = std::fs::read_link(p) {
            if p.parent() == Some(Path::new("/")) {
                links.push((
                    dir.trim_start_matches('/').to_owned(),
                    target.to_string_lossy().into_owned(),
                ));
            }
        } else if p.is_dir() {
            dirs.push(OverlayDir::host(p));
        }
    }
    for prefix in prefixes {
        dirs.push(OverlayDir::host(prefix));
    }
    (dirs, links)
}

/// Mounts a size-limited ext4 image for a layer (root only) at `mount_point`.
fn mount_disk(image: &Path, mb: u64, mount_point: &Path) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::sandbox(format!(
            "cannot enforce limits.disk_mb = {mb}: a size-limited layer is a loop-mounted ext4 \
             image, which needs corral to run as root (a user namespace cannot mount one)"
        )));
    }
    let run = |program: &str, args: &[&std::ffi::OsStr]| -> Result<()> {
        let out = std::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::sandbox(format!(
                    "cannot enforce limits.disk_mb: cannot run {program}: {e}"
                ))
            })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::sandbox(format!(
                "cannot enforce limits.disk_mb: {program} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    };
    let want = mb * 1024 * 1024;
    if std::fs::metadata(image).map(|m| m.len()).ok() != Some(want) {
        let _ = std::fs::remove_file(image);
        let file = std::fs::File::create(image)
            .map_err(|e| Error::sandbox(format!("cannot create {}: {e}", image.display())))?;
        file.set_len(want)
            .map_err(|e| Error::sandbox(format!("cannot size {}: {e}", image.display())))?;
        drop(file);
        run(
            "mkfs.ext4",
            &[
                "-q".as_ref(),
                "-F".as_ref(),
                "-m".as_ref(),
                "0".as_ref(),
                image.as_os_str(),
            ],
        )?;
    }
    std::fs::create_dir_all(mount_point)
        .map_err(|e| Error::sandbox(format!("cannot create {}: {e}", mount_point.display())))?;
    run(
        "mount",
        &[
            "-o".as_ref(),
            "loop,nosuid,nodev".as_ref(),
            image.as_os_str(),
            mount_point.as_os_str(),
        ],
    )
}

fn unmount_disk(mount_point: &Path) {
    if let Ok(c) = CString::new(mount_point.as_os_str().as_encoded_bytes()) {
        // SAFETY: a valid NUL-terminated path.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// What [`prepare`] made ready for a sandbox's machine.
struct Prepared {
    id: String,
    remove_on_kill: Vec<PathBuf>,
    home_dir: PathBuf,
    tmp_dir: PathBuf,
    helpers_dir: PathBuf,
    path_dirs: Vec<String>,
    ro_binds: Vec<(PathBuf, PathBuf)>,
    rw_binds: Vec<(PathBuf, PathBuf)>,
    rlimits: Vec<(libc::c_int, u64)>,
    cgroup: Option<Cgroup>,
    procs_files: Vec<CString>,
    spec: MachineSpec,
    disk_mount: PathBuf,
    config: SandboxConfig,
}

/// The blocking part of creating a sandbox: its dirs and helpers, the runtimes' prefixes, its
/// mounts, its cgroup (or rlimits) and its writable layer.
fn prepare(home: &Path, config: SandboxConfig) -> Result<Prepared> {
    let id = new_id(if config.name.is_empty() {
        "sandbox"
    } else {
        &config.name
    });
    let run_dir = home.join("run").join(&id);
    let mut remove_on_kill = vec![run_dir.clone()];
    let state_dir = match &config.state_dir {
        Some(dir) => dir.clone(),
        None => {
            let dir = home.join("sandboxes").join(&id);
            remove_on_kill.push(dir.clone());
            dir
        }
    };
    let home_dir = state_dir.join("home");
    let tmp_dir = run_dir.join("tmp");
    let helpers_dir = run_dir.join("bin");
    for dir in [&home_dir, &tmp_dir, &helpers_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::sandbox(format!("cannot create {}: {e}", dir.display())))?;
    }
    let _ = std::fs::write(run_dir.join("owner"), std::process::id().to_string());
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp_dir, std::fs::Permissions::from_mode(0o1777));
        let uv = UV_SHIM
            .replace("@VERSION@", SHIM_UV_VERSION)
            .replace("@SHARED@", SHARED_UV_DIR);
        for (name, text) in [("sudo", SUDO_SHIM), ("uv", &uv), ("uvx", &uv)] {
            let shim = helpers_dir.join(name);
            std::fs::write(&shim, text)
                .and_then(|()| {
                    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755))
                })
                .map_err(|e| Error::sandbox(format!("cannot create {}: {e}", shim.display())))?;
        }
    }

    let lowers = match &config.template {
        None => Vec::new(),
        Some(name) => crate::install::template_layers(home, name)?,
    };

    let host_path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.into());
    let host_home = std::env::var_os("HOME").map(PathBuf::from);
    let mut programs: Vec<&str> = config.programs.iter().map(String::as_str).collect();
    programs.extend(WELL_KNOWN_RUNTIMES);
    let prefixes = runtime_prefixes(&programs, &host_path, host_home.as_deref());

    let mut path_dirs: Vec<String> = vec![format!("{SANDBOX_HOME}/.local/bin")];
    for prefix in &prefixes {
        for sub in ["shims", "bin"] {
            let dir = prefix.join(sub);
            if dir.is_dir() {
                path_dirs.push(dir.display().to_string());
            }
        }
    }
    path_dirs.extend(system_bin_dirs(&programs, &host_path, DEFAULT_PATH));
    path_dirs.push(DEFAULT_PATH.into());
    let mut ro_binds = Vec::new();
    let uv = shared_uv(home);
    if uv.join("uvx").is_file() {
        path_dirs.push(SHARED_UV_DIR.into());
        ro_binds.push((uv, PathBuf::from(SHARED_UV_DIR)));
    }
    path_dirs.push(HELPERS_DIR.into());

    let mut rw_binds = Vec::new();
    let (prefixes, hidden): (Vec<PathBuf>, Vec<PathBuf>) = prefixes
        .into_iter()
        .partition(|p| !PRIVATE_DIRS.iter().any(|d| p.starts_with(d)));
    ro_binds.extend(hidden.into_iter().map(|p| (p.clone(), p)));
    for m in &config.mounts {
        if !m.host.exists() {
            return Err(Error::sandbox(format!(
                "mount source {} does not exist",
                m.host.display()
            )));
        }
        let pair = (m.host.clone(), m.target.clone());
        if m.read_only {
            ro_binds.push(pair);
        } else {
            rw_binds.push(pair);
        }
    }

    let limits_requested =
        config.limits.memory_mb.is_some() || config.limits.max_processes.is_some();
    let mut rlimits = Vec::new();
    let cgroup = Cgroup::create(&id, &config.limits);
    let cleanup_cgroup = |cg: &Option<Cgroup>| {
        if let Some(cg) = cg {
            cg.remove();
        }
    };
    if cgroup.is_none() && limits_requested {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return Err(Error::sandbox(
                "cannot enforce the sandbox limits: the cgroup tree is not writable here",
            ));
        }
        if let Some(mb) = config.limits.memory_mb {
            rlimits.push((libc::RLIMIT_AS as libc::c_int, mb * 1024 * 1024));
        }
        if let Some(n) = config.limits.max_processes {
            rlimits.push((libc::RLIMIT_NPROC as libc::c_int, n));
        }
    }
    let procs_files = cgroup.as_ref().map(Cgroup::procs_files).unwrap_or_default();

    // The writable root: the sandbox's own layer over its template's and the host's.
    let mut layer = config
        .layer_dir
        .clone()
        .unwrap_or_else(|| state_dir.join("layer"));
    let disk_mount = run_dir.join("disk");
    if let Some(mb) = config.limits.disk_mb {
        let image = layer.with_extension("ext4");
        if let Some(parent) = image.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Err(e) = mount_disk(&image, mb, &disk_mount) {
            cleanup_cgroup(&cgroup);
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
        layer = disk_mount.join("layer");
    }
    let (dirs, root_symlinks) = overlay_dirs(&prefixes);
    let spec = MachineSpec {
        layer,
        lowers,
        dirs,
        root_symlinks,
        run_dir: run_dir.clone(),
    };
    Ok(Prepared {
        id,
        remove_on_kill,
        home_dir,
        tmp_dir,
        helpers_dir,
        path_dirs,
        ro_binds,
        rw_binds,
        rlimits,
        cgroup,
        procs_files,
        spec,
        disk_mount,
        config,
    })
}

impl LocalSandbox {
    async fn create(provider: &LocalProvider, config: SandboxConfig) -> Result<Self> {
        if runs_uv(&config.programs) {
            ensure_shared_uv(provider).await;
        }
        let home = provider.home.clone();
        // Directories, the PATH scan, the cgroup, a disk image: blocking work, done on the
        // blocking pool rather than on a runtime thread.
        let Prepared {
            id,
            remove_on_kill,
            home_dir,
            tmp_dir,
            helpers_dir,
            path_dirs,
            ro_binds,
            rw_binds,
            rlimits,
            cgroup,
            procs_files,
            spec,
            disk_mount,
            config,
        } = blocking(move || prepare(&home, config)).await?;
        let machine = Machine::start(&spec).await;
        if config.limits.disk_mb.is_some() {
            // The holder keeps its own copy of the mount; the host's goes now.
            unmount_disk(&disk_mount);
        }
        let machine = match machine {
            Ok(m) => m,
            Err(e) => {
                let dirs = remove_on_kill;
                let _ = blocking(move || {
                    if let Some(cg) = cgroup {
                        cg.remove();
                    }
                    for dir in &dirs {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                    Ok(())
                })
                .await;
                return Err(e);
            }
        };

        let mut env = config.env;
        let path_env = match env.remove("PATH") {
            Some(given) => merged_path(&given, &path_dirs.join(":")),
            None => path_dirs.join(":"),
        };
        env.entry("PIP_BREAK_SYSTEM_PACKAGES".into())
            .or_insert_with(|| "1".into());
        for (k, v) in host_trust_env(|k| std::env::var(k).ok()) {
            env.entry(k.into()).or_insert(v);
        }
        Ok(Self {
            id,
            bwrap: provider.bwrap.clone(),
            policy: Policy {
                root: machine.root().to_owned(),
                helpers_dir,
                home_dir,
                tmp_dir,
                network: config.network,
                ro_binds,
                rw_binds,
                path_env,
                env,
            },
            ns_fds: machine.ns_fds(),
            machine: Mutex::new(Some(machine)),
            cgroup: cgroup.map(Arc::new),
            procs_files,
            rlimits,
            processes: Mutex::new(Vec::new()),
            killed: AtomicBool::new(false),
            remove_on_kill,
            memory_mb: config.limits.memory_mb,
        })
    }

    /// How many processes of this sandbox the memory limit has killed so far.
    pub fn oom_kills(&self) -> u64 {
        self.cgroup.as_deref().map_or(0, Cgroup::oom_kills)
    }

    async fn spawn_process(&self, command: &Command) -> Result<Process> {
        if self.killed.load(Ordering::SeqCst) {
            return Err(Error::sandbox("the sandbox was killed"));
        }
        if command.argv.is_empty() {
            return Err(Error::sandbox("empty command"));
        }
        let mut cmd = tokio::process::Command::new(&self.bwrap);
        cmd.args(bwrap_args(&self.policy, command));
        cmd.env_clear();
        cmd.env("HOME", SANDBOX_HOME)
            .env("LANG", "C.UTF-8")
            .env("TMPDIR", "/tmp")
            .env("USER", "root")
            .env("LOGNAME", "root")
            .envs(&self.policy.env)
            .envs(command.env.iter().filter(|(k, _)| *k != "PATH"))
            .env(
                "PATH",
                match command.env.get("PATH") {
                    Some(given) => merged_path(given, &self.policy.path_env),
                    None => self.policy.path_env.clone(),
                },
            );
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let procs = self.procs_files.clone();
        let rlimits = self.rlimits.clone();
        let (user_ns, mnt_ns) = self.ns_fds;
        // SAFETY: the closure only calls async-signal-safe functions (open/write/close/setrlimit,
        // setns) on data prepared before fork.
        unsafe {
            cmd.pre_exec(move || {
                super::cgroup::join_in_child(&procs, &rlimits)?;
                super::machine::enter(user_ns, mnt_ns)
            });
        }
        let mut child = super::spawn_child(cmd).await.map_err(|e| {
            Error::sandbox(format!("cannot start {}: {e}", self.bwrap.display())).with_source(e)
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::sandbox("child has no stdio pipes"));
        };
        let control = ChildControl::new(child, Box::new(|| {}));
        {
            let mut list = lock(&self.processes);
            list.retain(|w| w.strong_count() > 0);
            list.push(Arc::downgrade(&control));
        }
        Ok(Process {
            stdin: Box::new(stdin),
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            control,
        })
    }

    /// Kills every process and the namespace holder at once; returns the file-system cleanup
    /// (the cgroup's removal, which waits for its processes to go, and the run dirs), to be
    /// run off the runtime's threads. `None` if the sandbox was already killed.
    fn kill_now(&self) -> Option<impl FnOnce() + Send + 'static> {
        if self.killed.swap(true, Ordering::SeqCst) {
            return None;
        }
        for p in lock(&self.processes).iter().filter_map(Weak::upgrade) {
            p.kill();
        }
        if let Some(mut m) = lock(&self.machine).take() {
            m.stop();
        }
        let cgroup = self.cgroup.clone();
        let dirs = self.remove_on_kill.clone();
        Some(move || {
            if let Some(cg) = cgroup {
                cg.remove();
            }
            for dir in &dirs {
                let _ = std::fs::remove_dir_all(dir);
            }
        })
    }
}

impl Sandbox for LocalSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    fn exec(&self, command: Command) -> BoxFuture<'_, Result<ExecOutput>> {
        Box::pin(async move {
            let process = self.spawn_process(&command).await?;
            collect_output(process, command.stdin, command.timeout).await
        })
    }

    fn spawn(&self, command: Command) -> BoxFuture<'_, Result<Process>> {
        Box::pin(async move { self.spawn_process(&command).await })
    }

    fn write_file<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut cmd = Command::new([
                "sh",
                "-c",
                "mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"",
                "sh",
                path,
            ]);
            cmd.stdin = Some(data.to_vec());
            let out = self.exec(cmd).await?;
            super::file_op_result(out, "write", path).map(|_| ())
        })
    }

    fn kill(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if let Some(cleanup) = self.kill_now() {
                let _ = tokio::task::spawn_blocking(cleanup).await;
            }
            Ok(())
        })
    }

    fn diagnose(&self) -> Option<String> {
        let kills = self.oom_kills();
        (kills > 0).then(|| {
            format!(
                "the sandbox's memory limit ({} MiB) killed {kills} process(es)",
                self.memory_mb.unwrap_or_default()
            )
        })
    }
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        let Some(cleanup) = self.kill_now() else {
            return;
        };
        // Off the runtime's threads when there is one (its blocking pool finishes the work
        // before the runtime shuts down), inline otherwise.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(cleanup)),
            Err(_) => cleanup(),
        }
    }
}

impl std::fmt::Debug for LocalSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSandbox")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The bwrap command line for one command under `policy` (run inside the sandbox's user and
/// mount namespaces, as root there: bwrap adds the pid/ipc/uts/net namespaces and the mounts).
fn bwrap_args(policy: &Policy, command: &Command) -> Vec<String> {
    let mut a: Vec<String> = Vec::with_capacity(64);
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| (*s).to_owned()));
    push(&[
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "corral",
    ]);
    // Root's capabilities inside (in the sandbox's own user namespace only): Docker's default
    // set. No CAP_SYS_ADMIN: nothing inside can mount, remount (a read-only mount stays
    // read-only) or enter namespaces.
    push(&["--cap-drop", "ALL"]);
    for cap in ROOT_CAPS {
        push(&["--cap-add", cap]);
    }
    if command.network.unwrap_or(policy.network) == NetworkPolicy::None {
        push(&["--unshare-net"]);
    }
    let root = policy.root.to_string_lossy().into_owned();
    push(&["--bind", &root, "/"]);
    push(&["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/run"]);
    // /etc/resolv.conf is often a symlink into /run: make its target visible.
    if let Ok(real) = std::fs::canonicalize("/etc/resolv.conf")
        && real.starts_with("/run")
        && let Some(parent) = real.parent()
    {
        let parent = parent.to_string_lossy();
        push(&["--ro-bind", &parent, &parent]);
    }
    let (home, tmp, helpers) = (
        policy.home_dir.to_string_lossy().into_owned(),
        policy.tmp_dir.to_string_lossy().into_owned(),
        policy.helpers_dir.to_string_lossy().into_owned(),
    );
    push(&["--bind", &home, SANDBOX_HOME, "--bind", &tmp, "/tmp"]);
    push(&["--ro-bind", &helpers, HELPERS_DIR]);
    for (src, dst) in &policy.ro_binds {
        push(&["--ro-bind", &src.to_string_lossy(), &dst.to_string_lossy()]);
    }
    for (src, dst) in &policy.rw_binds {
        push(&["--bind", &src.to_string_lossy(), &dst.to_string_lossy()]);
    }
    let cwd = command.cwd.as_deref().unwrap_or(SANDBOX_HOME);
    push(&["--chdir", cwd, "--"]);
    a.extend(command.argv.iter().cloned());
    a
}

/// Finds `program` on `path` like a shell would.
pub(crate) fn which(program: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let candidate = Path::new(dir).join(program);
        std::fs::metadata(&candidate)
            .ok()
            .filter(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .map(|_| candidate)
    })
}

/// A `PATH` a server's (or command's) env gives (Claude Desktop files often carry the host's),
/// followed by the sandbox's own dirs it lacks: its programs come first, and the runtimes and
/// shims corral provides are still found.
fn merged_path(given: &str, sandbox: &str) -> String {
    let mut dirs: Vec<&str> = given.split(':').filter(|d| !d.is_empty()).collect();
    for dir in sandbox.split(':') {
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs.join(":")
}

/// Whether `p` is in the system dirs every local sandbox sees read-only as they are on the host.
pub(crate) fn is_system_path(p: &Path) -> bool {
    SYSTEM_DIRS
        .iter()
        .chain(&["/etc"])
        .any(|d| p.starts_with(d))
}

/// The install prefixes (outside the system dirs) that `programs` need: for a program at
/// `<prefix>/bin/<name>` (or pyenv-style `<prefix>/shims/<name>`) that is `<prefix>`, else the
/// program's own directory. Symlinks and `#!` interpreters are followed one level. The host's
/// home itself is never returned (only a directory below it).
fn runtime_prefixes(programs: &[&str], path: &str, host_home: Option<&Path>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut add = |dir: PathBuf| {
        if !out.iter().any(|o| dir.starts_with(o)) {
            out.retain(|o| !o.starts_with(&dir));
            out.push(dir);
        }
    };
    let mut queue: Vec<(String, u8)> = programs.iter().map(|p| ((*p).to_owned(), 0)).collect();
    while let Some((program, depth)) = queue.pop() {
        if program.contains('/') && !program.starts_with('/') {
            continue; // relative to the sandbox's working dir
        }
        let Some(found) = which(&program, path) else {
            continue;
        };
        let real = std::fs::canonicalize(&found).unwrap_or_else(|_| found.clone());
        for candidate in [&found, &real] {
            if is_system_path(candidate) {
                continue;
            }
            let Some(dir) = candidate.parent() else {
                continue;
            };
            let is_bin = dir
                .file_name()
                .is_some_and(|n| n == "bin" || n == "shims" || n == "sbin");
            let prefix = match dir.parent() {
                Some(p) if is_bin && p != Path::new("/") => p.to_owned(),
                _ => dir.to_owned(),
            };
            let prefix = match host_home {
                Some(home) if home.starts_with(&prefix) => dir.to_owned(),
                _ => prefix,
            };
            if prefix != Path::new("/") && !host_home.is_some_and(|h| h.starts_with(&prefix)) {
                add(prefix);
            }
        }
        if depth == 0
            && let Some(interp) = shebang_interpreter(&real)
        {
            queue.push((interp, 1));
        }
    }
    out
}

/// The directories, off `default_path`, where the host's `path` finds `programs` inside the
/// system dirs (`/usr/local/go/bin/go`): the sandbox sees them through its view of `/usr`, so
/// they need no mount, only a place on its PATH.
fn system_bin_dirs(programs: &[&str], path: &str, default_path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for program in programs {
        let Some(dir) = which(program, path)
            .filter(|found| is_system_path(found))
            .and_then(|found| found.parent().map(|d| d.display().to_string()))
        else {
            continue;
        };
        if !default_path.split(':').any(|d| d == dir) && !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// The program a `#!` script runs (`/usr/bin/env node` → `node`).
fn shebang_interpreter(file: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let n = std::fs::File::open(file).ok()?.read(&mut buf).ok()?;
    let head = std::str::from_utf8(buf.get(..n)?).ok()?;
    let line = head.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let interp = words.next()?;
    if interp.ends_with("/env") {
        words.find(|w| !w.starts_with('-')).map(str::to_owned)
    } else {
        Some(interp.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_env_passes_system_paths_only() {
        let host = |k: &str| match k {
            "SSL_CERT_FILE" => Some("/etc/ssl/certs/ca-certificates.crt".to_owned()),
            "SSL_CERT_DIR" => Some("/etc/ssl/certs:/usr/share/ca-certificates".to_owned()),
            "NODE_EXTRA_CA_CERTS" => Some("/home/me/corp.pem".to_owned()),
            "PIP_CERT" => Some("/etc/../home/me/x.pem".to_owned()),
            "PATH" => Some("/usr/bin".to_owned()),
            _ => None,
        };
        let got = host_trust_env(host);
        assert_eq!(
            got,
            vec![
                (
                    "SSL_CERT_FILE",
                    "/etc/ssl/certs/ca-certificates.crt".to_owned()
                ),
                (
                    "SSL_CERT_DIR",
                    "/etc/ssl/certs:/usr/share/ca-certificates".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn prefixes_follow_bin_dirs_and_skip_system_and_home() {
        let tmp = tempfile::tempdir().expect("tmp");
        let prefix = tmp.path().join("rt");
        std::fs::create_dir_all(prefix.join("bin")).expect("mkdir");
        let exe = prefix.join("bin").join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path = format!("{}:/usr/bin", prefix.join("bin").display());
        let found = runtime_prefixes(&["tool", "sh"], &path, Some(Path::new("/nonexistent")));
        assert_eq!(found, vec![prefix.clone()]);
        // A tool under the host home's own bin dir exposes only that bin dir, never the home.
        let found = runtime_prefixes(&["tool"], &path, Some(&prefix));
        assert_eq!(found, vec![prefix.join("bin")]);
    }

    #[test]
    fn programs_in_system_dirs_off_the_default_path_get_their_dir_on_path() {
        // As `/usr/local/go/bin/go` is: visible inside, but not on the default PATH.
        assert_eq!(
            system_bin_dirs(&["sh", "sh", "no-such-program"], "/usr/bin:/bin", "/sbin"),
            vec!["/usr/bin".to_owned()]
        );
        assert!(system_bin_dirs(&["sh"], "/usr/bin:/bin", "/usr/bin:/bin").is_empty());
    }

    #[test]
    fn args_isolate_by_default() {
        let policy = Policy {
            root: "/run/x/root".into(),
            helpers_dir: "/run/x/bin".into(),
            home_dir: "/state/home".into(),
            tmp_dir: "/run/x/tmp".into(),
            network: NetworkPolicy::None,
            ro_binds: vec![],
            rw_binds: vec![],
            path_env: DEFAULT_PATH.into(),
            env: BTreeMap::new(),
        };
        let args = bwrap_args(&policy, &Command::new(["srv", "--flag"]));
        let joined = args.join(" ");
        for needle in [
            "--bind /run/x/root /",
            "--unshare-pid",
            "--unshare-net",
            "--die-with-parent",
            "--bind /state/home /home/corral",
            "--chdir /home/corral -- srv --flag",
        ] {
            assert!(joined.contains(needle), "{needle} missing from {joined}");
        }
        let mut cmd = Command::new(["x"]);
        cmd.network = Some(NetworkPolicy::All);
        assert!(!bwrap_args(&policy, &cmd).contains(&"--unshare-net".to_owned()));
    }
}
