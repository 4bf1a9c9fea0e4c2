import SockscopeModel

/// A set of ports: a union of closed ranges, parsed from `22,80,8000-8100,https`.
public struct PortSpec: Sendable, Hashable, CustomStringConvertible {
    /// Sorted, merged, non-overlapping ranges.
    public private(set) var ranges: [ClosedRange<UInt16>]

    public init(ranges: [ClosedRange<UInt16>]) {
        self.ranges = PortSpec.merge(ranges)
    }

    /// Parses a comma-separated list of ports, ranges (`a-b`) and service names.
    ///
    /// - Parameter resolve: maps a service name to its ports (both protocols); empty when unknown.
    /// - Throws: `FilterError` naming the bad element; ports must be 0…65535, ranges ascending.
    public init(parsing text: String, resolve: (String) -> Set<UInt16> = { _ in [] }) throws(FilterError) {
        var out: [ClosedRange<UInt16>] = []
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard !text.isEmpty else { throw FilterError("empty port list") }
        for raw in items {
            let item = raw.trimmingSpaces
            guard !item.isEmpty else { throw FilterError("empty element in port list '\(text)'") }
            if let dash = item.firstIndex(of: "-"), item.first?.isNumber == true {
                let lo = try PortSpec.port(String(item[..<dash]))
                let hi = try PortSpec.port(String(item[item.index(after: dash)...]))
                guard lo <= hi else { throw FilterError("port range '\(item)' is backwards") }
                out.append(lo...hi)
            } else if item.first?.isNumber == true {
                let p = try PortSpec.port(String(item))
                out.append(p...p)
            } else if item.first == "-" {
                // A service name never starts with '-': `-1` is a negative port, not an unknown name.
                throw FilterError("port \(item) is out of range (0-65535)")
            } else {
                let ports = resolve(String(item))
                guard !ports.isEmpty else { throw FilterError("unknown service name '\(item)'") }
                out.append(contentsOf: ports.map { $0...$0 })
            }
        }
        self.init(ranges: out)
    }

    static func port(_ s: String) throws(FilterError) -> UInt16 {
        guard !s.isEmpty, s.count <= 6, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s) else {
            throw FilterError("'\(s)' is not a port number")
        }
        guard n <= 65535 else { throw FilterError("port \(n) is out of range (0-65535)") }
        return UInt16(n)
    }

    static func merge(_ rs: [ClosedRange<UInt16>]) -> [ClosedRange<UInt16>] {
        var out: [ClosedRange<UInt16>] = []
        for r in rs.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, Int(r.lowerBound) <= Int(last.upperBound) + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    public func contains(_ port: UInt16) -> Bool {
        // Few ranges in practice; a binary search keeps a long list cheap too.
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if port < ranges[mid].lowerBound { hi = mid - 1 } else if port > ranges[mid].upperBound { lo = mid + 1 } else { return true }
        }
        return false
    }

    public var description: String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            .joined(separator: ",")
    }
}

/// A filter or query that cannot be parsed: the message is one line for the user.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
