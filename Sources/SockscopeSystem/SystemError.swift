import Glibc
import SystemPackage

/// A failed system call: what was attempted, on what, and the `Errno`.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var errno: Errno

    public init(_ operation: String, path: String? = nil, errno: Errno) {
        self.operation = operation; self.path = path; self.errno = errno
    }

    /// One line, e.g. `open /proc/net/tcp: Permission denied`.
    public var description: String {
        "\(operation)\(path.map { " " + $0 } ?? ""): \(Self.message(errno))"
    }

    public static func message(_ e: Errno) -> String {
        // Errno's own description can be terse on Linux; strerror's wording is what users know.
        String(cString: strerror(e.rawValue))
    }
}
