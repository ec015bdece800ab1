//! corral's benchmark client in Rust (`make bench` runs it through `bench/run.py`). One process
//! measures one client against one server and appends one JSON line to `CORRAL_BENCH_JSON`:
//!
//! * cold start: create the client, spawn the server, first successful `echo` result, close
//!   ([`COLD`] times, median);
//! * then, over one warm session after [`WARMUP`] calls: sequential latency (p50, p99, mean)
//!   over `CORRAL_BENCH_CALLS` calls, and calls/s with 1, 8 and 32 calls in flight
//!   (`CORRAL_BENCH_PARALLEL_CALLS` calls each);
//! * CPU time of this process per call (getrusage: user + system, all threads) while 1 and 32
//!   are in flight;
//! * RSS of this process (idle after the warm-up; peak during the load) and of its descendants
//!   (the server, plus bubblewrap for a sandboxed one), idle and right after the load.
//!
//! Clients: `corral` (the local bubblewrap provider), `corral-unsandboxed` (the unsandboxed
//! provider: the sandbox's own share) and `rmcp` (a bare rmcp client on a current-thread
//! runtime spawning the server itself: the floor, and the server's own start).
//!
//!     corral-bench --client corral|corral-unsandboxed|rmcp --server fixture|everything [--round N]
//!     corral-bench --setup          # installs server-everything in both corral homes
//!     corral-bench --sandbox-start  # sandbox create → first exec (plain, template, bwrap alone)
//!
//! Environment: `CORRAL_TEST_SERVER` (the fixture), `CORRAL_BENCH_HOME` (holds the corral homes
//! `local` and `unsandboxed`), `CORRAL_BENCH_EVERYTHING` (server-everything's `dist/index.js`
//! for the bare client), `CORRAL_BENCH_JSON`.

use std::{
    future::Future,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use corral_core::{Corral, CorralOptions, ServerConfig};
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;
type Fut = Pin<Box<dyn Future<Output = ()> + Send>>;
type CallFn = Arc<dyn Fn() -> Fut + Send + Sync>;

const WARMUP: usize = 50;
const COLD: usize = 3;
/// Where corral installs server-everything inside the server's sandbox (its install command).
pub const EVERYTHING_ENTRY: &str =
    "node_modules/@modelcontextprotocol/server-everything/dist/index.js";
const EVERYTHING_INSTALL: &str = "npm install --no-audit --no-fund --loglevel=error @modelcontextprotocol/server-everything@2026.8.31";

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// One server as each client starts it.
struct Server {
    name: &'static str,
    /// The command line corral runs (inside its sandbox) and its install commands.
    corral_command: String,
    install: Option<&'static str>,
    /// The argv and working directory of the bare client's child.
    argv: Vec<String>,
    cwd: PathBuf,
    args: Value,
}

fn server(name: &str) -> Result<Server, Error> {
    match name {
        "fixture" => {
            let fx = std::env::var("CORRAL_TEST_SERVER")
                .map_err(|_| "set CORRAL_TEST_SERVER to the fixture binary")?;
            Ok(Server {
                name: "fixture",
                corral_command: format!("'{fx}'"),
                install: None,
                argv: vec![fx],
                cwd: std::env::temp_dir(),
                args: json!({"text": "x".repeat(32)}),
            })
        }
        "everything" => {
            let entry = std::env::var("CORRAL_BENCH_EVERYTHING").unwrap_or_default();
            let cwd = Path::new(&entry)
                .parent()
                .map(Path::to_owned)
                .unwrap_or_else(std::env::temp_dir);
            Ok(Server {
                name: "everything",
                corral_command: format!("node {EVERYTHING_ENTRY} stdio"),
                install: Some(EVERYTHING_INSTALL),
                argv: vec!["node".into(), entry, "stdio".into()],
                cwd,
                args: json!({"message": "x".repeat(32)}),
            })
        }
        other => Err(format!("unknown server {other}").into()),
    }
}

fn corral_home(provider: &str) -> PathBuf {
    std::env::var_os("CORRAL_BENCH_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_core::default_home().join("bench"))
        .join(provider)
}

async fn corral_open(provider: &str, s: &Server) -> Result<Corral, Error> {
    let corral = Corral::with_options(CorralOptions {
        provider: Some(provider.to_owned()),
        home: Some(corral_home(provider)),
        ..CorralOptions::default()
    })?;
    let mut cfg = ServerConfig::command(s.name, &s.corral_command)?;
    if let Some(install) = s.install {
        cfg = cfg.install(install);
    }
    corral.add_server(cfg).await?;
    Ok(corral)
}

fn corral_call(corral: &Corral, s: &Server) -> CallFn {
    let corral = corral.clone();
    let server = s.name;
    let args = s.args.clone();
    Arc::new(move || {
        let corral = corral.clone();
        let args = args.clone();
        Box::pin(async move {
            let r = corral.execute_tool(server, "echo", args).await;
            assert!(r.is_ok_and(|r| !r.is_error), "call failed");
        })
    })
}

async fn rmcp_open(
    s: &Server,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, Error> {
    let (program, rest) = s.argv.split_first().ok_or("empty argv")?;
    let transport = TokioChildProcess::new(tokio::process::Command::new(program).configure(|c| {
        c.args(rest)
            .current_dir(&s.cwd)
            .stderr(std::process::Stdio::null());
    }))?;
    Ok(().serve(transport).await?)
}

fn rmcp_call(client: &rmcp::service::RunningService<rmcp::RoleClient, ()>, s: &Server) -> CallFn {
    let peer = client.peer().clone();
    let obj = s.args.as_object().cloned().unwrap_or_default();
    Arc::new(move || {
        let peer = peer.clone();
        let obj = obj.clone();
        Box::pin(async move {
            let r = peer
                .call_tool(CallToolRequestParams::new("echo").with_arguments(obj))
                .await;
            assert!(r.is_ok_and(|r| r.is_error != Some(true)), "call failed");
        })
    })
}

// ---------------------------------------------------------------------------------------------
// What a process can see of itself

fn cpu_us() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// A `VmXXX:` field of /proc/PID/status, in MiB.
fn status_mib(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Summed VmRSS of every descendant of this process (the server and its sandbox).
fn descendants_mib() -> f64 {
    let me = std::process::id();
    let mut parent = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parent.insert(pid, ppid);
        }
    }
    let descends = |mut pid: u32| {
        while let Some(&p) = parent.get(&pid) {
            if p == me {
                return true;
            }
            if p <= 1 {
                return false;
            }
            pid = p;
        }
        false
    };
    parent
        .keys()
        .filter(|pid| descends(**pid))
        .map(|pid| status_mib(&pid.to_string(), "VmRSS:"))
        .sum()
}

// ---------------------------------------------------------------------------------------------
// The measurement (the same in bench/python/bench.py and bench/node/bench.mjs)

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// `calls` calls with `k` in flight: (calls/s, CPU µs per call).
async fn in_flight(call: &CallFn, k: usize, calls: usize) -> (f64, f64) {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = cpu_us();
    let start = Instant::now();
    let workers: Vec<_> = (0..k)
        .map(|_| {
            let call = call.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < calls {
                    call().await;
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let wall = start.elapsed().as_secs_f64();
    (calls as f64 / wall, (cpu_us() - cpu) / calls as f64)
}

async fn measure(call: &CallFn, out: &mut serde_json::Map<String, Value>) {
    let seq = count("CORRAL_BENCH_CALLS", 2000);
    let par = count("CORRAL_BENCH_PARALLEL_CALLS", 5000);
    for _ in 0..WARMUP {
        call().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_idle = status_mib("self", "VmRSS:");
    let tree_idle = descendants_mib();
    let _ = std::fs::write("/proc/self/clear_refs", "5"); // resets VmHWM
    let mut lat = Vec::with_capacity(seq);
    let cpu = cpu_us();
    let start = Instant::now();
    for _ in 0..seq {
        let t = Instant::now();
        call().await;
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let seq_wall = start.elapsed().as_secs_f64();
    let cpu_1 = (cpu_us() - cpu) / seq as f64;
    lat.sort_by(f64::total_cmp);
    let (per_s_8, _) = in_flight(call, 8, par).await;
    let (per_s_32, cpu_32) = in_flight(call, 32, par).await;
    let tree_load = descendants_mib();
    let mean = seq_wall * 1e6 / seq as f64;
    for (k, v) in [
        ("p50_us", pct(&lat, 0.5)),
        ("p99_us", pct(&lat, 0.99)),
        ("mean_us", mean),
        ("per_s_1", 1e6 / mean),
        ("per_s_8", per_s_8),
        ("per_s_32", per_s_32),
        ("cpu_us_1", cpu_1),
        ("cpu_us_32", cpu_32),
        ("rss_idle_mib", rss_idle),
        ("rss_load_mib", status_mib("self", "VmHWM:")),
        ("tree_idle_mib", tree_idle),
        ("tree_load_mib", tree_load),
    ] {
        out.insert(k.into(), json!(v));
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn run(
    client: &str,
    s: &Server,
    out: &mut serde_json::Map<String, Value>,
) -> Result<(), Error> {
    let mut cold = Vec::new();
    match client {
        "corral" | "corral-unsandboxed" => {
            let provider = if client == "corral" {
                "local"
            } else {
                "unsandboxed"
            };
            for _ in 0..COLD {
                let t = Instant::now();
                let corral = corral_open(provider, s).await?;
                corral_call(&corral, s)().await;
                cold.push(t.elapsed().as_secs_f64() * 1e3);
                corral.close().await;
            }
            let corral = corral_open(provider, s).await?;
            measure(&corral_call(&corral, s), out).await;
            corral.close().await;
        }
        "rmcp" => {
            for _ in 0..COLD {
                let t = Instant::now();
                let c = rmcp_open(s).await?;
                rmcp_call(&c, s)().await;
                cold.push(t.elapsed().as_secs_f64() * 1e3);
                let _ = c.cancel().await;
            }
            let c = rmcp_open(s).await?;
            measure(&rmcp_call(&c, s), out).await;
            let _ = c.cancel().await;
        }
        other => return Err(format!("unknown client {other}").into()),
    }
    out.insert("cold_ms".into(), json!(median(cold)));
    Ok(())
}

/// Appends one JSON line to `CORRAL_BENCH_JSON` (if set) and prints it.
fn emit(line: &Value) {
    println!("{line}");
    let Some(path) = std::env::var_os("CORRAL_BENCH_JSON") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut out| std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot append to {}: {e}", path.to_string_lossy());
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--sandbox-start") {
        let corral = Corral::with_options(CorralOptions {
            home: Some(corral_home("local")),
            ..CorralOptions::default()
        })?;
        sandbox_start(&corral).await?;
        corral.close().await;
        return Ok(());
    }
    if args.iter().any(|a| a == "--setup") {
        // Installs server-everything once in each home (install commands run once per layer).
        let s = server("everything")?;
        for provider in ["local", "unsandboxed"] {
            let corral = corral_open(provider, &s).await?;
            corral.discover_tools(s.name).await?;
            corral.close().await;
        }
        return Ok(());
    }
    let client = arg(&args, "--client").ok_or("--client is required")?;
    let s = server(&arg(&args, "--server").ok_or("--server is required")?)?;
    let round: u64 = arg(&args, "--round")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let sandbox = if client == "corral" { "bwrap" } else { "none" };
    let mut out = serde_json::Map::new();
    for (k, v) in [
        ("lang", json!("rust")),
        ("client", json!(client)),
        ("server", json!(s.name)),
        ("sandbox", json!(sandbox)),
        ("round", json!(round)),
        ("load", json!(loadavg())),
    ] {
        out.insert(k.into(), v);
    }
    run(&client, &s, &mut out).await?;
    emit(&Value::Object(out));
    Ok(())
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// How many sandboxes each start-up figure is the p50 of.
const STARTS: usize = 50;

/// Sandbox create → first exec (`true`) done: a plain sandbox, one from a ready template, and
/// bubblewrap alone (same namespaces, no layers) on the same machine.
async fn sandbox_start(corral: &Corral) -> Result<(), Box<dyn std::error::Error>> {
    use std::time::Instant;
    println!("\nsandbox create → first exec done, p50 of {STARTS}\n");
    println!("| {:<38} | p50 ms   | mean ms  |", "what");
    println!("|{:-<40}|{:-<10}|{:-<10}|", "", "", "");
    corral
        .build_template(
            "bench-tools",
            &["mkdir -p /opt/bench && echo ready > /opt/bench/ready".to_owned()],
            None,
        )
        .await?;
    for (label, template) in [
        ("corral sandbox (plain)", None),
        ("corral sandbox (from a template)", Some("bench-tools")),
    ] {
        let mut times = Vec::with_capacity(STARTS);
        for _ in 0..STARTS {
            let t = Instant::now();
            let sb = corral
                .sandbox(corral_core::SandboxConfig {
                    name: "bench".into(),
                    template: template.map(str::to_owned),
                    ..Default::default()
                })
                .await?;
            let out = sb.exec("true").await?;
            times.push(t.elapsed());
            assert!(out.status.success());
            sb.close().await?;
        }
        print_start_row(label, &mut times);
    }
    let mut times = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let t = Instant::now();
        let status = tokio::process::Command::new("bwrap")
            .args([
                "--unshare-user",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--die-with-parent",
                "--new-session",
                "--ro-bind",
                "/usr",
                "/usr",
                "--symlink",
                "usr/bin",
                "/bin",
                "--symlink",
                "usr/lib",
                "/lib",
                "--symlink",
                "usr/lib64",
                "/lib64",
                "--ro-bind",
                "/etc",
                "/etc",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--tmpfs",
                "/tmp",
                "true",
            ])
            .status()
            .await?;
        times.push(t.elapsed());
        assert!(status.success());
    }
    print_start_row("bubblewrap alone (bwrap … true)", &mut times);
    corral.remove_template("bench-tools")?;
    Ok(())
}

fn print_start_row(label: &str, times: &mut [std::time::Duration]) {
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let p50 = times.get(times.len() / 2).copied().unwrap_or_default();
    let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len().max(1) as f64;
    println!("| {label:<38} | {:>8.2} | {:>8.2} |", ms(p50), mean);
}
