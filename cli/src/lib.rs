//! The `corral` command line: manage stored servers, list and call their tools, one-shot
//! `quick` calls, the store file, imports of `mcpServers` documents and shell completions.
//!
//! Output: human-readable by default; with `--json`, exactly one JSON document on stdout.
//! Errors go to stderr as `error[KIND]: message`, and the exit code tells the kind (see
//! [`exit_code`]). On a terminal, install commands and server start show a spinner on stderr
//! (their output is printed with `--verbose`); on a pipe, nothing but the result is printed.

mod progress;

/// `println!` that ignores a closed stdout (e.g. `corral … | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

use std::{
    collections::BTreeMap,
    ffi::OsString,
    io::{BufRead, IsTerminal, Write},
    path::PathBuf,
    sync::Arc,
};

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use corral_core::{
    Corral, CorralOptions, Error, ErrorKind, NetworkPolicy, ServerConfig, StartEvent, Store, Tool,
    ToolResult,
};
use serde_json::{Map, Value, json};

/// Exit code of a tool that ran and reported an error (`isError`).
pub const EXIT_TOOL_ERROR: i32 = 1;
/// Exit code of a usage error (bad flags).
pub const EXIT_USAGE: i32 = 2;

/// The exit code of an error kind: 10 + its position in [`ErrorKind::ALL`] (CONFIG_INVALID =
/// 10, INVALID_ARGUMENT = 11, …; the README's table lists them all).
pub fn exit_code(kind: ErrorKind) -> i32 {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(99, |i| 10 + i as i32)
}

#[derive(Debug, Parser)]
#[command(
    name = "corral",
    version,
    about = "Run MCP servers in sandboxes and call their tools.",
    after_help = "Exit codes: 0 ok · 1 the tool reported an error · 2 usage · 10+ an error kind \
                  (CONFIG_INVALID=10 … CLOSED=26, see the README)."
)]
struct Cli {
    /// Print exactly one JSON document on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Show install and server output.
    #[arg(long, short, global = true)]
    verbose: bool,
    /// The server store file.
    #[arg(long, global = true, env = "CORRAL_CONFIG", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// corral's home (server state, caches).
    #[arg(long, global = true, env = "CORRAL_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// Sandbox provider: local, unsandboxed or e2b (E2B cloud sandboxes; E2B_API_KEY).
    #[arg(long, global = true, env = "CORRAL_PROVIDER", default_value = "local")]
    provider: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage stored servers.
    #[command(subcommand)]
    Server(ServerCmd),
    /// List and call a stored server's tools.
    #[command(subcommand)]
    Tools(ToolsCmd),
    /// One-shot: start a command in a fresh sandbox, call one tool, stop. Saves nothing.
    Quick {
        /// The server command line, e.g. "npx -y @modelcontextprotocol/server-everything".
        command: String,
        /// The tool to call.
        tool: String,
        #[command(flatten)]
        params: Params,
        /// Environment of the server, KEY=VALUE (repeatable).
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Install commands run first (repeatable).
        #[arg(long = "install-commands", value_name = "CMD")]
        install_commands: Vec<String>,
        /// Start the sandbox from this template (see `corral template build`).
        #[arg(long, value_name = "TEMPLATE")]
        template: Option<String>,
    },
    /// Show, edit or reset the server store file.
    Config {
        /// Print the store (secrets masked). The default.
        #[arg(long)]
        show: bool,
        /// Open the store in $EDITOR; the edit is validated before it is saved.
        #[arg(long, conflicts_with_all = ["show", "reset"])]
        edit: bool,
        /// Remove every stored server (asks first on a terminal; --yes elsewhere).
        #[arg(long, conflicts_with = "show")]
        reset: bool,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Build, list and remove templates (named layers built once from install commands).
    #[command(subcommand)]
    Template(TemplateCmd),
    /// Import the servers of an MCP client's file: Claude Desktop, Cursor, Claude Code, VS Code,
    /// Gemini CLI, Windsurf, Codex CLI (`config.toml`), Zed, Roo Code/Cline (see the README).
    ///
    /// `${VAR}` and `${VAR:-default}` in an entry's command, args, env, url and headers are
    /// expanded from the environment, as Claude Code does. A sandbox sees only the host paths
    /// mounted into it: the host paths an entry's arguments name (a `filesystem` server's
    /// directories) are listed, and mounted with --mount-args.
    Import {
        /// The JSON (or TOML) file, or a client whose own file to read: claude-desktop,
        /// claude-code, cursor, vscode, gemini, windsurf, codex, zed, cline, roo (a project's
        /// file in the current directory first, where the client has one).
        file: PathBuf,
        /// Mount the existing host paths each server's arguments name, read-write at the same
        /// path (what the server reached without a sandbox; nothing else of the host).
        #[arg(long)]
        mount_args: bool,
    },
    /// E2B sandboxes of this corral home (provider `e2b`).
    #[command(subcommand)]
    E2b(E2bCmd),
    /// Publish servers behind one authenticated Streamable-HTTP MCP endpoint, until Ctrl-C.
    ///
    /// Serves the stored servers (or those of --config FILE; --server picks some), prints the
    /// URL, the bearer token and a ready-to-paste `claude mcp add` line, and stops every
    /// sandbox on Ctrl-C or SIGTERM.
    Gateway(GatewayArgs),
    /// The catalog of well-known MCP servers usable by name in `gateway --mcp`.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Install catalog servers ahead of time (as templates `catalog-<name>`), so the first
    /// gateway start that uses them is fast.
    Pull {
        /// Catalog names (see `corral catalog list`).
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the JSON Schema of the canonical JSON forms corral writes (`--json`, Python's
    /// `to_dict()`, Node's `toJSON()`: `ServerConfig`, `Tool`, `ToolResult`, ...) and of the
    /// gateway options it reads, one document with each under `$defs`.
    Schema,
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
struct GatewayArgs {
    /// An `mcpServers` (or corral) JSON/TOML document to serve instead of the stored servers,
    /// or a client whose file to read (as `corral import`: claude-desktop, cursor, …).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Mount the existing host paths the --config servers' arguments name, read-write at the
    /// same path (as `corral import --mount-args`).
    #[arg(long, requires = "config")]
    mount_args: bool,
    /// Serve only this server (repeatable).
    #[arg(long = "server", value_name = "NAME")]
    servers: Vec<String>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The bearer token (default: a random one). Prefer the environment variable.
    #[arg(long, env = "CORRAL_GATEWAY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Serve without a token (loopback addresses only).
    #[arg(long)]
    no_auth: bool,
    /// Above this many tools, publish `search_tools` + `call_tool` instead.
    #[arg(long, default_value_t = 64)]
    tool_budget: usize,
    /// How long tools/list waits for servers still starting (ms).
    #[arg(long, default_value_t = 3000)]
    discovery_deadline_ms: u64,
    /// Start servers at the first request instead of at once.
    #[arg(long)]
    lazy: bool,
    /// Also accept this Host header value (repeatable).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Also accept this Origin (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Servers E2B style, as JSON: catalog names with their keys, `github/<owner>/<repo>`
    /// custom servers, server configs, `mcpServers` (see `corral catalog list`).
    #[arg(long, value_name = "JSON", conflicts_with = "mcp_file")]
    mcp: Option<String>,
    /// Like --mcp, from a JSON file.
    #[arg(long, value_name = "FILE")]
    mcp_file: Option<PathBuf>,
    /// With `--provider e2b`: run --mcp in E2B's own gateway (one `mcp-gateway`-template
    /// sandbox, as E2B's SDKs do) instead of corral's gateway in front of one sandbox per server.
    #[arg(long)]
    e2b_gateway: bool,
}

#[derive(Debug, Subcommand)]
enum CatalogCmd {
    /// Every catalog server: name, package, keys.
    List {
        /// Print the README's Markdown table instead.
        #[arg(long)]
        markdown: bool,
    },
    /// One server: package, how it runs, and where each key goes.
    Show {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum E2bCmd {
    /// List the E2B sandboxes this corral home created (by their `corral_home` metadata),
    /// with how many corrals hold each.
    Ls,
    /// Kill the E2B sandboxes of this home that no corral holds (a fresh lease).
    Gc {
        /// Kill every sandbox of this home, held or not.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ServerCmd {
    /// Add (or replace) a server.
    Add {
        /// Its name.
        name: String,
        /// The command line that starts it (split like a shell would).
        #[arg(long)]
        command: String,
        /// Environment, KEY=VALUE (repeatable). Stored in the store file (mode 0600), never printed.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Install commands run once inside the sandbox before the first start (repeatable).
        #[arg(long = "install-commands", value_name = "CMD")]
        install_commands: Vec<String>,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        /// Idle timeout in minutes.
        #[arg(long, value_name = "MINUTES")]
        timeout: Option<f64>,
        /// Network access.
        #[arg(long, value_enum, default_value = "all")]
        network: Network,
        /// A host path made visible inside, PATH[:TARGET][:ro|:rw] (repeatable; read-only by default).
        #[arg(long = "mount", value_name = "PATH[:ro]")]
        mounts: Vec<String>,
        /// Start the sandbox from this template (see `corral template build`).
        #[arg(long, value_name = "TEMPLATE")]
        template: Option<String>,
        /// A free label for grouping servers (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// List stored servers (secrets masked).
    List,
    /// Remove layers and state no stored server uses any more (and leftovers of dead runs).
    Prune,
    /// Show one stored server in the canonical JSON form (secrets masked).
    Show {
        /// Its name.
        name: String,
    },
    /// Remove a server (asks first on a terminal unless --yes).
    Remove {
        /// Its name.
        name: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TemplateCmd {
    /// Build a template from install commands (once per content; again only renames it).
    Build {
        /// Its name (servers say `"template": NAME`).
        name: String,
        /// Install commands, run in order as root inside (repeatable).
        #[arg(long = "install-commands", value_name = "CMD", required = true)]
        install_commands: Vec<String>,
        /// Build on top of this template.
        #[arg(long = "from", value_name = "TEMPLATE")]
        base: Option<String>,
    },
    /// List templates with their sizes.
    List,
    /// Remove a template.
    Remove {
        /// Its name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum ToolsCmd {
    /// List a server's tools.
    List {
        /// The server.
        server: String,
    },
    /// Call a tool.
    #[command(visible_alias = "call")]
    Execute {
        /// The server.
        server: String,
        /// The tool.
        tool: String,
        #[command(flatten)]
        params: Params,
    },
}

#[derive(Debug, clap::Args)]
struct Params {
    /// All arguments as one JSON object.
    #[arg(long, value_name = "JSON")]
    params: Option<String>,
    /// One argument, key=value; the value is parsed as JSON when it parses, else taken as a
    /// string (repeatable).
    #[arg(long = "param", value_name = "K=V")]
    param: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Network {
    All,
    None,
}

/// Runs the CLI with `args` (including the program name) and returns the exit code.
/// Never panics: a panic inside is reported as an internal error (exit 99).
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { 0 };
        }
    };
    std::panic::catch_unwind(move || run_blocking(cli)).unwrap_or_else(|_| {
        eprintln!("error[INTERNAL]: corral panicked; please report this");
        99
    })
}

fn run_blocking(cli: Cli) -> i32 {
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error[IO]: cannot start the async runtime: {e}");
            return exit_code(ErrorKind::Io);
        }
    };
    let result = runtime.block_on(run(cli));
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => code,
        Err(e) => {
            if json {
                print_json(&json!({ "error": e.to_value() }));
            }
            eprintln!("error[{}]: {}", e.kind().code(), e.message());
            exit_code(e.kind())
        }
    }
}

struct Ctx {
    json: bool,
    verbose: bool,
    store: Store,
    home: Option<PathBuf>,
    provider: String,
}

async fn run(cli: Cli) -> Result<i32, Error> {
    let ctx = Ctx {
        json: cli.json,
        verbose: cli.verbose,
        store: Store::open(cli.config_file.unwrap_or_else(Store::default_path)),
        home: cli.home,
        provider: cli.provider,
    };
    match cli.command {
        Command::Server(cmd) => server(&ctx, cmd),
        Command::Template(cmd) => template(&ctx, cmd).await,
        Command::Tools(ToolsCmd::List { server }) => tools_list(&ctx, &server).await,
        Command::Tools(ToolsCmd::Execute {
            server,
            tool,
            params,
        }) => {
            let config = stored(&ctx, &server)?;
            call(&ctx, config, &tool, &params, None).await
        }
        Command::Quick {
            command,
            tool,
            params,
            env,
            install_commands,
            template,
        } => {
            let mut config = ServerConfig::command("quick", &command)?;
            config.env = parse_env(&env, "quick")?;
            config.install_commands = install_commands;
            let from_template = template.is_some();
            config.template = template;
            let scratch = tempfile_dir()?;
            // The scratch home keeps nothing, but sees corral's templates and its shared tools
            // (the uv of sandboxes on a host without one), which it fills when they are missing.
            let home = ctx.home.clone().unwrap_or_else(corral_core::default_home);
            let _ = std::fs::create_dir_all(home.join("tools"));
            for dir in ["tools"]
                .into_iter()
                .chain(from_template.then_some("templates"))
            {
                let _ = std::os::unix::fs::symlink(home.join(dir), scratch.join(dir));
            }
            call(&ctx, config, &tool, &params, Some(scratch.clone()))
                .await
                .inspect(|_| {
                    let _ = std::fs::remove_dir_all(&scratch);
                })
        }
        Command::Config {
            edit, reset, yes, ..
        } => config_cmd(&ctx, edit, reset, yes),
        Command::Import { file, mount_args } => {
            let (file, text) = read_document(&file)?;
            let mut servers =
                corral_core::config::parse_servers_document_with(&text, &expanding(&file))?;
            let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
            if !ctx.json {
                containers_replaced(&text, &servers);
            }
            let host_paths = host_paths_in_args(&ctx, &mut servers, mount_args);
            ctx.store.update(|all| {
                for s in &servers {
                    all.insert(s.name.clone(), s.to_value());
                }
                Ok(())
            })?;
            if ctx.json {
                print_json(
                    &json!({"imported": names, "from": file, "hostPaths": host_paths, "mounted": mount_args}),
                );
            } else {
                out!(
                    "imported {} server(s) from {}: {}",
                    names.len(),
                    file.display(),
                    names.join(", ")
                );
            }
            Ok(0)
        }
        Command::E2b(cmd) => e2b_cmd(&ctx, cmd).await,
        Command::Gateway(args) => gateway(&ctx, args).await,
        Command::Catalog(cmd) => catalog_cmd(&ctx, cmd),
        Command::Pull { names } => pull(&ctx, &names).await,
        Command::Schema => {
            out!(
                "{}",
                serde_json::to_string_pretty(&corral_core::boundary::json_schema())
                    .unwrap_or_default()
            );
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "corral", &mut script);
            let _ = std::io::stdout().lock().write_all(&script);
            Ok(0)
        }
    }
}

fn server(ctx: &Ctx, cmd: ServerCmd) -> Result<i32, Error> {
    match cmd {
        ServerCmd::Add {
            name,
            command,
            env,
            install_commands,
            description,
            timeout,
            network,
            mounts,
            template,
            tags,
        } => {
            // The flags become the canonical form, read by the one config parser.
            let mut form = json!({
                "command": command,
                "env": parse_env(&env, &name)?,
                "installCommands": install_commands,
                "network": match network {
                    Network::All => NetworkPolicy::All,
                    Network::None => NetworkPolicy::None,
                },
                "mounts": mounts,
                "tags": tags,
            });
            if let Some(t) = template {
                form["template"] = t.into();
            }
            if let Some(d) = description {
                form["description"] = d.into();
            }
            if let Some(minutes) = timeout {
                form["timeoutMinutes"] = serde_json::Number::from_f64(minutes)
                    .ok_or_else(|| {
                        Error::config(
                            format!("servers.{name}.timeoutMinutes"),
                            "must be a positive number",
                        )
                    })?
                    .into();
            }
            let config = ServerConfig::from_value(&name, &form)?;
            ctx.store.put(&config)?;
            if ctx.json {
                print_json(&json!({"added": name}));
            } else {
                out!("added server `{name}`");
            }
            Ok(0)
        }
        ServerCmd::Prune => {
            let keep: Vec<String> = ctx.store.load()?.into_iter().map(|s| s.name).collect();
            let home = ctx.home.clone().unwrap_or_else(corral_core::default_home);
            let report = corral_core::install::prune(&home, Some(&keep))?;
            if ctx.json {
                print_json(&json!(report));
            } else {
                for p in &report.removed {
                    out!("removed {}", p.display());
                }
                out!(
                    "freed {:.1} MiB",
                    report.freed_bytes as f64 / (1024.0 * 1024.0)
                );
            }
            Ok(0)
        }
        ServerCmd::List => {
            let servers = ctx.store.load()?;
            if ctx.json {
                let list: Vec<Value> = servers.iter().map(|s| masked(&s.to_value())).collect();
                print_json(&Value::from(list));
            } else if servers.is_empty() {
                out!("no servers (add one with `corral server add NAME --command CMD`)");
            } else {
                for s in &servers {
                    let target = match &s.transport {
                        corral_core::Transport::Stdio { argv } => argv.join(" "),
                        corral_core::Transport::Http { url, .. } => url.clone(),
                    };
                    out!("{}\t{target}", s.name);
                    if let Some(d) = &s.description {
                        out!("\t{d}");
                    }
                    if !s.env.is_empty() {
                        let keys: Vec<String> = s.env.keys().map(|k| format!("{k}=****")).collect();
                        out!("\tenv: {}", keys.join(" "));
                    }
                    if !s.tags.is_empty() {
                        out!("\ttags: {}", s.tags.join(" "));
                    }
                }
            }
            Ok(0)
        }
        ServerCmd::Show { name } => {
            let shown = masked(&stored(ctx, &name)?.to_value());
            if ctx.json {
                print_json(&shown);
            } else {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&shown).unwrap_or_default()
                );
            }
            Ok(0)
        }
        ServerCmd::Remove { name, yes } => {
            if !ctx.store.load()?.iter().any(|s| s.name == name) {
                return Err(Error::new(
                    ErrorKind::ServerNotFound,
                    format!("no server named `{name}` is stored"),
                ));
            }
            if !yes && interactive() && !confirm(&format!("Remove server `{name}`?"))? {
                return Err(Error::new(ErrorKind::Cancelled, "not removed"));
            }
            ctx.store.remove(&name)?;
            if ctx.json {
                print_json(&json!({"removed": name}));
            } else {
                out!("removed server `{name}`");
            }
            Ok(0)
        }
    }
}

async fn template(ctx: &Ctx, cmd: TemplateCmd) -> Result<i32, Error> {
    let corral = open_corral(ctx, None)?;
    let result = match cmd {
        TemplateCmd::Build {
            name,
            install_commands,
            base,
        } => {
            let spinner = progress::Spinner::start(
                show_progress(ctx),
                format!("building template `{name}`…"),
            );
            let built = corral
                .build_template(&name, &install_commands, base.as_deref())
                .await;
            spinner.stop();
            built.map(|t| {
                if ctx.json {
                    print_json(&json!(t));
                } else {
                    out!("built template `{}` ({})", t.name, t.id);
                }
                0
            })
        }
        TemplateCmd::List => {
            let list = corral.list_templates();
            if ctx.json {
                print_json(&json!(list));
            } else if list.is_empty() {
                out!(
                    "no templates (build one with `corral template build NAME --install-commands CMD`)"
                );
            } else {
                for t in &list {
                    out!(
                        "{}\t{}\t{:.1} MiB\t{}",
                        t.name,
                        t.id,
                        t.size_bytes as f64 / (1024.0 * 1024.0),
                        t.install_commands.join(" && ")
                    );
                }
            }
            Ok(0)
        }
        TemplateCmd::Remove { name } => corral.remove_template(&name).map(|()| {
            if ctx.json {
                print_json(&json!({"removed": name}));
            } else {
                out!("removed template `{name}`");
            }
            0
        }),
    };
    corral.close().await;
    result
}

fn config_cmd(ctx: &Ctx, edit: bool, reset: bool, yes: bool) -> Result<i32, Error> {
    let path = ctx.store.path().display().to_string();
    if reset {
        if !yes {
            if !interactive() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "`config --reset` needs --yes when not run on a terminal",
                ));
            }
            if !confirm(&format!("Remove every server from {path}?"))? {
                return Err(Error::new(ErrorKind::Cancelled, "nothing was reset"));
            }
        }
        ctx.store.reset()?;
        if ctx.json {
            print_json(&json!({"reset": path}));
        } else {
            out!("reset {path}");
        }
        return Ok(0);
    }
    if edit {
        let editor = std::env::var("VISUAL")
            .or_else(|_| std::env::var("EDITOR"))
            .unwrap_or_else(|_| "vi".into());
        let scratch = tempfile_dir()?;
        let draft = scratch.join("servers.json");
        std::fs::write(&draft, ctx.store.text()?)
            .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
        let argv = corral_core::config::split_command(&editor)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("$EDITOR: {e}")))?;
        let status = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .arg(&draft)
            .status()
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot run {editor}: {e}")))?;
        let text =
            std::fs::read_to_string(&draft).map_err(|e| Error::new(ErrorKind::Io, e.to_string()));
        let _ = std::fs::remove_dir_all(&scratch);
        if !status.success() {
            return Err(Error::new(
                ErrorKind::Cancelled,
                format!("{editor} failed; nothing saved"),
            ));
        }
        let servers = corral_core::config::parse_servers_document(&text?)?;
        ctx.store.update(|all| {
            all.clear();
            for s in &servers {
                all.insert(s.name.clone(), s.to_value());
            }
            Ok(())
        })?;
        if !ctx.json {
            out!("saved {} server(s) to {path}", servers.len());
        } else {
            print_json(&json!({"saved": servers.len()}));
        }
        return Ok(0);
    }
    let doc: Value = serde_json::from_str(&ctx.store.text()?).unwrap_or(Value::Null);
    let servers = doc.get("servers").cloned().unwrap_or(json!({}));
    let shown: Map<String, Value> = servers
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), masked(v))).collect())
        .unwrap_or_default();
    if ctx.json {
        print_json(&json!({"path": path, "servers": shown}));
    } else {
        out!("# {path}");
        out!(
            "{}",
            serde_json::to_string_pretty(&json!({"servers": shown})).unwrap_or_default()
        );
    }
    Ok(0)
}

async fn tools_list(ctx: &Ctx, server: &str) -> Result<i32, Error> {
    let config = stored(ctx, server)?;
    let corral = open_corral(ctx, None)?;
    corral.add_server(config).await?;
    let spinner = progress::Spinner::start(show_progress(ctx), format!("starting `{server}`…"));
    hook_progress(ctx, &corral, &spinner);
    let tools = corral.discover_tools(server).await;
    spinner.stop();
    corral.close().await;
    let tools = tools?;
    if ctx.json {
        print_json(&serde_json::to_value(&tools).unwrap_or(Value::Null));
    } else {
        for t in &tools {
            let desc = t
                .description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or_default();
            out!("{}\t{desc}", t.name);
            out!("\t({})", t.describe_parameters());
        }
    }
    Ok(0)
}

async fn call(
    ctx: &Ctx,
    config: ServerConfig,
    tool: &str,
    params: &Params,
    home: Option<PathBuf>,
) -> Result<i32, Error> {
    let arguments = parse_params(params)?;
    let name = config.name.clone();
    let corral = open_corral(ctx, home)?;
    corral.add_server(config).await?;
    let spinner = progress::Spinner::start(show_progress(ctx), format!("starting `{name}`…"));
    hook_progress(ctx, &corral, &spinner);
    let outcome = async {
        let tools = corral.discover_tools(&name).await?;
        let spec: &Tool = tools.iter().find(|t| t.name == tool).ok_or_else(|| {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            Error::new(
                ErrorKind::ToolNotFound,
                format!(
                    "server `{name}` has no tool `{tool}` (it offers: {})",
                    names.join(", ")
                ),
            )
        })?;
        spec.check_arguments(&arguments)?;
        spinner.set(format!("calling `{tool}`…"));
        corral.execute_tool(&name, tool, arguments).await
    }
    .await;
    spinner.stop();
    corral.close().await;
    let result: ToolResult = outcome?;
    if ctx.json {
        print_json(&result.to_value());
    } else {
        let text = result.text();
        if result.is_error {
            eprintln!("{text}");
        } else {
            out!("{text}");
            if text.is_empty()
                && let Some(s) = &result.structured_content
            {
                out!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
            }
        }
    }
    Ok(if result.is_error { EXIT_TOOL_ERROR } else { 0 })
}

fn mcp_arg(args: &GatewayArgs) -> Result<Option<Map<String, Value>>, Error> {
    let (text, what) = match (&args.mcp, &args.mcp_file) {
        (Some(t), _) => (t.clone(), "--mcp".to_owned()),
        (None, Some(f)) => (
            std::fs::read_to_string(f).map_err(|e| {
                Error::new(ErrorKind::ConfigInvalid, format!("{}: {e}", f.display()))
            })?,
            f.display().to_string(),
        ),
        (None, None) => return Ok(None),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(Error::config(
            "mcp",
            format!("{what}: must be a JSON object"),
        )),
        Err(e) => Err(Error::config("mcp", format!("{what}: invalid JSON: {e}"))),
    }
}

/// Where each client keeps its servers, relative to the current directory (a project's own
/// file, first) or to the home (`~/`; `~/.config` is also `$XDG_CONFIG_HOME`); the first that
/// exists is read.
const CLIENT_FILES: &[(&str, &[&str])] = &[
    (
        "claude-desktop",
        &[
            "~/.config/Claude/claude_desktop_config.json",
            "~/Library/Application Support/Claude/claude_desktop_config.json",
        ],
    ),
    ("claude-code", &[".mcp.json", "~/.claude.json"]),
    ("cursor", &[".cursor/mcp.json", "~/.cursor/mcp.json"]),
    (
        "vscode",
        &[
            ".vscode/mcp.json",
            "~/.config/Code/User/mcp.json",
            "~/Library/Application Support/Code/User/mcp.json",
        ],
    ),
    (
        "gemini",
        &[".gemini/settings.json", "~/.gemini/settings.json"],
    ),
    ("windsurf", &["~/.codeium/windsurf/mcp_config.json"]),
    ("codex", &["~/.codex/config.toml"]),
    ("zed", &["~/.config/zed/settings.json"]),
    (
        "cline",
        &[
            "~/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
            "~/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        ],
    ),
    (
        "roo",
        &[
            "~/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
            "~/Library/Application Support/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
        ],
    ),
];

/// Reads a servers document: `arg` is its path, or the name of a client whose file to read
/// (see [`CLIENT_FILES`]; a file of that name wins).
fn read_document(arg: &std::path::Path) -> Result<(PathBuf, String), Error> {
    let client = arg.to_str().and_then(|name| {
        CLIENT_FILES
            .iter()
            .find(|(client, _)| *client == name)
            .filter(|_| !arg.exists())
    });
    let file = match client {
        None => arg.to_owned(),
        Some((name, places)) => {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from);
            let candidates: Vec<PathBuf> = places
                .iter()
                .flat_map(|p| match p.strip_prefix("~/") {
                    // `~/.config` is `$XDG_CONFIG_HOME` where that is set.
                    Some(rest) => {
                        let config = rest
                            .strip_prefix(".config/")
                            .and_then(|r| Some(xdg.as_ref()?.join(r)));
                        config
                            .into_iter()
                            .chain(home.as_ref().map(|h| h.join(rest)))
                            .collect()
                    }
                    None => vec![PathBuf::from(p)],
                })
                .collect();
            let codex_home = std::env::var_os("CODEX_HOME")
                .filter(|_| *name == "codex")
                .map(|h| PathBuf::from(h).join("config.toml"));
            codex_home
                .into_iter()
                .chain(candidates.iter().cloned())
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    let tried: Vec<String> =
                        candidates.iter().map(|p| p.display().to_string()).collect();
                    Error::config(
                        name,
                        format!("no {name} file found (tried {})", tried.join(", ")),
                    )
                })?
        }
    };
    let mut text = std::fs::read_to_string(&file)
        .map_err(|e| Error::config(file.display(), &e).with_source(e))?;
    if client.is_some_and(|(name, _)| *name == "claude-code")
        && file.file_name().is_some_and(|n| n == ".claude.json")
    {
        text = claude_code_servers(&text, &file)?;
    }
    // A client's own file holds much else: without its servers, it has none.
    if let Some((name, _)) = client
        && corral_core::config::parse_document(&text).is_ok_and(|d| {
            corral_core::config::document_entries(&d)
                .is_none_or(|(_, e)| e.as_object().is_some_and(Map::is_empty))
        })
    {
        return Err(Error::config(
            name,
            format!("{} names no MCP servers", file.display()),
        ));
    }
    Ok((file, text))
}

/// The servers Claude Code's `~/.claude.json` gives the current directory: its user-scope
/// `mcpServers` and, over them, the local-scope ones of this project (`claude mcp add`'s
/// default scope, kept under `projects.<absolute path>`), as one `mcpServers` document.
fn claude_code_servers(text: &str, file: &std::path::Path) -> Result<String, Error> {
    let document = corral_core::config::parse_document(text)
        .map_err(|e| Error::config(file.display(), e.message()))?;
    let mut servers = document
        .get("mcpServers")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let here = std::env::current_dir().ok();
    let real = here.as_ref().and_then(|d| d.canonicalize().ok());
    let project = [here, real].into_iter().flatten().find_map(|d| {
        document
            .get("projects")?
            .get(d.to_str()?)?
            .get("mcpServers")?
            .as_object()
    });
    if let Some(local) = project {
        servers.extend(local.clone());
    }
    Ok(json!({ "mcpServers": servers }).to_string())
}

/// How `import` and `gateway --config` read the document `file`: `${VAR}` expanded from the
/// environment they run in, as Claude Code reads its `.mcp.json` (a user's own file, in the
/// user's shell).
fn expanding(file: &std::path::Path) -> corral_core::LoadOptions {
    corral_core::LoadOptions::new(false, true).for_file(file)
}

/// Says which of a JSON document's `docker run` entries run as the catalog server their image
/// packages (see `ServerConfig::from_value`): their command is no longer the document's.
fn containers_replaced(text: &str, servers: &[corral_core::ServerConfig]) {
    let Ok(document) = corral_core::config::parse_document(text) else {
        return;
    };
    let entries = corral_core::config::document_entries(&document).map_or(&document, |(_, e)| e);
    let container = |program: Option<&str>| {
        let name = program.and_then(|p| p.split_whitespace().next()?.rsplit('/').next());
        matches!(name, Some("docker" | "podman"))
    };
    for s in servers {
        let runs = match &s.transport {
            corral_core::Transport::Stdio { argv } => argv.first().map(String::as_str),
            corral_core::Transport::Http { .. } => None,
        };
        if container(entries[&s.name]["command"].as_str()) && !container(runs) {
            eprintln!(
                "{}: {}",
                s.name,
                s.description.as_deref().unwrap_or_default()
            );
        }
    }
}

/// The host paths each server's arguments name (see `ServerConfig::host_paths_in_args`),
/// mounted when `mount`; said on stderr, and returned as `{server: [path]}`.
fn host_paths_in_args(
    ctx: &Ctx,
    servers: &mut [corral_core::ServerConfig],
    mount: bool,
) -> Map<String, Value> {
    let mut found = Map::new();
    for s in servers {
        let paths = if mount {
            s.mount_host_paths_in_args()
        } else {
            s.host_paths_in_args()
        };
        if paths.is_empty() {
            continue;
        }
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        if !ctx.json {
            let what = if mount {
                "mounted read-write"
            } else {
                "not visible in its sandbox (--mount-args mounts them)"
            };
            eprintln!(
                "{}: host paths in its arguments or cwd {what}: {}",
                s.name,
                list.join(", ")
            );
        }
        found.insert(s.name.clone(), json!(list));
    }
    found
}

async fn gateway(ctx: &Ctx, args: GatewayArgs) -> Result<i32, Error> {
    init_logging(ctx.verbose);
    let mcp = mcp_arg(&args)?;
    let mut servers = match &args.config {
        Some(file) => {
            let (file, text) = read_document(file)?;
            let mut servers =
                corral_core::config::parse_servers_document_with(&text, &expanding(&file))?;
            host_paths_in_args(ctx, &mut servers, args.mount_args);
            servers
        }
        // With --mcp, the stored servers are served only when --server names them.
        None if mcp.is_some() && args.servers.is_empty() => Vec::new(),
        None => ctx.store.load()?,
    };
    for name in &args.servers {
        if !servers.iter().any(|s| &s.name == name) {
            return Err(Error::new(
                ErrorKind::ServerNotFound,
                format!("no server named `{name}` (see `corral server list` or --config)"),
            ));
        }
    }
    if !args.servers.is_empty() {
        servers.retain(|s| args.servers.contains(&s.name));
    }
    if servers.is_empty() && mcp.is_none() {
        return Err(Error::new(
            ErrorKind::ConfigInvalid,
            "no servers to serve: add some with `corral server add`, or pass --config FILE or --mcp JSON",
        ));
    }
    let corral = open_corral(ctx, None)?;
    let stop = stop_signals();
    let served = async {
        let mut names = Vec::new();
        for s in servers {
            names.push(s.name.clone());
            corral.add_server(s).await?;
        }
        let options = corral_core::GatewayOptions {
            host: args.host.clone(),
            port: args.port,
            token: args.token.clone(),
            auth: !args.no_auth,
            tool_budget: args.tool_budget,
            discovery_deadline_ms: args.discovery_deadline_ms,
            eager: !args.lazy,
            allowed_hosts: args.allow_hosts.clone(),
            allowed_origins: args.allow_origins.clone(),
            servers: (mcp.is_some() && !names.is_empty()).then_some(names),
            mcp: mcp.clone(),
            e2b_gateway: args.e2b_gateway,
            ..corral_core::GatewayOptions::default()
        };
        let gw = corral.start_gateway(options).await?;
        let mut names: Vec<String> = gw.servers().into_iter().map(|s| s.name).collect();
        if args.e2b_gateway {
            // E2B's gateway reports no health: its servers are the `mcp` keys.
            names = mcp.iter().flat_map(|m| m.keys().cloned()).collect();
        }
        let headers: Map<String, Value> = gw
            .headers()
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        if ctx.json {
            print_json(&json!({"url": gw.url(), "token": gw.token(), "servers": names, "headers": headers}));
        } else {
            out!("corral gateway serving {} server(s): {}", names.len(), names.join(", "));
            out!("url:   {}", gw.url());
            if gw.token().is_empty() {
                out!("token: (none: --no-auth)");
                out!("claude mcp add --transport http corral {}", gw.url());
            } else {
                out!("token: {}", gw.token());
                let extra: String = gw
                    .headers()
                    .iter()
                    .map(|(k, v)| format!(" --header \"{k}: {v}\""))
                    .collect();
                out!(
                    "claude mcp add --transport http corral {} --header \"Authorization: Bearer {}\"{extra}",
                    gw.url(),
                    gw.token()
                );
            }
            for (k, v) in gw.headers() {
                out!("also send the header  {k}: {v}");
            }
            if !args.e2b_gateway {
                out!("health: GET {}", gw.url().trim_end_matches("/mcp").to_owned() + "/health");
            }
            out!("Ctrl-C stops the gateway and every sandbox.");
        }
        stop.await;
        gw.close().await;
        Ok::<_, Error>(())
    }
    .await;
    corral.close().await;
    served.map(|()| 0)
}

fn catalog_cmd(ctx: &Ctx, cmd: CatalogCmd) -> Result<i32, Error> {
    let catalog = corral_core::catalog::Catalog::get();
    match cmd {
        CatalogCmd::List { markdown: true } => {
            out!("{}", catalog.markdown_table().trim_end());
            Ok(0)
        }
        CatalogCmd::List { markdown: false } => {
            if ctx.json {
                print_json(&json!(catalog.entries()));
                return Ok(0);
            }
            for e in catalog.entries() {
                let keys: Vec<String> = e
                    .keys
                    .iter()
                    .map(|(k, key)| {
                        if key.required {
                            format!("{k}*")
                        } else {
                            k.clone()
                        }
                    })
                    .collect();
                out!(
                    "{:<20} {:<48} {}",
                    e.name,
                    format!("{}@{}", e.package, e.version),
                    keys.join(" ")
                );
            }
            out!(
                "({} servers; * = required key; `corral catalog show NAME` for details)",
                catalog.entries().len()
            );
            Ok(0)
        }
        CatalogCmd::Show { name } => {
            let e = catalog.require(&name, "name")?;
            if ctx.json {
                print_json(&json!(e));
                return Ok(0);
            }
            let registry = match e.registry {
                corral_core::catalog::Registry::Npm => "npm",
                corral_core::catalog::Registry::Pypi => "PyPI",
            };
            out!("{}: {}", e.name, e.description);
            out!("package: {registry} {}@{}", e.package, e.version);
            out!("install: {}", e.install_commands().join(" && "));
            out!("run:     {} {}", e.program(), e.args.join(" "));
            if e.keys.is_empty() {
                out!("keys:    none");
            }
            for (k, key) in &e.keys {
                let to = match (&key.env, &key.arg) {
                    (Some(env), _) => format!("env {env}"),
                    (None, Some(a)) => format!("argument {a}"),
                    (None, None) => "positional arguments".to_owned(),
                };
                let req = if key.required { "required" } else { "optional" };
                let secret = if key.secret { ", secret" } else { "" };
                out!("  {k} ({req}{secret}) → {to}: {}", key.description);
            }
            Ok(0)
        }
    }
}

async fn pull(ctx: &Ctx, names: &[String]) -> Result<i32, Error> {
    let catalog = corral_core::catalog::Catalog::get();
    for n in names {
        catalog.require(n, format!("pull.{n}").as_str())?;
    }
    let corral = open_corral(ctx, None)?;
    let mut built = Vec::new();
    let mut result = Ok(0);
    for name in names {
        let spinner = progress::Spinner::start(show_progress(ctx), format!("pulling `{name}`…"));
        let started = std::time::Instant::now();
        let r = corral.pull(std::slice::from_ref(name)).await;
        spinner.stop();
        match r {
            Ok(t) => {
                let secs = started.elapsed().as_secs_f64();
                let template = t.first().map(|t| t.name.clone()).unwrap_or_default();
                if !ctx.json {
                    out!("pulled `{name}` as template `{template}` in {secs:.1}s");
                }
                built.push(json!({"name": name, "template": template, "seconds": secs}));
            }
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    if ctx.json && result.is_ok() {
        print_json(&json!({ "pulled": built }));
    }
    corral.close().await;
    result
}

/// Resolves at the first Ctrl-C or SIGTERM after the call (not after the first poll: the
/// handlers are in place before the gateway says it serves, so a signal sent as soon as it
/// does stops it cleanly rather than killing it).
fn stop_signals() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    async fn next(s: Option<&mut Signal>) {
        match s {
            Some(s) => drop(s.recv().await),
            None => std::future::pending().await,
        }
    }
    let (mut int, mut term) = (
        signal(SignalKind::interrupt()).ok(),
        signal(SignalKind::terminate()).ok(),
    );
    async move {
        tokio::select! {
            () = next(int.as_mut()) => {}
            () = next(term.as_mut()) => {}
        }
    }
}

/// The gateway's log lines (one per call, upstream failures) go to stderr.
fn init_logging(verbose: bool) {
    use tracing_subscriber::{
        filter::{LevelFilter, Targets},
        prelude::*,
    };
    let level = if verbose {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let filter = Targets::new()
        .with_target("corral::gateway", level)
        .with_target("corral_core::gateway", level)
        .with_default(LevelFilter::WARN);
    // rmcp logs every error its handler answers at WARN ("response error", the one event of
    // `rmcp::service` with both an `id` and an `error` field). Those answers are the gateway's
    // own decisions (an unknown tool, a refused `roots/list`: server-filesystem asks at every
    // start), logged by corral where they matter; with -v they still show.
    let quiet = tracing_subscriber::filter::filter_fn(move |m| {
        let answered_error = m.target() == "rmcp::service"
            && LevelFilter::WARN == *m.level()
            && m.fields().field("id").is_some()
            && m.fields().field("error").is_some();
        verbose || !answered_error
    });
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(filter)
                .with_filter(quiet),
        )
        .try_init();
}

fn open_corral(ctx: &Ctx, home: Option<PathBuf>) -> Result<Corral, Error> {
    Corral::with_options(CorralOptions {
        provider: Some(ctx.provider.clone()),
        home: home.or_else(|| ctx.home.clone()),
        ..CorralOptions::default()
    })
}

fn stored(ctx: &Ctx, name: &str) -> Result<ServerConfig, Error> {
    ctx.store
        .load()?
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::ServerNotFound,
                format!("no server named `{name}` is stored (see `corral server list`)"),
            )
        })
}

fn show_progress(ctx: &Ctx) -> bool {
    !ctx.json && std::io::stderr().is_terminal()
}

fn hook_progress(ctx: &Ctx, corral: &Corral, spinner: &progress::Spinner) {
    let spinner = spinner.clone();
    let verbose = ctx.verbose;
    corral.set_start_callback(Some(Arc::new(move |event| match event {
        StartEvent::InstallStarted {
            server,
            index,
            total,
            command,
        } => {
            let msg = format!("installing `{server}` ({index}/{total}): {command}");
            if verbose {
                spinner.println(&format!("▶ {msg}"));
            }
            spinner.set(msg);
        }
        StartEvent::InstallFinished { output, status, .. } if verbose => {
            for line in output.lines() {
                spinner.println(&format!("  {line}"));
            }
            spinner.println(&format!("  ({status})"));
        }
        StartEvent::ServerStarting { server } => spinner.set(format!("starting `{server}`…")),
        StartEvent::ServerReady {
            server,
            protocol_version,
        } if verbose => {
            spinner.println(&format!("✔ `{server}` ready (MCP {protocol_version})"));
        }
        _ => {}
    })));
}

fn parse_env(pairs: &[String], server: &str) -> Result<BTreeMap<String, String>, Error> {
    pairs
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    Error::config(
                        format!("servers.{server}.env"),
                        format!("`{p}` is not KEY=VALUE"),
                    )
                })
        })
        .collect()
}

fn parse_params(p: &Params) -> Result<Value, Error> {
    let mut args = match &p.params {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "--params must be a JSON object",
                ));
            }
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("--params is not valid JSON: {e}"),
                ));
            }
        },
    };
    for kv in &p.param {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--param `{kv}` is not key=value"),
            )
        })?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        args.insert(k.to_owned(), value);
    }
    Ok(Value::Object(args))
}

/// A config with secret values (env, headers) replaced by `****`.
fn masked(config: &Value) -> Value {
    let mut v = config.clone();
    for key in ["env", "headers"] {
        if let Some(m) = v.get_mut(key).and_then(Value::as_object_mut) {
            for val in m.values_mut() {
                *val = Value::from("****");
            }
        }
    }
    v
}

async fn e2b_cmd(ctx: &Ctx, cmd: E2bCmd) -> Result<i32, Error> {
    let home = ctx.home.clone().unwrap_or_else(corral_core::default_home);
    let provider = corral_core::sandbox::e2b::E2bProvider::from_env(&home, None)?;
    match cmd {
        E2bCmd::Ls => {
            let mut rows = Vec::new();
            for s in provider.list_own().await? {
                let holders = if s.state == "running" {
                    provider.holders(&s.sandbox_id).await
                } else {
                    None
                };
                rows.push(json!({
                    "sandboxId": s.sandbox_id,
                    "server": s.metadata.get(corral_core::sandbox::e2b::META_SERVER),
                    "state": s.state,
                    "startedAt": s.started_at,
                    "endAt": s.end_at,
                    "holders": holders,
                }));
            }
            if ctx.json {
                print_json(&json!({"sandboxes": rows}));
            } else if rows.is_empty() {
                out!("no E2B sandboxes of home id {}", provider.config().home_id);
            } else {
                for r in &rows {
                    out!(
                        "{}  {:<20} {:<8} ends {}  held by {}",
                        r["sandboxId"].as_str().unwrap_or_default(),
                        r["server"].as_str().unwrap_or("-"),
                        r["state"].as_str().unwrap_or_default(),
                        r["endAt"].as_str().unwrap_or_default(),
                        r["holders"]
                    );
                }
            }
            Ok(0)
        }
        E2bCmd::Gc { all } => {
            let killed = provider.gc(all).await?;
            if ctx.json {
                print_json(&json!({"killed": killed}));
            } else {
                out!(
                    "killed {} E2B sandbox(es){}",
                    killed.len(),
                    if killed.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", killed.join(", "))
                    }
                );
            }
            Ok(0)
        }
    }
}

fn print_json(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn confirm(question: &str) -> Result<bool, Error> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!(
        "corral-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?;
    Ok(dir)
}
