//! Runs the built `corral` binary against the fixture server (and, in `readme_examples`, a real
//! npm server): every verb, `--json` output, exit codes per error kind, masking of secrets, the
//! store under 8 concurrent writers, and the interactive confirm prompt through a real PTY.

// Test code: helpers outside `#[test]` functions may `expect` too (clippy.toml allows it
// only inside them).
#![allow(clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_corral"))
}

fn fixture() -> String {
    let p = std::env::var_os("CORRAL_TEST_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin().with_file_name("corral-test-server"));
    assert!(
        p.is_file(),
        "{} missing: run `cargo build -p corral-test-server`",
        p.display()
    );
    p.display().to_string()
}

impl Env {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config").join("servers.json")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("CORRAL_CONFIG", self.config())
            .env("CORRAL_HOME", self.dir.path().join("home"))
            .env_remove("CORRAL_PROVIDER")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run corral")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "corral {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
    }

    fn add_fixture(&self, name: &str) {
        self.ok(&[
            "server",
            "add",
            name,
            "--command",
            &fixture(),
            "--env",
            "API_TOKEN=s3cr3t-value",
        ]);
    }
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

#[test]
fn server_verbs_and_masking() {
    let env = Env::new();
    env.add_fixture("fx");
    env.ok(&[
        "server",
        "add",
        "other",
        "--command",
        "srv --x",
        "--description",
        "d",
        "--timeout",
        "2",
        "--network",
        "none",
        "--mount",
        "/tmp:ro",
        "--install-commands",
        "echo hi",
        "--tag",
        "prod",
        "--tag",
        "fs",
    ]);
    let list = env.ok(&["server", "list"]);
    assert!(
        list.contains("fx") && list.contains("API_TOKEN=****"),
        "{list}"
    );
    let json = env.json(&["server", "list", "--json"]);
    let names: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["fx", "other"]);
    assert_eq!(json[0]["env"]["API_TOKEN"], "****");
    assert_eq!(json[1]["network"], "none");
    // The canonical form: camelCase keys, the tags as given.
    let other = env.json(&["server", "show", "other", "--json"]);
    assert_eq!(other, json[1]);
    assert_eq!(other["tags"], serde_json::json!(["prod", "fs"]));
    assert_eq!(other["installCommands"], serde_json::json!(["echo hi"]));
    assert_eq!(other["timeoutMinutes"], 2.0);
    assert_eq!(other["mounts"], serde_json::json!(["/tmp:/tmp:ro"]));
    assert_eq!(code(&env.run(&["server", "show", "nope"])), Some(12));
    let shown = env.ok(&["config", "--show"]);
    for text in [&list, &json.to_string(), &shown] {
        assert!(!text.contains("s3cr3t-value"), "secret printed: {text}");
    }
    let stored = std::fs::read_to_string(env.config()).expect("store");
    assert!(stored.contains("s3cr3t-value"), "the secret is stored");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.config())
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    assert_eq!(
        env.json(&["server", "remove", "other", "--json"])["removed"],
        "other"
    );
    assert_eq!(code(&env.run(&["server", "remove", "other"])), Some(12));
}

#[test]
fn tools_list_and_execute() {
    let env = Env::new();
    env.add_fixture("fx");
    let list = env.ok(&["tools", "list", "fx"]);
    assert!(
        list.contains("echo") && list.contains("text: string (required)"),
        "{list}"
    );
    let tools = env.json(&["tools", "list", "fx", "--json"]);
    assert!(
        tools
            .as_array()
            .expect("array")
            .iter()
            .any(|t| t["name"] == "add" && t["inputSchema"]["type"] == "object")
    );

    assert_eq!(
        env.ok(&["tools", "execute", "fx", "echo", "--param", "text=hello"]),
        "hello\n"
    );
    let r = env.json(&[
        "tools", "execute", "fx", "add", "--param", "a=2", "--param", "b=40", "--json",
    ]);
    assert_eq!(r["structuredContent"]["sum"], 42);
    assert_eq!(r["isError"], false);
    // --params and --param merge; --param values that are not JSON are strings.
    let r = env.json(&[
        "tools",
        "execute",
        "fx",
        "echo",
        "--params",
        r#"{"text": "x"}"#,
        "--param",
        "text=not json",
        "--json",
    ]);
    assert_eq!(r["content"][0]["text"], "not json");
}

#[test]
fn exit_codes_per_kind() {
    let env = Env::new();
    env.add_fixture("fx");
    let fx = fixture();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["tools", "execute", "fx", "fail"], 1),
        (vec!["server", "nonsense"], 2),
        (
            vec!["server", "add", "bad", "--command", "x", "--env", "1BAD=v"],
            10,
        ),
        (
            vec![
                "tools", "execute", "fx", "add", "--param", "a=x", "--param", "b=1",
            ],
            11,
        ),
        (
            vec!["tools", "execute", "fx", "echo", "--params", "[1]"],
            11,
        ),
        (vec!["tools", "execute", "nope", "echo"], 12),
        (vec!["tools", "execute", "fx", "nope"], 13),
        (vec!["quick", "/nonexistent/server", "echo"], 16),
        (vec!["quick", &fx, "crash"], 17),
        (
            vec!["quick", &fx, "echo", "--install-commands", "exit 3"],
            15,
        ),
    ];
    for (args, want) in cases {
        let out = env.run(&args);
        assert_eq!(
            code(&out),
            Some(want),
            "corral {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if want >= 10 {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.starts_with("error["), "{err}");
        }
    }
    // With --json an error is still exactly one JSON document on stdout.
    let out = env.run(&["tools", "execute", "nope", "echo", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["error"]["kind"], "SERVER_NOT_FOUND");
    assert_eq!(doc["error"]["retryable"], false);
    // A config error names its field as data.
    let out = env.run(&[
        "server",
        "add",
        "bad",
        "--command",
        "x",
        "--env",
        "1BAD=v",
        "--json",
    ]);
    assert_eq!(code(&out), Some(10));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["error"]["kind"], "CONFIG_INVALID");
    assert_eq!(doc["error"]["field"], "servers.bad.env.1BAD");
    let out = env.run(&[
        "server",
        "add",
        "bad",
        "--command",
        "x",
        "--timeout",
        "1e300",
        "--json",
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["error"]["field"], "servers.bad.timeoutMinutes");
}

#[test]
fn quick_import_config_and_completions() {
    let env = Env::new();
    let fx = fixture();
    assert_eq!(
        env.ok(&["quick", &fx, "echo", "--param", "text=one-shot"]),
        "one-shot\n"
    );
    assert_eq!(
        env.json(&["server", "list", "--json"]),
        Value::Array(vec![]),
        "quick saves nothing"
    );

    let doc = env.dir.path().join("claude_desktop_config.json");
    std::fs::write(
        &doc,
        format!(r#"{{"mcpServers": {{"a": {{"command": "{fx}", "args": ["--tools", "1"]}}, "b": {{"type": "http", "url": "http://127.0.0.1:9/mcp"}}}}}}"#),
    )
    .expect("write");
    assert_eq!(
        env.json(&["import", doc.to_str().expect("utf8"), "--json"])["imported"],
        serde_json::json!(["a", "b"])
    );
    assert_eq!(
        env.ok(&[
            "tools",
            "execute",
            "a",
            "tool_000",
            "--param",
            "text=imported"
        ]),
        "imported\n"
    );

    // --edit: the editor's change is validated and saved; an invalid edit is refused.
    let editor = env.dir.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/\"b\"/\"renamed\"/' \"$1\"\n").expect("write");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = env
        .cmd(&["config", "--edit"])
        .env("EDITOR", &editor)
        .output()
        .expect("run");
    assert_eq!(
        code(&out),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names = env.json(&["server", "list", "--json"]);
    assert!(names.to_string().contains("renamed"), "{names}");
    let bad = env.dir.path().join("bad.sh");
    std::fs::write(
        &bad,
        "#!/bin/sh\necho '{\"servers\": {\"x\": {}}}' > \"$1\"\n",
    )
    .expect("write");
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = env
        .cmd(&["config", "--edit"])
        .env("EDITOR", &bad)
        .output()
        .expect("run");
    assert_eq!(code(&out), Some(10));
    assert!(
        env.ok(&["server", "list"]).contains("renamed"),
        "a bad edit must not be saved"
    );

    assert_eq!(
        code(&env.run(&["config", "--reset"])),
        Some(11),
        "needs --yes off a terminal"
    );
    env.ok(&["config", "--reset", "--yes"]);
    assert_eq!(
        env.json(&["server", "list", "--json"]),
        Value::Array(vec![])
    );

    for shell in ["bash", "zsh", "fish"] {
        assert!(env.ok(&["completions", shell]).contains("corral"));
    }
}

#[test]
fn import_expands_env_and_says_what_a_sandbox_lacks() {
    let env = Env::new();
    let fx = fixture();
    let data = env.dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("note.txt"), "from the host").expect("write");
    let data = data.to_str().expect("utf8");
    let doc = env.dir.path().join("claude_desktop_config.json");
    let entry = serde_json::json!({"command": fx, "args": ["--fail-unless", data]});
    std::fs::write(
        &doc,
        serde_json::json!({"mcpServers": {"fs": entry}}).to_string(),
    )
    .expect("write");
    let doc = doc.to_str().expect("utf8");
    let read = ["tools", "execute", "fs", "read_file", "--param"];
    let note = format!("path={data}/note.txt");

    // Named, not mounted: the start fails saying which path and how to mount it.
    let imported = env.json(&["import", doc, "--json"]);
    assert_eq!(imported["hostPaths"]["fs"], serde_json::json!([data]));
    assert_eq!(imported["mounted"], false);
    let out = env.run(&[&read[..], &[&note]].concat());
    assert_eq!(code(&out), Some(16), "SERVER_START_FAILED");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("\"mounts\": [\"{data}:rw\"]")) && stderr.contains("--mount-args"),
        "{stderr}"
    );

    // --mount-args: that path (and nothing else of the host) is mounted read-write.
    let imported = env.json(&["import", "--mount-args", doc, "--json"]);
    assert_eq!(imported["mounted"], true);
    let stored = env.json(&["server", "show", "fs", "--json"]);
    assert_eq!(
        stored["mounts"],
        serde_json::json!([format!("{data}:{data}:rw")])
    );
    assert_eq!(env.ok(&[&read[..], &[&note]].concat()), "from the host\n");

    // ${VAR} is expanded as Claude Code does for `.mcp.json`; an unset one fails, naming it.
    let expand = env.dir.path().join(".mcp.json");
    let entry = serde_json::json!({"command": fx, "args": ["--tools", "${CORRAL_CLI_UNSET:-2}"]});
    std::fs::write(
        &expand,
        serde_json::json!({"mcpServers": {"x": entry}}).to_string(),
    )
    .expect("write");
    env.ok(&["import", expand.to_str().expect("utf8")]);
    let stored = env.json(&["server", "show", "x", "--json"]);
    assert_eq!(stored["command"][2], "2", "{stored}");
    let entry = serde_json::json!({"command": fx, "env": {"T": "${CORRAL_CLI_UNSET}"}});
    std::fs::write(
        &expand,
        serde_json::json!({"mcpServers": {"y": entry}}).to_string(),
    )
    .expect("write");
    let out = env.run(&["import", expand.to_str().expect("utf8"), "--json"]);
    assert_eq!(code(&out), Some(10), "CONFIG_INVALID");
    let error: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(error["error"]["field"], "servers.y.env.T");

    // A Docker entry (the official servers' READMEs give one each) of a catalog image runs as
    // the catalog server the image packages (a sandbox reaches no container daemon), and import
    // says so; one whose options do not carry over (`--env-file`) stays as written, and its
    // start error names the catalog server that is the same server without Docker.
    let docker = env.dir.path().join("docker.json");
    let entry = |args: &[&str]| serde_json::json!({"command": "docker", "args": args});
    let document = serde_json::json!({"mcpServers": {
        "time": entry(&["run", "-i", "--rm", "mcp/time"]),
        "envfile": entry(&["run", "-i", "--rm", "--env-file", ".env", "mcp/time"]),
    }});
    std::fs::write(&docker, document.to_string()).expect("write");
    let out = env.run(&["import", docker.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("time: mcp-server-time") && stderr.contains("catalog server `time`"),
        "{stderr}"
    );
    let stored = env.json(&["server", "show", "time", "--json"]);
    assert!(
        stored["command"][0]
            .as_str()
            .is_some_and(|c| c.ends_with("/bin/mcp-server-time")),
        "{stored}"
    );
    assert!(
        stored["installCommands"][0]
            .as_str()
            .is_some_and(|c| c.contains("mcp-server-time=="))
    );
    let out = env.run(&["tools", "list", "envfile"]);
    assert_eq!(code(&out), Some(16), "SERVER_START_FAILED");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("catalog server `time`") && !stderr.contains("install it on the host"),
        "{stderr}"
    );
}

/// `corral import CLIENT` reads that client's own file: the project's first, then the home's;
/// a missing one names the places it looked.
#[test]
fn import_by_client_name() {
    let env = Env::new();
    let home = env.dir.path().join("user");
    let project = env.dir.path().join("project");
    let desktop = home.join(".config/Claude");
    std::fs::create_dir_all(&desktop).expect("mkdir");
    std::fs::create_dir_all(project.join(".cursor")).expect("mkdir");
    std::fs::write(
        desktop.join("claude_desktop_config.json"),
        r#"{"mcpServers": {"d": {"command": "srv"}}}"#,
    )
    .expect("write");
    std::fs::write(
        project.join(".cursor/mcp.json"),
        r#"{"mcpServers": {"c": {"command": "srv"}}}"#,
    )
    .expect("write");
    let run_with = |client: &str, xdg: Option<&Path>| {
        let mut cmd = env.cmd(&["import", client, "--json"]);
        cmd.env("HOME", &home).current_dir(&project);
        match xdg {
            Some(dir) => cmd.env("XDG_CONFIG_HOME", dir),
            None => cmd.env_remove("XDG_CONFIG_HOME"),
        };
        cmd.output().expect("run")
    };
    let run = |client: &str| run_with(client, None);
    let config_invalid = |out: &Output, says: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(out), Some(10), "CONFIG_INVALID: {stderr}");
        assert!(stderr.contains(says), "{stderr}");
    };
    let out = run("claude-desktop");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["imported"], serde_json::json!(["d"]), "{v}");
    assert!(
        v["from"]
            .as_str()
            .is_some_and(|f| f.ends_with(".config/Claude/claude_desktop_config.json")),
        "{v}"
    );
    let v: Value = serde_json::from_slice(&run("cursor").stdout).expect("json");
    assert_eq!(v["imported"], serde_json::json!(["c"]), "{v}");
    // Claude Code: its user-scope servers and this project's local-scope ones.
    let claude = serde_json::json!({"numStartups": 3, "mcpServers": {"u": {"command": "srv"}},
        "projects": {project.display().to_string(): {"mcpServers": {"l": {"command": "srv"}}},
                     "/elsewhere": {"mcpServers": {"x": {"command": "srv"}}}}});
    std::fs::write(home.join(".claude.json"), claude.to_string()).expect("write");
    let v: Value = serde_json::from_slice(&run("claude-code").stdout).expect("json");
    assert_eq!(v["imported"], serde_json::json!(["l", "u"]), "{v}");
    // A client's settings without servers have none (rather than each key as a bad server).
    std::fs::create_dir_all(home.join(".config/zed")).expect("mkdir");
    std::fs::write(
        home.join(".config/zed/settings.json"),
        "{\n  // Zed\n  \"theme\": \"One Dark\",\n}\n",
    )
    .expect("write");
    config_invalid(&run("zed"), "names no MCP servers");
    // `~/.config` is `$XDG_CONFIG_HOME` where that is set.
    let xdg = env.dir.path().join("xdg");
    std::fs::create_dir_all(xdg.join("zed")).expect("mkdir");
    std::fs::write(
        xdg.join("zed/settings.json"),
        r#"{"context_servers": {"z": {"command": "srv"}}}"#,
    )
    .expect("write");
    let v: Value = serde_json::from_slice(&run_with("zed", Some(&xdg)).stdout).expect("json");
    assert_eq!(v["imported"], serde_json::json!(["z"]), "{v}");
    config_invalid(&run("windsurf"), ".codeium/windsurf/mcp_config.json");
}

#[test]
fn concurrent_adds_keep_the_store_valid() {
    let env = Env::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.cmd(&[
                "server",
                "add",
                &format!("s{i}"),
                "--command",
                "srv",
                "--env",
                &format!("K={i}"),
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let list = env.json(&["server", "list", "--json"]);
    assert_eq!(list.as_array().expect("array").len(), 8, "{list}");
}

/// The confirm prompt, answered through a real pseudo-terminal (`script` from util-linux).
#[test]
fn remove_asks_on_a_terminal() {
    let env = Env::new();
    env.add_fixture("fx");
    let through_pty = |answer: &str| -> Output {
        let cmdline = format!(
            "CORRAL_CONFIG='{}' '{}' server remove fx",
            env.config().display(),
            bin().display()
        );
        let mut child = Command::new("script")
            .args(["-qec", &cmdline, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script");
        std::thread::sleep(std::time::Duration::from_millis(300));
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(answer.as_bytes()).expect("answer");
        stdin.flush().expect("flush");
        let out = child.wait_with_output().expect("wait");
        drop(stdin);
        out
    };
    let out = through_pty("n\n");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("Remove server `fx`? [y/N]"), "{screen}");
    assert_eq!(code(&out), Some(19), "declined is CANCELLED: {screen}");
    assert!(env.ok(&["server", "list"]).contains("fx"));
    let out = through_pty("y\n");
    assert_eq!(
        code(&out),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!env.ok(&["server", "list"]).contains("fx"));
}

/// Every `corral` example of the README's CLI section, run as written.
#[test]
fn readme_examples() {
    if std::env::var_os("CORRAL_TEST_OFFLINE").is_some() {
        return;
    }
    let readme = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("README.md");
    let text = std::fs::read_to_string(readme).expect("README");
    let script: String = text
        .split("```bash cli-example\n")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .collect();
    assert!(
        script.contains("corral server add"),
        "no CLI examples found in the README"
    );
    let env = Env::new();
    let dir = bin().parent().expect("dir").to_owned();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(env.dir.path())
        .env("PATH", path)
        .env("CORRAL_CONFIG", env.config())
        .env("CORRAL_HOME", env.dir.path().join("home"))
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "README examples failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Echo: hello from the README"), "{stdout}");
}

#[test]
fn template_verbs_and_prune() {
    let env = Env::new();
    assert_eq!(
        env.json(&["--json", "template", "list"]),
        serde_json::json!([])
    );
    let built = env.json(&[
        "--json",
        "template",
        "build",
        "tools",
        "--install-commands",
        "mkdir -p /opt/t && echo from-template > /opt/t/file",
    ]);
    assert_eq!(built["name"], "tools");
    let list = env.json(&["--json", "template", "list"]);
    assert_eq!(list[0]["name"], "tools");
    assert_eq!(list[0]["id"], built["id"]);
    // A server from the template reads the template's file.
    env.ok(&[
        "server",
        "add",
        "fx",
        "--command",
        &fixture(),
        "--template",
        "tools",
    ]);
    let out = env.ok(&[
        "tools",
        "execute",
        "fx",
        "read_file",
        "--param",
        "path=/opt/t/file",
    ]);
    assert!(out.contains("from-template"), "{out}");
    // Removing the server leaves its state until `server prune`.
    env.ok(&["server", "remove", "fx", "--yes"]);
    let state = env.dir.path().join("home").join("servers").join("fx");
    assert!(state.exists());
    // So do a shared uv of another version and an install its gone process left.
    let tools = env.dir.path().join("home").join("tools");
    let stale = [tools.join("uv-0.0.1"), tools.join(".uv-4294967295-x")];
    for dir in &stale {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    let report = env.json(&["--json", "server", "prune"]);
    assert!(report["freedBytes"].is_u64(), "{report}");
    assert!(!state.exists());
    assert!(stale.iter().all(|d| !d.exists()), "{report}");
    env.ok(&["template", "remove", "tools"]);
    assert_eq!(
        env.json(&["--json", "template", "list"]),
        serde_json::json!([])
    );
    let missing = env.run(&["template", "remove", "tools"]);
    assert_eq!(code(&missing), Some(10), "CONFIG_INVALID");
}

/// `corral gateway --config FILE`: prints the URL, the token and a `claude mcp add` line, serves
/// `/health`, answers an unknown prompt with an error without logging a WARN for it, and on
/// SIGTERM exits 0 having stopped every sandbox.
#[test]
fn gateway_serves_until_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = Env::new();
    let fx = fixture();
    let doc = env.dir.path().join("servers.json");
    let tag = format!("cli-gw-{}", std::process::id());
    std::fs::write(
        &doc,
        serde_json::json!({"mcpServers": {
            "a": {"command": fx, "env": {"CORRAL_SCENARIO_TAG": tag}},
            "b": {"command": fx, "env": {"CORRAL_SCENARIO_TAG": tag}},
        }})
        .to_string(),
    )
    .expect("write");
    let mut child = env
        .cmd(&["gateway", "--config", &doc.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = String::new();
    let mut token = String::new();
    let mut claude = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(u) = line.strip_prefix("url:") {
            url = u.trim().to_owned();
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = t.trim().to_owned();
        }
        if line.starts_with("claude mcp add --transport http") {
            claude = line;
            break;
        }
    }
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    assert!(
        claude.contains(&url) && claude.contains("--header \"Authorization: Bearer "),
        "{claude}"
    );
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // A 2026-07-28 client asks for a prompt that does not exist: a JSON-RPC error, and no
    // WARN for it (rmcp logs every error answer at WARN).
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {
        "name": "nope", "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string();
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: prompts/get\r\nMcp-Name: nope\r\n\
         Content-Length: {}\r\n\r\n{call}",
        call.len()
    )
    .expect("write");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.contains("\"error\""),
        "{resp}"
    );
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log);
    assert!(log.contains("gateway listening"), "{log}");
    assert!(!log.contains("WARN"), "{log}");
    let needle = format!("CORRAL_SCENARIO_TAG={tag}");
    let left = std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .count();
    assert_eq!(left, 0, "no sandbox survives the gateway");
}

#[test]
fn catalog_verbs_and_gateway_mcp() {
    use std::io::{BufRead, BufReader, Read, Write};
    let env = Env::new();
    let list = env.json(&["--json", "catalog", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.len() >= 40 && names.contains(&"filesystem") && names.contains(&"github"));
    let text = env.ok(&["catalog", "show", "github"]);
    assert!(
        text.contains("githubPersonalAccessToken") && text.contains("GITHUB_PERSONAL_ACCESS_TOKEN")
    );
    let md = env.ok(&["catalog", "list", "--markdown"]);
    assert!(md.starts_with("| name |"));
    let out = env.run(&["catalog", "show", "no-such-server"]);
    assert_eq!(code(&out), Some(10));
    // Invalid mcp input: CONFIG_INVALID (exit 10) naming the field, before anything starts.
    for (mcp, field) in [
        (r#"{"slack": {"botToken": "x"}}"#, "mcp.slack.teamId"),
        (r#"{"nope": {}}"#, "mcp.nope"),
        ("[1]", "mcp"),
    ] {
        let out = env.run(&["gateway", "--mcp", mcp]);
        assert_eq!(code(&out), Some(10), "{mcp}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(field),
            "{mcp}"
        );
    }
    let out = env.run(&["pull", "no-such-server"]);
    assert_eq!(code(&out), Some(10));
    // --mcp-file with a server config: served and callable over plain HTTP.
    let fx = fixture();
    let tag = format!("cli-mcp-{}", std::process::id());
    let file = env.dir.path().join("mcp.json");
    std::fs::write(
        &file,
        serde_json::json!({"fx": {"command": fx, "env": {"CORRAL_SCENARIO_TAG": tag}}}).to_string(),
    )
    .expect("write");
    let mut child = env
        .cmd(&["gateway", "--mcp-file", &file.display().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (mut url, mut token) = (String::new(), String::new());
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(u) = line.strip_prefix("url:") {
            url = u.trim().to_owned();
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = t.trim().to_owned();
            break;
        }
    }
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let body = r#"{"name": "echo", "arguments": {"text": "via cli"}}"#;
    let mut resp = String::new();
    for _ in 0..50 {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        write!(
            s,
            "POST /mcp/call_tool HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        resp.clear();
        let _ = s.read_to_string(&mut resp);
        if resp.contains("via cli") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.contains("via cli"),
        "{resp}"
    );
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// `value` is the form `name` of `corral schema`'s document (the core's check of it).
fn conforms(schema: &Value, name: &str, value: &Value) {
    assert!(
        schema["$defs"].get(name).is_some(),
        "corral schema has no {name}"
    );
    corral_core::boundary::conforms(name, value).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn schema_describes_what_json_prints() {
    let env = Env::new();
    let schema = env.json(&["schema"]);
    env.add_fixture("fx");
    for config in env
        .json(&["server", "list", "--json"])
        .as_array()
        .expect("a list")
    {
        conforms(&schema, "ServerConfig", config);
    }
    let tools = env.json(&["tools", "list", "fx", "--json"]);
    let tools = tools.as_array().expect("a list");
    assert!(!tools.is_empty());
    for tool in tools {
        conforms(&schema, "Tool", tool);
    }
    let result = env.json(&[
        "tools", "execute", "fx", "echo", "--param", "text=hi", "--json",
    ]);
    conforms(&schema, "ToolResult", &result);
}
