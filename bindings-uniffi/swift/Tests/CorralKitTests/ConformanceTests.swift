// Every scenario of the shared conformance suite (tests/conformance/scenarios), run through the
// Swift binding. Skips by capability (never by language); with CORRAL_TEST_REQUIRE_ALL=1 a
// missing capability fails. A failure listed in tests/conformance/expected-failures/swift.txt is
// tolerated; a listed scenario that passes fails.
//
// Environment: CORRAL_TEST_SERVER (the corral-test-server binary; required),
// CORRAL_TEST_PROVIDER (default local), CORRAL_TEST_OFFLINE=1.

import CorralKit
import Foundation
import XCTest

final class ConformanceTests: XCTestCase {
    /// The repository root: this file is bindings-uniffi/swift/Tests/CorralKitTests/ConformanceTests.swift.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testSharedConformanceSuite() async throws {
        guard let server = ProcessInfo.processInfo.environment["CORRAL_TEST_SERVER"] else {
            XCTFail("set CORRAL_TEST_SERVER to the corral-test-server binary (cargo build -p corral-test-server)")
            return
        }
        let env = try Env(server: server)
        defer { env.close() }
        let conformance = Self.root.appendingPathComponent("tests/conformance")
        let expected = loadExpectedFailures(conformance.appendingPathComponent("expected-failures/swift.txt"))
        let requireAll = ProcessInfo.processInfo.environment["CORRAL_TEST_REQUIRE_ALL"] != nil
        var passed = 0, failed = 0, skipped = 0
        for scenario in try loadScenarios(conformance.appendingPathComponent("scenarios")) {
            let missing = env.missing(scenario.requires)
            if !missing.isEmpty {
                if requireAll {
                    XCTFail("\(scenario.name): missing capabilities: \(missing)")
                    failed += 1
                } else {
                    print("conformance (swift): \(scenario.name) ... skipped (needs \(missing))")
                    skipped += 1
                }
                continue
            }
            var failure: String?
            do {
                try await runScenario(scenario, env: env)
            } catch {
                failure = "\(error)"
            }
            let expectedFailure = expected.contains(scenario.name)
            switch (failure, expectedFailure) {
            case (nil, false):
                print("conformance (swift): \(scenario.name) ... passed")
                passed += 1
            case let (message?, false):
                XCTFail("\(scenario.name): \(message)")
                failed += 1
            case (_?, true):
                print("conformance (swift): \(scenario.name) ... expected failure")
                skipped += 1
            case (nil, true):
                XCTFail("\(scenario.name): listed in expected-failures/swift.txt but passes: remove it from the list")
                failed += 1
            }
        }
        print("conformance (swift): \(passed) passed, \(failed) failed, \(skipped) skipped")
    }
}
