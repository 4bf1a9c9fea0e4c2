import ArgumentParser
import SockscopeAnalysis
import SockscopeCollect
import SockscopeFilter
import SockscopeModel
import SockscopeRender
import SockscopeSystem

#if canImport(Glibc)
import Glibc
#endif

/// /etc/services, read once and only when a name must be shown or resolved.
let services: ServiceTable = ServicesParser.load()

@main
struct Sockscope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sockscope",
        abstract: "List sockets (TCP, UDP, UNIX, raw, packet, MPTCP, netlink), like ss and netstat, as a table or JSON.",
        discussion: """
        By default sockscope lists connected TCP and UDP sockets (all states but LISTEN, \
        TIME_WAIT, SYN_RECV and CLOSE), read from the kernel with netlink sock_diag, or from \
        /proc/net when netlink is unavailable. Other tables are selected as in ss: -x (UNIX), --raw, \
        -0 (packet), -M (MPTCP), --netlink, -A LIST, -f FAMILY; ss's -w (raw) is sockscope's live view. \
        Port lists take ports, ranges and service names: \
        --port 22,80,8000-8100,https. Exit status: 0 success, 1 runtime failure, 2 usage error.
        """,
        version: "0.1.0")

    @Flag(name: [.customShort("t"), .customLong("tcp")], help: "TCP sockets (default: TCP and UDP).")
    var tcp = false
    @Flag(name: [.customShort("u"), .customLong("udp")], help: "UDP sockets (default: TCP and UDP).")
    var udp = false
    @Flag(name: [.customShort("4"), .customLong("ipv4")], help: "IPv4 sockets only.")
    var ipv4 = false
    @Flag(name: [.customShort("6"), .customLong("ipv6")], help: "IPv6 sockets only (including IPv4-mapped peers).")
    var ipv6 = false
    @OptionGroup var families: FamilyOptions
    @Flag(name: [.customShort("l"), .customLong("listening")], help: "Listening TCP and unconnected UDP sockets only.")
    var listening = false
    @Flag(name: [.customShort("a"), .customLong("all")], help: "Sockets in every state.")
    var all = false
    @Option(name: .customLong("state"), help: ArgumentHelp(
        "Only these states: a list of ss state names.", valueName: "list"),
            completion: Completions.states, transform: parseStates)
    var state: StateSet?
    @Option(name: .customLong("port"), help: ArgumentHelp(
        "Either end's port in the list (ports, ranges a-b, service names).", valueName: "list"),
            transform: parsePorts)
    var port: PortSpec?
    @Option(name: .customLong("sport"), help: ArgumentHelp("Local port in the list.", valueName: "list"),
            transform: parsePorts)
    var sport: PortSpec?
    @Option(name: .customLong("dport"), help: ArgumentHelp("Remote port in the list.", valueName: "list"),
            transform: parsePorts)
    var dport: PortSpec?

    @Flag(name: [.customShort("n"), .customLong("numeric")], help: "Show ports as numbers, not service names.")
    var numeric = false
    @Flag(name: .customLong("json"), help: "Print a JSON array, one object per socket (see sockscope(1)).")
    var json = false
    @Flag(name: [.customShort("H"), .customLong("no-header")], help: "Leave out the table header.")
    var noHeader = false
    @Flag(name: [.customShort("e"), .customLong("extended")], help: "Show uid, inode and socket cookie.")
    var extended = false
    @Flag(name: [.customShort("i"), .customLong("info")], help: "Show TCP internals (netlink only).")
    var info = false
    @Flag(name: [.customShort("m"), .customLong("memory")], help: "Show socket memory (netlink only).")
    var memory = false
    @Flag(name: [.customShort("o"), .customLong("options")],
          help: "Show each socket's timer, as ss does: timer:(KIND,EXPIRES,RETRANSMITS) (netlink only).")
    var timers = false
    @Flag(name: .customLong("cgroup"), help: "Show each socket's cgroup (v2) path, from INET_DIAG_CGROUP_ID (netlink only).")
    var cgroup = false
    @Flag(name: [.customShort("O"), .customLong("oneline")], help: "With -i: the TCP internals on the socket's row.")
    var oneLine = false

    @Option(name: .customLong("source"), help: ArgumentHelp(
        "Where to read sockets: auto (netlink, falling back to /proc), netlink or proc.", valueName: "source"),
            completion: Completions.sources)
    var source: SourceChoice = .auto
    @Option(name: .customLong("proc-root"), help: ArgumentHelp("Where procfs is mounted.", valueName: "dir"),
            completion: .directory)
    var procRoot = "/proc"
    @Option(name: [.customShort("D"), .customLong("diag")], help: ArgumentHelp(
        "Also write the raw netlink dump the listing was read from to this file, in ss -D's format "
            + "('-': write it to standard output instead of the listing).", valueName: "file"))
    var diagFile: String?
    @Option(name: .customLong("from-dump"), help: ArgumentHelp(
        "Read sockets from a dump file (written by -D, or by ss -D) instead of the kernel.", valueName: "file"))
    var fromDump: String?

    // MARK: owners
    @Flag(name: [.customShort("p"), .customLong("processes")], help: "Show the processes holding each socket (pid, name, fd).")
    var processes = false
    @Option(name: .customLong("pid"), help: ArgumentHelp("Only sockets held by this process (implies -p).", valueName: "pid"),
            completion: Completions.pids, transform: parsePID)
    var pid: Int32?
    @Option(name: .customLong("process"), help: ArgumentHelp(
        "Only sockets held by a process of this name, as the kernel keeps it (at most 15 bytes; implies -p).",
        valueName: "name"))
    var processName: String?
    @Flag(name: [.customShort("T"), .customLong("threads")], help: ArgumentHelp(
        "Show the threads holding each socket (pid, tid, thread name, fd), one entry per thread, as ss -T; implies -p."))
    var threads = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: ArgumentHelp(
        "Leave out notices (owners that could not be read, a --pid that is not running, …); errors still go to stderr."))
    var quiet = false

    @Flag(name: [.customShort("b"), .customLong("bpf")], help: ArgumentHelp(
        "Show the classic BPF program attached to each packet socket (with -0), as ss -b (netlink only)."))
    var bpf = false

    // MARK: names
    @Flag(name: [.customShort("r"), .customLong("resolve")], help: ArgumentHelp(
        "Show host names for addresses (getnameinfo: /etc/hosts, then DNS; looked up in parallel, cached for the run)."))
    var resolve = false
    @Option(name: .customLong("resolve-timeout"), help: ArgumentHelp(
        "With -r: seconds one lookup may take before its address stays numeric (default 1; more than 0, at most 3600).",
        valueName: "seconds"), transform: { try parseSeconds($0, option: "--resolve-timeout") })
    var resolveTimeoutGiven: Double?
    var resolveTimeout: Double { resolveTimeoutGiven ?? 1 }

    // MARK: live view
    @Flag(name: [.customShort("w"), .customLong("watch")],
          help: "Live view: a full-screen table that refreshes in place (q quits, ? lists the keys). Not ss's -w: raw sockets are --raw.")
    var watch = false
    @Option(name: .customLong("interval"), help: ArgumentHelp(
        "Seconds between refreshes with -w, --watch-port and --until-up (default 1; at least 0.05, at most 3600).",
        valueName: "seconds"), transform: parseInterval)
    var intervalGiven: Double?
    var interval: Double { intervalGiven ?? 1 }

    @Flag(name: [.customShort("K"), .customLong("kill")], help: ArgumentHelp(
        "Close every socket the filter selects (SOCK_DESTROY; needs CAP_NET_ADMIN) and list what was closed. "
            + "Refused without a filter expression, --src/--dst, a port option, --pid or --process."))
    var kill = false
    @Flag(name: .customLong("dry-run"), help: "With -K: list what would be closed, close nothing.")
    var dryRun = false
    @Flag(name: [.customShort("E"), .customLong("events")], help: ArgumentHelp(
        "Print each socket as the kernel destroys it, until interrupted (ss's events; -w --json also reports opens)."))
    var events = false

    // MARK: scripting
    @Option(name: .customLong("count"), help: ArgumentHelp(
        "With -w --json or --watch-port: stop after this many refreshes.", valueName: "n"), transform: parseCount)
    var count: Int?
    @Flag(name: [.customShort("s"), .customLong("summary")],
          help: "Totals per protocol, family and state, top listening ports and top peers (with --json: one object).")
    var summary = false
    @Option(name: .customLong("watch-port"), help: ArgumentHelp(
        "Print a line whenever one of these ports starts or stops listening (UP/DOWN), until interrupted. "
            + "Items as in --port, or HOST:PORT for one address (127.0.0.1:8080, [::1]:8080).",
        valueName: "list"), transform: parseTargets)
    var watchPorts: ListenTargets?
    @Option(name: .customLong("until-up"), help: ArgumentHelp(
        "Wait until every port (or HOST:PORT) in the list is listening: exit 0 then, 1 after --timeout.",
        valueName: "list"), transform: parseTargets)
    var untilUp: ListenTargets?
    @Option(name: .customLong("until-down"), help: ArgumentHelp(
        "Wait until no port (or HOST:PORT) in the list is listening: exit 0 then, 1 after --timeout.",
        valueName: "list"), transform: parseTargets)
    var untilDown: ListenTargets?
    @Option(name: .customLong("timeout"), help: ArgumentHelp(
        "Seconds --until-up and --until-down wait (default 30; more than 0, at most 3600).", valueName: "seconds"), transform: parseTimeout)
    var timeoutGiven: Double?
    var timeout: Double { timeoutGiven ?? 30 }

    // MARK: port insight
    @Flag(name: .customLong("listeners"), help: ArgumentHelp(
        "Listener health: per listening TCP socket, the accept queue against its backlog (! when over half), "
            + "established connections, distinct and top peers, and owner."))
    var listeners = false
    @Flag(name: .customLong("map"), help: ArgumentHelp(
        "Connection map: established connections as client -> server edges with counts (and bytes with -i), "
            + "plus ephemeral-port use per destination."))
    var map = false
    @Option(name: .customLong("format"), help: ArgumentHelp(
        "Output: table (default), json, csv (the listing only; RFC 4180), or dot (Graphviz; --map only).",
        valueName: "format"), completion: Completions.formats)
    var format: InsightFormat?
    @OptionGroup var shape: ShapeOptions

    // MARK: filter options
    @Option(name: [.customShort("F"), .customLong("filter-file")], help: ArgumentHelp(
        "Read the filter expression from a file ('-': standard input; '#' starts a comment).", valueName: "file"))
    var filterFile: String?
    @Option(name: .customLong("src"), help: ArgumentHelp(
        "Local address in ss form, [FAMILY:]ADDR[/PREFIX][:PORT] (repeatable, joined with and).", valueName: "host"))
    var src: [String] = []
    @Option(name: .customLong("dst"), help: ArgumentHelp(
        "Remote address in ss form, [FAMILY:]ADDR[/PREFIX][:PORT] (repeatable, joined with and).", valueName: "host"))
    var dst: [String] = []
    @Argument(parsing: .remaining, help: ArgumentHelp(
        "A filter in ss's language, after the options: [state NAME|exclude NAME]... EXPRESSION (see sockscope(1)).",
        valueName: "filter"))
    var expressionWords: [String] = []

    // MARK: namespaces
    @Option(name: [.customShort("N"), .customLong("net"), .customLong("netns")], help: ArgumentHelp(
        "List the sockets of this network namespace: a name under /run/netns, or a path such as /proc/PID/ns/net "
            + "(-N/--net is ss's spelling).",
        valueName: "name"), completion: Completions.namespaces)
    var netns: String?

    static func main() {
        ProcessSetup.makeCrashReportsNonInteractive()
        ProcessSetup.ignoreBrokenPipe()
        ProcessSetup.reserveStandardDescriptors()
        var arguments = Array(CommandLine.arguments.dropFirst())
        // Completion scripts offer `help` as a word; make it mean what it says.
        if arguments.first == "help" { arguments = ["--help"] }
        let command: Sockscope
        do {
            command = try Sockscope.parse(joinNegativeValues(arguments))
        } catch {
            exitForParseError(error)
        }
        if let status = command.enterNetworkNamespace() { Glibc.exit(status) }
        if let status = command.preflight() { Glibc.exit(status) }
        if let status = command.prepareFilter() { Glibc.exit(status) }
        Glibc.exit(command.execute())
    }

    /// Help and version go to stdout with status 0; anything else is a usage error: one line and status 2.
    static func exitForParseError(_ error: Error) -> Never {
        if exitCode(for: error) == .success {
            // Help and version are output like any other: a write that fails (`> /dev/full`) fails the run.
            var text = fullMessage(for: error)
            if !text.hasSuffix("\n") { text += "\n" }
            do {
                try FileOutput().write(Array(text.utf8))
            } catch {
                if error != .closed { FileOutput.standardError("sockscope: \(error.message)") }
                Glibc.exit(error == .closed ? 0 : 1)
            }
            Glibc.exit(0)
        }
        let reason = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        if let unknown = SSCompatibility.quoted(in: reason, after: "Unknown option "),
           let answer = SSCompatibility.answer(for: unknown) {
            FileOutput.standardError("sockscope: \(answer)")
        } else {
            FileOutput.standardError("sockscope: \(SSCompatibility.tune(reason))")
        }
        FileOutput.standardError("Usage: " + usageString())
        FileOutput.standardError("See 'sockscope --help' for more information.")
        Glibc.exit(2)
    }

    var query: Query {
        var q = Query()
        if ipv4 != ipv6 { q.families = ipv4 ? [.inet] : [.inet6] }
        families.apply(to: &q, tcp: tcp, udp: udp)
        q.states = state ?? (all ? .all : listening ? .listening : .connected)
        q.ports = PortFilter(source: sport, destination: dport, either: port)
        q.pid = pid
        q.processName = processName
        applyFilter(to: &q)
        return q
    }

    func validate() throws { try validateMode() }

    /// Runs the chosen mode; returns the exit status.
    func execute() -> Int32 {
        if let reason = families.unavailable {
            FileOutput.standardError("sockscope: \(reason)")
            return 1
        }
        // The argument parser's and the runtime's start-up code is done: its pages need not stay
        // resident through a large listing (see ProcessMemory.dropStartupText).
        ProcessMemory.dropStartupText()
        switch mode {
        case .list: return runListing()
        case .events: return runEvents()
        case .stream: return runStream()
        case .watch: return runWatch()
        case .summary: return runSummary()
        case .listeners: return runListeners()
        case .map: return runMap()
        case .watchPort(let targets): return runPortWatch(targets, until: nil)
        case .untilUp(let targets): return runPortWatch(targets, until: .up)
        case .untilDown(let targets): return runPortWatch(targets, until: .down)
        }
    }
}

func parseTargets(_ text: String) throws -> ListenTargets {
    do {
        return try ListenTargets(parsing: text, resolve: { services.ports(named: $0) })
    } catch {
        throw ValidationError(error.message)
    }
}

/// Options whose value may look like a negative number.
let valueOptions: Set<String> = ["--port", "--sport", "--dport", "--watch-port", "--until-up", "--interval", "--timeout",
                                 "--count", "--pid"]

/// `--port -1` → `--port=-1`: the argument parser takes `-1` for an option of its own and says
/// "Missing value for '--port'", when what is wrong is the port; joined, the value reaches the
/// option's own check and its message.
func joinNegativeValues(_ args: [String]) -> [String] {
    var out: [String] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        if a == "--" { out += args[i...]; break }
        if valueOptions.contains(a), i + 1 < args.count, let next = args[i + 1].utf8.dropFirst().first,
           args[i + 1].hasPrefix("-"), (0x30...0x39).contains(next) || next == UInt8(ascii: ".") {
            out.append(a + "=" + args[i + 1])
            i += 2
            continue
        }
        out.append(a)
        i += 1
    }
    return out
}

func parsePorts(_ text: String) throws -> PortSpec {
    do {
        return try PortSpec(parsing: text, resolve: { services.ports(named: $0) })
    } catch {
        throw ValidationError(error.message)
    }
}

/// `--count N`: a positive number of refreshes.
func parseCount(_ text: String) throws -> Int {
    guard let v = Int(text), v > 0 else { throw ValidationError("--count must be a positive number (got '\(text)')") }
    return v
}

func parseStates(_ text: String) throws -> StateSet {
    do {
        return try StateSet(parsing: text)
    } catch {
        throw ValidationError(error.message)
    }
}

extension SourceChoice: ExpressibleByArgument {}
