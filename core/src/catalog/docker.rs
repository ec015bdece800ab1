//! `docker run … mcp/<name>` commands (the Docker variant of many servers' Claude Desktop
//! configs): a sandbox reaches no container daemon, so such a server cannot start there. When
//! the image is one of Docker's MCP catalog images of a server in corral's catalog, the start
//! error says what runs the same server without Docker.

use serde_json::json;

use super::{Catalog, Entry};

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
    let mut command = vec![entry.program()];
    command.extend(entry.args.iter().cloned());
    command.extend(args.iter().cloned());
    let config = json!({"command": command, "install_commands": entry.install_commands()});
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
