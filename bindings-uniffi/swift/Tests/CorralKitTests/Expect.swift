// Expectations of a step, checked against what corral returned. Mirrors
// tests/conformance/src/expect.rs key for key.

import CorralKit
import Foundation

/// A failed expectation (the message says which).
struct StepFailure: Error, CustomStringConvertible {
    let description: String
}

func fail(_ message: String) -> StepFailure {
    StepFailure(description: message)
}

/// A step's outcome: a value, or the corral error it failed with.
enum Outcome<T> {
    case ok(T)
    case err(CorralError)

    func map<U>(_ f: (T) throws -> U) rethrows -> Outcome<U> {
        switch self {
        case let .ok(v): return .ok(try f(v))
        case let .err(e): return .err(e)
        }
    }
}

/// Runs `body`, turning a `CorralError` into `.err`; anything else propagates.
func outcome<T>(_ body: () async throws -> T) async throws -> Outcome<T> {
    do {
        return .ok(try await body())
    } catch let e as CorralError {
        return .err(e)
    }
}

func describe(_ e: CorralError) -> String {
    "\(e.code()): \(e.detail())"
}

/// What kind of value a plain check looks at.
enum Check { case names, text, json }

func checkError(_ expect: JSON, _ error: CorralError) throws {
    guard let kind = expect["error"]?.asStr else { throw fail("unexpected error: \(describe(error))") }
    if kind != error.code() { throw fail("expected error \(kind), got \(describe(error))") }
}

private func expectsError(_ expect: JSON) throws {
    if let kind = expect["error"]?.asStr { throw fail("expected error \(kind), but the step succeeded") }
}

func checkToolResult(_ expect: JSON, _ result: Outcome<ToolResult>, _ progress: [ToolProgress]) throws {
    let r: ToolResult
    switch result {
    case let .err(e): return try checkError(expect, e)
    case let .ok(v): r = v
    }
    try expectsError(expect)
    let text = r.text()
    try checkText(expect, text)
    if let want = expect["is_error"]?.asBool, r.isError != want {
        throw fail("is_error is \(r.isError), expected \(want) (text: \(clip(text)))")
    }
    if expect["is_error"] == nil, r.isError, expect["allow_is_error"] == nil {
        throw fail("the tool reported an error: \(clip(text))")
    }
    let structured = try r.structuredContent.map { try JSON.parse($0) }
    if let want = expect["structured"], structured != want {
        throw fail("structured_content is \(structured?.text ?? "none"), expected \(want.text)")
    }
    if let max = expect["structured_max"]?.asObject {
        let got = structured ?? .object([:])
        for (k, limit) in max {
            guard let v = got[k]?.asF64 else { throw fail("no number at \(k)") }
            if v > (limit.asF64 ?? Double.greatestFiniteMagnitude) { throw fail("\(k) is \(v), more than \(limit.text)") }
        }
    }
    if let min = expect["progress_min"]?.asU64, Int64(progress.count) < min {
        throw fail("saw \(progress.count) progress notifications, expected at least \(min)")
    }
}

private func checkText(_ expect: JSON, _ text: String) throws {
    if let want = expect["text"]?.asStr, text != want {
        throw fail("text is \"\(clip(text))\", expected \"\(want)\"")
    }
    if let want = expect["text_contains"]?.asStr, !text.contains(want) {
        throw fail("text \"\(clip(text))\" does not contain \"\(want)\"")
    }
    if let bad = expect["text_not_contains"]?.asStr, text.contains(bad) {
        throw fail("text \"\(clip(text))\" contains \"\(bad)\"")
    }
    if let len = expect["text_length"]?.asU64, Int64(text.utf8.count) != len {
        throw fail("text has \(text.utf8.count) bytes, expected \(len)")
    }
}

func checkValue(_ expect: JSON, _ result: Outcome<JSON>, _ kind: Check) throws {
    let v: JSON
    switch result {
    case let .err(e): return try checkError(expect, e)
    case let .ok(value): v = value
    }
    try expectsError(expect)
    switch kind {
    case .text:
        try checkText(expect, v.asStr ?? "")
    case .names:
        let names = (v.asArray ?? []).compactMap(\.asStr)
        for n in expect["names_include"]?.asArray ?? [] {
            let name = n.asStr ?? ""
            if !names.contains(name) { throw fail("\"\(name)\" missing from \(names)") }
        }
        for n in expect["names_exclude"]?.asArray ?? [] {
            let name = n.asStr ?? ""
            if names.contains(name) { throw fail("\"\(name)\" should not be in \(names)") }
        }
        if let c = expect["count"]?.asU64, Int64(names.count) != c {
            throw fail("\(names.count) names, expected \(c): \(names)")
        }
        if let c = expect["count_min"]?.asU64, Int64(names.count) < c {
            throw fail("\(names.count) names, expected at least \(c)")
        }
    case .json:
        break
    }
    if let want = expect["json"], v != want {
        throw fail("got \(v.text), expected \(want.text)")
    }
    if let want = expect["json_contains"]?.asObject {
        for (k, w) in want where v[k] != w {
            throw fail("\(k) is \(v[k]?.text ?? "missing"), expected \(w.text)")
        }
    }
    if let want = expect["stdout_contains"]?.asStr {
        let out = v["stdout"]?.asStr ?? ""
        if !out.contains(want) { throw fail("stdout \"\(out)\" does not contain \"\(want)\"") }
    }
    if let want = expect["exit_code"], v["exit_code"] != want {
        throw fail("exit code \(v["exit_code"]?.text ?? "missing"), expected \(want.text) (\(v.text))")
    }
}

private func clip(_ s: String) -> String {
    s.count > 300 ? "\(s.prefix(300))… (\(s.utf8.count) bytes)" : s
}
