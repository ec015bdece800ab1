//! Fuzz-style test of the one config parser: 10,000 random and extreme JSON configs in all three
//! accepted forms (corral's own, the e2b-mcp dict, `mcpServers` documents), plus sandbox configs
//! and call options, from a fixed seed. No input may panic; every rejection is
//! `CONFIG_INVALID` with a field; every accepted config round-trips through its canonical form.

use std::panic::{AssertUnwindSafe, catch_unwind};

use corral_core::{
    CallOptions, ErrorKind, SandboxConfig, ServerConfig,
    config::{LoadOptions, parse_servers_document, parse_servers_value_with},
};
use serde_json::{Map, Value, json};

const CASES: usize = 10_000;

/// xorshift64*: tiny, deterministic, good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const KEYS: &[&str] = &[
    "name",
    "type",
    "command",
    "args",
    "url",
    "headers",
    "env",
    "install_commands",
    "installCommands",
    "cwd",
    "description",
    "timeout_minutes",
    "timeoutMinutes",
    "call_timeout_seconds",
    "callTimeoutSeconds",
    "network",
    "mounts",
    "limits",
    "allow_tools",
    "allowTools",
    "deny_tools",
    "denyTools",
    "tags",
    "disabled",
    "autoApprove",
    "timeout",
    "netwrk",
    "",
    "ünïcödé",
];

fn number(rng: &mut Rng) -> Value {
    let extremes = [
        json!(0),
        json!(-0.0),
        json!(1),
        json!(-1),
        json!(0.5),
        json!(1e-300),
        json!(5e-324),
        json!(1e300),
        json!(-1e300),
        json!(f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(u32::MAX),
        json!(31_622_400),
        json!(527_040),
        json!(527_041),
        json!(1.7976931348623157e308),
    ];
    if rng.chance(70) {
        rng.pick(&extremes).clone()
    } else {
        json!((rng.next() as i64) as f64 / (1u64 << rng.below(60)) as f64)
    }
}

fn string(rng: &mut Rng) -> String {
    let samples = [
        "",
        " ",
        "x",
        "srv --flag",
        "'unbalanced",
        "\"a b\" c",
        "NaN",
        "inf",
        "-Infinity",
        "1e300",
        "all",
        "none",
        "some",
        "stdio",
        "http",
        "sse",
        "streamable-http",
        "http://127.0.0.1:1/mcp",
        "https://example.com/mcp",
        "ftp://x",
        "/data",
        "${HOME}",
        "${CORRAL_FUZZ_UNSET:-/tmp}",
        "${env:PATH}x${",
        "${}${:-}${é}}",
        "${workspaceFolder}/s.js",
        "${input:key}",
        "${userHome:-x}",
        "/data:/mnt:rw",
        "/a:ro",
        "rel/path",
        ":::",
        "1BAD",
        "GOOD_NAME",
        "Authorization",
        "a b",
        "ünïcödé ✓ 🦀",
        "\u{0}\u{1}\u{7f}",
        "\u{202e}rtl",
        "..",
        ".",
        "cmd",
        "/c",
        "npx.cmd",
        "UVX.EXE",
        ".exe",
    ];
    match rng.below(10) {
        0 => {
            let len = [64, 1024, 65_536][rng.below(3)];
            let c = *rng.pick(&['a', 'é', '🦀', ':', '/', ' ']);
            std::iter::repeat_n(c, len).collect()
        }
        1 => (0..rng.below(20))
            .map(|_| char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('?'))
            .collect(),
        _ => (*rng.pick(&samples)).to_owned(),
    }
}

/// Any JSON value, `depth` levels at most.
fn any(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth == 0 { 4 } else { 6 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => number(rng),
        3 => Value::String(string(rng)),
        4 => Value::Array((0..rng.below(5)).map(|_| any(rng, depth - 1)).collect()),
        _ => Value::Object(
            (0..rng.below(5))
                .map(|_| {
                    let key = if rng.chance(50) {
                        (*rng.pick(KEYS)).to_owned()
                    } else {
                        string(rng)
                    };
                    (key, any(rng, depth - 1))
                })
                .collect(),
        ),
    }
}

/// A deeply nested value (arrays or objects in arrays or objects ...).
fn deep(rng: &mut Rng) -> Value {
    let mut v = Value::String(string(rng));
    for _ in 0..(32 + rng.below(96)) {
        v = if rng.chance(50) {
            json!([v])
        } else {
            json!({ "k": v })
        };
    }
    v
}

/// A value that is usually of the right type for `key`, sometimes not.
fn value_for(rng: &mut Rng, key: &str) -> Value {
    if rng.chance(15) {
        return if rng.chance(20) {
            deep(rng)
        } else {
            any(rng, 3)
        };
    }
    let strings = |rng: &mut Rng| -> Value {
        Value::Array(
            (0..rng.below(4))
                .map(|_| Value::String(string(rng)))
                .collect(),
        )
    };
    let map = |rng: &mut Rng| -> Value {
        Value::Object(
            (0..rng.below(4))
                .map(|_| {
                    let v = if rng.chance(80) {
                        Value::String(string(rng))
                    } else {
                        any(rng, 1)
                    };
                    (string(rng), v)
                })
                .collect(),
        )
    };
    match key {
        // Zed's earlier form: the command as an object.
        "command" if rng.chance(15) => {
            let mut m = Map::new();
            for k in ["path", "args", "env", "other"] {
                if rng.chance(60) {
                    let v = value_for(rng, if k == "env" { "env" } else { "args" });
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        }
        "command" | "args" | "install_commands" | "installCommands" | "allow_tools"
        | "allowTools" | "deny_tools" | "denyTools" | "tags" | "mounts" => {
            if rng.chance(40) {
                Value::String(string(rng))
            } else {
                strings(rng)
            }
        }
        "env" | "headers" => map(rng),
        "timeout_minutes" | "timeoutMinutes" | "call_timeout_seconds" | "callTimeoutSeconds" => {
            number(rng)
        }
        "limits" => {
            let mut m = Map::new();
            for k in [
                "memory_mb",
                "memoryMb",
                "max_processes",
                "maxProcesses",
                "cpu",
            ] {
                if rng.chance(30) {
                    m.insert(k.into(), number(rng));
                }
            }
            Value::Object(m)
        }
        "disabled" => Value::Bool(rng.chance(50)),
        _ => Value::String(string(rng)),
    }
}

/// One server entry: mostly plausible keys, sometimes garbage.
fn server(rng: &mut Rng) -> Value {
    if rng.chance(5) {
        return any(rng, 4);
    }
    let mut m = Map::new();
    // Most entries have a transport, so the later fields get parsed too.
    match rng.below(4) {
        0 => {
            m.insert("command".into(), value_for(rng, "command"));
        }
        1 => {
            m.insert(
                "url".into(),
                json!(*rng.pick(&["http://127.0.0.1:1/mcp", "ftp://x", ""])),
            );
        }
        _ => {
            m.insert("command".into(), json!("srv --flag"));
        }
    }
    for _ in 0..rng.below(8) {
        let key = *rng.pick(KEYS);
        let v = value_for(rng, key);
        m.insert(key.into(), v);
    }
    Value::Object(m)
}

fn name(rng: &mut Rng) -> String {
    if rng.chance(80) {
        (*rng.pick(&["fs", "fx", "time", "a-b_c.d"])).to_owned()
    } else {
        string(rng)
    }
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    accepted: usize,
    rejected: usize,
    panics: usize,
    wrong_kind: usize,
    no_field: usize,
    round_trip_failures: usize,
}

impl Tally {
    fn rejected(&mut self, e: &corral_core::Error) {
        self.rejected += 1;
        if e.kind() != ErrorKind::ConfigInvalid {
            self.wrong_kind += 1;
            eprintln!("wrong kind: {e}");
        }
        if e.field().is_none() {
            self.no_field += 1;
            eprintln!("no field: {e}");
        }
    }

    fn accepted(&mut self, c: &ServerConfig) {
        self.accepted += 1;
        let v = serde_json::to_value(c).unwrap_or(Value::Null);
        let back_via_serde = serde_json::from_value::<ServerConfig>(v.clone()).ok();
        let back_via_parser = ServerConfig::from_value(&c.name, &v).ok();
        if back_via_serde.as_ref() != Some(c) || back_via_parser.as_ref() != Some(c) {
            self.round_trip_failures += 1;
            eprintln!("round trip failed: {v}");
        }
    }
}

#[test]
fn ten_thousand_random_configs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tally = Tally::default();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {})); // counted below, not printed
    for _ in 0..CASES {
        tally.cases += 1;
        let form = rng.below(6);
        let name = name(&mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| match form {
            // corral's own form / the e2b-mcp dict: one server.
            0 | 1 => {
                let v = server(&mut rng);
                vec![ServerConfig::from_value(&name, &v)]
            }
            // A document: mcpServers, servers, or a bare map, as a value or as JSON text.
            2 | 3 => {
                let key = *rng.pick(&[
                    "mcpServers",
                    "servers",
                    "context_servers",
                    "mcp_servers",
                    "",
                ]);
                let servers: Map<String, Value> = (0..rng.below(4))
                    .map(|_| (name.clone(), server(&mut rng)))
                    .collect();
                let doc = if key.is_empty() {
                    Value::Object(servers)
                } else {
                    json!({ key: servers })
                };
                // Half of them with ${VAR} expansion (the fuzzed strings hold `${`s) and
                // argument mounts.
                let options = LoadOptions {
                    expand_env: rng.below(2) == 0,
                    mount_args: rng.below(2) == 0,
                    workspace_folder: (rng.below(2) == 0).then(|| "/proj".into()),
                };
                let parsed = if form == 2 {
                    parse_servers_value_with(&doc, &options)
                } else {
                    parse_servers_document(&doc.to_string())
                };
                match parsed {
                    Ok(list) => list.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                }
            }
            // Plain serde (the name inside).
            4 => {
                let mut v = server(&mut rng);
                if let Some(m) = v.as_object_mut() {
                    m.insert("name".into(), Value::String(name.clone()));
                }
                let _ = serde_json::from_value::<ServerConfig>(v.clone());
                vec![ServerConfig::from_value(&name, &v)]
            }
            // Sandbox configs and call options share the leaf parsers.
            _ => {
                let mut v = server(&mut rng);
                if let Some(m) = v.as_object_mut() {
                    m.retain(|k, _| {
                        ["name", "env", "network", "mounts", "limits"].contains(&k.as_str())
                            || k.len() % 7 == 0
                    });
                }
                let _ = serde_json::from_value::<CallOptions>(
                    json!({"timeoutMs": number(&mut rng), "maxTotalMs": number(&mut rng)}),
                );
                if let Err(e) = SandboxConfig::from_value(&v) {
                    tally.rejected(&e);
                } else {
                    tally.accepted += 1;
                }
                Vec::new()
            }
        }));
        match outcome {
            Err(_) => tally.panics += 1,
            Ok(results) => {
                for r in results {
                    match r {
                        Ok(c) => tally.accepted(&c),
                        Err(e) => tally.rejected(&e),
                    }
                }
            }
        }
    }
    std::panic::set_hook(default_hook);
    println!(
        "fuzz: {} configs, {} accepted, {} rejected, {} panics, {} wrong kinds, {} without field, {} round-trip failures",
        tally.cases,
        tally.accepted,
        tally.rejected,
        tally.panics,
        tally.wrong_kind,
        tally.no_field,
        tally.round_trip_failures
    );
    assert_eq!(tally.cases, CASES);
    assert_eq!(tally.panics, 0, "{tally:?}");
    assert_eq!(tally.wrong_kind, 0, "{tally:?}");
    assert_eq!(tally.no_field, 0, "{tally:?}");
    assert_eq!(tally.round_trip_failures, 0, "{tally:?}");
    assert!(tally.accepted > 500 && tally.rejected > 500, "{tally:?}");
}
