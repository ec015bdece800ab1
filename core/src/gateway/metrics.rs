//! Prometheus text metrics: calls, errors and a latency histogram per server, servers up.

use std::{collections::BTreeMap, fmt::Write as _, sync::Mutex, time::Duration};

use crate::sync::lock;

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Default, Clone)]
struct PerServer {
    calls: u64,
    errors: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub(super) struct Metrics {
    servers: Mutex<BTreeMap<String, PerServer>>,
}

impl Metrics {
    pub(super) fn record(&self, server: &str, took: Duration, ok: bool) {
        let secs = took.as_secs_f64();
        let mut m = lock(&self.servers);
        // The server's entry exists after its first call: no key allocated per call.
        if !m.contains_key(server) {
            m.insert(server.to_owned(), PerServer::default());
        }
        let Some(e) = m.get_mut(server) else {
            return;
        };
        e.calls += 1;
        if !ok {
            e.errors += 1;
        }
        e.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                e.buckets[i] += 1;
            }
        }
    }

    pub(super) fn render(&self, up: usize, down: usize) -> String {
        let servers = lock(&self.servers).clone();
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP corral_gateway_servers_up Servers whose tools are published."
        );
        let _ = writeln!(o, "# TYPE corral_gateway_servers_up gauge");
        let _ = writeln!(o, "corral_gateway_servers_up {up}");
        let _ = writeln!(
            o,
            "# HELP corral_gateway_servers_down Servers starting, failed or restarting."
        );
        let _ = writeln!(o, "# TYPE corral_gateway_servers_down gauge");
        let _ = writeln!(o, "corral_gateway_servers_down {down}");
        let _ = writeln!(o, "# HELP corral_gateway_calls_total Tool calls forwarded.");
        let _ = writeln!(o, "# TYPE corral_gateway_calls_total counter");
        for (s, m) in &servers {
            let _ = writeln!(
                o,
                "corral_gateway_calls_total{{server=\"{}\"}} {}",
                esc(s),
                m.calls
            );
        }
        let _ = writeln!(
            o,
            "# HELP corral_gateway_call_errors_total Calls that failed or returned isError."
        );
        let _ = writeln!(o, "# TYPE corral_gateway_call_errors_total counter");
        for (s, m) in &servers {
            let _ = writeln!(
                o,
                "corral_gateway_call_errors_total{{server=\"{}\"}} {}",
                esc(s),
                m.errors
            );
        }
        let _ = writeln!(
            o,
            "# HELP corral_gateway_call_duration_seconds Tool call latency through the gateway."
        );
        let _ = writeln!(o, "# TYPE corral_gateway_call_duration_seconds histogram");
        for (s, m) in &servers {
            let s = esc(s);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "corral_gateway_call_duration_seconds_bucket{{server=\"{s}\",le=\"{b}\"}} {}",
                    m.buckets[i]
                );
            }
            let _ = writeln!(
                o,
                "corral_gateway_call_duration_seconds_bucket{{server=\"{s}\",le=\"+Inf\"}} {}",
                m.calls
            );
            let _ = writeln!(
                o,
                "corral_gateway_call_duration_seconds_sum{{server=\"{s}\"}} {}",
                m.sum
            );
            let _ = writeln!(
                o,
                "corral_gateway_call_duration_seconds_count{{server=\"{s}\"}} {}",
                m.calls
            );
        }
        o
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
