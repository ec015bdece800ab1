"""The table of `make bench`: medians over the rounds of bench/run.py, the ratios, the goals.

    python3 bench/summary.py FILE.jsonl [--markdown-only]

Each line of FILE is one client × server × round (bench/src/main.rs, bench/python/bench.py,
bench/node/bench.mjs) or the run's `{"meta": "run", …}` (load, CPU use of other processes).
For every server it prints each client's medians, then each corral client against each peer
measured in the same run: latency and CPU ratios are corral ÷ peer (below 1× corral is
better), throughput ratios corral ÷ peer (above 1× corral is better), cold start as a
difference. Last, the issue's goals against server-everything, met or not.
"""

from __future__ import annotations

import json
import statistics
import sys
from typing import Any

FIELDS = (
    "p50_us", "p99_us", "per_s_1", "per_s_8", "per_s_32", "cpu_us_1", "cpu_us_32", "cold_ms",
    "rss_idle_mib", "rss_load_mib", "tree_idle_mib", "tree_load_mib", "load",
)
SERVERS = {"everything": "server-everything 2026.8.31", "fixture": "corral-test-server (our fixture)"}


def peers(lang: str, client: str, names: list[str]) -> list[str]:
    """Which rows a corral row is compared with: its language's official SDKs, the TS SDK
    (the fastest official client), bare rmcp, and its own unsandboxed twin."""
    out = [n for n in names if n.startswith(f"{lang} mcp-")]
    out += [n for n in names if n.startswith("node ts-sdk")]
    out += [n for n in names if n == "rust rmcp"]
    twin = f"{lang} {client}-unsandboxed"
    if twin in names:
        out.append(twin)
    return out


def load_rows(path: str) -> tuple[dict[str, dict[str, dict[str, Any]]], list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    meta: list[dict[str, Any]] = []
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                if "meta" in r:
                    meta.append(r)
                elif r.get("lang") in ("rust", "python", "node") and "p50_us" in r:
                    rows.append(r)  # other figures (the gateway's) have their own table
    by: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in rows:
        by.setdefault(r["server"], {}).setdefault(f"{r['lang']} {r['client']}", []).append(r)
    med: dict[str, dict[str, dict[str, Any]]] = {}
    for server, clients in by.items():
        for name, rs in clients.items():
            m: dict[str, Any] = {"sandbox": rs[0].get("sandbox", "?"), "n": len(rs)}
            for k in FIELDS:
                xs = [r[k] for r in rs if r.get(k) is not None]
                m[k] = statistics.median(xs) if xs else None
            med.setdefault(server, {})[name] = m
    return med, meta


def f(x: Any, digits: int = 0) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def table(server: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        f"### {SERVERS.get(server, server)}",
        "",
        "| client | sandbox | seq p50 µs | seq p99 µs | calls/s 1 in flight | 8 in flight | 32 in flight "
        "| client CPU µs/call (1 / 32 in flight) | cold start ms | client RSS MiB idle / peak "
        "| server tree RSS MiB idle / loaded |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in sorted(rows.items()):
        out.append(
            f"| {name} | {m['sandbox']} | {f(m['p50_us'], 1)} | {f(m['p99_us'], 1)} | "
            f"{f(m['per_s_1'])} | {f(m['per_s_8'])} | {f(m['per_s_32'])} | "
            f"{f(m['cpu_us_1'], 1)} / {f(m['cpu_us_32'], 1)} | {f(m['cold_ms'], 1)} | "
            f"{f(m['rss_idle_mib'], 1)} / {f(m['rss_load_mib'], 1)} | "
            f"{f(m['tree_idle_mib'], 1)} / {f(m['tree_load_mib'], 1)} |"
        )
    out += [
        "",
        "| corral vs peer (same run) | seq p50 (corral ÷ peer) | p99 | calls/s 1 (corral ÷ peer) "
        "| 8 | 32 | CPU/call at 32 (corral ÷ peer) | cold start (corral − peer) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ratio(a: Any, b: Any) -> str:
        return "–" if a is None or not b else f"{a / b:.2f}×"

    names = sorted(rows)
    for name in names:
        lang, client = name.split(" ", 1)
        if not client.startswith("corral") or client.endswith("-unsandboxed"):
            continue
        for peer in peers(lang, client, names):
            a, b = rows[name], rows[peer]
            cold = (
                "–" if a["cold_ms"] is None or b["cold_ms"] is None
                else f"{a['cold_ms'] - b['cold_ms']:+.1f} ms"
            )
            out.append(
                f"| {name} vs {peer} | {ratio(a['p50_us'], b['p50_us'])} | "
                f"{ratio(a['p99_us'], b['p99_us'])} | {ratio(a['per_s_1'], b['per_s_1'])} | "
                f"{ratio(a['per_s_8'], b['per_s_8'])} | {ratio(a['per_s_32'], b['per_s_32'])} | "
                f"{ratio(a['cpu_us_32'], b['cpu_us_32'])} | {cold} |"
            )
    out.append("")
    return out


def goals(rows: dict[str, dict[str, Any]]) -> list[str]:
    def get(name: str, k: str) -> float | None:
        return rows.get(name, {}).get(k)

    def first(prefix: str) -> str | None:
        return next((n for n in sorted(rows) if n.startswith(prefix)), None)

    out = ["### Goals (issue 14), server-everything, this run", ""]

    def check(text: str, value: float | None, ok: bool | None) -> None:
        mark = "–" if ok is None else ("met" if ok else "**not met**")
        out.append(f"- {text}: {'–' if value is None else f'{value:.2f}'} → {mark}")

    def goal(text: str, a: float | None, b: float | None, want: float, above: bool) -> None:
        v = None if a is None or not b else a / b
        check(text, v, None if v is None else (v >= want if above else v <= want))

    ts = first("node ts-sdk")
    for sdk in [n for n in sorted(rows) if n.startswith("python mcp-")]:
        goal(f"Python async seq p50 ÷ {sdk} ≤ 0.5", get("python corral-async", "p50_us"),
             get(sdk, "p50_us"), 0.5, False)
        goal(f"Python async 32 in flight ÷ {sdk} ≥ 4", get("python corral-async", "per_s_32"),
             get(sdk, "per_s_32"), 4, True)
    if ts:
        goal(f"Python async 32 in flight ÷ {ts} ≥ 1", get("python corral-async", "per_s_32"),
             get(ts, "per_s_32"), 1, True)
        goal(f"Node seq p50 ÷ {ts} ≤ 1", get("node corral", "p50_us"), get(ts, "p50_us"), 1, False)
        goal(f"Node 32 in flight ÷ {ts} ≥ 1", get("node corral", "per_s_32"),
             get(ts, "per_s_32"), 1, True)
    goal("Rust corral client CPU/call at 32 in flight ÷ bare rmcp's ≤ 2",
         get("rust corral", "cpu_us_32"), get("rust rmcp", "cpu_us_32"), 2, False)
    own = get("rust rmcp", "cold_ms")
    for name in ("rust corral", "rust corral-unsandboxed", "python corral-async", "node corral"):
        c = get(name, "cold_ms")
        d = None if c is None or own is None else c - own
        check(f"{name} cold start − the server's own start (bare rmcp spawn) ≤ 10 ms", d,
              None if d is None else d <= 10)
    out.append("")
    return out


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit(__doc__)
    med, meta = load_rows(args[0])
    lines = ["## corral vs its peers, one `make bench` run", ""]
    for m in meta:
        lines.append(
            f"Run of {m.get('started_utc')} ({m.get('seconds')} s, {m.get('rounds')} rounds, medians "
            f"over them; {m.get('cpus')} CPUs): load average {m.get('load_start')} at the start, "
            f"{m.get('load_end')} at the end; CPU busy {m.get('cpu_busy_pct')} %, of which other "
            f"processes than the benchmark's {m.get('others_cpu_pct')} %."
        )
    lines += [
        "",
        "Over one warm stdio session: `tools/call echo` with a 32-character message. Client CPU is "
        "the client process's user + system time (all threads). corral runs servers in its "
        "bubblewrap sandbox unless the row says `-unsandboxed`; the SDKs spawn them bare, as their "
        "users do. Cold start: client created → server spawned → first result.",
        "",
    ]
    for server in sorted(med, key=lambda s: s != "everything"):
        lines += table(server, med[server])
    if "everything" in med:
        lines += goals(med["everything"])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
