// A JSON value with serde_json's accessors and equality, so that the Swift runner reads the
// scenarios exactly as the Rust reference runner does (tests/conformance/src).

import Foundation

enum JSON: Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// `Value::as_str`: only strings.
    var asStr: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// `Value::as_bool`: only booleans.
    var asBool: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    /// `Value::as_u64`: a non-negative integer.
    var asU64: Int64? {
        if case let .integer(i) = self, i >= 0 { return i }
        return nil
    }

    /// `Value::as_f64`: any number.
    var asF64: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    var asArray: [JSON]? {
        if case let .array(a) = self { return a }
        return nil
    }

    var asObject: [String: JSON]? {
        if case let .object(o) = self { return o }
        return nil
    }

    /// `Value::get` on an object; nil for anything else.
    subscript(key: String) -> JSON? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    /// Parses JSON text (RFC 8259). Integers without a fraction or exponent stay integers, as in
    /// serde_json; an integer never equals a float.
    static func parse(_ text: String) throws -> JSON {
        var parser = JSONParser(bytes: Array(text.utf8))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.atEnd else { throw parser.error("trailing characters") }
        return value
    }

    /// The JSON text of this value.
    var text: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .integer(i): return String(i)
        case let .double(d): return String(d)
        case let .string(s): return JSON.quote(s)
        case let .array(a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case let .object(o):
            return "{" + o.keys.sorted().map { JSON.quote($0) + ":" + o[$0]!.text }.joined(separator: ",") + "}"
        }
    }

    private static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

struct JSONError: Error, CustomStringConvertible {
    let description: String
}

private struct JSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var atEnd: Bool { pos >= bytes.count }

    func error(_ what: String) -> JSONError {
        JSONError(description: "invalid JSON at byte \(pos): \(what)")
    }

    mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) {
            pos += 1
        }
    }

    mutating func expect(_ literal: String) throws {
        for b in literal.utf8 {
            guard pos < bytes.count, bytes[pos] == b else { throw error("expected \(literal)") }
            pos += 1
        }
    }

    mutating func value() throws -> JSON {
        skipSpace()
        guard pos < bytes.count else { throw error("unexpected end") }
        switch bytes[pos] {
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSON] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
                pos += 1
                return .array(items)
            }
            while true {
                items.append(try value())
                skipSpace()
                guard pos < bytes.count else { throw error("unterminated array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw error("expected , or ]")
            }
        case UInt8(ascii: "{"):
            pos += 1
            var members: [String: JSON] = [:]
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
                pos += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipSpace()
                try expect(":")
                members[key] = try value()
                skipSpace()
                guard pos < bytes.count else { throw error("unterminated object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw error("expected , or }")
            }
        default:
            return try number()
        }
    }

    mutating func number() throws -> JSON {
        let start = pos
        var isFloat = false
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                isFloat = true
            } else if !(b == UInt8(ascii: "-") || b == UInt8(ascii: "+") || (b >= 0x30 && b <= 0x39)) {
                break
            }
            pos += 1
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if !isFloat, let i = Int64(text) { return .integer(i) }
        guard let d = Double(text) else { throw error("bad number \(text)") }
        return .double(d)
    }

    mutating func string() throws -> String {
        pos += 1 // the opening quote
        var out: [UInt8] = []
        while pos < bytes.count {
            let b = bytes[pos]
            pos += 1
            if b == UInt8(ascii: "\"") {
                return String(decoding: out, as: UTF8.self)
            }
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                continue
            }
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if code >= 0xD800, code < 0xDC00 {
                    try expect("\\u")
                    let low = try hex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: out.append(e)
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count,
              let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
        else { throw error("bad \\u escape") }
        pos += 4
        return v
    }
}
