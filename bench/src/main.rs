//! corral's benchmarks (`make bench`, release build). For each server — our fixture and the
//! official `@modelcontextprotocol/server-everything` — it measures, over one warm session:
//! sequential per-call latency (p50, mean over 2000 `echo` calls after 50 warm-up calls) and
//! throughput with 32 calls in flight (5000 calls). The peer is a bare rmcp client talking to
//! the same server binary without a sandbox, measured in the same run; ratios are printed.
//!
//! Environment: `CORRAL_TEST_SERVER` (fixture binary; default next to this binary),
//! `CORRAL_BENCH_SKIP_NPM=1` to skip server-everything; `CORRAL_BENCH_ONLY=sandbox` runs only
//! the sandbox start-up figures (create → first exec: plain, from a template, bwrap alone).

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use corral_core::{Corral, CorralOptions, ServerConfig};
use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};

const WARMUP: usize = 50;
const SEQUENTIAL: usize = 2000;
const IN_FLIGHT: usize = 32;
const PARALLEL_CALLS: usize = 5000;

struct Figures {
    p50_us: f64,
    mean_us: f64,
    seq_per_s: f64,
    par_per_s: f64,
}

fn summarize(mut lat: Vec<Duration>, total: Duration, par: f64) -> Figures {
    lat.sort();
    let p50 = lat[lat.len() / 2].as_secs_f64() * 1e6;
    let mean = total.as_secs_f64() * 1e6 / lat.len() as f64;
    Figures {
        p50_us: p50,
        mean_us: mean,
        seq_per_s: 1e6 / mean,
        par_per_s: par,
    }
}

async fn bench_with<F, Fut>(call: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    for i in 0..WARMUP {
        call(i).await;
    }
    let mut lat = Vec::with_capacity(SEQUENTIAL);
    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        let t = Instant::now();
        call(i).await;
        lat.push(t.elapsed());
    }
    let seq_total = start.elapsed();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let call = call.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= PARALLEL_CALLS {
                    break;
                }
                call(i).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let par = PARALLEL_CALLS as f64 / start.elapsed().as_secs_f64();
    summarize(lat, seq_total, par)
}

async fn corral_figures(corral: &Corral, server: &str, args: Value) -> Figures {
    let corral = corral.clone();
    let server = server.to_owned();
    // Start and cache the tool list before measuring.
    let _ = corral.discover_tools(&server).await;
    bench_with(move |_| {
        let corral = corral.clone();
        let server = server.clone();
        let args = args.clone();
        async move {
            let r = corral.execute_tool(&server, "echo", args).await;
            assert!(r.is_ok_and(|r| !r.is_error), "call failed");
        }
    })
    .await
}

#[allow(clippy::expect_used, reason = "a benchmark stops on a failed setup")]
async fn rmcp_figures(argv: Vec<String>, cwd: PathBuf, args: Value) -> Figures {
    let (program, rest) = argv.split_first().expect("argv");
    let transport = TokioChildProcess::new(tokio::process::Command::new(program).configure(|c| {
        c.args(rest).current_dir(&cwd);
    }))
    .expect("spawn");
    let client = ().serve(transport).await.expect("initialize");
    let peer = client.peer().clone();
    let obj = args.as_object().cloned().unwrap_or_default();
    let figures = bench_with(move |_| {
        let peer = peer.clone();
        let obj = obj.clone();
        async move {
            let r = peer
                .call_tool(CallToolRequestParams::new("echo").with_arguments(obj))
                .await;
            assert!(r.is_ok(), "call failed");
        }
    })
    .await;
    let _ = client.cancel().await;
    figures
}

/// One JSON line per figure into `CORRAL_BENCH_JSON` (if set), for `bench/summary.py`.
fn emit(client: &str, server: &str, f: &Figures) {
    let Some(path) = std::env::var_os("CORRAL_BENCH_JSON") else {
        return;
    };
    let line = json!({
        "lang": "rust", "client": client, "server": server, "p50_us": f.p50_us,
        "mean_us": f.mean_us, "seq_per_s": f.seq_per_s, "par_per_s": f.par_per_s,
    });
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut out| std::io::Write::write_all(&mut out, format!("{line}\n").as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot append to {}: {e}", path.to_string_lossy());
    }
}

fn print_row(label: &str, f: &Figures) {
    println!(
        "| {label:<38} | {:>8.1} | {:>8.1} | {:>9.0} | {:>11.0} |",
        f.p50_us, f.mean_us, f.seq_per_s, f.par_per_s
    );
}

fn print_ratio(a: &Figures, b: &Figures) {
    println!(
        "| {:<38} | {:>7.2}× | {:>7.2}× | {:>8.2}× | {:>10.2}× |",
        "corral / bare rmcp",
        a.p50_us / b.p50_us,
        a.mean_us / b.mean_us,
        a.seq_per_s / b.seq_per_s,
        a.par_per_s / b.par_per_s
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixture = std::env::var_os("CORRAL_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("corral-test-server")))
                .unwrap_or_default()
        });
    if !fixture.is_file() {
        return Err(format!(
            "fixture server {} missing: run `cargo build --release -p corral-test-server`",
            fixture.display()
        )
        .into());
    }
    let home = std::env::var_os("CORRAL_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_core::default_home().join("bench"));
    let corral = Corral::with_options(CorralOptions {
        provider: None,
        home: Some(home.clone()),
        ..CorralOptions::default()
    })?;
    if std::env::var("CORRAL_BENCH_ONLY").as_deref() == Ok("sandbox") {
        sandbox_start(&corral).await?;
        corral.close().await;
        return Ok(());
    }
    println!(
        "corral benchmarks — {SEQUENTIAL} sequential calls, then {PARALLEL_CALLS} with {IN_FLIGHT} in flight\n"
    );
    println!(
        "| {:<38} | p50 µs   | mean µs  | seq /s    | 32-flight/s |",
        "client → server"
    );
    println!(
        "|{:-<40}|{:-<10}|{:-<10}|{:-<11}|{:-<13}|",
        "", "", "", "", ""
    );

    let fx = fixture.display().to_string();
    corral
        .add_server(ServerConfig::command("fixture", &format!("'{fx}'"))?)
        .await?;
    let a = corral_figures(&corral, "fixture", json!({"text": "x".repeat(32)})).await;
    let b = rmcp_figures(
        vec![fx.clone()],
        std::env::temp_dir(),
        json!({"text": "x".repeat(32)}),
    )
    .await;
    emit("corral", "fixture", &a);
    emit("rmcp", "fixture", &b);
    print_row("corral (bwrap) → fixture", &a);
    print_row("bare rmcp (no sandbox) → fixture", &b);
    print_ratio(&a, &b);

    if std::env::var_os("CORRAL_BENCH_SKIP_NPM").is_none() {
        let entry = "node_modules/@modelcontextprotocol/server-everything/dist/index.js";
        let cfg = ServerConfig::command("everything", &format!("node {entry} stdio"))?.install(
            "npm install --no-audit --no-fund --loglevel=error @modelcontextprotocol/server-everything@2026.8.31",
        );
        corral.add_server(cfg).await?;
        let args = json!({"message": "x".repeat(32)});
        let a = corral_figures(&corral, "everything", args.clone()).await;
        // The bare peer runs the copy corral installed in the server's sandbox home.
        let server_home = home.join("servers").join("everything").join("home");
        let b = rmcp_figures(
            vec!["node".into(), entry.into(), "stdio".into()],
            server_home,
            args,
        )
        .await;
        emit("corral", "server-everything", &a);
        emit("rmcp", "server-everything", &b);
        print_row("corral (bwrap) → server-everything", &a);
        print_row("bare rmcp (no sandbox) → server-everything", &b);
        print_ratio(&a, &b);
    }
    sandbox_start(&corral).await?;
    corral.close().await;
    Ok(())
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
