//! Memory and process limits via cgroups (v2, or the v1 `memory` and `pids` hierarchies), with
//! "kill every process in it" for free. Needs a writable cgroup tree (root, or a delegated one);
//! where there is none, limits fall back to rlimits applied to each process.

use std::{
    ffi::CString,
    fs,
    path::{Path, PathBuf},
};

use crate::config::Limits;

const ROOT: &str = "/sys/fs/cgroup";

/// A cgroup (one dir on v2, one per controller on v1) that every process of a sandbox joins.
#[derive(Debug)]
pub(crate) struct Cgroup {
    dirs: Vec<PathBuf>,
    procs: Vec<CString>,
    events: Option<PathBuf>,
}

impl Cgroup {
    /// Creates a cgroup for sandbox `id` with `limits`. `None` where cgroups cannot be written.
    pub(crate) fn create(id: &str, limits: &Limits) -> Option<Self> {
        if Path::new(ROOT).join("cgroup.controllers").exists() {
            Self::create_v2(id, limits)
        } else {
            Self::create_v1(id, limits)
        }
    }

    fn create_v2(id: &str, limits: &Limits) -> Option<Self> {
        let root = Path::new(ROOT);
        let base = root.join("corral");
        fs::create_dir_all(&base).ok()?;
        let _ = fs::write(root.join("cgroup.subtree_control"), "+memory +pids");
        let _ = fs::write(base.join("cgroup.subtree_control"), "+memory +pids");
        let dir = base.join(id);
        fs::create_dir(&dir).ok()?;
        let cg = Self {
            procs: vec![proc_file(&dir)?],
            events: Some(dir.join("memory.events")),
            dirs: vec![dir.clone()],
        };
        if let Some(mb) = limits.memory_mb {
            fs::write(dir.join("memory.max"), (mb * 1024 * 1024).to_string()).ok()?;
            let _ = fs::write(dir.join("memory.swap.max"), "0");
        }
        if let Some(n) = limits.max_processes {
            fs::write(dir.join("pids.max"), n.to_string()).ok()?;
        }
        Some(cg)
    }

    fn create_v1(id: &str, limits: &Limits) -> Option<Self> {
        let own = fs::read_to_string("/proc/self/cgroup").ok()?;
        let own_path = |controller: &str| {
            own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                ctrls
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.trim_start_matches('/').to_owned())
            })
        };
        let mut cg = Self {
            dirs: Vec::new(),
            procs: Vec::new(),
            events: None,
        };
        for controller in ["memory", "pids"] {
            let base = Path::new(ROOT)
                .join(controller)
                .join(own_path(controller).unwrap_or_default());
            let dir = base.join(format!("corral-{id}"));
            if fs::create_dir(&dir).is_err() {
                cg.remove();
                return None;
            }
            cg.procs.push(proc_file(&dir)?);
            cg.dirs.push(dir.clone());
            let ok = match controller {
                "memory" => limits.memory_mb.is_none_or(|mb| {
                    let bytes = (mb * 1024 * 1024).to_string();
                    let ok = fs::write(dir.join("memory.limit_in_bytes"), &bytes).is_ok();
                    let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), &bytes);
                    cg.events = Some(dir.join("memory.oom_control"));
                    ok
                }),
                _ => limits
                    .max_processes
                    .is_none_or(|n| fs::write(dir.join("pids.max"), n.to_string()).is_ok()),
            };
            if !ok {
                cg.remove();
                return None;
            }
        }
        Some(cg)
    }

    /// The `cgroup.procs` files a child writes "0" to (before exec) to join.
    pub(crate) fn procs_files(&self) -> Vec<CString> {
        self.procs.clone()
    }

    /// How many processes the memory limit has killed.
    pub(crate) fn oom_kills(&self) -> u64 {
        let Some(events) = &self.events else { return 0 };
        fs::read_to_string(events)
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|n| n.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// Kills every process in the cgroup.
    pub(crate) fn kill_all(&self) {
        for dir in &self.dirs {
            if fs::write(dir.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            for _ in 0..50 {
                let pids = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                let mut any = false;
                for pid in pids.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
                    any = true;
                    // SAFETY: kill(2) with a pid read from our own cgroup; no memory is touched.
                    unsafe {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                if !any {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }

    /// Kills everything and removes the cgroup dirs.
    pub(crate) fn remove(&self) {
        self.kill_all();
        for dir in &self.dirs {
            for _ in 0..100 {
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
}

fn proc_file(dir: &Path) -> Option<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()
}

/// Joins the cgroups whose `cgroup.procs` files are given, and applies rlimits.
/// Runs in the child between fork and exec: async-signal-safe calls only, no allocation.
pub(crate) fn join_in_child(
    procs: &[CString],
    rlimits: &[(libc::c_int, u64)],
) -> std::io::Result<()> {
    for file in procs {
        // SAFETY: `file` is a valid NUL-terminated path; open/write/close are async-signal-safe.
        unsafe {
            let fd = libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
            if n != 1 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    for &(resource, value) in rlimits {
        let lim = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: setrlimit with a valid struct; async-signal-safe.
        if unsafe { libc::setrlimit(resource as _, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
