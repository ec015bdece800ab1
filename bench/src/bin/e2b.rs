//! The E2B provider's overhead (`make bench`, release build), against the E2B double on
//! 127.0.0.1 (the real service's network latency would drown the figures).
//!
//! Baseline: the double's own process round trip — a bare envd client (one `Start` stream,
//! one `SendInput` per JSON-RPC line, no MCP session, no corral process layer) calling the
//! fixture's `echo` in a double sandbox. Then the same calls through corral (E2B provider, one
//! warm session): sequential latency, the difference being what corral adds per call, and
//! calls/s with 32 in flight through that one session.
//!
//! Environment: `CORRAL_TEST_SERVER`, `CORRAL_E2B_DOUBLE` (default next to this binary).

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use corral_core::{
    Corral, ServerConfig,
    sandbox::e2b::{
        E2bConfig, E2bProvider,
        api::{ApiClient, NewSandbox},
        envd::{self, Envd, ProcessEvent},
    },
};
use serde_json::{Value, json};

const KEY: &str = "e2b_bench_0123456789abcdef";
const WARMUP: usize = 50;
const SEQUENTIAL: usize = 1000;
const IN_FLIGHT: usize = 32;
const PARALLEL_CALLS: usize = 3000;

fn next_to_me(name: &str, var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join(name)))
            .unwrap_or_default()
    })
}

struct Raw {
    envd: Envd,
    stream: envd::EventStream,
    pid: u32,
    buf: Vec<u8>,
}

impl Raw {
    async fn send(&self, msg: &Value) -> Result<(), String> {
        let mut line = msg.to_string().into_bytes();
        line.push(b'\n');
        self.envd
            .unary(
                "process.Process/SendInput",
                &json!({"process": {"pid": self.pid}, "input": {"stdin": envd::b64(&line)}}),
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn line(&mut self) -> Result<Value, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return serde_json::from_slice(&line).map_err(|e| e.to_string());
            }
            let msg = self
                .stream
                .next()
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the stream ended")?;
            if let ProcessEvent::Stdout(b) = envd::parse_event(&msg) {
                self.buf.extend_from_slice(&b);
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixture = next_to_me("corral-test-server", "CORRAL_TEST_SERVER");
    let double = next_to_me("corral-e2b-double", "CORRAL_E2B_DOUBLE");
    let mut child = tokio::process::Command::new(&double)
        .args(["--api-key", KEY, "--expose"])
        .arg(&fixture)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut first = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let out = child.stdout.take().ok_or("no stdout")?;
        tokio::io::BufReader::new(out).read_line(&mut first).await?;
    }
    let field = |k: &str| {
        first
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let (api_url, envd_url) = (field("api="), field("envd="));
    let args = json!({"text": "x".repeat(32)});

    // Baseline: a bare envd client.
    let api = ApiClient::new(&api_url, KEY, Duration::from_secs(30))?;
    let info = api
        .create(
            &NewSandbox {
                template_id: "base".into(),
                timeout: Some(600),
                ..NewSandbox::default()
            },
            Duration::from_secs(30),
        )
        .await?;
    let envd = Envd::new(
        reqwest::Client::new(),
        &envd_url,
        &info.sandbox_id,
        info.envd_access_token,
        Duration::from_secs(30),
    );
    let mut stream = envd
        .stream(
            "process.Process/Start",
            &json!({"process": {"cmd": fixture.display().to_string(), "args": []}, "stdin": true}),
        )
        .await
        .map_err(|e| e.to_string())?;
    let pid = match stream.next().await.map_err(|e| e.to_string())? {
        Some(m) => match envd::parse_event(&m) {
            ProcessEvent::Start { pid } => pid,
            other => return Err(format!("no start event: {other:?}").into()),
        },
        None => return Err("no start event".into()),
    };
    let mut raw = Raw {
        envd,
        stream,
        pid,
        buf: Vec::new(),
    };
    raw.send(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"}}}),
    )
    .await?;
    raw.line().await?;
    raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await?;
    let mut raw_lat = Vec::new();
    for i in 0..WARMUP + SEQUENTIAL {
        let t = Instant::now();
        raw.send(
            &json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                         "params": {"name": "echo", "arguments": args}}),
        )
        .await?;
        let answer = raw.line().await?;
        if answer["id"] != json!(i + 1) {
            return Err(format!("unexpected answer {answer}").into());
        }
        if i >= WARMUP {
            raw_lat.push(t.elapsed());
        }
    }
    let raw_mean = raw_lat.iter().sum::<Duration>() / raw_lat.len().max(1) as u32;
    let raw_p50 = p50(raw_lat);

    // corral, E2B provider, one warm session.
    let home = std::env::temp_dir().join(format!("corral-bench-e2b-{}", std::process::id()));
    let provider = E2bProvider::new(E2bConfig {
        api_key: KEY.into(),
        api_url: api_url.clone(),
        domain: "e2b.invalid".into(),
        sandbox_url: Some(envd_url.clone()),
        template: "base".into(),
        timeout: Duration::from_secs(600),
        keepalive: Duration::from_secs(60),
        request_timeout: Duration::from_secs(30),
        home_id: "bench".into(),
        user: None,
    })?;
    let corral = Corral::with_provider(home.clone(), Arc::new(provider));
    corral
        .add_server(ServerConfig::argv("fx", [fixture.display().to_string()]))
        .await?;
    corral.discover_tools("fx").await?;
    let mut lat = Vec::new();
    for i in 0..WARMUP + SEQUENTIAL {
        let t = Instant::now();
        corral.execute_tool("fx", "echo", args.clone()).await?;
        if i >= WARMUP {
            lat.push(t.elapsed());
        }
    }
    let mean = lat.iter().sum::<Duration>() / lat.len().max(1) as u32;
    let c50 = p50(lat);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (corral, counter, args) = (corral.clone(), counter.clone(), args.clone());
        tasks.push(tokio::spawn(async move {
            while counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < PARALLEL_CALLS {
                if corral
                    .execute_tool("fx", "echo", args.clone())
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            true
        }));
    }
    for t in tasks {
        if !t.await? {
            return Err("a call failed".into());
        }
    }
    let per_s = PARALLEL_CALLS as f64 / start.elapsed().as_secs_f64();
    corral.close().await;
    let _ = std::fs::remove_dir_all(&home);

    println!(
        "E2B provider against the E2B double (127.0.0.1), fixture `echo`, {SEQUENTIAL} sequential calls\n"
    );
    println!("| path | p50 ms | mean ms |");
    println!("|---|---|---|");
    println!(
        "| bare envd client (the double's own process round trip) | {:.3} | {:.3} |",
        ms(raw_p50),
        ms(raw_mean)
    );
    println!(
        "| corral, e2b provider, one warm session | {:.3} | {:.3} |",
        ms(c50),
        ms(mean)
    );
    println!(
        "\nper-call overhead corral adds: {:.3} ms (p50), {:.3} ms (mean)",
        ms(c50.saturating_sub(raw_p50)),
        ms(mean.saturating_sub(raw_mean))
    );
    println!(
        "calls/s with {IN_FLIGHT} in flight through one session: {per_s:.0} ({PARALLEL_CALLS} calls)"
    );
    Ok(())
}
