"""One table from the figures `make bench` collected (JSON lines, one per client × server).

    python3 bench/summary.py FILE.jsonl

Each line: `{"lang", "client", "server", "p50_us", "mean_us", "seq_per_s", "par_per_s",
"cpu_us"?}`, appended by bench/src/main.rs (Rust), bench/python/bench.py and
bench/node/bench.mjs. For every server it prints every client's figures, then each corral
client against each peer measured in the same run: latency ratios are peer ÷ corral and
throughput ratios corral ÷ peer, so above 1× means corral is faster.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Which peers each corral client is compared with (the official SDK of its language first).
PEERS = {
    "rust": ("rmcp",),
    "python": ("mcp-2", "mcp-1", "ts-sdk"),
    "node": ("ts-sdk",),
}


def is_corral(row: dict[str, Any]) -> bool:
    return str(row["client"]).startswith("corral")


def peer_rows(rows: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [r for r in rows if not is_corral(r) and str(r["client"]).startswith(prefix)]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    load = os.getloadavg()
    print(f"\n## corral vs its peers, one run (load average now {load[0]:.1f} / {load[2]:.1f})\n")
    for server in dict.fromkeys(r["server"] for r in rows):
        here = [r for r in rows if r["server"] == server]
        print(f"### {server}\n")
        print("| client | p50 µs | mean µs | seq /s | 32-flight/s | client CPU µs/call |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in here:
            cpu = f"{r['cpu_us']:.1f}" if r.get("cpu_us") is not None else "–"
            print(
                f"| {r['lang']} {r['client']} | {r['p50_us']:.1f} | {r['mean_us']:.1f} | "
                f"{r['seq_per_s']:.0f} | {r['par_per_s']:.0f} | {cpu} |"
            )
        print("\n| corral client vs peer | p50 (peer ÷ corral) | 32-flight/s (corral ÷ peer) |")
        print("|---|---:|---:|")
        for c in (r for r in here if is_corral(r)):
            for prefix in PEERS.get(c["lang"], ()):
                for p in peer_rows(here, prefix):
                    print(
                        f"| {c['lang']} {c['client']} vs {p['lang']} {p['client']} | "
                        f"{p['p50_us'] / c['p50_us']:.2f}× | {c['par_per_s'] / p['par_per_s']:.2f}× |"
                    )
        print()


if __name__ == "__main__":
    main()
