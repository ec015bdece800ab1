// The Node-only declarations of the TypeScript API (input forms and option objects that are
// not a core type). bindings-node/scripts/shapes.mjs puts them, and the declarations it
// generates from the core's JSON Schema, into shapes.d.ts, the header of index.d.ts.

/**
 * The accepted forms of a server config (corral's own form shown; the e2b-mcp dict form and an
 * `mcpServers` entry — `command`/`args`/`env`, `type`/`url`/`headers` — are accepted as well).
 * Keys are snake_case, exactly as in JSON/TOML config files.
 */
export interface ServerConfigDict {
  /** The command line (split like a shell would, no expansion) or argv. */
  command?: string | string[]
  /** Extra arguments appended to `command`. */
  args?: Array<string>
  /** Environment of the server (the only way secrets reach it). */
  env?: Record<string, string>
  /** Shell commands run once (per distinct list) inside the sandbox, with network. */
  install_commands?: Array<string>
  /** Working directory inside the sandbox. */
  cwd?: string
  /** A description. */
  description?: string
  /** Idle minutes after which a warm server is stopped (default 10). */
  timeout_minutes?: number
  /** Per-call timeout in seconds (default 60), extended while progress arrives. */
  call_timeout_seconds?: number
  /** `all` (default) or `none`. */
  network?: 'all' | 'none'
  /** Extra host directories: `host:target[:ro|rw]`. */
  mounts?: Array<string>
  /** `{memory_mb, max_processes, disk_mb}` (MiB, processes, MiB of writable layer). */
  limits?: { memory_mb?: number; max_processes?: number; disk_mb?: number }
  /**
   * Start the sandbox from this template (`corral.buildTemplate()`); the server's own
   * install commands are layered on top.
   */
  template?: string
  /** Files written into the sandbox before the server starts: absolute path → text. */
  files?: Record<string, string>
  /** Only these tools are visible. */
  allow_tools?: Array<string>
  /** These tools are hidden. */
  deny_tools?: Array<string>
  /** A remote Streamable-HTTP server instead of a command. */
  url?: string
  /** HTTP headers of a remote server (for example `Authorization`). */
  headers?: Record<string, string>
  /** `stdio` or `http` (the `mcpServers` form). */
  type?: string
  /** Free labels for grouping servers. */
  tags?: Array<string>
}

/** What a sandbox is made of; every key is optional (the server config's names and forms). */
export interface SandboxOptions {
  /** A label for ids and logs. */
  name?: string
  /** Environment of every process in it. */
  env?: Record<string, string>
  /** `all` (default) or `none`. */
  network?: 'all' | 'none'
  /** Extra host directories: `host:target[:ro|rw]`. */
  mounts?: Array<string>
  /** `{memory_mb, max_processes, disk_mb}` (MiB, processes, MiB of writable layer). */
  limits?: { memory_mb?: number; max_processes?: number; disk_mb?: number }
  /** Start from this template (`corral.buildTemplate()`): its layer is mounted, not copied. */
  template?: string
}

/** The OpenAI function-tool form of a tool. */
export interface OpenAITool {
  /** Always `function`. */
  type: 'function'
  /** `{name, description, parameters}`. */
  function: { name: string; description: string; parameters: Record<string, any> }
}

/** The Anthropic Messages API form of a tool. */
export interface AnthropicTool {
  /** The tool's name. */
  name: string
  /** Its description. */
  description: string
  /** Its input schema (always an object schema). */
  input_schema: Record<string, any>
}

/** Options of one call (`executeTool`, `callTool`). Times are in milliseconds. */
export interface CallOptions {
  /** Overrides the server's per-call timeout; extended while progress arrives. */
  timeoutMs?: number
  /** Hard cap on the call however much progress arrives (default: 10 × the timeout). */
  maxTotalMs?: number
  /** Receives the call's progress notifications (on the JS thread). */
  onProgress?: (progress: Progress) => void
  /**
   * Aborting it cancels the call (the server gets `notifications/cancelled`); the Promise
   * rejects with `CANCELLED`.
   */
  signal?: AbortSignal
}

/** The session info of `ServerSession.toJSON()`. */
export interface SessionInfo {
  server: string
  sessionId: string
  sandboxId?: string
  protocolVersion: string
}
