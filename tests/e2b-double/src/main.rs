//! `corral-e2b-double`: a test-only stand-in for E2B on 127.0.0.1 — the control plane and envd,
//! as `../shared/reference/e2b-protocol.md` (cited as `P§x`) and `e2b-compat.md` (`C§x`)
//! document them, backed by real local processes (corral-core's unsandboxed or local provider).
//!
//! Usage: `corral-e2b-double [--api-key KEY] [--backend local|unsandboxed] [--expose PROGRAM]…
//! [--corral CLI]` (`local`: each sandbox is a corral bubblewrap sandbox; `--expose` makes a
//! program's install prefix visible inside, as corral's local provider does for a server's
//! command; `--corral`: the corral CLI whose gateway stands in for E2B's in sandboxes of the
//! `mcp-gateway` template, see [`mcp_gateway`]). It prints one line,
//! `listening api=http://127.0.0.1:<p> envd=http://127.0.0.1:<q>`, then serves until killed.
//! Point clients at it with `E2B_API_URL=<api>` and `E2B_SANDBOX_URL=<envd>` (C§2.2 mode B).
//!
//! Fault injection and inspection (test-only, on the API port, under `/_double/`):
//! `POST /_double/faults` `{"rate_limit": n, "retry_after": s, "split": bool,
//! "drop_on_input": n, "slow_create_ms": ms, "page_size": n}`; `POST /_double/vanish/<id>` (the sandbox
//! disappears: processes killed, streams cut, health 502, API 404); `POST /_double/drop/<id>`
//! (every stream of the sandbox cut, processes left running); `GET /_double/stats`.

mod mcp_gateway;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use corral_core::{
    Command, Provider, Sandbox, SandboxConfig,
    sandbox::{ProcessControl, provider_by_name},
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::{broadcast, mpsc},
};

type Shared = Arc<Double>;

/// envd's port (P§2.1).
const ENVD_PORT: u16 = 49983;

#[derive(Default, Debug, Clone, serde::Serialize)]
struct Stats {
    creates: u64,
    connects_api: u64,
    kills: u64,
    set_timeouts: u64,
    lists: u64,
    starts: u64,
    reattaches: u64,
    send_inputs: u64,
    uploads: u64,
    rate_limited: u64,
}

#[derive(Default, Debug, Clone)]
struct Faults {
    rate_limit: u32,
    retry_after: u64,
    split: bool,
    drop_on_input: u32,
    slow_create_ms: u64,
    page_size: usize,
}

struct Double {
    api_key: String,
    /// Programs made visible in every sandbox (the local backend's runtime prefixes).
    expose: Vec<String>,
    /// The corral CLI whose gateway stands in for E2B's (`--corral`).
    corral: Option<String>,
    /// Backend name (`local`, `unsandboxed`).
    backend: String,
    /// For proxying sandbox ports to what listens there.
    http: reqwest::Client,
    provider: Arc<dyn Provider>,
    sandboxes: Mutex<HashMap<String, Arc<Sbx>>>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    seq: AtomicU64,
}

struct Sbx {
    id: String,
    template: String,
    token: String,
    metadata: BTreeMap<String, String>,
    started: SystemTime,
    end_at: Mutex<SystemTime>,
    paused: Mutex<bool>,
    sandbox: Arc<dyn Sandbox>,
    procs: Mutex<HashMap<u32, Arc<Proc>>>,
    next_pid: AtomicU32,
    /// Fires to cut every open stream of this sandbox.
    cut: broadcast::Sender<()>,
    /// The stand-in MCP gateway of an `mcp-gateway` sandbox, once started.
    gateway: tokio::sync::Mutex<Option<mcp_gateway::StandIn>>,
}

#[derive(Clone, Debug)]
enum Ev {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    End(Value),
}

struct Proc {
    pid: u32,
    tag: Option<String>,
    config: Value,
    stdin: tokio::sync::Mutex<Option<Box<dyn tokio::io::AsyncWrite + Send + Unpin>>>,
    subscribers: Mutex<Vec<mpsc::Sender<Ev>>>,
    end: Mutex<Option<Value>>,
    control: Arc<dyn ProcessControl>,
}

fn rfc3339(t: SystemTime) -> String {
    // Civil-from-days (Howard Hinnant), UTC.
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Double {
    fn rand(&self) -> u64 {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut x = t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id());
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }

    /// `i` + 20 lowercase alphanumerics (P§1.4 "Sandbox ID format").
    fn new_id(&self) -> String {
        const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut id = String::from("i");
        for _ in 0..20 {
            id.push(ALPHA[(self.rand() % 36) as usize] as char);
        }
        id
    }

    fn stat(&self, f: impl FnOnce(&mut Stats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn get(&self, id: &str) -> Option<Arc<Sbx>> {
        // P§1.4: `<sandboxID>-<clientID>` is accepted and the suffix stripped.
        let id = id.split('-').next().unwrap_or(id);
        self.sandboxes.lock().ok()?.get(id).cloned()
    }

    async fn remove(&self, id: &str) -> bool {
        let sbx = self.sandboxes.lock().ok().and_then(|mut m| m.remove(id));
        match sbx {
            Some(sbx) => {
                let _ = sbx.cut.send(());
                let _ = sbx.sandbox.kill().await;
                true
            }
            None => false,
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// P§1.3: every API error body is `{code, message}` with `code` equal to the status.
fn api_error(status: StatusCode, message: &str) -> Response {
    json_response(status, json!({"code": status.as_u16(), "message": message}))
}

fn query(req_uri: &axum::http::Uri) -> HashMap<String, String> {
    form_urlencoded::parse(req_uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

#[tokio::main]
async fn main() {
    let mut api_key = "e2b_double_0123456789abcdef".to_owned();
    let mut backend = "local".to_owned();
    let mut expose: Vec<String> = Vec::new();
    let mut corral: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--api-key" => api_key = args.next().unwrap_or_default(),
            "--backend" => backend = args.next().unwrap_or_default(),
            "--expose" => expose.extend(args.next()),
            "--corral" => corral = args.next(),
            other => {
                eprintln!("corral-e2b-double: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let home = std::env::temp_dir().join(format!("corral-e2b-double-{}", std::process::id()));
    let provider = match provider_by_name(&backend, &home) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("corral-e2b-double: {e}");
            std::process::exit(2);
        }
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Ok(http) = reqwest::Client::builder().no_proxy().build() else {
        eprintln!("corral-e2b-double: cannot build an HTTP client");
        std::process::exit(2);
    };
    let double: Shared = Arc::new(Double {
        api_key,
        provider,
        expose,
        corral,
        backend,
        http,
        sandboxes: Mutex::new(HashMap::new()),
        faults: Mutex::new(Faults::default()),
        stats: Mutex::new(Stats::default()),
        seq: AtomicU64::new(1),
    });
    let (Ok(api), Ok(envd)) = (
        tokio::net::TcpListener::bind("127.0.0.1:0").await,
        tokio::net::TcpListener::bind("127.0.0.1:0").await,
    ) else {
        eprintln!("corral-e2b-double: cannot bind 127.0.0.1");
        std::process::exit(2);
    };
    let (Ok(api_addr), Ok(envd_addr)) = (api.local_addr(), envd.local_addr()) else {
        std::process::exit(2);
    };
    println!("listening api=http://{api_addr} envd=http://{envd_addr}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    // Expiry: a sandbox whose timeout passed is killed (P§4.1 "At expiry").
    let reaper = double.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = SystemTime::now();
            let expired: Vec<String> = reaper
                .sandboxes
                .lock()
                .map(|m| {
                    m.values()
                        .filter(|s| s.end_at.lock().is_ok_and(|e| *e <= now))
                        .map(|s| s.id.clone())
                        .collect()
                })
                .unwrap_or_default();
            for id in expired {
                reaper.remove(&id).await;
            }
        }
    });

    let api_router = axum::Router::new()
        .fallback(control_plane)
        .with_state(double.clone());
    let envd_router = axum::Router::new()
        .fallback(envd_route)
        .with_state(double.clone());
    let a = tokio::spawn(async move { axum::serve(api, api_router).await });
    let b = tokio::spawn(async move { axum::serve(envd, envd_router).await });
    let _ = tokio::join!(a, b);
}

// ---------------------------------------------------------------- control plane (P§1, C§2.5)

async fn control_plane(State(d): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let q = query(req.uri());
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    if let Some(admin) = path.strip_prefix("/_double/") {
        return admin_route(&d, &method, admin, &body).await;
    }
    // P§1.2: `X-API-Key` on every call (names are case-insensitive).
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(d.api_key.as_str()) {
        return api_error(StatusCode::UNAUTHORIZED, "Invalid API key");
    }
    // P§1.3 "Rate-limit middleware": 429 with `Retry-After` and the documented body.
    let limited = d.faults.lock().ok().and_then(|mut f| {
        (f.rate_limit > 0).then(|| {
            f.rate_limit -= 1;
            f.retry_after
        })
    });
    if let Some(retry_after) = limited {
        d.stat(|s| s.rate_limited += 1);
        let mut r = api_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return api_error(StatusCode::BAD_REQUEST, &format!("bad JSON: {e}")),
        }
    };
    match (method.as_str(), parts.as_slice()) {
        // C§2.5: the current SDKs create with /v2; /sandboxes stays for older ones.
        ("POST", ["v2", "sandboxes"]) => create(&d, &body, 300).await,
        ("POST", ["sandboxes"]) => create(&d, &body, 15).await,
        ("POST", ["v2", "sandboxes", id, "connect"]) | ("POST", ["sandboxes", id, "connect"]) => {
            connect(&d, id, &body)
        }
        ("DELETE", ["sandboxes", id]) => {
            d.stat(|s| s.kills += 1);
            // P§1.4 Kill: 204, 404 when unknown.
            if d.remove(id.split('-').next().unwrap_or(id)).await {
                StatusCode::NO_CONTENT.into_response()
            } else {
                not_found(id)
            }
        }
        ("POST", ["sandboxes", id, "timeout"]) => {
            d.stat(|s| s.set_timeouts += 1);
            let Some(sbx) = d.get(id) else {
                return not_found(id);
            };
            // P§1.4 Set timeout: TTL = now + timeout, may shorten; negative is 0.
            let t = body
                .get("timeout")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .max(0) as u64;
            if let Ok(mut e) = sbx.end_at.lock() {
                *e = SystemTime::now() + Duration::from_secs(t);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", ["sandboxes", id, "pause"]) => {
            let Some(sbx) = d.get(id) else {
                return not_found(id);
            };
            let mut p = sbx.paused.lock().unwrap_or_else(|e| e.into_inner());
            if *p {
                return api_error(StatusCode::CONFLICT, "sandbox is already paused");
            }
            *p = true;
            drop(p);
            let _ = sbx.cut.send(()); // P§4.1: pausing drops live connections
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ["sandboxes", id]) => match d.get(id) {
            Some(sbx) => json_response(StatusCode::OK, detail(&sbx, true)),
            None => not_found(id),
        },
        ("GET", ["v2", "sandboxes"]) | ("GET", ["sandboxes"]) => list(&d, &q, parts.len() == 2),
        _ => api_error(StatusCode::NOT_FOUND, "no such route"),
    }
}

fn not_found(id: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("sandbox \"{id}\" doesn't exist or you don't have access to it"),
    )
}

/// P§1.6 `Sandbox`.
fn sandbox_json(sbx: &Sbx) -> Value {
    json!({
        "sandboxID": sbx.id, "templateID": sbx.template, "clientID": "double",
        "envdVersion": "0.6.13", "envdAccessToken": sbx.token,
        "trafficAccessToken": null, "domain": null,
    })
}

/// P§1.6 `SandboxDetail` / `ListedSandbox`.
fn detail(sbx: &Sbx, with_token: bool) -> Value {
    let end = sbx.end_at.lock().map(|e| *e).unwrap_or(SystemTime::now());
    let paused = sbx.paused.lock().map(|p| *p).unwrap_or(false);
    let mut v = json!({
        "sandboxID": sbx.id, "templateID": sbx.template, "clientID": "double",
        "startedAt": rfc3339(sbx.started), "endAt": rfc3339(end),
        "cpuCount": 2, "memoryMB": 512, "diskSizeMB": 1024,
        "state": if paused { "paused" } else { "running" },
        "envdVersion": "0.6.13", "metadata": sbx.metadata,
    });
    if with_token {
        v["envdAccessToken"] = json!(sbx.token);
    }
    v
}

async fn create(d: &Shared, body: &Value, default_timeout: u64) -> Response {
    d.stat(|s| s.creates += 1);
    let slow = d.faults.lock().map(|f| f.slow_create_ms).unwrap_or(0);
    if slow > 0 {
        tokio::time::sleep(Duration::from_millis(slow)).await;
    }
    // P§1.5: templateID is required; timeout ≤ 0 or above the plan max is a 400.
    let Some(template) = body.get("templateID").and_then(Value::as_str) else {
        return api_error(StatusCode::BAD_REQUEST, "templateID is required");
    };
    let timeout = match body.get("timeout") {
        None | Some(Value::Null) => default_timeout as i64,
        Some(v) => v.as_i64().unwrap_or(-1),
    };
    if timeout <= 0 {
        return api_error(StatusCode::BAD_REQUEST, "Timeout must be greater than 0");
    }
    if timeout > 24 * 3600 {
        return api_error(
            StatusCode::BAD_REQUEST,
            "Timeout cannot be greater than 24 hours",
        );
    }
    let strings = |key: &str| -> BTreeMap<String, String> {
        body.get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let id = d.new_id();
    let mcp = mcp_gateway::is_mcp_template(template);
    if mcp && d.backend != "local" {
        return api_error(
            StatusCode::BAD_REQUEST,
            "the double serves the mcp-gateway template on its local backend only",
        );
    }
    let mut programs = d.expose.clone();
    if mcp {
        programs.extend(d.corral.clone());
    }
    let config = SandboxConfig {
        name: id.clone(),
        env: strings("envVars"),
        programs,
        ..SandboxConfig::default()
    };
    let created = match d.provider.create(config).await {
        Ok(s) if mcp => match mcp_gateway::install(s.as_ref()).await {
            Ok(()) => Ok(s),
            Err(e) => {
                let _ = s.kill().await;
                Err(format!("cannot install mcp-gateway: {e}"))
            }
        },
        Ok(s) => Ok(s),
        Err(e) => Err(e.to_string()),
    };
    let sandbox = match created {
        Ok(s) => s,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": 500, "message": e, "error_code": "sandbox_create_failed"}),
            );
        }
    };
    let sbx = Arc::new(Sbx {
        id: id.clone(),
        template: template.to_owned(),
        token: format!("envd-{:016x}", d.rand()),
        metadata: strings("metadata"),
        started: SystemTime::now(),
        end_at: Mutex::new(SystemTime::now() + Duration::from_secs(timeout as u64)),
        paused: Mutex::new(false),
        sandbox,
        procs: Mutex::new(HashMap::new()),
        next_pid: AtomicU32::new(100),
        cut: broadcast::channel(4).0,
        gateway: tokio::sync::Mutex::new(None),
    });
    if let Ok(mut m) = d.sandboxes.lock() {
        m.insert(id, sbx.clone());
    }
    json_response(StatusCode::CREATED, sandbox_json(&sbx))
}

fn connect(d: &Shared, id: &str, body: &Value) -> Response {
    d.stat(|s| s.connects_api += 1);
    let Some(sbx) = d.get(id) else {
        return not_found(id);
    };
    // P§1.4 Connect: extends only, never shortens; 201 when it resumed a paused sandbox.
    let t = body.get("timeout").and_then(Value::as_u64).unwrap_or(300);
    if let Ok(mut e) = sbx.end_at.lock() {
        *e = (*e).max(SystemTime::now() + Duration::from_secs(t));
    }
    let was_paused = sbx
        .paused
        .lock()
        .map(|mut p| std::mem::replace(&mut *p, false))
        .unwrap_or(false);
    let status = if was_paused {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json_response(status, sandbox_json(&sbx))
}

/// P§1.4 List: metadata (`k=v&k2=v2`, URL-encoded), state, limit, nextToken; `X-Next-Token`.
fn list(d: &Shared, q: &HashMap<String, String>, v2: bool) -> Response {
    d.stat(|s| s.lists += 1);
    let filter: Vec<(String, String)> = q
        .get("metadata")
        .map(|m| form_urlencoded::parse(m.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let states: Vec<String> = q
        .get("state")
        .map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_else(|| {
            if v2 {
                vec!["running".into(), "paused".into()]
            } else {
                vec!["running".into()]
            }
        });
    let mut all: Vec<Arc<Sbx>> = d
        .sandboxes
        .lock()
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    all.sort_by(|a, b| b.started.cmp(&a.started).then(a.id.cmp(&b.id)));
    let matching: Vec<Value> = all
        .iter()
        .filter(|s| filter.iter().all(|(k, v)| s.metadata.get(k) == Some(v)))
        .map(|s| detail(s, false))
        .filter(|v| {
            states
                .iter()
                .any(|st| v.get("state").and_then(Value::as_str) == Some(st))
        })
        .collect();
    let running = matching
        .iter()
        .filter(|v| v.get("state").and_then(Value::as_str) == Some("running"))
        .count();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    // Fault: a smaller page than asked for (the client must follow `X-Next-Token`).
    let limit = match d.faults.lock().map(|f| f.page_size).unwrap_or(0) {
        0 => limit,
        cap => limit.min(cap),
    };
    let start = q
        .get("nextToken")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = matching.iter().skip(start).take(limit).cloned().collect();
    let mut r = json_response(StatusCode::OK, Value::Array(page));
    if start + limit < matching.len()
        && let Ok(v) = HeaderValue::from_str(&(start + limit).to_string())
    {
        r.headers_mut().insert("x-next-token", v);
    }
    if let Ok(v) = HeaderValue::from_str(&running.to_string()) {
        r.headers_mut().insert("x-total-running", v);
    }
    r
}

async fn admin_route(d: &Shared, method: &Method, path: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(json!({}));
    match (
        method.as_str(),
        path.split('/').collect::<Vec<_>>().as_slice(),
    ) {
        ("POST", ["faults"]) => {
            if let Ok(mut f) = d.faults.lock() {
                let n = |k: &str| v.get(k).and_then(Value::as_u64);
                if let Some(x) = n("rate_limit") {
                    f.rate_limit = x as u32;
                }
                if let Some(x) = n("retry_after") {
                    f.retry_after = x;
                }
                if let Some(x) = v.get("split").and_then(Value::as_bool) {
                    f.split = x;
                }
                if let Some(x) = n("drop_on_input") {
                    f.drop_on_input = x as u32;
                }
                if let Some(x) = n("slow_create_ms") {
                    f.slow_create_ms = x;
                }
                if let Some(x) = n("page_size") {
                    f.page_size = x as usize;
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", ["stats"]) => {
            let s = d.stats.lock().map(|s| s.clone()).unwrap_or_default();
            let ids: Vec<String> = d
                .sandboxes
                .lock()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let mut v = serde_json::to_value(s).unwrap_or(json!({}));
            v["sandboxes"] = json!(ids);
            json_response(StatusCode::OK, v)
        }
        ("POST", ["vanish", id]) => {
            if d.remove(id).await {
                StatusCode::NO_CONTENT.into_response()
            } else {
                not_found(id)
            }
        }
        ("POST", ["drop", id]) => match d.get(id) {
            Some(sbx) => {
                let _ = sbx.cut.send(());
                StatusCode::NO_CONTENT.into_response()
            }
            None => not_found(id),
        },
        _ => api_error(StatusCode::NOT_FOUND, "no such admin route"),
    }
}

// ---------------------------------------------------------------- envd (P§2, C§2.3)

/// Connect error as a unary answer (P§2.3 "Unary RPC", error status mapping).
fn connect_error(code: &str, message: &str) -> Response {
    let status = match code {
        "invalid_argument" | "failed_precondition" | "out_of_range" => StatusCode::BAD_REQUEST,
        "not_found" => StatusCode::NOT_FOUND,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "unimplemented" => StatusCode::NOT_IMPLEMENTED,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_response(status, json!({"code": code, "message": message}))
}

/// One envelope: flags, 4-byte big-endian length, JSON (P§2.3 "Envelope flags").
fn envelope(flags: u8, v: &Value) -> Bytes {
    let payload = v.to_string().into_bytes();
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    Bytes::from(out)
}

fn stream_response(body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/connect+json")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// HTTP 200 with only an end-stream error (P§2.3 "Errors before streaming starts").
fn stream_error(code: &str, message: &str) -> Response {
    stream_response(Body::from(envelope(
        2,
        &json!({"error": {"code": code, "message": message}}),
    )))
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

async fn envd_route(State(d): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    let path = uri.path().to_owned();
    // P§2.1 (the edge's `GetTargetFromRequest`): the direct host form `<port>-<id>.<domain>`
    // routes by its left-most label; a Host that is an IP or `localhost` (C§2.2 mode B: one URL
    // for every sandbox) by the `E2b-Sandbox-Id` and `E2b-Sandbox-Port` headers.
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (port, id) = header_str(header::HOST.as_str())
        .and_then(|h| h.split('.').next())
        .and_then(|label| label.split_once('-'))
        .and_then(|(p, id)| Some((p.parse::<u16>().ok()?, id.to_owned())))
        .unwrap_or_else(|| {
            (
                header_str("e2b-sandbox-port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(ENVD_PORT),
                header_str("e2b-sandbox-id").unwrap_or_default().to_owned(),
            )
        });
    // P§4.3: the edge answers 502 for a sandbox that is gone (killed, expired, paused).
    let Some(sbx) = d
        .get(&id)
        .filter(|s| !s.paused.lock().map(|p| *p).unwrap_or(false))
    else {
        return json_response(
            StatusCode::BAD_GATEWAY,
            json!({"sandboxId": id, "message": "The sandbox was not found", "code": 502}),
        );
    };
    // Any other port of the sandbox: what listens there (the MCP gateway's 50005).
    if port != ENVD_PORT {
        return mcp_gateway::proxy(&d, &sbx, port, req).await;
    }
    // P§2.6: /health needs no token: 204.
    if path == "/health" {
        return StatusCode::NO_CONTENT.into_response();
    }
    // P§2.2: X-Access-Token on every other path (a plain 401 even on RPC paths).
    if headers.get("x-access-token").and_then(|v| v.to_str().ok()) != Some(sbx.token.as_str()) {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"code": 401, "message": "unauthorized access, please provide a valid access token or method signing if supported"}),
        );
    }
    // P§2.2 `Authorization: Basic base64("<user>:")` picks the Linux user (`username=` on
    // /files); an unknown user is `unauthenticated` "invalid username". The double knows
    // E2B's two: `user` and `root`.
    let basic_user = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|u| String::from_utf8_lossy(&u).trim_end_matches(':').to_owned());
    let user = basic_user.or_else(|| query(&uri).get("username").cloned());
    if user.as_deref().is_some_and(|u| u != "user" && u != "root") {
        return if path.starts_with("/files") {
            api_error(StatusCode::UNAUTHORIZED, "invalid username")
        } else if path.ends_with("/Start") || path.ends_with("/Connect") {
            stream_error("unauthenticated", "invalid username")
        } else {
            connect_error("unauthenticated", "invalid username")
        };
    }
    let body = axum::body::to_bytes(req.into_body(), 256 << 20)
        .await
        .unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match (method.as_str(), path.as_str()) {
        ("GET", "/files") => download(&sbx, &query(&uri)).await,
        ("POST", "/files") => {
            d.stat(|s| s.uploads += 1);
            upload(&sbx, &query(&uri), &content_type, &body).await
        }
        ("POST", "/process.Process/Start") | ("POST", "/process.Process/Connect") => {
            if content_type != "application/connect+json" {
                return api_error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported content type",
                );
            }
            // Exactly one enveloped request message (P§2.3 "Server-streaming RPC").
            let msg = match body
                .get(..5)
                .map(|h| (h[0], u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize))
            {
                Some((0, len)) if body.len() == 5 + len => {
                    serde_json::from_slice::<Value>(&body[5..]).ok()
                }
                _ => None,
            };
            let Some(msg) = msg else {
                return stream_error("invalid_argument", "expected one enveloped message");
            };
            // P§2.2: Keepalive-Ping-Interval in seconds; envd's default is 90.
            let keepalive = headers
                .get("keepalive-ping-interval")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(90);
            let deadline = headers
                .get("connect-timeout-ms")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if path.ends_with("/Start") {
                start(&d, &sbx, &msg, keepalive, deadline).await
            } else {
                d.stat(|s| s.reattaches += 1);
                match find(&sbx, msg.get("process")) {
                    Some(p) => attach(&sbx, &p, keepalive, false),
                    None => stream_error("not_found", "process not found"),
                }
            }
        }
        ("POST", rpc) if rpc.starts_with("/process.Process/") => {
            if content_type != "application/json" {
                return api_error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported content type",
                );
            }
            let msg: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return connect_error("invalid_argument", &e.to_string()),
            };
            unary(&d, &sbx, &rpc["/process.Process/".len()..], &msg).await
        }
        _ => connect_error(
            "unimplemented",
            &format!("{method} {path} is not implemented by the double"),
        ),
    }
}

/// ProcessSelector: `{"pid": n}` or `{"tag": "x"}` (first match) (P§2.4).
fn find(sbx: &Sbx, selector: Option<&Value>) -> Option<Arc<Proc>> {
    let selector = selector?;
    let procs = sbx.procs.lock().ok()?;
    if let Some(pid) = selector.get("pid").and_then(Value::as_u64) {
        return procs.get(&(pid as u32)).cloned();
    }
    let tag = selector.get("tag").and_then(Value::as_str)?;
    procs
        .values()
        .find(|p| p.tag.as_deref() == Some(tag))
        .cloned()
}

async fn start(
    d: &Shared,
    sbx: &Arc<Sbx>,
    msg: &Value,
    keepalive: u64,
    deadline_ms: Option<u64>,
) -> Response {
    d.stat(|s| s.starts += 1);
    let process = msg.get("process").cloned().unwrap_or(json!({}));
    let Some(cmd) = process.get("cmd").and_then(Value::as_str) else {
        return stream_error("invalid_argument", "process.cmd is required");
    };
    let mut argv = vec![cmd.to_owned()];
    if let Some(args) = process.get("args").and_then(Value::as_array) {
        argv.extend(
            args.iter()
                .map(|a| a.as_str().unwrap_or_default().to_owned()),
        );
    }
    let mut command = Command::new(argv);
    if let Some(envs) = process.get("envs").and_then(Value::as_object) {
        for (k, v) in envs {
            command
                .env
                .insert(k.clone(), v.as_str().unwrap_or_default().to_owned());
        }
    }
    command.cwd = process
        .get("cwd")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    // P§2.4 "Process wrapping": envd execs the command through `/bin/sh -c '… exec "$@"'`, so a
    // missing program is a started process that exits 127.
    let mut wrapped = vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        "exec \"$@\"".to_owned(),
        "--".to_owned(),
    ];
    wrapped.append(&mut command.argv);
    command.argv = wrapped;
    // P§2.4: `stdin` absent means true.
    let stdin_on = msg.get("stdin").and_then(Value::as_bool).unwrap_or(true);
    let spawned = match sbx.sandbox.spawn(command).await {
        Ok(p) => p,
        Err(e) => return stream_error("internal", &format!("error starting process: {e}")),
    };
    let pid = sbx.next_pid.fetch_add(1, Ordering::Relaxed);
    let proc = Arc::new(Proc {
        pid,
        tag: msg.get("tag").and_then(Value::as_str).map(str::to_owned),
        config: process.clone(),
        stdin: tokio::sync::Mutex::new(stdin_on.then_some(spawned.stdin)),
        subscribers: Mutex::new(Vec::new()),
        end: Mutex::new(None),
        control: spawned.control.clone(),
    });
    if let Ok(mut m) = sbx.procs.lock() {
        m.insert(pid, proc.clone());
    }
    // The Start stream subscribes before any output is read (P§2.4 "Output delivery").
    let response = attach(sbx, &proc, keepalive, true);
    let split = d.faults.clone_split();
    let out_task = tokio::spawn(pump_output(
        proc.clone(),
        spawned.stdout,
        true,
        split.clone(),
    ));
    let err_task = tokio::spawn(pump_output(proc.clone(), spawned.stderr, false, split));
    // P§2.4 "Lifetime and deadlines": Connect-Timeout-Ms on Start kills the process.
    if let Some(ms) = deadline_ms {
        let control = proc.control.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            control.kill();
        });
    }
    let sbx2 = sbx.clone();
    let d2 = d.clone();
    tokio::spawn(async move {
        let _ = out_task.await;
        let _ = err_task.await;
        let mut status = proc.control.wait().await;
        // The `mcp-gateway` template: once `mcp-gateway --config` has exited 0, its gateway
        // is up before the exit is reported (see `mcp_gateway`).
        if status.code == Some(0)
            && mcp_gateway::is_mcp_template(&sbx2.template)
            && proc.config.to_string().contains("mcp-gateway")
            && let Err(why) = mcp_gateway::ensure(&d2, &sbx2).await
        {
            broadcast_event(&proc, Ev::Stderr(format!("{why}\n").into_bytes())).await;
            status.code = Some(1);
        }
        // P§2.4 end event: exitCode omitted when 0, exited omitted when false.
        let end = match (status.code, status.signal) {
            (Some(0), _) => json!({"exited": true, "status": "exit status 0"}),
            (Some(c), _) => {
                json!({"exitCode": c, "exited": true, "status": format!("exit status {c}")})
            }
            (None, sig) => {
                let name = match sig {
                    Some(15) => "terminated",
                    _ => "killed",
                };
                json!({"exitCode": -1, "status": format!("signal: {name}"), "error": format!("signal: {name}")})
            }
        };
        if let Ok(mut e) = proc.end.lock() {
            *e = Some(end.clone());
        }
        broadcast_event(&proc, Ev::End(end)).await;
        // P§2.4 "Exit retention": the end event is kept for 30 s.
        tokio::time::sleep(Duration::from_secs(30)).await;
        if let Ok(mut m) = sbx2.procs.lock() {
            m.remove(&proc.pid);
        }
    });
    response
}

trait SplitFault {
    fn clone_split(&self) -> Option<Arc<Mutex<u64>>>;
}

impl SplitFault for Mutex<Faults> {
    fn clone_split(&self) -> Option<Arc<Mutex<u64>>> {
        let on = self.lock().map(|f| f.split).unwrap_or(false);
        on.then(|| {
            let seed = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                | 1;
            Arc::new(Mutex::new(seed))
        })
    }
}

/// Reads a pipe in reads of up to 32 KiB (P§2.4 "Output delivery"); with the split fault each
/// read is cut again at random byte boundaries. Output with no subscriber is discarded.
async fn pump_output(
    proc: Arc<Proc>,
    mut pipe: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    stdout: bool,
    split: Option<Arc<Mutex<u64>>>,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut pieces: Vec<&[u8]> = Vec::new();
        match &split {
            Some(rng) => {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let r = rng
                        .lock()
                        .map(|mut x| {
                            *x ^= *x << 13;
                            *x ^= *x >> 7;
                            *x ^= *x << 17;
                            *x
                        })
                        .unwrap_or(1);
                    let cut = 1 + (r as usize % rest.len());
                    let (a, b) = rest.split_at(cut);
                    pieces.push(a);
                    rest = b;
                }
            }
            None => pieces.push(&buf[..n]),
        }
        for piece in pieces {
            let ev = if stdout {
                Ev::Stdout(piece.to_vec())
            } else {
                Ev::Stderr(piece.to_vec())
            };
            broadcast_event(&proc, ev).await;
        }
    }
}

/// Sends to every current subscriber (unbuffered-ish: a slow reader back-pressures the pipe).
async fn broadcast_event(proc: &Proc, ev: Ev) {
    let subs: Vec<mpsc::Sender<Ev>> = proc
        .subscribers
        .lock()
        .map(|s| s.clone())
        .unwrap_or_default();
    for s in subs {
        let _ = s.send(ev.clone()).await;
    }
    if let Ok(mut s) = proc.subscribers.lock() {
        s.retain(|t| !t.is_closed());
    }
}

/// A stream of a process's events: `start`, then data/keepalive, then `end` and the trailer.
fn attach(sbx: &Sbx, proc: &Arc<Proc>, keepalive: u64, _is_start: bool) -> Response {
    let (tx, rx) = mpsc::channel::<Ev>(1);
    let ended = proc.end.lock().ok().and_then(|e| e.clone());
    if ended.is_none()
        && let Ok(mut s) = proc.subscribers.lock()
    {
        s.push(tx);
    }
    let cut = sbx.cut.subscribe();
    let start = envelope(0, &json!({"event": {"start": {"pid": proc.pid}}}));
    enum St {
        Start,
        Run,
        Trailer,
        Done,
    }
    let state = (St::Start, rx, cut, ended);
    let interval = Duration::from_secs(keepalive);
    let stream = futures::stream::unfold(state, move |(st, mut rx, mut cut, ended)| {
        let start = start.clone();
        async move {
            match st {
                St::Start => Some((
                    Ok::<Bytes, std::io::Error>(start),
                    (St::Run, rx, cut, ended),
                )),
                St::Done => None,
                St::Trailer => Some((Ok(envelope(2, &json!({}))), (St::Done, rx, cut, ended))),
                St::Run => {
                    if let Some(end) = ended.clone() {
                        let e = envelope(0, &json!({"event": {"end": end}}));
                        return Some((Ok(e), (St::Trailer, rx, cut, None)));
                    }
                    tokio::select! {
                        ev = rx.recv() => match ev {
                            Some(Ev::Stdout(b)) => Some((Ok(envelope(0, &json!({"event": {"data": {"stdout": b64(&b)}}}))), (St::Run, rx, cut, None))),
                            Some(Ev::Stderr(b)) => Some((Ok(envelope(0, &json!({"event": {"data": {"stderr": b64(&b)}}}))), (St::Run, rx, cut, None))),
                            Some(Ev::End(end)) => Some((Ok(envelope(0, &json!({"event": {"end": end}}))), (St::Trailer, rx, cut, None))),
                            None => Some((Ok(envelope(2, &json!({}))), (St::Done, rx, cut, None))),
                        },
                        // P§2.4 "Keepalives": sent when nothing was sent for the interval.
                        () = tokio::time::sleep(interval) => Some((Ok(envelope(0, &json!({"event": {"keepalive": {}}}))), (St::Run, rx, cut, None))),
                        // Fault: the connection drops mid-stream (no trailer).
                        _ = cut.recv() => Some((Err(std::io::Error::other("stream cut by the double")), (St::Done, rx, cut, None))),
                    }
                }
            }
        }
    });
    stream_response(Body::from_stream(stream))
}

async fn unary(d: &Shared, sbx: &Arc<Sbx>, method: &str, msg: &Value) -> Response {
    let not_found = || {
        connect_error(
            "not_found",
            &format!("process with pid {} not found", msg["process"]["pid"]),
        )
    };
    match method {
        "List" => {
            let procs: Vec<Value> = sbx
                .procs
                .lock()
                .map(|m| {
                    m.values()
                        .filter(|p| p.end.lock().is_ok_and(|e| e.is_none()))
                        .map(|p| json!({"config": p.config, "pid": p.pid, "tag": p.tag}))
                        .collect()
                })
                .unwrap_or_default();
            json_response(StatusCode::OK, json!({"processes": procs}))
        }
        "SendInput" => {
            d.stat(|s| s.send_inputs += 1);
            let Some(p) = find(sbx, msg.get("process")) else {
                return not_found();
            };
            let data = msg["input"]["stdin"]
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .unwrap_or_default();
            // P§2.4 "stdin writes": synchronous write into the pipe.
            let mut stdin = p.stdin.lock().await;
            let Some(w) = stdin.as_mut() else {
                return connect_error("internal", "stdin not enabled or closed");
            };
            if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
                return connect_error("internal", "failed to write to stdin");
            }
            drop(stdin);
            // Fault: cut the streams right after this input (output the process writes before
            // the client re-attaches is discarded, as envd does: P§2.4).
            let cut = d
                .faults
                .lock()
                .map(|mut f| {
                    let on = f.drop_on_input > 0;
                    f.drop_on_input = f.drop_on_input.saturating_sub(1);
                    on
                })
                .unwrap_or(false);
            if cut {
                let _ = sbx.cut.send(());
            }
            json_response(StatusCode::OK, json!({}))
        }
        "CloseStdin" => {
            let Some(p) = find(sbx, msg.get("process")) else {
                return not_found();
            };
            if let Some(mut w) = p.stdin.lock().await.take() {
                let _ = w.shutdown().await;
            }
            json_response(StatusCode::OK, json!({}))
        }
        "SendSignal" => {
            let Some(p) = find(sbx, msg.get("process")) else {
                return not_found();
            };
            match msg.get("signal") {
                Some(Value::String(s)) if s == "SIGNAL_SIGKILL" || s == "SIGNAL_SIGTERM" => {}
                Some(Value::Number(n)) if n.as_u64() == Some(9) || n.as_u64() == Some(15) => {}
                _ => return connect_error("unimplemented", "invalid signal"),
            }
            p.control.kill();
            json_response(StatusCode::OK, json!({}))
        }
        _ => connect_error("unimplemented", &format!("process.Process/{method}")),
    }
}

/// P§2.6 `GET /files`: the raw bytes; 404 for a missing file, 400 for a directory.
async fn download(sbx: &Sbx, q: &HashMap<String, String>) -> Response {
    let Some(path) = q.get("path").filter(|p| !p.is_empty()) else {
        return api_error(StatusCode::BAD_REQUEST, "path is required");
    };
    let cmd = Command::new([
        "sh",
        "-c",
        "[ -d \"$1\" ] && exit 3; [ -e \"$1\" ] || exit 4; exec cat -- \"$1\"",
        "sh",
        path,
    ]);
    match sbx.sandbox.exec(cmd).await {
        Ok(out) if out.status.success() => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename={}",
                    path.rsplit('/').next().unwrap_or(path)
                ),
            )
            .body(Body::from(out.stdout))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Ok(out) if out.status.code == Some(4) => api_error(
            StatusCode::NOT_FOUND,
            &format!("path '{path}' does not exist"),
        ),
        Ok(out) if out.status.code == Some(3) => api_error(
            StatusCode::BAD_REQUEST,
            &format!("path '{path}' is a directory"),
        ),
        Ok(out) => api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            String::from_utf8_lossy(&out.stderr).trim(),
        ),
        Err(e) => api_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// P§2.6 `POST /files`: multipart parts named `file` (filename = path when `path` is absent),
/// or a raw octet-stream body with `path`; parents created, files overwritten.
async fn upload(
    sbx: &Sbx,
    q: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Response {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|r| r.split("boundary=").nth(1))
    {
        let boundary = boundary.trim_matches('"');
        for (filename, data) in multipart_parts(body, boundary) {
            let path = q.get("path").cloned().unwrap_or(filename);
            files.push((path, data));
        }
    } else if content_type.starts_with("application/octet-stream") {
        let Some(path) = q.get("path") else {
            return api_error(StatusCode::BAD_REQUEST, "path is required");
        };
        files.push((path.clone(), body.to_vec()));
    } else {
        return api_error(StatusCode::BAD_REQUEST, "unsupported content type");
    }
    let mut written = Vec::new();
    for (path, data) in files {
        if path.is_empty() {
            return api_error(StatusCode::BAD_REQUEST, "path is required");
        }
        let mut cmd = Command::new([
            "sh",
            "-c",
            "mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"",
            "sh",
            &path,
        ]);
        cmd.stdin = Some(data);
        match sbx.sandbox.exec(cmd).await {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    String::from_utf8_lossy(&out.stderr).trim(),
                );
            }
            Err(e) => return api_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
        let name = path.rsplit('/').next().unwrap_or(&path).to_owned();
        written.push(json!({"path": path, "name": name, "type": "file"}));
    }
    json_response(StatusCode::OK, Value::Array(written))
}

/// The `(filename, data)` of every part named `file`.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("--{boundary}").into_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    while let Some(start) = find(body, &delim, pos) {
        let after = start + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let Some(head_end) = find(body, b"\r\n\r\n", after) else {
            break;
        };
        let head = String::from_utf8_lossy(&body[after..head_end]).into_owned();
        let data_start = head_end + 4;
        let Some(next) = find(body, &[b"\r\n", &delim[..]].concat(), data_start) else {
            break;
        };
        let lower = head.to_ascii_lowercase();
        if lower.contains("name=\"file\"") {
            let filename = head
                .split("filename=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
                .to_owned();
            out.push((filename, body[data_start..next].to_vec()));
        }
        pos = next + 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parses_file_parts() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/tmp/a\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";
        assert_eq!(
            multipart_parts(body, "b"),
            vec![("/tmp/a".to_owned(), b"hello".to_vec())]
        );
    }

    #[test]
    fn rfc3339_is_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
    }
}
