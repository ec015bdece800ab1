// What a scenario may refer to: `${VAR}` values and the runner-side fixtures (a canary file in the
// host home, a canary variable in the runner's own environment, a TCP listener on 127.0.0.1, the
// fixture over HTTP), plus the capabilities this machine has. Mirrors tests/conformance/src/env.rs.

import Foundation
#if canImport(Glibc)
import Glibc
private let sockStream = Int32(SOCK_STREAM.rawValue)
#elseif canImport(Darwin)
import Darwin
private let sockStream = SOCK_STREAM
#endif

/// The name of the canary variable set in the runner's own environment.
let canaryVar = "CORRAL_CANARY_SECRET"
private let httpToken = "conformance-token"

final class Env {
    /// The provider under test (`CORRAL_TEST_PROVIDER`, default `local`).
    let provider: String
    /// Names of the capabilities present.
    let capabilities: [String]

    private let server: String
    private let canaryFile: URL
    private let listenerFd: Int32
    private let listenerPort: UInt16
    private let http: (Process, String)?
    private let workDir: URL

    init(server: String) throws {
        self.server = server
        setenv(canaryVar, "the-runner-secret-must-not-leak", 1)
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/tmp"
        let pid = ProcessInfo.processInfo.processIdentifier
        canaryFile = URL(fileURLWithPath: home).appendingPathComponent(".corral-canary-\(pid)")
        try Data("canary".utf8).write(to: canaryFile)
        let listener = try startListener()
        listenerFd = listener.0
        listenerPort = listener.1
        provider = ProcessInfo.processInfo.environment["CORRAL_TEST_PROVIDER"] ?? "local"
        var present = ["fixture"]
        // `sandbox`: stdio servers run in the provider's sandboxes (tests/conformance/README.md).
        if provider == "local" || provider == "e2b" { present.append("sandbox") }
        if provider == "local" {
            present.append("local-sandbox")
            if cgroupsWritable() { present.append("limits") }
        }
        if ProcessInfo.processInfo.environment["CORRAL_TEST_OFFLINE"] == nil {
            present.append("registry")
        }
        http = try? startHTTPFixture(server: server)
        if http != nil { present.append("http-fixture") }
        capabilities = present
        workDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("corral-conformance-work-\(pid)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
    }

    /// The missing ones of `required`.
    func missing(_ required: [String]) -> [String] {
        required.filter { !capabilities.contains($0) }
    }

    /// The `${VAR}` values of one scenario run.
    func vars(tag: String) -> [String: String] {
        var v: [String: String] = [:]
        v["CORRAL_TEST_SERVER"] = server
        v["SCENARIO_TAG"] = tag
        v["CANARY_FILE"] = canaryFile.path
        v["CANARY_NAME"] = canaryFile.lastPathComponent
        v["HOST_HOME"] = canaryFile.deletingLastPathComponent().path
        v["CANARY_VAR"] = canaryVar
        v["LISTENER_PORT"] = String(listenerPort)
        v["WORK_DIR"] = workDir.path
        v["HTTP_FIXTURE_TOKEN"] = httpToken
        if let fixture = http { v["HTTP_FIXTURE_URL"] = fixture.1 }
        return v
    }

    func close() {
        try? FileManager.default.removeItem(at: canaryFile)
        if let fixture = http {
            fixture.0.terminate()
            fixture.0.waitUntilExit()
        }
        _ = shutdown(listenerFd, Int32(SHUT_RDWR))
        _ = closeDescriptor(listenerFd)
        try? FileManager.default.removeItem(at: workDir)
    }
}

private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}

/// A TCP listener on 127.0.0.1 (ephemeral port) whose connections are accepted and closed.
private func startListener() throws -> (Int32, UInt16) {
    let fd = socket(AF_INET, sockStream, 0)
    guard fd >= 0 else { throw JSONError(description: "socket() failed") }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0, listen(fd, 50) == 0 else { throw JSONError(description: "bind/listen failed") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    let port = UInt16(bigEndian: addr.sin_port)
    let thread = Thread {
        while true {
            let conn = accept(fd, nil, nil)
            if conn < 0 { break }
            _ = closeDescriptor(conn)
        }
    }
    thread.start()
    return (fd, port)
}

private func startHTTPFixture(server: String) throws -> (Process, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: server)
    process.arguments = ["--http", "127.0.0.1:0", "--bearer", httpToken]
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    try process.run()
    var line = Data()
    let reader = stdout.fileHandleForReading
    while !line.contains(0x0A) {
        let chunk = reader.availableData
        if chunk.isEmpty { break }
        line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard trimmed.hasPrefix("listening ") else {
        process.terminate()
        throw JSONError(description: "unexpected first line \(text)")
    }
    return (process, String(trimmed.dropFirst("listening ".count)))
}

private func cgroupsWritable() -> Bool {
    func probe(_ dir: String) -> Bool {
        let p = "\(dir)/corral-probe-\(ProcessInfo.processInfo.processIdentifier)"
        let ok = mkdir(p, 0o755) == 0
        rmdir(p)
        return ok
    }
    return probe("/sys/fs/cgroup/pids") || probe("/sys/fs/cgroup")
}

/// Pids of live processes whose environment contains `needle` (`KEY=VALUE`). Linux (/proc).
func processesWithEnv(_ needle: String) -> [Int32] {
    let me = ProcessInfo.processInfo.processIdentifier
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    let wanted = Array(needle.utf8)
    return entries.compactMap { Int32($0) }.filter { pid in
        guard pid != me else { return false }
        // Zombies keep no environment; only live processes count.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let afterName = stat.split(separator: ")", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let zombie = afterName.trimmingCharacters(in: .whitespaces).hasPrefix("Z")
        guard !zombie, let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
        return environ.split(separator: 0, omittingEmptySubsequences: false).contains { Array($0) == wanted }
    }
}
