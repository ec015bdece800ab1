//! The unsandboxed provider: plain child processes with a clean environment and a private
//! home directory, but no isolation at all. Used only when asked for by name (`unsandboxed`),
//! for example on machines without bubblewrap where the user trusts the server.
//! Killing it kills each process's whole process group; a process that leaves its group
//! (`setsid`) can outlive it — the local provider has no such gap.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use super::{
    BoxFuture, ChildControl, Command, ExecOutput, Process, ProcessControl, Provider, Sandbox,
    SandboxConfig, collect_output, new_id,
};
use crate::{
    error::{Error, Result},
    sync::{blocking, lock},
};

/// Runs processes directly on the host.
#[derive(Debug, Clone)]
pub struct UnsandboxedProvider {
    home: PathBuf,
}

impl UnsandboxedProvider {
    /// A provider keeping temporary state under `corral_home`.
    pub fn new(corral_home: &Path) -> Self {
        Self {
            home: corral_home.to_owned(),
        }
    }
}

impl Provider for UnsandboxedProvider {
    fn name(&self) -> &'static str {
        "unsandboxed"
    }

    fn create(&self, config: SandboxConfig) -> BoxFuture<'_, Result<Arc<dyn Sandbox>>> {
        Box::pin(async move {
            if config.network == crate::config::NetworkPolicy::None
                || config.limits != crate::config::Limits::default()
                || !config.mounts.is_empty()
            {
                return Err(Error::sandbox(
                    "the unsandboxed provider cannot enforce network = \"none\", limits or \
                     mounts; use the local (bubblewrap) provider",
                ));
            }
            let id = new_id(if config.name.is_empty() {
                "plain"
            } else {
                &config.name
            });
            let (state, temporary) = match &config.state_dir {
                Some(d) => (d.clone(), false),
                None => (self.home.join("sandboxes").join(&id), true),
            };
            let home = state.join("home");
            {
                let home = home.clone();
                blocking(move || {
                    std::fs::create_dir_all(&home).map_err(|e| {
                        Error::sandbox(format!("cannot create {}: {e}", home.display()))
                    })
                })
                .await?;
            }
            Ok(Arc::new(PlainSandbox {
                id,
                home,
                temporary: temporary.then_some(state),
                config,
                processes: Mutex::new(Vec::new()),
                killed: AtomicBool::new(false),
            }) as Arc<dyn Sandbox>)
        })
    }
}

struct PlainSandbox {
    id: String,
    home: PathBuf,
    temporary: Option<PathBuf>,
    config: SandboxConfig,
    processes: Mutex<Vec<Weak<ChildControl>>>,
    killed: AtomicBool,
}

impl PlainSandbox {
    async fn spawn_process(&self, command: &Command) -> Result<Process> {
        if self.killed.load(Ordering::SeqCst) {
            return Err(Error::sandbox("the sandbox was killed"));
        }
        let (program, args) = command
            .argv
            .split_first()
            .ok_or_else(|| Error::sandbox("empty command"))?;
        let cwd = command
            .cwd
            .as_deref()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.home.clone());
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .env(
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            )
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .envs(&self.config.env)
            .envs(&command.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = super::spawn_child(cmd)
            .await
            .map_err(|e| Error::sandbox(format!("cannot start {program}: {e}")).with_source(e))?;
        let pgid = child.id().map(|p| p as i32);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::sandbox("child has no stdio pipes"));
        };
        let control = ChildControl::new(
            child,
            Box::new(move || {
                if let Some(pgid) = pgid {
                    // SAFETY: signals the process group we created for this child.
                    unsafe {
                        libc::kill(-pgid, libc::SIGKILL);
                    }
                }
            }),
        );
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

    /// Kills every process; returns the temporary dir to remove (blocking work, for the
    /// caller to run off the runtime's threads). `None` if already killed.
    fn kill_now(&self) -> Option<Option<PathBuf>> {
        if self.killed.swap(true, Ordering::SeqCst) {
            return None;
        }
        for p in lock(&self.processes).iter().filter_map(Weak::upgrade) {
            p.kill();
        }
        Some(self.temporary.clone())
    }
}

impl Sandbox for PlainSandbox {
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

    fn kill(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if let Some(Some(dir)) = self.kill_now() {
                let _ = blocking(move || Ok(std::fs::remove_dir_all(dir))).await;
            }
            Ok(())
        })
    }
}

impl Drop for PlainSandbox {
    fn drop(&mut self) {
        let Some(Some(dir)) = self.kill_now() else {
            return;
        };
        // Off the runtime's threads when there is one, inline otherwise.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || std::fs::remove_dir_all(dir))),
            Err(_) => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}
