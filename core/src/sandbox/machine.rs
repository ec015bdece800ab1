//! The sandbox as a small machine: a writable root made of overlayfs layers, mounted once per
//! sandbox inside its own user and mount namespaces, with a range of ids mapped so that root
//! inside can `apt-get install`, `pip install` and `npm install -g` as on a VM.
//!
//! One idle *holder* process per sandbox owns the namespaces: it is started with
//! `unshare(CLONE_NEWUSER | CLONE_NEWNS)` and corral writes its uid/gid maps; one short-lived
//! child then enters them and mounts the layers (kernel overlayfs, allowed inside a user
//! namespace since Linux 5.11). Every process of the sandbox enters those two namespaces
//! (`setns`, before `exec`) and then runs
//! under bubblewrap as usual (own pid/ipc/uts/net namespaces, `--die-with-parent`), with the
//! merged tree as its root. Nothing is copied: a layer is a directory of files and starting a
//! sandbox mounts them.
//!
//! Ids (see the README's "Security" section): inside id 0 is the caller's own host uid (root
//! when corral runs as root: the host files of the lower layers are owned by it, so overlayfs
//! can copy them up); inside ids 1..65535 are a subordinate range (`/etc/subuid`, else
//! [`DEFAULT_SUBID_BASE`]) that no host account uses. All capabilities of root inside are
//! capabilities in the sandbox's own user namespace only.

use std::{
    ffi::CString,
    fs::File,
    io::Write,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
    process::Stdio,
};

use crate::{
    error::{Error, Result},
    sync::blocking,
};

/// Where inside id 1 maps to, minus one, when `/etc/subuid` has no range for the caller.
pub const DEFAULT_SUBID_BASE: u64 = 1_000_000_000;
/// How many ids are mapped (0 plus 65535 subordinate ids).
pub const MAPPED_IDS: u64 = 65536;

/// Files in /etc hidden behind an empty file (the sandbox may write its own).
const MASKED_ETC_FILES: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "security/opasswd",
];
/// Dirs in /etc hidden (a whiteout: the sandbox sees nothing there, and may create its own).
const MASKED_ETC_DIRS: &[&str] = &["ssh", "sudoers.d", "ssl/private"];
/// What `/etc/sudoers` says inside (root may do anything: it already is root in there).
const SUDOERS: &str = "root ALL=(ALL:ALL) NOPASSWD: ALL\n";

/// One directory of the merged root made of an overlay.
#[derive(Debug, Clone)]
pub(crate) struct OverlayDir {
    /// Path inside the sandbox (`/` for the root itself).
    pub target: PathBuf,
    /// The host dir that is the lowest layer (`None`: the root's skeleton).
    pub host: Option<PathBuf>,
    /// The name of its sub-directory in every layer.
    pub key: String,
}

impl OverlayDir {
    /// The overlay of host dir `path`, seen at the same path inside.
    pub(crate) fn host(path: &Path) -> Self {
        let key = path
            .to_string_lossy()
            .trim_start_matches('/')
            .replace(['/', ' '], "_");
        Self {
            target: path.to_owned(),
            host: Some(path.to_owned()),
            key,
        }
    }
}

/// What to mount.
#[derive(Debug, Clone)]
pub(crate) struct MachineSpec {
    /// The sandbox's own (writable, persisted) layer.
    pub layer: PathBuf,
    /// Read-only layers below it (templates), the topmost first.
    pub lowers: Vec<PathBuf>,
    /// The overlaid dirs (the root first).
    pub dirs: Vec<OverlayDir>,
    /// Symlinks at the root (`/bin -> usr/bin` on merged-/usr systems).
    pub root_symlinks: Vec<(String, String)>,
    /// The run dir (not persisted): mount points live here.
    pub run_dir: PathBuf,
}

/// The holder of one sandbox's namespaces, with its layers mounted.
#[derive(Debug)]
pub(crate) struct Machine {
    holder: Option<tokio::process::Child>,
    _stdin: Option<tokio::process::ChildStdin>,
    user_ns: File,
    mnt_ns: File,
    root: PathBuf,
}

impl Machine {
    /// Starts the holder, maps ids, mounts the layers; `SANDBOX_FAILED` with the reason if this
    /// kernel or setup cannot.
    pub(crate) async fn start(spec: &MachineSpec) -> Result<Self> {
        // The dirs and the skeleton: blocking file-system work, on the blocking pool.
        let (root, plan) = {
            let spec = spec.clone();
            blocking(move || {
                let skel = spec.run_dir.join("skel");
                let root = spec.run_dir.join("root");
                for d in [&skel, &root] {
                    std::fs::create_dir_all(d).map_err(|e| {
                        Error::sandbox(format!("cannot create {}: {e}", d.display()))
                    })?;
                }
                for dir in &spec.dirs {
                    for sub in ["upper", "work"] {
                        let d = spec.layer.join(&dir.key).join(sub);
                        std::fs::create_dir_all(&d).map_err(|e| {
                            Error::sandbox(format!("cannot create {}: {e}", d.display()))
                        })?;
                    }
                }
                build_skeleton(&spec, &skel).map_err(|e| {
                    Error::sandbox(format!("cannot build the sandbox's skeleton: {e}"))
                })?;
                let plan = mount_plan(&spec, &skel, &root)?;
                Ok((root, plan))
            })
            .await?
        };
        let mut cmd = tokio::process::Command::new("/bin/sh");
        cmd.args(["-c", "read _eof || true"])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe calls (unshare, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                    || libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut holder = super::spawn_child(cmd).await.map_err(|e| {
            Error::sandbox(format!(
                "cannot create the sandbox's user namespace: {e} (user namespaces may be \
                 disabled: see `sysctl user.max_user_namespaces` and \
                 `kernel.apparmor_restrict_unprivileged_userns`)"
            ))
        })?;
        let pid = holder
            .id()
            .ok_or_else(|| Error::sandbox("the sandbox holder exited at once"))?;
        // Runs newuidmap/newgidmap where there is no root: blocking.
        blocking(move || {
            map_ids(pid).map_err(|e| Error::sandbox(format!("cannot map the sandbox's ids: {e}")))
        })
        .await?;
        let stdin = holder.stdin.take();
        let open = |ns: &str| {
            File::open(format!("/proc/{pid}/ns/{ns}")).map_err(|e| {
                Error::sandbox(format!("cannot open the sandbox's {ns} namespace: {e}"))
            })
        };
        let user_ns = open("user")?;
        let mnt_ns = open("mnt")?;
        // One short-lived child enters the namespaces and mounts every layer (syscalls between
        // fork and exec: no shell, no `mount` per layer).
        let (ufd, mfd) = (user_ns.as_raw_fd(), mnt_ns.as_raw_fd());
        let mut mounter = tokio::process::Command::new("/bin/true");
        mounter
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let plan_for_child = plan.clone();
        // SAFETY: setns and mount on data prepared before fork; async-signal-safe.
        unsafe {
            mounter.pre_exec(move || {
                enter(ufd, mfd)?;
                let root = c"/";
                if libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                for (target, data) in &plan_for_child {
                    if libc::mount(
                        c"corral".as_ptr(),
                        target.as_ptr(),
                        c"overlay".as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    ) != 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mounted = match super::spawn_child(mounter).await {
            Ok(mut child) => child.wait().await.map_err(|e| e.to_string()).and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("the mounter ended with {s}"))
                }
            }),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = mounted {
            super::kill_and_reap(holder);
            return Err(Error::sandbox(format!(
                "cannot mount the sandbox's writable root (kernel overlayfs inside a user \
                 namespace needs Linux >= 5.11): {e}"
            )));
        }
        Ok(Self {
            holder: Some(holder),
            _stdin: stdin,
            user_ns,
            mnt_ns,
            root,
        })
    }

    /// The merged root, as a path in the holder's mount namespace.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The namespace fds a child enters before `exec` (see [`enter`]).
    pub(crate) fn ns_fds(&self) -> (i32, i32) {
        (self.user_ns.as_raw_fd(), self.mnt_ns.as_raw_fd())
    }

    /// Stops the holder (its mounts go with its mount namespace).
    pub(crate) fn stop(&mut self) {
        if let Some(holder) = self.holder.take() {
            super::kill_and_reap(holder);
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.stop();
    }
}

/// In a forked child: joins the sandbox's user and mount namespaces. Async-signal-safe.
pub(crate) fn enter(user_ns: i32, mnt_ns: i32) -> std::io::Result<()> {
    // SAFETY: setns on fds that stay open in the parent for the child's lifetime.
    unsafe {
        if libc::setns(user_ns, libc::CLONE_NEWUSER) != 0
            || libc::setns(mnt_ns, libc::CLONE_NEWNS) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The subordinate range of the caller: `/etc/subuid` (or subgid) entry, else the default.
fn subordinate_base(file: &str, uid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(file).ok()?;
    let name = user_name(uid);
    text.lines().find_map(|l| {
        let mut it = l.trim().splitn(3, ':');
        let (who, start, count) = (it.next()?, it.next()?, it.next()?);
        let matches = who == uid.to_string() || name.as_deref() == Some(who);
        let (start, count) = (start.parse().ok()?, count.parse().ok()?);
        (matches && count >= MAPPED_IDS - 1).then_some((start, count))
    })
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut it = l.split(':');
        let name = it.next()?;
        let _ = it.next()?;
        (it.next()? == uid.to_string()).then(|| name.to_owned())
    })
}

/// The host ids that inside ids 0 and 1.. map to, for the README and diagnostics.
pub fn id_mapping() -> (u32, u64) {
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let base = subordinate_base("/etc/subuid", uid)
        .map(|(s, _)| s.saturating_sub(1))
        .unwrap_or(DEFAULT_SUBID_BASE);
    (uid, base)
}

/// Writes the holder's uid/gid maps: 0 → the caller, 1..65535 → a subordinate range.
fn map_ids(pid: u32) -> std::result::Result<(), String> {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 {
        let (_, base) = id_mapping();
        let map = format!("0 0 1\n1 {} {}\n", base + 1, MAPPED_IDS - 1);
        for f in ["uid_map", "gid_map"] {
            let path = format!("/proc/{pid}/{f}");
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| format!("{path}: {e}"))?;
            file.write_all(map.as_bytes())
                .map_err(|e| format!("{path}: {e}"))?;
        }
        return Ok(());
    }
    let sub_u = subordinate_base("/etc/subuid", uid);
    let sub_g = subordinate_base("/etc/subgid", uid);
    let tools = which_tool("newuidmap").zip(which_tool("newgidmap"));
    let (Some((us, _)), Some((gs, _)), Some((newuidmap, newgidmap))) = (sub_u, sub_g, tools) else {
        // No subordinate ids: map only the caller (root inside = the caller). Nothing that a
        // range would make work is lost: as a non-root user the host's system dirs are not
        // writable inside anyway (see the README).
        let write = |f: &str, text: &str| {
            let path = format!("/proc/{pid}/{f}");
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
                .map_err(|e| format!("{path}: {e}"))
        };
        write("setgroups", "deny")?;
        write("uid_map", &format!("0 {uid} 1\n"))?;
        return write("gid_map", &format!("0 {gid} 1\n"));
    };
    for (tool, own, start) in [(newuidmap, uid, us), (newgidmap, gid, gs)] {
        let out = std::process::Command::new(&tool)
            .args([
                pid.to_string(),
                "0".into(),
                own.to_string(),
                "1".into(),
                "1".into(),
                start.to_string(),
                (MAPPED_IDS - 1).to_string(),
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", tool.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{}: {}",
                tool.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// `newuidmap`/`newgidmap` in the usual places (not on the caller's PATH, which may hold
/// directories this user cannot read).
fn which_tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Builds the root's skeleton (mount points, standard dirs, apt's private dirs, the root's
/// symlinks) and the mask layer of `/etc` as plain files in the run dir, before the holder
/// starts: the lowest layers of `/` and `/etc`.
fn build_skeleton(spec: &MachineSpec, skel: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    let sroot = skel.join("root");
    let etc_mask = skel.join("etc-mask");
    let mut dirs: Vec<String> = [
        "tmp",
        "proc",
        "dev",
        "run",
        "root",
        "home/corral",
        "var/tmp",
        "var/log/apt",
        "var/cache/apt/archives/partial",
        "var/lib/apt/lists/partial",
        "opt",
        "srv",
        "mnt",
        "app",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for d in spec.dirs.iter().skip(1) {
        dirs.push(
            d.target
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned(),
        );
    }
    for d in &dirs {
        std::fs::create_dir_all(sroot.join(d))?;
    }
    mode(&sroot.join("tmp"), 0o1777)?;
    mode(&sroot.join("var/tmp"), 0o1777)?;
    mode(&sroot.join("root"), 0o700)?;
    // apt's download dirs belong to `_apt` (inside id 42 on Debian), mapped when corral is root.
    // SAFETY: geteuid has no preconditions.
    let apt = (unsafe { libc::geteuid() } == 0)
        .then(apt_uid)
        .flatten()
        .map(|inside| id_mapping().1 + u64::from(inside));
    for p in [
        "var/cache/apt/archives/partial",
        "var/lib/apt/lists/partial",
    ] {
        let d = sroot.join(p);
        mode(&d, 0o700)?;
        if let Some(host) = apt.and_then(|h| u32::try_from(h).ok()) {
            std::os::unix::fs::chown(&d, Some(host), Some(0))?;
        }
    }
    for (link, target) in &spec.root_symlinks {
        std::os::unix::fs::symlink(target, sroot.join(link))?;
    }
    std::fs::create_dir_all(&etc_mask)?;
    for f in MASKED_ETC_FILES {
        let p = etc_mask.join(f);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, b"")?;
        mode(&p, 0o640)?;
    }
    for d in MASKED_ETC_DIRS {
        let p = etc_mask.join(d);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // A whiteout (character device 0/0): the host's dir is not there inside.
        let c = CString::new(p.as_os_str().as_encoded_bytes())
            .map_err(|_| std::io::Error::other("NUL in path"))?;
        // SAFETY: a valid NUL-terminated path; creating a whiteout needs no privilege.
        if unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, libc::makedev(0, 0)) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    let sudoers = etc_mask.join("sudoers");
    std::fs::write(&sudoers, SUDOERS)?;
    mode(&sudoers, 0o440)
}

/// `_apt`'s uid in the host's /etc/passwd (the same inside: /etc is the host's).
fn apt_uid() -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut it = l.split(':');
        (it.next()? == "_apt").then_some(())?;
        let _ = it.next()?;
        it.next()?.parse().ok()
    })
}

/// The overlay mounts, in order: (target in the holder's mount namespace, mount data).
fn mount_plan(spec: &MachineSpec, skel: &Path, root: &Path) -> Result<Vec<(CString, CString)>> {
    let sroot = skel.join("root");
    let etc_mask = skel.join("etc-mask");
    let escape = |p: &str| {
        p.replace('\\', "\\\\")
            .replace(',', "\\,")
            .replace(':', "\\:")
    };
    let mut out = Vec::new();
    for (i, dir) in spec.dirs.iter().enumerate() {
        let mut lowers: Vec<String> = spec
            .lowers
            .iter()
            .map(|l| l.join(&dir.key).join("upper"))
            .filter(|p| p.is_dir())
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        match &dir.host {
            None => lowers.push(sroot.to_string_lossy().into_owned()),
            Some(h) => {
                if h == Path::new("/etc") {
                    lowers.push(etc_mask.to_string_lossy().into_owned());
                }
                lowers.push(h.to_string_lossy().into_owned());
            }
        }
        let target = if i == 0 {
            root.to_owned()
        } else {
            root.join(dir.target.strip_prefix("/").unwrap_or(&dir.target))
        };
        let layer = spec.layer.join(&dir.key);
        let data = format!(
            "userxattr,lowerdir={},upperdir={},workdir={}",
            lowers
                .iter()
                .map(|l| escape(l))
                .collect::<Vec<_>>()
                .join(":"),
            escape(&layer.join("upper").to_string_lossy()),
            escape(&layer.join("work").to_string_lossy()),
        );
        let bad = |_| Error::sandbox("a layer path contains a NUL byte");
        out.push((
            CString::new(target.as_os_str().as_encoded_bytes()).map_err(bad)?,
            CString::new(data).map_err(bad)?,
        ));
    }
    Ok(out)
}

/// Whether `path` is a usable absolute in-sandbox path for `files`.
pub(crate) fn check_file_path(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..") && CString::new(path).is_ok()
}
