// The Swift API itself: types, errors, cancellation, lifetimes. Needs CORRAL_TEST_SERVER.

import CorralKit
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

final class ApiTests: XCTestCase {
    private var home: URL!

    override func setUpWithError() throws {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("corral-swift-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: home)
    }

    private func fixtureServer() throws -> String {
        try XCTUnwrap(ProcessInfo.processInfo.environment["CORRAL_TEST_SERVER"], "set CORRAL_TEST_SERVER")
    }

    private func newCorral() throws -> Corral {
        try Corral(options: CorralOptions(home: home.path))
    }

    func testErrorsCarryTheStableKind() async throws {
        let corral = try newCorral()
        do {
            _ = try await corral.executeTool(server: "nope", tool: "echo")
            XCTFail("expected SERVER_NOT_FOUND")
        } catch let e as CorralError {
            XCTAssertEqual(e.kind(), .serverNotFound)
            XCTAssertEqual(e.code(), "SERVER_NOT_FOUND")
            XCTAssertFalse(e.isRetryable())
            guard case .ServerNotFound = e else { return XCTFail("wrong case \(e)") }
        }
        XCTAssertThrowsError(try serverConfigFromJson(name: "fs", config: #"{"command": "x", "env": {"1BAD": "v"}}"#)) { error in
            XCTAssertEqual((error as? CorralError)?.kind(), .configInvalid)
            XCTAssertEqual((error as? CorralError)?.field(), "servers.fs.env.1BAD")
        }
        XCTAssertEqual(ErrorKind.e2bApi.code(), "E2B_API")
        await corral.close()
    }

    func testConfigsAreTyped() throws {
        let c = try serverConfigFromCommand(name: "fs", command: #"npx -y '@scope/pkg' "/my data""#)
        XCTAssertEqual(c.transport, .stdio(argv: ["npx", "-y", "@scope/pkg", "/my data"]))
        XCTAssertEqual(c.callTimeout, 60)
        XCTAssertEqual(c.network, .all)
        var changed = c
        changed.network = .disabled
        changed.limits = Limits(memoryMb: 256)
        XCTAssertEqual(try serverConfigFromJson(name: "fs", config: changed.toJson()), changed)
    }

    func testToolsResultsAndSessions() async throws {
        let corral = try newCorral()
        try await corral.addServer(config: ServerConfig(name: "fx", transport: .stdio(argv: [try fixtureServer()])))
        let result = try await corral.executeTool(server: "fx", tool: "add", arguments: #"{"a": 2, "b": 3}"#)
        XCTAssertEqual(result.text(), "5")
        XCTAssertEqual(result.content, [.text(text: "5")])
        let tools = try await corral.discoverTools(server: "fx")
        XCTAssertTrue(tools.contains { $0.name == "echo" })
        let session = try await corral.session(server: "fx")
        XCTAssertEqual(session.protocolVersion(), "2026-07-28")
        let prompt = try await session.getPrompt(name: "greet", arguments: #"{"name": "Ada"}"#)
        XCTAssertEqual(prompt.messages.first?.content.asText(), "Hello, Ada!")
        // Closing the handle ends the handle only; the server stays warm.
        session.close()
        do {
            _ = try await session.listTools()
            XCTFail("expected CLOSED")
        } catch let e as CorralError {
            XCTAssertEqual(e.kind(), .closed)
        }
        let again = try await corral.session(server: "fx")
        XCTAssertEqual(again.sessionId(), session.sessionId())
        await corral.close()
        XCTAssertTrue(corral.isClosed())
    }

    func testStartedCallsCanBeCancelled() async throws {
        let corral = try newCorral()
        try await corral.addServer(config: ServerConfig(name: "fx", transport: .stdio(argv: [try fixtureServer()])))
        let call = try corral.startTool(server: "fx", tool: "sleep", arguments: #"{"ms": 20000}"#)
        try await Task.sleep(nanoseconds: 200_000_000)
        call.cancel()
        do {
            _ = try await call.result()
            XCTFail("expected CANCELLED")
        } catch let e as CorralError {
            XCTAssertEqual(e.kind(), .cancelled)
        }
        let echo = try await corral.executeTool(server: "fx", tool: "echo", arguments: #"{"text": "after"}"#)
        XCTAssertEqual(echo.text(), "after")
        await corral.close()
    }

    func testSandboxes() async throws {
        let corral = try newCorral()
        let sandbox = try await corral.sandbox(config: SandboxConfig(env: ["GREETING": "hi"], network: .disabled))
        let out = try await sandbox.exec(script: "echo $GREETING; exit 4")
        XCTAssertEqual(out.exitCode, 4)
        XCTAssertEqual(out.stdoutText(), "hi\n")
        try await sandbox.writeFile(path: "/home/corral/blob", data: Data([0, 1, 2, 255]))
        let back = try await sandbox.readFile(path: "/home/corral/blob")
        XCTAssertEqual(back, Data([0, 1, 2, 255]))
        try await sandbox.close()
        await corral.close()
    }

    func testGatewayPublishesTheServersAndClosesWithItsCorral() async throws {
        let corral = try newCorral()
        try await corral.addServer(config: ServerConfig(name: "fx", transport: .stdio(argv: [try fixtureServer()])))
        let gateway = try await corral.startGateway(options: GatewayOptions(toolBudget: 500))
        XCTAssertTrue(gateway.url().hasPrefix("http://127.0.0.1:"))
        XCTAssertEqual(gateway.getMcpUrl(), gateway.url())
        XCTAssertEqual(gateway.getMcpToken(), gateway.token())
        let settled = try await gateway.waitSettled(timeout: 30)
        XCTAssertTrue(settled)
        let health = try gateway.servers()
        XCTAssertEqual(health.map(\.name), ["fx"])
        XCTAssertEqual(health.first?.state, .ready)
        var request = URLRequest(url: try XCTUnwrap(URL(string: gateway.url())))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
        request.httpBody = Data(#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#.utf8)
        let (_, unauthorized) = try await URLSession.shared.data(for: request)
        XCTAssertEqual((unauthorized as? HTTPURLResponse)?.statusCode, 401)
        XCTAssertThrowsError(try gatewayOptionsFromJson(options: #"{"toolBudget": "x"}"#)) { error in
            XCTAssertEqual((error as? CorralError)?.field(), "gateway.toolBudget")
        }
        // Closing the corral closes its gateways.
        await corral.close()
        do {
            _ = try await URLSession.shared.data(for: request)
            XCTFail("the gateway still answers after its corral closed")
        } catch is URLError {}
    }

    func testTemplates() async throws {
        let corral = try newCorral()
        let template = try await corral.buildTemplate(name: "tools", installCommands: ["mkdir -p /opt && echo tpl > /opt/tpl.txt"])
        XCTAssertEqual(try corral.listTemplates().map(\.name), ["tools"])
        XCTAssertEqual(template.installCommands.count, 1)
        let sandbox = try await corral.sandbox(config: SandboxConfig(limits: Limits(diskMb: 64), template: "tools"))
        let out = try await sandbox.exec(script: "cat /opt/tpl.txt")
        XCTAssertEqual(out.stdoutText(), "tpl\n")
        try await sandbox.close()
        try corral.removeTemplate(name: "tools")
        XCTAssertEqual(try corral.listTemplates().count, 0)
        await corral.close()
    }
}
