//! `docker run … mcp/<name>` commands (the Docker variant of many servers' Claude Desktop
//! configs): a sandbox reaches no container daemon, so such a server cannot start there. When
//! the image is one of Docker's MCP catalog images of a server in corral's catalog, the config
//! runs that server without Docker ([`without_container`]: the same arguments, `-e K=V`, bind
//! mounts at their container paths, `--network none`, `-w`); when the command cannot be carried
//! over, the start error says what runs the same server.

use std::path::PathBuf;

use serde_json::json;

use super::{Catalog, Entry};
use crate::config::Mount;

/// `docker run` options that take a value (as the next argument unless written `--opt=value`).
const WITH_VALUE: &str = "-e --env --env-file -v --volume --mount -w --workdir --name --network --net -p \
    --publish -u --user --entrypoint -l --label --platform --pull --add-host --cpus -m \
    --memory -h --hostname --restart --cap-add --cap-drop --device --dns --security-opt \
    --ulimit --tmpfs --gpus --shm-size --pid --ipc --runtime --log-driver";

/// The image of a `docker run` / `podman run` command line and the arguments after it; `None`
/// for any other command.
fn image(argv: &[String]) -> Option<(&str, &[String])> {
    let program = argv.first()?.rsplit('/').next()?;
    if !matches!(program, "docker" | "podman") {
        return None;
    }
    let run = argv.iter().position(|a| a == "run")?;
    let mut i = run + 1;
    while let Some(arg) = argv.get(i) {
        if !arg.starts_with('-') {
            return Some((arg, &argv[i + 1..]));
        }
        i += if WITH_VALUE.split_whitespace().any(|o| o == arg) {
            2
        } else {
            1
        };
    }
    None
}

/// The catalog entry whose server a Docker MCP catalog image (`mcp/<name>[:tag]`) runs.
fn entry_of(image: &str) -> Option<&'static Entry> {
    let name = image.strip_prefix("docker.io/").unwrap_or(image);
    let name = name.strip_prefix("mcp/")?;
    Catalog::get().entry(name.split([':', '@']).next()?)
}

/// What runs a `docker run` of a catalog image without a container.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Unboxed {
    /// The catalog server's command line with the arguments given after the image.
    pub argv: Vec<String>,
    /// The catalog server's install.
    pub install_commands: Vec<String>,
    /// `-e K=V` (`-e K` passes the entry's own `env`, which the server gets anyway).
    pub env: Vec<(String, String)>,
    /// `-v /host:/target[:ro]` and `--mount type=bind,…`, at their container paths.
    pub mounts: Vec<Mount>,
    /// `--network none`.
    pub no_network: bool,
    /// `-w DIR`.
    pub workdir: Option<String>,
    /// What replaced what, for the config's description.
    pub note: String,
}

/// The catalog server that `argv`, a `docker run` / `podman run` of one of Docker's MCP
/// catalog images, runs, as a command for a sandbox; `None` for any other command, another
/// image, and options that do not carry over (named volumes, `--env-file`, `--entrypoint`).
pub(crate) fn without_container(argv: &[String]) -> Option<Unboxed> {
    let (image, rest) = image(argv)?;
    let entry = entry_of(image)?;
    let run = argv.iter().position(|a| a == "run")?;
    let mut out = Unboxed::default();
    let mut options = argv[run + 1..].iter();
    while let Some(arg) = options.next().filter(|a| a.starts_with('-')) {
        let (option, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let value = match inline {
            v @ Some(_) => v,
            None if WITH_VALUE.split_whitespace().any(|o| o == option) => {
                Some(options.next()?.clone())
            }
            None => None,
        };
        match (option, value.as_deref()) {
            ("-e" | "--env", Some(var)) => {
                if let Some((k, v)) = var.split_once('=') {
                    out.env.push((k.to_owned(), v.to_owned()));
                }
            }
            ("-v" | "--volume", Some(spec)) => out.mounts.push(volume(spec)?),
            ("--mount", Some(spec)) => out.mounts.push(bind(spec)?),
            ("--network" | "--net", Some(net)) => out.no_network = net == "none",
            ("-w" | "--workdir", Some(dir)) => out.workdir = Some(dir.to_owned()),
            ("--env-file" | "--entrypoint" | "--volumes-from", _) => return None,
            _ => {}
        }
    }
    out.argv = command_of(entry, rest);
    out.install_commands = entry.install_commands();
    out.note = format!(
        "{} {} (catalog server `{}`), run without a container in place of `{} run {image}`",
        entry.package, entry.version, entry.name, argv[0]
    );
    Some(out)
}

/// The catalog server's command line, with the arguments the image was given.
fn command_of(entry: &Entry, args: &[String]) -> Vec<String> {
    let mut command = vec![entry.program()];
    command.extend(entry.args.iter().chain(args).cloned());
    command
}

/// `-v /host:/target[:ro]`; `None` for a named volume.
fn volume(spec: &str) -> Option<Mount> {
    let mut parts = spec.split(':');
    let (host, target) = (parts.next()?, parts.next()?);
    let read_only = parts
        .next()
        .is_some_and(|o| o.split(',').any(|o| o == "ro"));
    mount(host, target, read_only)
}

/// `--mount type=bind,source=/host,target=/target[,readonly]`; `None` for other types.
fn bind(spec: &str) -> Option<Mount> {
    let (mut kind, mut host, mut target, mut read_only) = ("volume", None, None, false);
    for part in spec.split(',') {
        let (key, value) = part.split_once('=').unwrap_or((part, "true"));
        match key {
            "type" => kind = value,
            "source" | "src" => host = Some(value),
            "target" | "destination" | "dst" => target = Some(value),
            "readonly" | "ro" => read_only = matches!(value, "true" | "1"),
            _ => {}
        }
    }
    (kind == "bind").then_some(())?;
    mount(host?, target?, read_only)
}

fn mount(host: &str, target: &str, read_only: bool) -> Option<Mount> {
    (host.starts_with('/') && target.starts_with('/')).then(|| Mount {
        host: PathBuf::from(host),
        target: PathBuf::from(target),
        read_only,
    })
}

/// What to do instead of `argv`, a container command that cannot run in a sandbox; `None`
/// when `argv` is not one.
pub(crate) fn hint(argv: &[String]) -> Option<String> {
    let (image, args) = image(argv)?;
    let program = &argv[0];
    let Some(entry) = entry_of(image) else {
        return Some(format!(
            "`{program} run {image}` needs a container daemon, which a sandbox does not reach: run \
             the image's server command itself (its setup in `install_commands`)"
        ));
    };
    let config =
        json!({"command": command_of(entry, args), "install_commands": entry.install_commands()});
    Some(format!(
        "`{program} run {image}` needs a container daemon, which a sandbox does not reach; the \
         image is {} {}, catalog server `{}`, which corral runs without a container: `corral \
         gateway --mcp '{{\"{}\": {{}}}}'`, or this config (keep its `env`): {config}",
        entry.package, entry.version, entry.name, entry.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn finds_the_image_and_its_arguments() {
        let cmd =
            argv("docker run -i --rm -e TOKEN --mount type=bind,src=/a,dst=/b mcp/filesystem /b");
        let (found, args) = image(&cmd).expect("a docker run");
        assert_eq!((found, args), ("mcp/filesystem", &argv("/b")[..]));
        assert_eq!(image(&argv("npx -y pkg")), None);
        assert_eq!(
            image(&argv("/usr/bin/podman run --rm=true mcp/time:latest")).map(|i| i.0),
            Some("mcp/time:latest")
        );
    }

    #[test]
    fn a_catalog_image_runs_without_a_container() {
        let cmd = argv(
            "docker run -i --rm -e TOKEN -e MODE=ro --network=none -w /projects \
             --mount type=bind,src=/home/me/Desktop,dst=/projects/Desktop,readonly \
             -v /home/me/code:/projects/code mcp/filesystem /projects",
        );
        let u = without_container(&cmd).expect("a catalog image");
        assert_eq!(u.argv, argv("mcp-server-filesystem /projects"));
        assert_eq!(u.env, vec![("MODE".to_owned(), "ro".to_owned())]);
        let mounts = [
            "/home/me/Desktop:/projects/Desktop:ro",
            "/home/me/code:/projects/code:rw",
        ];
        assert_eq!(u.mounts, mounts.map(|m| Mount::parse(m).expect("mount")));
        assert!(u.no_network);
        assert_eq!(u.workdir.as_deref(), Some("/projects"));
        assert!(u.install_commands[0].contains("@modelcontextprotocol/server-filesystem@"));
        assert!(u.note.contains("catalog server `filesystem`"), "{}", u.note);
        // What does not carry over stays a container command (its start error says why).
        for line in [
            "docker run -i -v data:/data mcp/filesystem /data",
            "docker run -i --env-file .env mcp/time",
            "docker run -i --mount type=volume,src=v,dst=/d mcp/time",
            "docker run -i ghcr.io/acme/srv",
            "npx -y @modelcontextprotocol/server-filesystem /d",
        ] {
            assert_eq!(without_container(&argv(line)), None, "{line}");
        }
    }

    #[test]
    fn a_catalog_image_is_said_with_its_config() {
        let text = hint(&argv("docker run -i --rm mcp/filesystem /projects")).expect("hint");
        assert!(text.contains("catalog server `filesystem`"), "{text}");
        assert!(
            text.contains(r#""command":["mcp-server-filesystem","/projects"]"#),
            "{text}"
        );
        let other = hint(&argv("docker run -i ghcr.io/acme/srv")).expect("hint");
        assert!(
            other.contains("container daemon") && !other.contains("catalog"),
            "{other}"
        );
        assert_eq!(hint(&argv("uvx mcp-server-time")), None);
    }
}
