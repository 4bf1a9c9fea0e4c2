import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one way a test says it needs something the machine may lack: a program (`dot`, `tmux`,
/// `strace`, `prometheus`…) or root.
///
/// Locally, a test whose requirement is missing is skipped with the reason shown (use the trait:
/// `@Test(.requires(.tool("dot")))`). With `SOCKSCOPE_REQUIRE_ALL=1` (set by `.ci/run`) the test is
/// never skipped: it runs, and `Requirement.path(_:)` / `check()` fail it, so a CI machine that lacks
/// a tool fails loudly instead of passing silently.
public struct Requirement: Sendable, CustomStringConvertible {
    /// A program looked up in the usual directories, with the Debian package that provides it.
    public static func tool(_ name: String, package: String? = nil) -> Requirement {
        Requirement(kind: .tool(name), package: package ?? name)
    }

    /// Running as root (network namespaces, setpriv, mounting).
    public static let root = Requirement(kind: .root, package: nil)

    /// A module that `python3` can import (`jsonschema`), installed from PyPI.
    public static func python(_ module: String) -> Requirement {
        Requirement(kind: .python(module), package: module)
    }

    enum Kind: Sendable { case tool(String), root, python(String) }
    let kind: Kind
    let package: String?

    /// True under `.ci/run`: every requirement must be met.
    public static var requireAll: Bool { ProcessInfo.processInfo.environment["SOCKSCOPE_REQUIRE_ALL"] == "1" }

    static let directories = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"]

    /// Where the program is, nil when it is not installed (always nil for `.root`).
    public var location: String? {
        guard case .tool(let name) = kind else { return nil }
        return Self.directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    public var isMet: Bool {
        switch kind {
        case .tool: return location != nil
        case .root: return geteuid() == 0
        case .python(let module): return Self.pythonImports(module)
        }
    }

    /// Whether a test needing this should run: when it is met, and always under `SOCKSCOPE_REQUIRE_ALL`.
    public var shouldRun: Bool { isMet || Self.requireAll }

    public var description: String {
        switch kind {
        case .tool(let name):
            return "`\(name)` is not installed (apt-get install \(package ?? name)); the tests that need it are skipped"
        case .root:
            return "needs root; skipped"
        case .python(let module):
            return "python3 cannot import `\(module)` (python3 -m pip install \(module)); the tests that need it are skipped"
        }
    }

    /// Whether `python3 -c 'import MODULE'` succeeds, for the `python3` first on PATH (the one
    /// `pip install` served, which need not be /usr/bin's).
    static func pythonImports(_ module: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import \(module)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// The program's path; throws (failing the test) when it is missing.
    public func path() throws -> String {
        guard let p = location else { throw Unmet(requirement: self) }
        return p
    }

    /// Throws (failing the test) when the requirement is not met.
    public func check() throws {
        guard isMet else { throw Unmet(requirement: self) }
    }

    public struct Unmet: Error, CustomStringConvertible {
        public var requirement: Requirement
        public var description: String {
            "\(requirement) — required here (SOCKSCOPE_REQUIRE_ALL=\(Requirement.requireAll ? "1" : "unset"))"
        }
    }
}

#if canImport(Testing)
import Testing

extension Trait where Self == ConditionTrait {
    /// Runs the test only where every requirement is met (always under `SOCKSCOPE_REQUIRE_ALL=1`,
    /// where the test itself then fails on what is missing); the skip names what is missing.
    public static func requires(_ requirements: Requirement..., sourceLocation: SourceLocation = #_sourceLocation) -> Self {
        let missing = requirements.filter { !$0.shouldRun }
        return .enabled(if: missing.isEmpty, Comment(rawValue: missing.map(\.description).joined(separator: "; ")),
                        sourceLocation: sourceLocation)
    }
}
#endif
