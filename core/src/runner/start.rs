//! Starting a server instance: its sandbox, its layer, its install commands (once per their
//! hash) and the MCP handshake, all under one [`Start`] that [`Corral::close`] and
//! [`Corral::remove_server`] cancel: the start's future is dropped and its sandbox killed, so
//! a 20-minute install command is killed rather than waited for.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Corral, instance::Live};
use crate::{
    config::{ServerConfig, Transport},
    error::{Error, ErrorKind, Result},
    mcp::{Session, SessionOptions},
    sandbox::{self, Command, Sandbox, SandboxConfig},
    sync::{blocking, lock},
};

/// What happens while a server starts, for progress displays. Canonical form: an object
/// tagged by `type` (`installStarted`, `installFinished`, `serverStarting`, `serverReady`)
/// with camelCase fields, e.g. `{"type": "serverReady", "server": "fx", "protocolVersion": "…"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum StartEvent {
    /// Install command `index` (1-based) of `total` is starting.
    InstallStarted {
        /// The server.
        server: String,
        /// 1-based position.
        index: usize,
        /// How many there are.
        total: usize,
        /// The command.
        command: String,
    },
    /// Install command `index` finished (successfully or not), with its output.
    InstallFinished {
        /// The server.
        server: String,
        /// 1-based position.
        index: usize,
        /// How it ended.
        status: crate::sandbox::ExitStatus,
        /// What it printed (stdout then stderr).
        output: String,
    },
    /// The server process is starting (sandbox ready, install done).
    ServerStarting {
        /// The server.
        server: String,
    },
    /// The MCP handshake completed.
    ServerReady {
        /// The server.
        server: String,
        /// The negotiated protocol version.
        protocol_version: String,
    },
}

/// Receives [`StartEvent`]s.
pub type StartCallback = Arc<dyn Fn(StartEvent) + Send + Sync>;

/// One start in progress: its cancellation, its sandbox once there is one (so a canceller can
/// kill it at once), and its outcome for the callers waiting on it.
pub(super) struct Start {
    cancel: CancellationToken,
    sandbox: Mutex<Option<Arc<dyn Sandbox>>>,
    outcome: watch::Sender<Outcome>,
}

#[derive(Clone)]
enum Outcome {
    Pending,
    /// The starting caller gave up (its future was dropped): a waiter starts anew.
    Abandoned,
    Done(std::result::Result<(), Arc<Error>>),
}

impl Start {
    pub(super) fn new(cancel: CancellationToken) -> Self {
        Self {
            cancel,
            sandbox: Mutex::new(None),
            outcome: watch::Sender::new(Outcome::Pending),
        }
    }

    /// Cancels the start and kills its sandbox (its install command or server with it).
    pub(super) async fn cancel(&self) {
        self.cancel.cancel();
        self.kill_sandbox().await;
    }

    async fn kill_sandbox(&self) {
        let sandbox = lock(&self.sandbox).take();
        if let Some(s) = sandbox {
            let _ = s.kill().await;
        }
    }

    /// Waits for the start's outcome, as a waiting caller: `Ok` when it succeeded or was
    /// abandoned (look at the slot again), the start's error (a copy) when it failed.
    pub(super) async fn outcome(&self) -> Result<()> {
        let mut rx = self.outcome.subscribe();
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(cancelled_error()),
            o = rx.wait_for(|o| !matches!(o, Outcome::Pending)) => match o.as_deref() {
                Ok(Outcome::Done(Err(e))) => Err(copy_error(e)),
                _ => Ok(()),
            },
        }
    }

    /// Waits until the starting caller has finished (or given up).
    pub(super) async fn finished(&self) {
        let mut rx = self.outcome.subscribe();
        let _ = rx.wait_for(|o| !matches!(o, Outcome::Pending)).await;
    }

    pub(super) fn finish(&self, outcome: std::result::Result<(), &Error>) {
        let outcome = outcome.map_err(|e| Arc::new(copy_error(e)));
        self.outcome.send_replace(Outcome::Done(outcome));
    }

    /// The starting caller gave up: its sandbox goes (dropping kills it) and a waiter takes over.
    pub(super) fn abandon(&self) {
        drop(lock(&self.sandbox).take());
        self.outcome.send_if_modified(|o| {
            let pending = matches!(o, Outcome::Pending);
            if pending {
                *o = Outcome::Abandoned;
            }
            pending
        });
    }

    fn register(&self, sandbox: &Arc<dyn Sandbox>) {
        *lock(&self.sandbox) = Some(sandbox.clone());
    }
}

fn cancelled_error() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the server's start was cancelled: it was removed or replaced, or its corral closed",
    )
}

/// An error for another caller: the same kind, message, field and retryability.
fn copy_error(e: &Error) -> Error {
    let copy = Error::new(e.kind(), e.message()).set_retryable(e.is_retryable());
    match e.field() {
        Some(f) => copy.with_field(f),
        None => copy,
    }
}

impl Corral {
    pub(super) fn emit(&self, event: StartEvent) {
        let cb = lock(&self.inner.on_start).clone();
        if let Some(cb) = cb {
            cb(event);
        }
    }

    /// Starts an instance of `config` under `start`; `persistent` servers (configured ones,
    /// not `quick`) keep a state dir and layer under corral's home. Cancelling `start` drops
    /// the work wherever it is and kills the sandbox; the result is then `CLOSED`.
    pub(super) async fn start(
        &self,
        config: &ServerConfig,
        persistent: bool,
        start: &Start,
    ) -> Result<Arc<Live>> {
        let result = tokio::select! {
            biased;
            () = start.cancel.cancelled() => Err(cancelled_error()),
            r = self.start_instance(config, persistent, start) => r,
        };
        let result = match result {
            Ok(live) if start.cancel.is_cancelled() => {
                live.stop().await;
                Err(cancelled_error())
            }
            Err(_) if start.cancel.is_cancelled() => Err(cancelled_error()),
            other => other,
        };
        if result.is_err() {
            // Whatever was dropped half-way (an install, a handshake) dies with its sandbox.
            start.kill_sandbox().await;
        }
        result
    }

    /// Creates the sandbox, runs install commands (once per their hash), starts the server and
    /// completes the MCP handshake.
    async fn start_instance(
        &self,
        config: &ServerConfig,
        persistent: bool,
        start: &Start,
    ) -> Result<Arc<Live>> {
        let options = SessionOptions {
            call_timeout: config.call_timeout,
            on_log: self.log_callback(),
            relay_input: self.relays_input(),
            ..SessionOptions::new(config.name.clone())
        };
        // A pulled catalog template of the same install commands replaces them.
        let pulled = match &config.transport {
            Transport::Stdio { .. }
                if config.template.is_none() && self.inner.provider.name() == "local" =>
            {
                let (home, installs) = (self.inner.home.clone(), config.install_commands.clone());
                blocking(move || Ok(crate::install::pulled_template(&home, &installs)))
                    .await?
                    .map(|template| ServerConfig {
                        template: Some(template),
                        install_commands: Vec::new(),
                        ..config.clone()
                    })
            }
            _ => None,
        };
        let config = pulled.as_ref().unwrap_or(config);
        let argv = match &config.transport {
            Transport::Http { url, headers } => {
                let session = Session::over_http(url, headers, options).await?;
                return Ok(Arc::new(Live::new(
                    sandbox::new_id(&config.name),
                    session,
                    None,
                )));
            }
            Transport::Stdio { argv } => argv,
        };
        let state_dir = persistent.then(|| self.inner.home.join("servers").join(&config.name));
        // The server's layer is keyed by its template and install commands: a change of either
        // starts from a clean layer; older layers go.
        let (layer_key, layer_dir) = {
            let home = self.inner.home.clone();
            let template = config
                .template
                .clone()
                .filter(|_| self.inner.provider.name() == "local");
            let installs = config.install_commands.clone();
            let state_dir = state_dir.clone();
            blocking(move || {
                let key = crate::install::layer_key(&home, template.as_deref(), &installs)?;
                let dir = match state_dir {
                    Some(d) => Some(crate::install::prepare_layers(&d, &key)?),
                    None => None,
                };
                Ok::<(String, Option<PathBuf>), Error>((key, dir))
            })
            .await?
        };
        let sandbox = self
            .inner
            .provider
            .create(SandboxConfig {
                name: config.name.clone(),
                state_dir: state_dir.clone(),
                env: config.env.clone(),
                network: config.network,
                mounts: config.mounts.clone(),
                limits: config.limits.clone(),
                programs: argv.first().cloned().into_iter().collect(),
                template: config.template.clone(),
                layer_dir,
                reuse_key: persistent.then(|| config_hash(config)),
            })
            .await?;
        start.register(&sandbox);
        let started = async {
            crate::install::run_install_commands(
                sandbox.as_ref(),
                config,
                state_dir.as_deref(),
                &layer_key,
                &|e| self.emit(e),
            )
            .await?;
            for (path, text) in &config.files {
                sandbox
                    .write_file(path, text.as_bytes())
                    .await
                    .map_err(|e| {
                        let message = format!(
                            "cannot write files.{path} of `{}`: {}",
                            config.name,
                            e.message()
                        );
                        Error::new(ErrorKind::SandboxFailed, message).with_source(e)
                    })?;
            }
            self.emit(StartEvent::ServerStarting {
                server: config.name.clone(),
            });
            let mut command = Command::new(argv.clone());
            command.cwd = config.cwd.clone();
            let process = sandbox.spawn(command.clone()).await?;
            let session = match Session::over_process(process, options.clone()).await {
                // A slow server of the 2026-07-28 era only (a first `uvx` download, say)
                // answered rmcp's 10 s discover probe late and refused the fallback: again,
                // with discover alone, which waits up to the start timeout.
                Err(e) if crate::mcp::answered_discover_late(&e) => {
                    tracing::info!(server = %config.name, "slow 2026-07-28 server: starting it again with server/discover only");
                    let process = sandbox.spawn(command).await?;
                    let options = SessionOptions {
                        discover_only: true,
                        ..options
                    };
                    Session::over_process(process, options).await?
                }
                r => r?,
            };
            self.emit(StartEvent::ServerReady {
                server: config.name.clone(),
                protocol_version: session.protocol_version().to_owned(),
            });
            Ok::<_, Error>(session)
        }
        .await;
        match started {
            Ok(session) => Ok(Arc::new(Live::new(
                sandbox.id().to_owned(),
                session,
                Some(sandbox),
            ))),
            Err(e) => {
                let diagnosis = sandbox.diagnose();
                let _ = sandbox.kill().await;
                let e = match diagnosis {
                    Some(d) => e.context(d),
                    None => e,
                };
                if e.kind() != ErrorKind::ServerStartFailed
                    || self.inner.provider.name() == "unsandboxed"
                {
                    return Err(e);
                }
                // What a sandbox lacks that the command needs: a container daemon, host paths.
                let unseen = {
                    let config = config.clone();
                    blocking(move || Ok(config.host_paths_in_args()))
                        .await
                        .unwrap_or_default()
                };
                let hints = crate::catalog::docker_hint(argv)
                    .into_iter()
                    .chain((!unseen.is_empty()).then(|| unseen_paths_hint(&unseen)));
                Err(hints.fold(e, Error::note))
            }
        }
    }
}

/// What to do about host paths a server's arguments name that its sandbox does not see.
fn unseen_paths_hint(paths: &[PathBuf]) -> String {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mounts: Vec<String> = list.iter().map(|p| format!("\"{p}:rw\"")).collect();
    format!(
        "the server's arguments or cwd name host paths its sandbox does not see: {}; mount them \
         (`\"mounts\": [{}]`, read-only without `:rw`; for an `mcpServers` file, `corral import \
         --mount-args` or `load_mcp_servers` with `mount_args` does it)",
        list.join(", "),
        mounts.join(", ")
    )
}

/// A stable hash of everything that makes a server instance (remote sandboxes are shared by
/// it between corrals of one home).
fn config_hash(config: &ServerConfig) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{config:?}").as_bytes());
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}
