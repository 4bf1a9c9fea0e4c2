import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SockscopeModel
import TestSupport
import Testing

/// The documentation against the program: the man page's SYNOPSIS and OPTIONS against the argument
/// definitions (`--experimental-dump-help`), every example in the README and the man page run for
/// real (jq examples through jq, DOT through Graphviz, live-view examples in tmux), and the shell
/// completions offering only words that work.
@Suite(.serialized) struct DocsTests {
    static let groff = Requirement.tool("groff", package: "groff-base")

    /// The man page as text, one line per paragraph (a very long line length: nothing wraps).
    static func manText() throws -> String {
        let r = try Binary.run(try groff.path(), ["-man", "-Tutf8", "-P-cbou", "-rLL=400n",
                                                  repositoryRoot.appendingPathComponent("man/sockscope.1").path])
        try #require(r.status == 0 && r.stderr.isEmpty, "groff: \(r.stderrText)")
        return r.stdoutText
    }

    /// The lines of a man page section (from its heading to the next).
    static func section(_ name: String, of text: String) -> [String] {
        var out: [String] = [], inside = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.isEmpty && !line.hasPrefix(" ") { inside = line == name; continue }
            if inside { out.append(String(line)) }
        }
        return out
    }

    struct Argument { var kind: String; var short: [String]; var long: [String]; var valueName: String? }

    static func arguments() throws -> [Argument] {
        let r = try Binary.sockscope(["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let args = try #require((root["command"] as? [String: Any])?["arguments"] as? [[String: Any]])
        return args.map { a in
            let names = a["names"] as? [[String: Any]] ?? []
            return Argument(kind: a["kind"] as? String ?? "",
                            short: names.filter { $0["kind"] as? String == "short" }.compactMap { $0["name"] as? String },
                            long: names.filter { $0["kind"] as? String != "short" }.compactMap { $0["name"] as? String },
                            valueName: a["valueName"] as? String)
        }
    }

    /// `--long` words of a text.
    static func longOptions(_ text: String) -> Set<String> {
        let re = try! NSRegularExpression(pattern: #"(?<![\w-])--([a-z0-9][a-z0-9-]*)"#)
        let ns = text as NSString
        return Set(re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) })
    }

    @Test(.requires(groff)) func synopsisListsEveryArgumentAndNothingElse() throws {
        let man = try Self.manText()
        let synopsis = Self.section("SYNOPSIS", of: man).joined(separator: "\n")
        try #require(!synopsis.isEmpty)
        let args = try Self.arguments()
        let documented = Self.longOptions(synopsis)
        // Single-letter flags bundled as [-tu46…], or written alone as -w.
        let shortRe = try NSRegularExpression(pattern: #"(?<![\w-])-([A-Za-z0-9]+)(?![\w-])"#)
        let ns = synopsis as NSString
        let shorts = Set(shortRe.matches(in: synopsis, range: NSRange(location: 0, length: ns.length))
            .flatMap { ns.substring(with: $0.range(at: 1)).map(String.init) })
        for a in args {
            switch a.kind {
            case "positional":
                #expect(synopsis.contains(a.valueName ?? "?"), "SYNOPSIS lacks the argument \(a.valueName ?? "?")")
            default:
                let named = a.long.contains { documented.contains($0) } || a.short.contains { shorts.contains($0) }
                #expect(named, "SYNOPSIS lacks \(a.long.map { "--" + $0 } + a.short.map { "-" + $0 })")
            }
        }
        // Nothing in the SYNOPSIS that the program does not take (argument-parser's own options aside).
        let known = Set(args.flatMap(\.long)).union(["generate-completion-script"])
        #expect(documented.subtracting(known).isEmpty, "SYNOPSIS names unknown options: \(documented.subtracting(known))")
        let knownShort = Set(args.flatMap(\.short))
        #expect(shorts.subtracting(knownShort).isEmpty, "SYNOPSIS names unknown flags: \(shorts.subtracting(knownShort))")
        // OPTIONS describes every one.
        let options = Self.longOptions(Self.section("OPTIONS", of: man).joined(separator: "\n"))
        for a in args where a.kind != "positional" {
            #expect(a.long.contains { options.contains($0) }, "OPTIONS does not describe --\(a.long.first ?? "?")")
        }
        for s in ["ENVIRONMENT", "FILES", "COMPLETION", "EXAMPLES"] {
            #expect(!Self.section(s, of: man).isEmpty, "no \(s) section")
        }
        #expect(Self.section("ENVIRONMENT", of: man).joined().contains("NO_COLOR"))
    }

    // MARK: examples

    struct Example: CustomStringConvertible {
        var origin: String
        var command: String
        var description: String { "\(origin): \(command)" }
    }

    /// Every command line that starts with `sockscope` in the README's code blocks (`$ sockscope`
    /// in the sample-output blocks), comments cut.
    static func readmeExamples() throws -> [Example] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var out: [Example] = [], fence: String?
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if raw.hasPrefix("```") {
                fence = fence == nil ? String(raw.dropFirst(3)) : nil
                continue
            }
            guard let kind = fence, kind == "sh" || kind.isEmpty else { continue }
            var line = raw.trimmingCharacters(in: .whitespaces)
            if kind.isEmpty { guard line.hasPrefix("$ sockscope") else { continue }; line.removeFirst(2) }
            guard line.hasPrefix("sockscope") else { continue }
            if let hash = line.range(of: " # ") ?? line.range(of: "  #") { line = String(line[..<hash.lowerBound]) }
            out.append(Example(origin: "README.md:\(n + 1)", command: line.trimmingCharacters(in: .whitespaces)))
        }
        return out
    }

    /// The commands of the man page's EXAMPLES and COMPLETION sections, as groff renders them.
    static func manExamples() throws -> [Example] {
        let man = try manText()
        return ["EXAMPLES", "COMPLETION"].flatMap { name in
            section(name, of: man).filter { $0.hasPrefix("       sockscope") }.map {
                Example(origin: "sockscope.1 \(name)", command: $0.trimmingCharacters(in: .whitespaces))
            }
        }
    }

    /// Runs one example with `sockscope` being the built binary, in a scratch directory where
    /// output redirections land (`> /etc/…` becomes a file there) and `run-migrations` exists.
    /// Streams get `--count 2`; the live view runs in tmux and is quit with `q`.
    static func run(_ e: Example, in dir: URL, tmux: TmuxServer) throws {
        let command = Self.redirectingIntoScratch(e.command)
        let words = command.split(separator: " ").map(String.init)
        let live = (words.contains("-w") || words.contains("--watch")) && !words.contains("--json")
        if live {
            try #require(!command.contains("|"), "\(e): a live-view example in a pipeline")
            try tmux.run(["send-keys", "-t", "t", "-l", "cd '\(dir.path)' && '\(Binary.sockscope)' \(words.dropFirst().joined(separator: " ")); echo EXIT=$?"])
            try tmux.run(["send-keys", "-t", "t", "Enter"])
            let drew = try TmuxServer.waitUntil(20) { try tmux.capture().contains { $0.contains("sockscope @") } }
            #expect(drew, "\(e): the live view did not draw: \((try? tmux.capture()) ?? [])")
            try tmux.run(["send-keys", "-t", "t", "q"])
            let ended = try TmuxServer.waitUntil(20) { try tmux.capture().contains { $0.contains("EXIT=") } }
            let screen = try tmux.capture()
            #expect(ended && screen.contains("EXIT=0"), "\(e): \(screen)")
            try tmux.run(["send-keys", "-t", "t", "-l", "clear"])
            try tmux.run(["send-keys", "-t", "t", "Enter"])
            _ = try TmuxServer.waitUntil(5) { try !tmux.capture().contains { $0.contains("EXIT=") } }
            return
        }
        let prelude = #"""
        set -o pipefail
        sockscope() {
          local a watch= json= port= events= extra=() churn= rc
          for a in "$@"; do case $a in -w|--watch) watch=1;; --json) json=1;; --watch-port) port=1;; -E|--events) events=1;; esac; done
          if { [ -n "$watch" ] && [ -n "$json" ]; } || [ -n "$port" ]; then extra=(--count 2); fi
          if [ -n "$events" ]; then
            # -E waits for destroyed sockets: refused loopback connects make some (bounded: 100 x 0.1 s).
            extra=(--count 1)
            ( for i in $(seq 100); do
                python3 -c 'import socket
        s = socket.socket()
        try: s.connect(("127.0.0.1", 9))
        except OSError: pass' 2>/dev/null; sleep 0.1
              done ) & churn=$!
          fi
          "$SOCKSCOPE_UNDER_TEST" "$@" "${extra[@]}"; rc=$?
          if [ -n "$churn" ]; then kill "$churn" 2>/dev/null; wait "$churn" 2>/dev/null; fi
          return $rc
        }
        """#
        let script = prelude + "\n" + command + "\n"
        var env = ProcessInfo.processInfo.environment
        env["SOCKSCOPE_UNDER_TEST"] = Binary.sockscope
        env["PATH"] = dir.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        let r = try Binary.run("/bin/bash", ["-c", "cd \"$0\" && eval \"$1\"", dir.path, script], environment: env, timeout: 90)
        #expect(r.status == 0, "\(e): exit \(r.status)\n\(r.stderrText)\n\(r.stdoutText.prefix(500))")
        if command.contains("| jq") {
            #expect(!r.stderrText.contains("jq: error"), "\(e): \(r.stderrText)")
        }
    }

    /// `cmd > /etc/x/y` → `cmd > out._etc_x_y`: an unquoted redirection's target becomes a file
    /// of the working directory (`>` inside quotes, as in a jq filter, is left alone).
    static func redirectingIntoScratch(_ command: String) -> String {
        var out = "", quote: Character?, i = command.startIndex
        while i < command.endIndex {
            let c = command[i]
            if let q = quote {
                if c == q { quote = nil }
                out.append(c); i = command.index(after: i); continue
            }
            if c == "'" || c == "\"" { quote = c }
            out.append(c)
            i = command.index(after: i)
            guard c == ">" else { continue }
            while i < command.endIndex && command[i] == " " { out.append(" "); i = command.index(after: i) }
            var target = ""
            while i < command.endIndex && command[i] != " " { target.append(command[i]); i = command.index(after: i) }
            out += "out." + target.map { $0 == "/" || $0 == "~" ? "_" : String($0) }.joined()
        }
        return out
    }

    @Test func redirectionsLandInTheScratchDirectory() {
        #expect(Self.redirectingIntoScratch("a > /etc/b/c && d") == "a > out._etc_b_c && d")
        #expect(Self.redirectingIntoScratch("jq '.[] | select(.q > 0)' >x") == "jq '.[] | select(.q > 0)' >out.x")
    }

    @Test(.requires(groff, .tool("jq"), .tool("dot", package: "graphviz"), .tool("tmux")))
    func everyExampleRuns() throws {
        let examples = try Self.readmeExamples() + Self.manExamples()
        // The README has examples of every kind; the man page its EXAMPLES and COMPLETION.
        #expect(examples.count >= 40, "\(examples.count) examples")
        #expect(examples.contains { $0.origin.hasPrefix("sockscope.1") && $0.command.contains("| jq") })
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-examples-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["run-migrations"] {
            let path = dir.appendingPathComponent(name).path
            FileManager.default.createFile(atPath: path, contents: Data("#!/bin/sh\ntouch migrated\n".utf8),
                                           attributes: [.posixPermissions: 0o755])
        }
        // The filter file `-F filter.txt` reads.
        FileManager.default.createFile(atPath: dir.appendingPathComponent("filter.txt").path,
                                       contents: Data("# web traffic\n( sport = :443 or dport = :443 )\n".utf8))
        // What the examples wait for or look at: a listener on 5432 (if free, else someone listens
        // there already) and on 443/22 when free, with a connection each.
        var keep: [TestSocket] = []
        for port: UInt16 in [5432, 443, 22] {
            if let l = try? Loopback.tcpListener("127.0.0.1", port: port) {
                keep.append(l)
                if let (c, s) = try? Loopback.tcpPair(l) { keep += [c, s] }
            }
        }
        let tmux = TmuxServer()
        try tmux.newSession(width: 120, height: 30)
        defer { tmux.kill() }
        for e in examples { try Self.run(e, in: dir, tmux: tmux) }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("migrated").path), "--until-up ... && run-migrations ran")
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out.map.svg").path))
        _ = keep
    }

    // MARK: completions

    /// What bash completes after `sockscope WORDS… ` for the last option, through the generated script.
    static func bashCompletions(_ words: [String], script: URL) throws -> [String] {
        let line = ([Binary.sockscope] + words).map { "'\($0)'" }.joined(separator: " ")
        let r = try Binary.run("/bin/bash", ["-c", """
            source "$0"
            COMP_WORDS=(\(line) ''); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
            COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
            _sockscope "${COMP_WORDS[0]}" '' "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """, script.path])
        try #require(r.status == 0, "bash completion: \(r.stderrText)")
        return r.stdoutText.split(separator: "\n").map(String.init)
    }

    @Test(.requires(.root, .tool("ip", package: "iproute2"))) func completionsOfferOnlyWordsThatWork() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("sockscope-completion-\(getpid()).bash")
        defer { try? FileManager.default.removeItem(at: script) }
        let gen = try Binary.sockscope(["--generate-completion-script", "bash"])
        try #require(gen.status == 0)
        try gen.stdout.write(to: script)
        for shell in ["zsh", "fish"] {
            let r = try Binary.sockscope(["--generate-completion-script", shell])
            #expect(r.status == 0 && r.stdoutText.contains("---completion") && r.stdoutText.contains("time-wait"), "\(shell)")
        }

        func works(_ args: [String]) throws {
            let r = try Binary.sockscope(args + ["-H"])
            #expect(r.status == 0, "sockscope \(args.joined(separator: " ")): \(r.stderrText)")
        }
        let states = try Self.bashCompletions(["--state"], script: script)
        #expect(states.contains("time-wait") && states.contains("established") && states.count == 16, "\(states)")
        for s in states { try works(["--state", s]) }
        let sources = try Self.bashCompletions(["--source"], script: script)
        #expect(Set(sources) == ["auto", "netlink", "proc"])
        for s in sources { try works(["-t", "--source", s]) }
        let sortKeys = try Self.bashCompletions(["--sort"], script: script)
        #expect(sortKeys.contains("recv-q") && sortKeys.contains("rtt"))
        for k in sortKeys { try works(["-ta", "--sort", k]) }
        for (context, expected) in [([String](), ["table", "json", "csv"]), (["--map"], ["table", "json", "dot"]),
                                    (["--listeners"], ["table", "json"])] {
            let formats = try Self.bashCompletions(context + ["--format"], script: script)
            #expect(formats == expected, "\(context): \(formats)")
            for f in formats { try works(context + ["--format", f]) }
        }
        // Running pids: this test's own among them; each offered pid is accepted.
        let pids = try Self.bashCompletions(["-ta", "--pid"], script: script)
        #expect(pids.contains(String(getpid())) && pids.allSatisfy { Int32($0) != nil }, "\(pids.prefix(20))")
        for p in pids.prefix(5) + [String(getpid())] { try works(["-t", "--pid", p]) }
        // Network namespaces: one made here is offered and can be entered.
        let ns = "sockscope-completion-\(getpid())"
        let add = try Binary.run(try Requirement.tool("ip", package: "iproute2").path(), ["netns", "add", ns])
        try #require(add.status == 0, "ip netns add: \(add.stderrText)")
        defer { _ = try? Binary.run("/usr/sbin/ip", ["netns", "delete", ns]); _ = try? Binary.run("/usr/bin/ip", ["netns", "delete", ns]) }
        let names = try Self.bashCompletions(["--netns"], script: script)
        #expect(names.contains(ns), "\(names)")
        for n in names { try works(["-ta", "--netns", n]) }
    }
}
