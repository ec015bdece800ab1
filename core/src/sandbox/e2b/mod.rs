//! The E2B provider: every sandbox is an E2B cloud sandbox (a Firecracker microVM), driven
//! through E2B's control plane ([`api`]) and the envd agent inside it ([`envd`]).
//!
//! Settings (environment, or [`E2bConfig`] fields): `E2B_API_KEY` (or `CorralOptions.api_key`),
//! `E2B_DOMAIN` (default `e2b.app`), `E2B_API_URL` (default `https://api.<domain>`),
//! `E2B_SANDBOX_URL` (envd base for every sandbox, routed by the `E2b-Sandbox-Id` header;
//! default `https://49983-<id>.<domain>`), `CORRAL_E2B_TEMPLATE` (default `base`),
//! `CORRAL_E2B_TIMEOUT` (seconds a sandbox outlives its last use, default 300),
//! `CORRAL_E2B_KEEPALIVE_SECS`, `CORRAL_E2B_REQUEST_TIMEOUT` (default 60),
//! `CORRAL_E2B_HOME_ID` (default: a random id kept in corral's home), `CORRAL_E2B_USER` (the
//! Linux user processes run as; default the template's).
//!
//! Lifetime: a sandbox is created with the timeout, and a keepalive task re-sets that timeout
//! while corral holds the sandbox (open streams do not keep an E2B sandbox alive), so it ends at
//! most one timeout after corral stops using it — also when corral dies. It is killed on close
//! and (best effort, bounded) on drop.
//!
//! Scale-out: sandboxes of servers carry metadata (`corral_home`, `corral_server`,
//! `corral_config` — the hash of the server config). Another corral with the same home id
//! finds a running one by listing on that metadata and connects instead of creating a
//! duplicate; each corral runs its own server process in it and keeps a lease file in it
//! (`.corral/leases/<instance>`, refreshed by the keepalive). A sandbox is killed when the last
//! corral with a fresh lease lets go; `corral e2b gc` kills those nobody holds.

pub mod api;
pub mod envd;
mod gateway;
mod process;

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

pub use gateway::{MCP_PORT, MCP_TEMPLATE, McpGateway, TOKEN_FILE};

use self::{
    api::{ApiClient, ListedSandbox, NewSandbox},
    envd::Envd,
    process::ProcShared,
};
use super::{BoxFuture, Command, ExecOutput, Process, Provider, Sandbox, SandboxConfig};
use crate::{
    config::NetworkPolicy,
    error::{Error, Result},
    sync::lock,
};

/// Metadata key: corral's home id.
pub const META_HOME: &str = "corral_home";
/// Metadata key: the server's name.
pub const META_SERVER: &str = "corral_server";
/// Metadata key: the hash of the server's config.
pub const META_CONFIG: &str = "corral_config";
/// The lease directory inside a shared sandbox (relative to the user's home).
const LEASE_DIR: &str = ".corral/leases";

pub(crate) fn ensure_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How the E2B provider reaches E2B.
#[derive(Debug, Clone)]
pub struct E2bConfig {
    /// The API key (`X-API-Key`).
    pub api_key: String,
    /// Control-plane base URL.
    pub api_url: String,
    /// The sandbox domain (`49983-<id>.<domain>`).
    pub domain: String,
    /// envd base URL used for every sandbox instead of the per-sandbox host.
    pub sandbox_url: Option<String>,
    /// The template of new sandboxes.
    pub template: String,
    /// How long a sandbox outlives its last use (its E2B timeout, re-set by the keepalive).
    pub timeout: Duration,
    /// How often the keepalive re-sets the timeout (and refreshes leases).
    pub keepalive: Duration,
    /// Bound of one API or unary envd request.
    pub request_timeout: Duration,
    /// corral's home id (scale-out: corrals with one home id share sandboxes).
    pub home_id: String,
    /// The Linux user processes and files run as (`CORRAL_E2B_USER`; `None`: the template's
    /// default user).
    pub user: Option<String>,
}

fn env_secs(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .map(Duration::from_secs_f64)
}

impl E2bConfig {
    /// From the environment; `api_key` wins over `E2B_API_KEY`. The home id is kept in
    /// `<home>/e2b-home-id` unless `CORRAL_E2B_HOME_ID` is set.
    pub fn from_env(home: &Path, api_key: Option<String>) -> Result<Self> {
        let api_key = api_key
            .filter(|k| !k.is_empty())
            .or_else(|| std::env::var("E2B_API_KEY").ok().filter(|k| !k.is_empty()))
            .ok_or_else(|| {
                Error::config(
                    "api_key",
                    "the e2b provider needs an E2B API key: set E2B_API_KEY or pass api_key",
                )
            })?;
        let domain = std::env::var("E2B_DOMAIN")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "e2b.app".into());
        let api_url = std::env::var("E2B_API_URL")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| format!("https://api.{domain}"));
        let sandbox_url = std::env::var("E2B_SANDBOX_URL")
            .ok()
            .filter(|d| !d.is_empty());
        let template = std::env::var("CORRAL_E2B_TEMPLATE")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "base".into());
        let timeout = env_secs("CORRAL_E2B_TIMEOUT").unwrap_or(Duration::from_secs(300));
        let keepalive = env_secs("CORRAL_E2B_KEEPALIVE_SECS")
            .unwrap_or_else(|| (timeout / 3).min(Duration::from_secs(60)))
            .max(Duration::from_millis(200));
        let request_timeout =
            env_secs("CORRAL_E2B_REQUEST_TIMEOUT").unwrap_or(Duration::from_secs(60));
        let home_id = match std::env::var("CORRAL_E2B_HOME_ID") {
            Ok(id) if !id.is_empty() => id,
            _ => home_id(home)?,
        };
        let user = std::env::var("CORRAL_E2B_USER")
            .ok()
            .filter(|u| !u.is_empty());
        Ok(Self {
            api_key,
            api_url,
            domain,
            sandbox_url,
            template,
            timeout,
            keepalive,
            request_timeout,
            home_id,
            user,
        })
    }

    fn envd_base(&self, sandbox_id: &str, domain: Option<&str>) -> String {
        match &self.sandbox_url {
            Some(u) => u.clone(),
            None => format!(
                "https://{}-{sandbox_id}.{}",
                envd::ENVD_PORT,
                domain.unwrap_or(&self.domain)
            ),
        }
    }
}

/// The home id kept in `<home>/e2b-home-id` (created on first use).
fn home_id(home: &Path) -> Result<String> {
    let file = home.join("e2b-home-id");
    if let Ok(id) = std::fs::read_to_string(&file)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let id = format!("{:016x}", random_u64());
    std::fs::create_dir_all(home).map_err(|e| Error::io(home.display(), e))?;
    std::fs::write(&file, &id).map_err(|e| Error::io(file.display(), e))?;
    Ok(id)
}

/// Makes E2B sandboxes.
#[derive(Clone)]
pub struct E2bProvider {
    config: Arc<E2bConfig>,
    api: ApiClient,
    http: reqwest::Client,
    instance: String,
}

impl std::fmt::Debug for E2bProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2bProvider")
            .field("api_url", &self.config.api_url)
            .field("home_id", &self.config.home_id)
            .finish_non_exhaustive()
    }
}

impl E2bProvider {
    /// A provider configured from the environment (see the module docs).
    pub fn from_env(home: &Path, api_key: Option<String>) -> Result<Self> {
        Self::new(E2bConfig::from_env(home, api_key)?)
    }

    /// A provider with an explicit config.
    pub fn new(config: E2bConfig) -> Result<Self> {
        ensure_crypto_provider();
        let api = ApiClient::new(&config.api_url, &config.api_key, config.request_timeout)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("corral/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::sandbox(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            config: Arc::new(config),
            api,
            http,
            instance: format!("{:016x}", random_u64()),
        })
    }

    /// The control-plane client.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    /// Its config.
    pub fn config(&self) -> &E2bConfig {
        &self.config
    }

    fn metadata(&self, config: &SandboxConfig) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        m.insert(META_HOME.into(), self.config.home_id.clone());
        if !config.name.is_empty() {
            m.insert(META_SERVER.into(), config.name.clone());
        }
        if let Some(key) = &config.reuse_key {
            m.insert(META_CONFIG.into(), key.clone());
        }
        m
    }

    fn envd_of(&self, id: &str, token: Option<String>, domain: Option<&str>) -> Envd {
        Envd::new(
            self.http.clone(),
            &self.config.envd_base(id, domain),
            id,
            token,
            self.config.request_timeout,
        )
        .with_user(self.config.user.clone())
    }

    /// The sandboxes of this home id (every state).
    pub async fn list_own(&self) -> Result<Vec<ListedSandbox>> {
        let mut filter = BTreeMap::new();
        filter.insert(META_HOME.to_owned(), self.config.home_id.clone());
        self.api.list(&filter, None).await
    }

    /// How many corrals hold a fresh lease on sandbox `id` (`None` if it cannot be read).
    pub async fn holders(&self, id: &str) -> Option<usize> {
        let info = self.api.connect(id, self.config.timeout).await.ok()?;
        let envd = self.envd_of(id, info.envd_access_token, info.domain.as_deref());
        fresh_leases(&envd, &self.config, None).await
    }

    /// Kills the sandboxes of this home id that no corral holds (every one with `all`).
    /// Returns the ids killed.
    pub async fn gc(&self, all: bool) -> Result<Vec<String>> {
        let mut killed = Vec::new();
        for s in self.list_own().await? {
            let held = if all || s.state == "paused" {
                0
            } else {
                self.holders(&s.sandbox_id).await.unwrap_or(0)
            };
            if held == 0 && self.api.kill(&s.sandbox_id).await.is_ok() {
                killed.push(s.sandbox_id);
            }
        }
        Ok(killed)
    }

    async fn reuse(&self, config: &SandboxConfig) -> Option<E2bSandbox> {
        config.reuse_key.as_ref()?;
        let found = self
            .api
            .list(&self.metadata(config), Some("running"))
            .await
            .ok()?;
        for s in found {
            if let Ok(info) = self.api.connect(&s.sandbox_id, self.config.timeout).await {
                tracing::debug!(sandbox = %s.sandbox_id, "reusing the E2B sandbox of another corral");
                let envd = self.envd_of(
                    &info.sandbox_id,
                    info.envd_access_token,
                    info.domain.as_deref(),
                );
                return Some(E2bSandbox::new(self, info.sandbox_id, envd, true));
            }
        }
        None
    }
}

impl Provider for E2bProvider {
    fn name(&self) -> &'static str {
        "e2b"
    }

    fn as_e2b(&self) -> Option<&E2bProvider> {
        Some(self)
    }

    fn create(&self, config: SandboxConfig) -> BoxFuture<'_, Result<Arc<dyn Sandbox>>> {
        Box::pin(async move {
            if !config.mounts.is_empty() {
                return Err(Error::sandbox(
                    "the e2b provider cannot mount host directories (the sandbox runs in E2B's \
                     cloud); copy files in with write_file instead",
                ));
            }
            if config.limits != crate::config::Limits::default() {
                return Err(Error::sandbox(
                    "the e2b provider cannot set memory or process limits per sandbox: they \
                     come from the E2B template",
                ));
            }
            if let Some(sandbox) = self.reuse(&config).await {
                sandbox.start_keepalive();
                return Ok(Arc::new(sandbox) as Arc<dyn Sandbox>);
            }
            let body = NewSandbox {
                template_id: self.config.template.clone(),
                timeout: Some(self.config.timeout.as_secs().max(1)),
                env_vars: config.env.clone(),
                metadata: self.metadata(&config),
                secure: Some(true),
                allow_internet_access: (config.network == NetworkPolicy::None).then_some(false),
                network: None,
                mcp: None,
            };
            let info = self.api.create(&body, self.config.request_timeout).await?;
            let envd = self.envd_of(
                &info.sandbox_id,
                info.envd_access_token,
                info.domain.as_deref(),
            );
            let sandbox = E2bSandbox::new(self, info.sandbox_id, envd, config.reuse_key.is_some());
            sandbox.start_keepalive();
            Ok(Arc::new(sandbox) as Arc<dyn Sandbox>)
        })
    }
}

/// What releasing a sandbox needs (also from `Drop`, on a thread of its own).
#[derive(Clone)]
struct Remote {
    id: String,
    api: ApiClient,
    envd: Envd,
    config: Arc<E2bConfig>,
    instance: String,
    shared: bool,
    /// Keeps a lease (so `corral e2b gc` spares it) although no other corral shares it.
    lease: bool,
}

impl Remote {
    fn lease_path(&self) -> String {
        format!("{LEASE_DIR}/{}", self.instance)
    }

    /// Lets go of the sandbox: drops this corral's lease and kills the sandbox unless another
    /// corral holds a fresh one.
    async fn release(&self) {
        if self.shared {
            let _ = self.envd.upload(&self.lease_path(), b"0").await;
            let others = fresh_leases(&self.envd, &self.config, Some(&self.instance)).await;
            if others.is_some_and(|n| n > 0) {
                tracing::debug!(sandbox = %self.id, "another corral holds the sandbox: left running");
                return;
            }
        }
        if let Err(e) = self.api.kill(&self.id).await {
            tracing::warn!(sandbox = %self.id, error = %e, "could not kill the E2B sandbox; its timeout will end it");
        }
    }
}

/// Fresh leases in a sandbox, except `skip`'s.
async fn fresh_leases(envd: &Envd, config: &E2bConfig, skip: Option<&str>) -> Option<usize> {
    let script = format!(
        "for f in {LEASE_DIR}/*; do [ -f \"$f\" ] && echo \"${{f##*/}} $(cat \"$f\")\"; done; true"
    );
    let command = Command::new(["sh", "-c", &script]);
    let (process, _) = process::start(envd.clone(), &command, false, "corral-lease-check", false)
        .await
        .ok()?;
    let out = super::collect_output(process, None, Some(config.request_timeout))
        .await
        .ok()?;
    let ttl = (config.keepalive * 3).as_secs().max(2);
    let now = now_secs();
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(who, _)| Some(*who) != skip)
            .filter_map(|(_, t)| t.trim().parse::<u64>().ok())
            .filter(|t| now.saturating_sub(*t) <= ttl)
            .count(),
    )
}

/// One E2B sandbox.
pub struct E2bSandbox {
    remote: Remote,
    killed: Arc<AtomicBool>,
    keepalive: Mutex<Option<tokio::task::JoinHandle<()>>>,
    processes: Arc<Mutex<Vec<Weak<ProcShared>>>>,
    counter: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for E2bSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("E2bSandbox")
            .field("id", &self.remote.id)
            .finish_non_exhaustive()
    }
}

impl E2bSandbox {
    fn new(provider: &E2bProvider, id: String, envd: Envd, shared: bool) -> Self {
        Self {
            remote: Remote {
                id,
                api: provider.api.clone(),
                envd,
                config: provider.config.clone(),
                instance: provider.instance.clone(),
                shared,
                lease: false,
            },
            killed: Arc::new(AtomicBool::new(false)),
            keepalive: Mutex::new(None),
            processes: Arc::new(Mutex::new(Vec::new())),
            counter: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The envd client of this sandbox.
    pub fn envd(&self) -> &Envd {
        &self.remote.envd
    }

    /// Re-sets the timeout (and refreshes this corral's lease) every keepalive period; a 404
    /// means the sandbox is gone, which fails its processes.
    fn start_keepalive(&self) {
        let remote = self.remote.clone();
        let killed = self.killed.clone();
        let processes = self.processes.clone();
        let task = tokio::spawn(async move {
            loop {
                if remote.shared || remote.lease {
                    let _ = remote
                        .envd
                        .upload(&remote.lease_path(), now_secs().to_string().as_bytes())
                        .await;
                }
                tokio::time::sleep(remote.config.keepalive).await;
                if killed.load(Ordering::SeqCst) {
                    return;
                }
                match remote
                    .api
                    .set_timeout(&remote.id, remote.config.timeout)
                    .await
                {
                    Err(e) if api::status_of(&e) == Some(404) => {
                        let message = format!(
                            "the E2B sandbox {} is gone (killed, timed out or paused)",
                            remote.id
                        );
                        let alive: Vec<_> =
                            lock(&processes).iter().filter_map(Weak::upgrade).collect();
                        for p in alive {
                            p.sandbox_gone(&message);
                        }
                        return;
                    }
                    Err(e) => tracing::debug!(error = %e, "E2B keepalive failed"),
                    Ok(()) => {}
                }
            }
        });
        *lock(&self.keepalive) = Some(task);
    }

    async fn start(&self, command: &Command, stdin: bool, durable: bool) -> Result<Process> {
        if self.killed.load(Ordering::SeqCst) {
            return Err(Error::sandbox("the sandbox was killed"));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tag = format!("corral-{}-{n}", self.remote.instance);
        let (process, shared) =
            process::start(self.remote.envd.clone(), command, stdin, &tag, durable).await?;
        let mut list = lock(&self.processes);
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(&shared));
        drop(list);
        Ok(process)
    }

    fn stop_everything(&self) -> bool {
        if self.killed.swap(true, Ordering::SeqCst) {
            return false;
        }
        let keepalive = lock(&self.keepalive).take();
        if let Some(k) = keepalive {
            k.abort();
        }
        let alive: Vec<_> = lock(&self.processes)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for p in alive {
            p.kill();
        }
        true
    }
}

impl Sandbox for E2bSandbox {
    fn id(&self) -> &str {
        &self.remote.id
    }

    fn exec(&self, command: Command) -> BoxFuture<'_, Result<ExecOutput>> {
        Box::pin(async move {
            let process = self.start(&command, command.stdin.is_some(), false).await?;
            super::collect_output(process, command.stdin, command.timeout).await
        })
    }

    fn spawn(&self, command: Command) -> BoxFuture<'_, Result<Process>> {
        Box::pin(async move { self.start(&command, true, true).await })
    }

    fn write_file<'a>(&'a self, path: &'a str, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { self.remote.envd.upload(path, data).await })
    }

    fn read_file<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Vec<u8>>> {
        Box::pin(async move { self.remote.envd.download(path).await })
    }

    fn set_timeout(&self, timeout: Duration) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.remote.api.set_timeout(&self.remote.id, timeout).await })
    }

    fn kill(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if self.stop_everything() {
                let bound = self
                    .remote
                    .config
                    .request_timeout
                    .min(Duration::from_secs(15));
                let _ = tokio::time::timeout(bound, self.remote.release()).await;
            }
            Ok(())
        })
    }

    fn state_is_local(&self) -> bool {
        false
    }
}

impl Drop for E2bSandbox {
    fn drop(&mut self) {
        if !self.stop_everything() || self.remote.shared {
            // A shared sandbox may serve another corral: its lease lapses and its timeout (or
            // `corral e2b gc`) ends it.
            return;
        }
        // Best effort and bounded, on a thread with its own runtime: the caller's runtime may
        // be shutting down. The sandbox's timeout ends it anyway.
        let remote = self.remote.clone();
        let join = std::thread::Builder::new()
            .name("corral-e2b-release".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(api) = ApiClient::new(
                        remote.api.base(),
                        &remote.config.api_key,
                        Duration::from_secs(5),
                    ) else {
                        return;
                    };
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), api.kill(&remote.id)).await;
                });
            });
        if let Ok(j) = join {
            let _ = j.join();
        }
    }
}
