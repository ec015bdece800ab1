// The Swift runner of corral's shared conformance suite (tests/conformance/README.md). The checker
// (`corral-conformance swift`, a child process: CORRAL_CONFORMANCE names the binary) owns the
// suite's meaning: it sets up the environment, expands placeholders, sends each step's op as a
// JSON line, checks the answers and applies the expected-failures baseline. This file only
// performs each op through the Swift API and answers with the observation (canonical JSON).
// It is not compiled in CI (no Swift toolchain there); the generated package it uses is checked.

import CorralKit
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

typealias Obj = [String: Any]

struct RunnerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func text(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
}

private func parse(_ json: String?) throws -> Any {
    guard let json else { return NSNull() }
    return try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
}

private func orNull(_ value: Any?) -> Any { value ?? NSNull() }

private func errorOf(_ error: Error) -> Obj {
    if let e = error as? CorralError { return ["kind": e.code(), "message": e.detail(), "field": orNull(e.field())] }
    return ["kind": "NOT_A_CORRAL_ERROR (\(type(of: error)))", "message": "\(error)"]
}

/// The checker process, spoken to in JSON lines.
final class Checker {
    private let process = Process()
    private let toChecker = Pipe()
    private let fromChecker = Pipe()
    private var buffer = Data()

    init() throws {
        guard let path = ProcessInfo.processInfo.environment["CORRAL_CONFORMANCE"] else {
            throw RunnerError("set CORRAL_CONFORMANCE to the corral-conformance binary (cargo build -p corral-conformance)")
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["swift"]
        process.standardInput = toChecker
        process.standardOutput = fromChecker
        try process.run()
    }

    func receive() throws -> Obj {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Data(buffer[buffer.startIndex..<newline])
                buffer = Data(buffer[(newline + 1)...])
                return try JSONSerialization.jsonObject(with: line) as? Obj ?? [:]
            }
            let chunk = fromChecker.fileHandleForReading.availableData
            if chunk.isEmpty { throw RunnerError("the checker exited (its stderr says why)") }
            buffer.append(chunk)
        }
    }

    func send(_ message: Obj) throws {
        toChecker.fileHandleForWriting.write(Data((try text(message) + "\n").utf8))
    }

    func close() {
        toChecker.fileHandleForWriting.closeFile()
        process.waitUntilExit()
    }
}

/// Collects progress reports and start events, canonical JSON (called on corral's threads).
final class Collector: ProgressListener, StartListener, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Any] = []

    func onProgress(progress: ToolProgress) throws { try add(progress.toJson()) }

    func onStart(event: StartEvent) throws { try add(event.toJson()) }

    private func add(_ json: String) throws {
        let item = try parse(json)
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var seen: [Any] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// Performs one scenario's ops.
final class Runner {
    private var corral: Corral?
    private var sandboxes: [String: Sandbox] = [:]
    private var sessions: [String: ServerSession] = [:]
    private var gateway: Gateway?
    private var startEvents = Collector()

    private func closeGateway() async {
        await gateway?.close()
        gateway = nil
    }

    func perform(_ r: Obj) async throws -> Any {
        let str = { (key: String) in r[key] as? String ?? "" }
        let json = { (key: String) in try text(r[key] ?? NSNull()) }
        switch str("op") {
        case "setenv":
            setenv(str("name"), str("value"), 1)
            return NSNull()
        case "open":
            let made = try Corral(options: CorralOptions(provider: str("provider"), home: str("home")))
            startEvents = Collector()
            made.setStartCallback(listener: startEvents)
            corral = made
            return NSNull()
        case "drop":
            // Every reference goes without close(): ARC frees them now, and the core's drop
            // stops everything.
            corral = nil
            gateway = nil
            sandboxes = [:]
            sessions = [:]
            return NSNull()
        case "start_events":
            return startEvents.seen
        case "close" where corral == nil:
            return NSNull()
        default:
            break
        }
        guard let c = corral else { throw RunnerError("no open Corral") }
        func sandbox() throws -> Sandbox {
            guard let sb = sandboxes[str("id")] else { throw RunnerError("no sandbox \(str("id"))") }
            return sb
        }
        func session() async throws -> ServerSession { try await c.session(server: str("server")) }
        switch str("op") {
        case "close":
            await closeGateway()
            await c.close()
        case "add_server": try await c.addServerFromJson(name: str("name"), config: try json("config"))
        case "remove_server": try await c.removeServer(name: str("server"))
        case "restart_server": try await c.addServer(config: try c.server(name: str("server")))
        case "list_servers": return c.listServers().map(\.name)
        case "load_mcp_servers":
            // A JSON object is passed as its text: the document parser reads JSON first.
            let document = try r["document"] as? String ?? json("document")
            return try await c.loadMcpServers(
                document: document, mountArgs: r["mount_args"] as? Bool ?? false, expandEnv: r["expand_env"] as? Bool ?? false)
        case "discover_tools": return try await c.discoverTools(server: str("server")).map { try parse($0.toJson()) }
        case "tool_schema":
            let tools = try await c.discoverTools(server: str("server"))
            guard let t = tools.first(where: { $0.name == str("tool") }) else { throw RunnerError("no tool") }
            let tool = try parse(t.toJson()) as? Obj ?? [:]
            return tool.merging(["openai": try parse(t.toOpenai()), "anthropic": try parse(t.toAnthropic())]) { $1 }
        case "execute_tool": return try await execute(c, r)
        case "concurrent":
            let calls = r["calls"] as? [Obj] ?? []
            return try await withThrowingTaskGroup(of: (Int, Obj).self) { group in
                for (i, call) in calls.enumerated() {
                    group.addTask {
                        do { return (i, ["ok": try await self.execute(c, call)]) } catch { return (i, ["error": errorOf(error)]) }
                    }
                }
                var answers: [(Int, Obj)] = []
                for try await answer in group { answers.append(answer) }
                return answers.sorted { $0.0 < $1.0 }.map(\.1)
            }
        case "quick":
            let result = r["config"] == nil
                ? try await c.quick(command: str("command"), tool: str("tool"), arguments: try json("args"))
                : try await c.quickWith(
                    config: try serverConfigFromJson(name: "quick", config: try json("config")),
                    tool: str("tool"), arguments: try json("args"))
            return try parse(result.toJson())
        case "session_open": sessions[str("id")] = try await session()
        case "session_execute":
            guard let s = sessions[str("id")] else { throw RunnerError("no session \(str("id"))") }
            return try parse(try await s.callTool(tool: str("tool"), arguments: try json("args")).toJson())
        case "session_close": sessions[str("id")]?.close()
        case "session_info":
            let s = try await session()
            return ["sessionId": s.sessionId(), "sandboxId": orNull(s.sandboxId()), "protocolVersion": s.protocolVersion()] as Obj
        case "list_resources": return try await session().listResources().map { try parse($0.toJson()) }
        case "read_resource": return try await session().readResource(uri: str("uri")).map { try parse($0.toJson()) }
        case "list_prompts": return try await session().listPrompts().map { try parse($0.toJson()) }
        case "get_prompt": return try parse(try await session().getPrompt(name: str("name"), arguments: try json("args")).toJson())
        case "sandbox_open":
            sandboxes[str("id")] = try await c.sandbox(config: try sandboxConfigFromJson(config: try json("config")))
        case "sandbox_exec": return try parse(try await sandbox().exec(script: str("script")).toJson())
        case "sandbox_write": try await sandbox().writeFile(path: str("path"), data: Data(str("data").utf8))
        case "sandbox_read": return String(decoding: try await sandbox().readFile(path: str("path")), as: UTF8.self)
        case "sandbox_close": try await sandbox().close()
        case "build_template":
            let commands = r["install_commands"] as? [String] ?? []
            return try parse(try await c.buildTemplate(name: str("name"), installCommands: commands, base: r["base"] as? String).toJson())
        case "list_templates": return try c.listTemplates().map { try parse($0.toJson()) }
        case "remove_template": try c.removeTemplate(name: str("name"))
        case "start_gateway":
            let started = try await c.startGateway(options: try gatewayOptionsFromJson(options: try text(r["options"] ?? Obj())))
            await closeGateway()
            gateway = started
            return ["url": started.url(), "token": started.token()] as Obj
        case "gateway_close": await closeGateway()
        default: throw RunnerError("unknown op \(str("op"))")
        }
        return NSNull()
    }

    /// `{result, progress}` of an `execute_tool` request; `cancel_after_ms` cancels its handle.
    private func execute(_ c: Corral, _ r: Obj) async throws -> Obj {
        let collector = Collector()
        let seconds = { (key: String) in (r[key] as? Double).map { $0 / 1000 } }
        let options = CallOptions(timeout: seconds("timeout_ms"), maxTotal: seconds("max_total_ms"))
        let server = r["server"] as? String ?? ""
        let tool = r["tool"] as? String ?? ""
        let args = try text(r["args"] ?? Obj())
        let result: ToolResult
        if let after = seconds("cancel_after_ms") {
            let call = try c.startTool(server: server, tool: tool, arguments: args, options: options, onProgress: collector)
            let trigger = Task {
                try await Task.sleep(nanoseconds: UInt64(after * 1e9))
                call.cancel()
            }
            defer { trigger.cancel() }
            result = try await call.result()
        } else {
            result = try await c.executeTool(server: server, tool: tool, arguments: args, options: options, onProgress: collector)
        }
        return ["result": try parse(result.toJson()), "progress": collector.seen]
    }

    func close() async {
        await closeGateway()
        for sb in sandboxes.values { try? await sb.close() }
        await corral?.close()
    }
}

final class ConformanceTests: XCTestCase {
    func testSharedConformanceSuite() async throws {
        let checker = try Checker()
        defer { checker.close() }
        let scenarios = try checker.receive()["scenarios"] as? [String] ?? []
        XCTAssertGreaterThanOrEqual(scenarios.count, 23)
        for name in scenarios {
            try checker.send(["run": name])
            let runner = Runner()
            var message = try checker.receive()
            while let seq = message["seq"] {
                do {
                    try checker.send(["seq": seq, "ok": try await runner.perform(message)])
                } catch {
                    try checker.send(["seq": seq, "error": errorOf(error)])
                }
                message = try checker.receive()
            }
            await runner.close()
            let outcome = message["outcome"] as? String ?? "?"
            print("conformance (swift): \(name) ... \(outcome)")
            if outcome == "failed" { XCTFail("\(name): \(message["message"] ?? "")") }
        }
    }
}
