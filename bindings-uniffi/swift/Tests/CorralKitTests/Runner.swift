// The Swift runner of corral's shared conformance suite. Mirrors tests/conformance/src/lib.rs:
// the same scenario format, placeholders, ops and expectations, through the Swift API.

import CorralKit
import Foundation

/// One scenario file.
struct Scenario {
    let name: String
    let description: String
    let requires: [String]
    let servers: [(String, JSON)]
    let steps: [JSON]
}

private let scenarioKeys: Set<String> = ["name", "description", "requires", "servers", "steps"]

/// Loads every `*.json` scenario in `dir`, sorted by name.
func loadScenarios(_ dir: URL) throws -> [Scenario] {
    let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        .filter { $0.hasSuffix(".json") }
        .sorted()
    return try files.map { file in
        let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
        guard let v = try JSON.parse(text).asObject else { throw fail("\(file): not an object") }
        if let unknown = v.keys.first(where: { !scenarioKeys.contains($0) }) {
            throw fail("\(file): unknown field `\(unknown)`")
        }
        guard let name = v["name"]?.asStr else { throw fail("\(file): missing `name`") }
        guard file == "\(name).json" else { throw fail("\(file): name must equal the file name") }
        return Scenario(
            name: name,
            description: v["description"]?.asStr ?? "",
            requires: (v["requires"]?.asArray ?? []).compactMap(\.asStr),
            servers: (v["servers"]?.asObject ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            steps: v["steps"]?.asArray ?? []
        )
    }
}

/// Reads an expected-failures file: one scenario name per line, `#` comments.
func loadExpectedFailures(_ file: URL) -> [String] {
    guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
    return text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line in
        let name = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return name.isEmpty ? nil : name
    }
}

/// Replaces `${VAR}` in every string; a string that is exactly `${VAR:int}` becomes a number.
func substitute(_ value: JSON, _ vars: [String: String]) -> JSON {
    switch value {
    case let .string(s):
        if s.hasPrefix("${"), s.hasSuffix(":int}") {
            let name = String(s.dropFirst(2).dropLast(5))
            if let n = vars[name].flatMap({ Int64($0) }) { return .integer(n) }
        }
        return .string(substituteString(s, vars))
    case let .array(a):
        return .array(a.map { substitute($0, vars) })
    case let .object(o):
        var out: [String: JSON] = [:]
        for (k, v) in o { out[substituteString(k, vars)] = substitute(v, vars) }
        return .object(out)
    default:
        return value
    }
}

private func substituteString(_ s: String, _ vars: [String: String]) -> String {
    var out = s
    for (k, v) in vars {
        out = out.replacingOccurrences(of: "${\(k)}", with: v)
    }
    return out
}

/// Collects progress reports (called on one of corral's threads).
final class ProgressCollector: ProgressListener, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ToolProgress] = []

    func onProgress(progress: ToolProgress) throws {
        lock.lock()
        items.append(progress)
        lock.unlock()
    }

    var seen: [ToolProgress] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

private final class State {
    let corral: Corral
    let tag: String
    var sandboxes: [String: SandboxHandle] = [:]
    var saved: [String: String] = [:]

    init(corral: Corral, tag: String) {
        self.corral = corral
        self.tag = tag
    }
}

/// Runs one scenario to the end; throws a `StepFailure` describing the first failed step.
func runScenario(_ scenario: Scenario, env: Env) async throws {
    let tag = "\(scenario.name)-\(ProcessInfo.processInfo.processIdentifier)"
    let vars = env.vars(tag: tag)
    let home = FileManager.default.temporaryDirectory.appendingPathComponent("corral-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: home) }
    let corral: Corral
    do {
        corral = try Corral(options: CorralOptions(provider: env.provider, home: home.path))
    } catch let e as CorralError {
        throw fail("cannot create Corral: \(describe(e))")
    }
    let state = State(corral: corral, tag: tag)
    do {
        for (name, server) in scenario.servers {
            do {
                try await corral.addServerFromJson(name: name, config: substitute(server, vars).text)
            } catch let e as CorralError {
                throw fail("server \(name): \(describe(e))")
            }
        }
        for (i, raw) in scenario.steps.enumerated() {
            let step = substitute(raw, vars)
            do {
                try await runStep(state, step)
            } catch let e as StepFailure {
                throw fail("step \(i + 1) (\(opOf(step))): \(e.description)")
            }
        }
    } catch {
        await corral.close()
        throw error
    }
    await corral.close()
}

private func opOf(_ step: JSON) -> String {
    step["op"]?.asStr ?? "?"
}

private func strField(_ step: JSON, _ key: String) throws -> String {
    guard let s = step[key]?.asStr else { throw fail("missing string field `\(key)`") }
    return s
}

/// Like `strField`, as a corral error (the Rust runner's `err_cfg`) for ops that check outcomes.
private func strArg(_ step: JSON, _ key: String) throws -> String {
    guard let s = step[key]?.asStr else { throw CorralError.InvalidArgument(detail: "missing string field `\(key)`") }
    return s
}

private func expectOf(_ step: JSON) -> JSON {
    step["expect"] ?? .object([:])
}

private func names(_ list: [String]) -> JSON {
    .array(list.map { JSON.string($0) })
}

private func runStep(_ state: State, _ step: JSON) async throws {
    let expect = expectOf(step)
    let corral = state.corral
    switch opOf(step) {
    case "execute_tool":
        let (result, progress) = try await execute(corral, step)
        try checkToolResult(expect, result, progress)
    case "concurrent":
        let count = step["count"]?.asU64 ?? 1
        guard let inner = step["step"] else { throw fail("missing `step`") }
        let errors = try await withThrowingTaskGroup(of: (Int64, String?).self) { group in
            for i in 0..<count {
                let call = substitute(inner, ["i": String(i)])
                group.addTask {
                    let (result, progress) = try await execute(corral, call)
                    do {
                        try checkToolResult(expectOf(call), result, progress)
                        return (i, nil)
                    } catch let e as StepFailure {
                        return (i, "call \(i): \(e.description)")
                    }
                }
            }
            var all: [(Int64, String?)] = []
            for try await r in group { all.append(r) }
            return all.sorted { $0.0 < $1.0 }.compactMap(\.1)
        }
        if let first = errors.first { throw fail(first) }
    case "discover_tools":
        let r = try await outcome { try await corral.discoverTools(server: try strField(step, "server")) }
        try checkValue(expect, r.map { names($0.map(\.name)) }, .names)
    case "tool_schema":
        let tools: [Tool]
        do {
            tools = try await corral.discoverTools(server: try strField(step, "server"))
        } catch let e as CorralError {
            throw fail(describe(e))
        }
        let name = try strField(step, "tool")
        guard let tool = tools.first(where: { $0.name == name }) else { throw fail("no tool \(name)") }
        let openai = try JSON.parse(tool.toOpenai())
        let anthropic = try JSON.parse(tool.toAnthropic())
        let inputSchema = try JSON.parse(tool.inputSchema)
        let outputSchema = try tool.outputSchema.map { try JSON.parse($0) } ?? JSON.null
        let exported = JSON.object([
            "openai": openai,
            "anthropic": anthropic,
            "input_schema": inputSchema,
            "output_schema": outputSchema,
        ])
        try checkValue(expect, .ok(exported), .json)
    case "add_server":
        let name = try strField(step, "name")
        let config = step["config"] ?? .null
        let r = try await outcome { try await corral.addServerFromJson(name: name, config: config.text) }
        try checkValue(expect, r.map { _ in JSON.null }, .json)
    case "remove_server":
        let r = try await outcome { try await corral.removeServer(name: try strField(step, "server")) }
        try checkValue(expect, r.map { _ in JSON.null }, .json)
    case "list_servers":
        try checkValue(expect, .ok(names(corral.listServers().map(\.name))), .names)
    case "load_mcp_servers":
        // A JSON object is passed as its text: the document parser reads JSON first.
        let doc = step["document"] ?? .null
        let text = doc.asStr ?? doc.text
        let r = try await outcome { try await corral.loadMcpServers(document: text) }
        try checkValue(expect, r.map { names($0) }, .names)
    case "restart_server":
        let name = try strField(step, "server")
        do {
            try await corral.addServer(config: try corral.server(name: name))
        } catch let e as CorralError {
            throw fail(describe(e))
        }
    case "session_info":
        try await sessionInfo(state, step, expect)
    case "list_resources":
        let r = try await outcome { try await corral.session(server: try strArg(step, "server")).listResources() }
        try checkValue(expect, r.map { names($0.map(\.uri)) }, .names)
    case "read_resource":
        let r = try await outcome {
            try await corral.session(server: try strArg(step, "server")).readResource(uri: try strArg(step, "uri"))
        }
        try checkValue(expect, r.map { JSON.string($0.compactMap(\.text).joined(separator: "\n")) }, .text)
    case "list_prompts":
        let r = try await outcome { try await corral.session(server: try strArg(step, "server")).listPrompts() }
        try checkValue(expect, r.map { names($0.map(\.name)) }, .names)
    case "get_prompt":
        let r = try await outcome {
            try await corral.session(server: try strArg(step, "server"))
                .getPrompt(name: try strArg(step, "name"), arguments: (step["args"] ?? .null).text)
        }
        try checkValue(expect, r.map { JSON.string($0.messages.compactMap { $0.content.asText() }.joined(separator: "\n")) }, .text)
    case "quick":
        let args = step["args"] ?? .object([:])
        let command = try strField(step, "command")
        let tool = try strField(step, "tool")
        let r = try await outcome { try await corral.quick(command: command, tool: tool, arguments: args.text) }
        try checkToolResult(expect, r, [])
    case "sandbox_open":
        let id = try strField(step, "id")
        let config = try sandboxConfig(step["config"] ?? .object([:]))
        switch try await outcome({ try await corral.sandbox(config: config) }) {
        case let .ok(sandbox):
            state.sandboxes[id] = sandbox
            try checkValue(expect, .ok(.null), .json)
        case let .err(e):
            try checkValue(expect, .err(e), .json)
        }
    case "sandbox_exec":
        let sb = try sandboxOf(state, step)
        let script = try strField(step, "script")
        let r = try await outcome { try await sb.exec(script: script) }.map { o -> JSON in
            .object([
                "exit_code": o.exitCode.map { JSON.integer(Int64($0)) } ?? JSON.null,
                "stdout": .string(o.stdoutText()),
                "stderr": .string(o.stderrText()),
            ])
        }
        try checkValue(expect, r, .json)
    case "sandbox_write":
        let sb = try sandboxOf(state, step)
        let path = try strField(step, "path")
        let data = Data(try strField(step, "data").utf8)
        let r = try await outcome { try await sb.writeFile(path: path, data: data) }
        try checkValue(expect, r.map { _ in JSON.null }, .json)
    case "sandbox_read":
        let sb = try sandboxOf(state, step)
        let path = try strField(step, "path")
        let r = try await outcome { try await sb.readFile(path: path) }
        try checkValue(expect, r.map { JSON.string(String(decoding: $0, as: UTF8.self)) }, .text)
    case "sandbox_close":
        let sb = try sandboxOf(state, step)
        do {
            try await sb.close()
        } catch let e as CorralError {
            throw fail(describe(e))
        }
    case "sleep":
        try await Task.sleep(nanoseconds: UInt64(step["ms"]?.asU64 ?? 0) * 1_000_000)
    case "close":
        await corral.close()
        await corral.close() // idempotent
    case "expect_no_processes":
        let needle = "CORRAL_SCENARIO_TAG=\(state.tag)"
        for _ in 0..<100 {
            if processesWithEnv(needle).isEmpty { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw fail("processes of the scenario survived: \(processesWithEnv(needle))")
    default:
        throw fail("unknown op `\(opOf(step))`")
    }
}

private func sessionInfo(_ state: State, _ step: JSON, _ expect: JSON) async throws {
    let server = try strField(step, "server")
    let info = try await outcome { () -> JSON in
        let s = try await state.corral.session(server: server)
        return .object([
            "session_id": .string(s.sessionId()),
            "sandbox_id": s.sandboxId().map { JSON.string($0) } ?? JSON.null,
            "protocol_version": .string(s.protocolVersion()),
        ])
    }
    var id: String?
    if case let .ok(v) = info { id = v["session_id"]?.asStr }
    if let save = step["save_as"]?.asStr, case .ok = info { state.saved[save] = id ?? "" }
    if let other = expect["session_differs_from"]?.asStr, case .ok = info {
        guard let before = state.saved[other] else { throw fail("nothing saved as \(other)") }
        if id == before { throw fail("session id is still \(before)") }
    }
    if let other = expect["session_same_as"]?.asStr, case .ok = info {
        guard let before = state.saved[other] else { throw fail("nothing saved as \(other)") }
        if id != before { throw fail("session id changed from \(before)") }
    }
    try checkValue(expect, info, .json)
}

private func sandboxOf(_ state: State, _ step: JSON) throws -> SandboxHandle {
    let id = try strField(step, "id")
    guard let sb = state.sandboxes[id] else { throw fail("no sandbox `\(id)` opened") }
    return sb
}

private func sandboxConfig(_ cfg: JSON) throws -> SandboxConfig {
    let env = (cfg["env"]?.asObject ?? [:]).mapValues { $0.asStr ?? "" }
    let network: NetworkPolicy? = cfg["network"]?.asStr == "none" ? .disabled : nil
    let mounts = try (cfg["mounts"]?.asArray ?? []).map { m -> Mount in
        do {
            return try parseMount(spec: m.asStr ?? "")
        } catch let e as CorralError {
            throw fail(e.detail())
        }
    }
    return SandboxConfig(name: "scenario", env: env, network: network, mounts: mounts)
}

/// Runs an `execute_tool` step; returns the result and the progress seen.
private func execute(_ corral: Corral, _ step: JSON) async throws -> (Outcome<ToolResult>, [ToolProgress]) {
    let collector = ProgressCollector()
    let options = CallOptions(
        timeout: step["timeout_ms"]?.asU64.map { TimeInterval($0) / 1000 },
        maxTotal: step["max_total_ms"]?.asU64.map { TimeInterval($0) / 1000 }
    )
    let server = step["server"]?.asStr ?? ""
    let tool = step["tool"]?.asStr ?? ""
    let args = (step["args"] ?? .object([:])).text
    let result: Outcome<ToolResult>
    if let ms = step["cancel_after_ms"]?.asU64 {
        // A long operation's handle: cancel it after a while, as the Rust runner's token.
        result = try await outcome {
            let call = try corral.startTool(server: server, tool: tool, arguments: args, options: options, onProgress: collector)
            let trigger = Task {
                try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
                call.cancel()
            }
            defer { trigger.cancel() }
            return try await call.result()
        }
    } else {
        result = try await outcome {
            try await corral.executeTool(server: server, tool: tool, arguments: args, options: options, onProgress: collector)
        }
    }
    return (result, collector.seen)
}
