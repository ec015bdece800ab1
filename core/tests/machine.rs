//! The local sandbox is a machine: a writable root whose writes never reach the host, root
//! inside, `sudo`, templates, `files`, the disk limit. Real bubblewrap, no mocks.

use std::path::Path;

use corral_core::{Corral, CorralOptions, ErrorKind, SandboxConfig, ServerConfig};
use sha2::{Digest, Sha256};

#[allow(clippy::expect_used)] // a test helper
fn corral(home: &Path) -> Corral {
    Corral::with_options(CorralOptions {
        provider: Some("local".into()),
        home: Some(home.to_owned()),
        ..CorralOptions::default()
    })
    .expect("local provider")
}

fn digest(path: &str) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    Some(format!("{:x}", Sha256::digest(&data)))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn text(out: &corral_core::ExecOutput) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_land_in_the_layer_never_in_host_files() {
    if !is_root() {
        eprintln!(
            "as a non-root user the host's system dirs are read-only inside: see non_root_story"
        );
        return;
    }
    let home = tempfile::tempdir().expect("tmp");
    let host_home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let bashrc = format!("{host_home}/.bashrc");
    let watched = [
        "/usr/bin/x",
        "/etc/passwd",
        bashrc.as_str(),
        "/root/.bashrc",
    ];
    let before: Vec<Option<String>> = watched.iter().map(|p| digest(p)).collect();

    let c = corral(home.path());
    let sb = c.sandbox(SandboxConfig::default()).await.expect("sandbox");
    let out = sb
        .exec(
            "set -e; id -u; echo x > /usr/bin/x; chmod +x /usr/bin/x; \
             echo 'intruder:x:0:0::/:/bin/sh' >> /etc/passwd; mkdir -p /root; \
             echo evil >> /root/.bashrc; echo evil >> \"$HOME/.bashrc\"; \
             mkdir -p /app && echo hi > /app/a && cat /usr/bin/x /app/a; \
             grep -c intruder /etc/passwd",
        )
        .await
        .expect("exec");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\nx\nhi\n1\n");
    // sudo works (a shim unless the view has a real one) and root is root inside.
    let out = sb
        .exec("sudo -E id -u && sudo sh -c 'whoami'")
        .await
        .expect("sudo");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\nroot\n");
    // Secrets of the host's /etc are masked, yet /etc/shadow is writable (in the layer).
    let out = sb
        .exec("wc -c < /etc/shadow; test -e /etc/ssh || echo gone; echo s >> /etc/shadow")
        .await
        .expect("shadow");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\ngone\n");

    // Root inside cannot mount or remount: a read-only mount stays read-only.
    let out = sb
        .exec(
            "mount -o remount,bind,rw /run/corral/bin 2>/dev/null || echo refused; \
             mount -t tmpfs x /mnt 2>/dev/null || echo refused; \
             grep NoNewPrivs /proc/self/status",
        )
        .await
        .expect("mount");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "refused\nrefused\nNoNewPrivs:\t1\n",
        "{}",
        text(&out)
    );
    // Another sandbox sees none of it.
    let other = c
        .sandbox(SandboxConfig::default())
        .await
        .expect("sandbox 2");
    let out = other
        .exec("test ! -e /usr/bin/x && test ! -e /app/a && ! grep -q intruder /etc/passwd && echo clean")
        .await
        .expect("exec 2");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "clean\n",
        "{}",
        text(&out)
    );
    sb.close().await.expect("close");
    other.close().await.expect("close");
    c.close().await;

    let after: Vec<Option<String>> = watched.iter().map(|p| digest(p)).collect();
    assert_eq!(before, after, "host files changed");
    assert!(!Path::new("/usr/bin/x").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_layers_persist_per_install_hash_and_stay_apart() {
    if !is_root() {
        eprintln!("as a non-root user /usr/local is read-only inside: see non_root_story");
        return;
    }
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    // A "server" whose install commands write under /usr/local; the layer keeps them.
    let a = ServerConfig::from_value(
        "a",
        &serde_json::json!({"command": "true", "install_commands": ["echo one > /usr/local/marker-a"]}),
    )
    .expect("config");
    c.add_server(a).await.expect("add");
    let _ = c.discover_tools("a").await; // `true` is no MCP server: the start fails after install
    let layer_file = |name: &str, key_glob: &str| {
        let layers = home.path().join("servers").join(name).join("layers");
        std::fs::read_dir(&layers)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("usr").join("upper").join(key_glob))
            .find(|p| p.exists())
    };
    assert!(
        layer_file("a", "local/marker-a").is_some(),
        "install wrote into the layer"
    );
    assert!(!Path::new("/usr/local/marker-a").exists());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_built_once_and_mounted() {
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let t = c
        .build_template(
            "tools",
            &["echo from-template > /opt/t.txt".to_owned()],
            None,
        )
        .await
        .expect("build");
    let again = c
        .build_template(
            "tools",
            &["echo from-template > /opt/t.txt".to_owned()],
            None,
        )
        .await
        .expect("rebuild");
    assert_eq!(t.id, again.id);
    assert_eq!(c.list_templates().len(), 1);
    for _ in 0..2 {
        let sb = c
            .sandbox(SandboxConfig {
                template: Some("tools".into()),
                ..SandboxConfig::default()
            })
            .await
            .expect("from template");
        let out = sb
            .exec("cat /opt/t.txt; echo mine >> /opt/t.txt")
            .await
            .expect("exec");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from-template\n",
            "{}",
            text(&out)
        );
        sb.close().await.expect("close");
    }
    let missing = c
        .sandbox(SandboxConfig {
            template: Some("nope".into()),
            ..SandboxConfig::default()
        })
        .await
        .expect_err("missing template");
    assert_eq!(missing.kind(), ErrorKind::SandboxFailed);
    c.remove_template("tools").expect("remove");
    assert!(c.list_templates().is_empty());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_limit_is_enforced_or_refused() {
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let mut config = SandboxConfig::default();
    config.limits.disk_mb = Some(16);
    match c.sandbox(config).await {
        Ok(sb) => {
            let out = sb
                .exec("dd if=/dev/zero of=/var/big bs=1M count=64 2>&1; echo rc=$?")
                .await
                .expect("exec");
            let t = text(&out);
            assert!(t.contains("No space left"), "{t}");
            let out = sb
                .exec("rm /var/big; echo ok > /var/small && cat /var/small")
                .await
                .expect("exec");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "ok\n",
                "{}",
                text(&out)
            );
            sb.close().await.expect("close");
        }
        Err(e) => {
            eprintln!("disk limit refused: {e}");
            assert_eq!(e.kind(), ErrorKind::SandboxFailed, "{e}");
        }
    }
    c.close().await;
}

/// What a non-root user gets (run as one by `make test-nonroot`): root inside, a writable root
/// except the host-owned system dirs, host files untouched, `disk_mb` refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_root_story() {
    if is_root() {
        eprintln!("runs as a non-root user (make test-nonroot)");
        return;
    }
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let sb = c.sandbox(SandboxConfig::default()).await.expect("sandbox");
    let out = sb
        .exec(
            "set -e; id -u; sudo id -u; mkdir -p /app /opt/x /var/lib/mine; echo a > /app/a; \
             echo r > /root/r; cat /app/a /root/r; \
             if echo x > /usr/bin/x 2>/dev/null; then echo usr-writable; else echo usr-read-only; fi",
        )
        .await
        .expect("exec");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "0\n0\na\nr\nusr-read-only\n",
        "{}",
        text(&out)
    );
    sb.close().await.expect("close");
    assert!(!Path::new("/usr/bin/x").exists());
    let mut config = SandboxConfig::default();
    config.limits.disk_mb = Some(16);
    let e = c.sandbox(config).await.expect_err("disk_mb needs root");
    assert_eq!(e.kind(), ErrorKind::SandboxFailed);
    c.close().await;
}

/// A runtime installed under /tmp (a venv made by a test, `pip install uv` into one) is seen
/// inside although the sandbox has a /tmp of its own, and the host's TLS trust settings reach
/// the sandbox's processes (uv reads only `SSL_CERT_FILE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_under_tmp_and_tls_trust_are_seen_inside() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("tmp");
    let runtime = tempfile::tempdir_in("/tmp").expect("tmp runtime");
    let bin = runtime.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let tool = bin.join("corral-tmp-tool");
    std::fs::write(&tool, "#!/bin/sh\necho tool-ran\n").expect("tool");
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let c = corral(home.path());
    let sb = c
        .sandbox(SandboxConfig {
            programs: vec![tool.display().to_string()],
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
    let out = sb
        .exec(&format!(
            "{} && echo \"cert=$SSL_CERT_FILE\"",
            tool.display()
        ))
        .await
        .expect("exec");
    let t = text(&out);
    assert!(t.contains("tool-ran"), "{t}");
    match std::env::var("SSL_CERT_FILE") {
        Ok(v) if v.starts_with("/etc/") || v.starts_with("/usr/") => {
            assert!(t.contains(&format!("cert={v}")), "{t}");
        }
        _ => assert!(
            t.contains("cert=\n") || t.trim_end().ends_with("cert="),
            "{t}"
        ),
    }
    sb.close().await.expect("close");
    c.close().await;
}

/// Without a uv on the host, `uv` and `uvx` are corral's shims (last on PATH): the first use
/// installs the pinned uv into the sandbox, so a `uvx` server runs as written; later uses run
/// the installed one. The shim is called by its path here, so the test means the same with or
/// without a uv on the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uvx_without_a_host_uv_installs_uv_in_the_sandbox() {
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let sb = c.sandbox(SandboxConfig::default()).await.expect("sandbox");
    let out = sb
        .exec("/run/corral/bin/uvx --version && /run/corral/bin/uv --version 2>&1")
        .await
        .expect("exec");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // stdout has only uv's own output (a server's stdout is its MCP channel).
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() == 2 && lines[0].starts_with("uvx 0.") && lines[1].starts_with("uv 0."),
        "{t}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("corral: installing uv"),
        "{t}"
    );
    // Installed once: the second use says nothing more.
    let again = sb
        .exec("/run/corral/bin/uvx --version")
        .await
        .expect("exec");
    assert!(
        again.status.success() && again.stderr.is_empty(),
        "{}",
        text(&again)
    );
    sb.close().await.expect("close");

    // A real server from PyPI through the shim, as a Claude Desktop entry names it.
    uvx_time_server_answers(&c, "/run/corral/bin/uvx").await;
    c.close().await;
}

/// mcp-server-time from PyPI, run by `uvx` (at `uvx`), answers `get_current_time`.
#[allow(clippy::expect_used)] // a test helper
async fn uvx_time_server_answers(c: &Corral, uvx: &str) {
    let time = ServerConfig::from_value(
        "time",
        &serde_json::json!({"command": uvx, "args": ["mcp-server-time==2026.10.19"]}),
    )
    .expect("config");
    c.add_server(time).await.expect("add");
    let result = c
        .execute_tool(
            "time",
            "get_current_time",
            serde_json::json!({"timezone": "UTC"}),
        )
        .await
        .expect("call");
    assert!(!result.is_error, "{result:?}");
}

/// On a host without uv, a server whose command is `uvx` gets the pinned uv from the corral
/// home, installed there once and seen read-only by every sandbox: later sandboxes install
/// nothing, and none can change it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uvx_servers_share_one_read_only_uv_of_the_home() {
    let host_path = std::env::var("PATH").unwrap_or_default();
    if std::env::split_paths(&host_path).any(|d| d.join("uv").is_file()) {
        eprintln!("skipped: the host has a uv, which sandboxes use instead");
        return;
    }
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    uvx_time_server_answers(&c, "uvx").await;
    let shared: Vec<_> = std::fs::read_dir(home.path().join("tools"))
        .expect("tools dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(
        shared.len() == 1 && shared[0].join("uvx").is_file(),
        "{shared:?}"
    );
    let sb = c.sandbox(SandboxConfig::default()).await.expect("sandbox");
    let out = sb
        .exec("command -v uvx && uvx --version && /run/corral/bin/uv --version")
        .await
        .expect("exec");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.starts_with("/run/corral/uv/uvx\n"), "{t}");
    assert!(out.stderr.is_empty(), "nothing installed: {t}");
    let write = sb
        .exec("touch /run/corral/uv/uvx || rm -f /run/corral/uv/uvx")
        .await
        .expect("exec");
    assert!(!write.status.success(), "{}", text(&write));
    sb.close().await.expect("close");
    c.close().await;
}

/// A `PATH` in a server's env (Claude Desktop files carry the author's, say a Mac's) comes
/// first, and the sandbox's own dirs follow it: the shims and runtimes are still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_in_the_env_keeps_the_sandboxs_own_dirs() {
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let given = "/opt/homebrew/bin:/usr/bin:/bin";
    let sb = c
        .sandbox(SandboxConfig {
            env: [("PATH".to_owned(), given.to_owned())].into(),
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
    let out = sb
        .exec("echo \"$PATH\"; command -v uvx; command -v sudo")
        .await
        .expect("exec");
    let t = text(&out);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with(&format!("{given}:")), "{t}");
    assert!(lines[1..].iter().any(|l| l.ends_with("/uvx")), "{t}");
    assert!(lines.contains(&"/run/corral/bin/sudo"), "{t}");
    // A command's own PATH is merged the same way.
    let mut command = corral_core::Command::shell("echo \"$PATH\"");
    command.env.insert("PATH".into(), "/x".into());
    let out = sb.exec_command(command).await.expect("exec");
    let t = text(&out);
    assert!(t.starts_with("/x:") && t.contains("/run/corral/bin"), "{t}");
    sb.close().await.expect("close");
}

/// A runtime the host keeps in a system dir off the default PATH (Go's `/usr/local/go/bin`)
/// is on the sandbox's PATH too: `go run github.com/…` servers start as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtimes_in_system_dirs_off_the_default_path_are_found() {
    let host_path = std::env::var("PATH").unwrap_or_default();
    let defaults = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    let Some(go) = host_path
        .split(':')
        .filter(|d| d.starts_with("/usr/") && !defaults.contains(d))
        .map(|d| Path::new(d).join("go"))
        .find(|p| p.is_file())
    else {
        eprintln!("no go under /usr off the default PATH on this host: nothing to check");
        return;
    };
    let home = tempfile::tempdir().expect("tmp");
    let c = corral(home.path());
    let sb = c
        .sandbox(SandboxConfig {
            programs: vec!["go".into()],
            ..SandboxConfig::default()
        })
        .await
        .expect("sandbox");
    let out = sb.exec("command -v go").await.expect("exec");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        go.display().to_string(),
        "{}",
        text(&out)
    );
    sb.close().await.expect("close");
    c.close().await;
}
