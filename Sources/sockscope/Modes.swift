import ArgumentParser
import SockscopeFilter

/// The one thing a run does.
///
/// Modes are flags resolved to exactly one choice, not subcommands: ss's spellings (`-s`, `-w`,
/// `-l`, `-a`) must keep working, `sockscope -tan` must stay ss's command line, and the filter
/// expression is positional (`sockscope -t state established dst 10.1.2.3`), so a subcommand word
/// would collide with filter words. Exclusivity is enforced here instead: two modes, or an option
/// that means nothing in the chosen mode, is a usage error naming both.
enum Mode: Equatable {
    case list
    /// `-w --json`: the NDJSON event stream.
    case stream
    /// `-w`: the live view.
    case watch
    case summary
    case listeners
    case map
    case watchPort(ListenTargets)
    case untilUp(ListenTargets)
    case untilDown(ListenTargets)
    /// `-E`: destroyed sockets as rows.
    case events

    /// How the user spelled it, for messages.
    var spelling: String {
        switch self {
        case .list: return "the listing"
        case .stream: return "-w --json"
        case .watch: return "-w"
        case .summary: return "-s"
        case .listeners: return "--listeners"
        case .map: return "--map"
        case .watchPort: return "--watch-port"
        case .untilUp: return "--until-up"
        case .untilDown: return "--until-down"
        case .events: return "-E"
        }
    }

    var refreshes: Bool {
        switch self {
        case .stream, .watch, .watchPort, .untilUp, .untilDown: return true
        case .list, .summary, .listeners, .map, .events: return false
        }
    }
}

extension Sockscope {
    /// Every mode flag given, in command-line order of precedence; more than one is a usage error.
    var modesGiven: [Mode] {
        var modes: [Mode] = []
        if watch { modes.append(json ? .stream : .watch) }
        if summary { modes.append(.summary) }
        if listeners { modes.append(.listeners) }
        if map { modes.append(.map) }
        if let watchPorts { modes.append(.watchPort(watchPorts)) }
        if let untilUp { modes.append(.untilUp(untilUp)) }
        if let untilDown { modes.append(.untilDown(untilDown)) }
        if events { modes.append(.events) }
        return modes
    }

    /// The chosen mode (valid after `validate()`).
    var mode: Mode { modesGiven.first ?? .list }

    /// Combinations that cannot mean anything are usage errors (status 2), never silently ignored.
    func validateMode() throws {
        let modes = modesGiven
        if modes.count > 1 {
            throw ValidationError("\(modes[0].spelling) and \(modes[1].spelling) cannot be combined: choose one mode")
        }
        let mode = modes.first ?? .list
        try validateOutput(in: mode)
        try validateRowOptions(in: mode)
        try validateActions(in: mode)
    }

    /// Refreshing, the output format and shaping, and what the rows are read with (-m, -i, -o, -O).
    func validateOutput(in mode: Mode) throws {
        func reject(_ option: String, _ why: String) throws {
            throw ValidationError("\(option) does not apply to \(mode.spelling): \(why)")
        }
        if intervalGiven != nil && !mode.refreshes {
            try reject("--interval", "only -w, -w --json, --watch-port, --until-up and --until-down refresh")
        }
        if count != nil {
            switch mode {
            case .stream, .watchPort, .untilUp, .untilDown, .events: break
            default: try reject("--count", "it counts the refreshes of -w --json, --watch-port, --until-up and --until-down, or -E's rows")
            }
        }
        if timeoutGiven != nil {
            switch mode {
            case .untilUp, .untilDown: break
            default: try reject("--timeout", "it bounds --until-up and --until-down only")
            }
        }
        if let format {
            switch (mode, format) {
            case (.list, .table), (.list, .json), (.list, .csv), (.listeners, .table), (.listeners, .json),
                 (.map, .table), (.map, .json), (.map, .dot):
                break
            case (_, .dot): try reject("--format dot", "Graphviz output is for --map")
            case (_, .csv): try reject("--format csv", "CSV is for the listing")
            default: try reject("--format", "it chooses the output of the listing, --map and --listeners")
            }
            if json && format != .json { throw ValidationError("--json and --format \(format.rawValue) cannot be combined") }
        }
        if shape.isSet && mode != .list { try reject("--sort and --limit", "they shape the listing only") }
        switch mode {
        case .listeners, .map, .watchPort, .untilUp, .untilDown:
            let reads = mode == .map ? "it reads every state" : "it reads listening sockets"
            if state != nil { try reject("--state", reads) }
            if all { try reject("-a", reads) }
            if listening { try reject("-l", reads) }
        default: break
        }
        if memory {
            switch mode {
            case .list, .stream: break
            case .watch: try reject("-m", "the live view always reads socket memory (Enter opens the detail pane)")
            default: try reject("-m", "only the listing and -w --json show socket memory")
            }
        }
        if info {
            switch mode {
            case .list, .stream, .map: break
            case .watch: try reject("-i", "the live view always reads TCP internals (Enter opens the detail pane)")
            default: try reject("-i", "only the listing, -w --json and --map show TCP internals")
            }
        }
        if timers {
            switch mode {
            case .list, .stream: break
            default: try reject("-o", "only the listing and -w --json show socket timers")
            }
        }
        if oneLine {
            if mode != .list { try reject("-O", "it puts the -i fields of the listing's table on one line") }
            if !info { throw ValidationError("-O puts the -i fields on the socket's row: give -i too") }
            if json { throw ValidationError("-O and --json cannot be combined: JSON is one object per socket already") }
        }
    }

    /// Dump files and what the rows carry (-e, -H, -p, -b, -T, -r, --cgroup).
    func validateRowOptions(in mode: Mode) throws {
        func reject(_ option: String, _ why: String) throws {
            throw ValidationError("\(option) does not apply to \(mode.spelling): \(why)")
        }
        if diagFile != nil || fromDump != nil {
            let option = diagFile != nil ? "-D" : "--from-dump"
            if mode != .list { try reject(option, "dump files are for the listing") }
            if diagFile != nil && fromDump != nil { throw ValidationError("-D and --from-dump cannot be combined") }
            let raw = families.raw || [families.tables, families.family].contains { $0?.protocols.contains(.raw) ?? false }
            if families.selectsOtherFamilies || raw {
                // The file holds inet_diag dumps only (ss -D's too): another table would be left out unsaid.
                throw ValidationError("\(option) is for TCP, UDP and MPTCP (inet_diag dumps): UNIX, raw, packet and netlink "
                    + "tables are not in dump files; use --json to keep them")
            }
            if source == .proc { throw ValidationError("\(option) and --source proc cannot be combined: a dump is netlink's") }
            if fromDump != nil {
                if processes || pid != nil || processName != nil {
                    throw ValidationError("--from-dump and -p/--pid/--process cannot be combined: owners are this machine's, the dump may not be")
                }
                if netns != nil { throw ValidationError("--from-dump and --netns cannot be combined: the dump is read, no namespace is entered") }
                if source != .auto { throw ValidationError("--from-dump and --source cannot be combined: the file is the source") }
            }
        }
        if extended {
            switch mode {
            case .list, .stream, .watchPort, .untilUp, .untilDown, .events: break
            default: try reject("-e", "only socket rows (the listing, -w --json, --watch-port, -E) carry uid, inode and cookie")
            }
        }
        if noHeader {
            switch mode {
            case .list, .listeners, .map, .events: break
            default: try reject("-H", "only tables have a header")
            }
        }
        if processes {
            switch mode {
            case .list, .stream, .watch: break
            case .listeners, .map, .watchPort, .untilUp, .untilDown: try reject("-p", "it always shows owners")
            case .summary: try reject("-p", "a summary has no rows to show owners on (--pid and --process still select)")
            case .events: try reject("-p", "a destroyed socket has no owner left to show")
            }
        }
        if bpf {
            if mode != .list { try reject("-b", "only the listing shows packet sockets' BPF programs") }
            if source == .proc { throw ValidationError("-b and --source proc cannot be combined: the program comes from packet_diag") }
        }
        if threads {
            if mode != .list { try reject("-T", "only the listing shows owners per thread") }
            if fromDump != nil { throw ValidationError("--from-dump and -T cannot be combined: owners are this machine's, the dump may not be") }
        }
        if resolve {
            switch mode {
            case .list, .watch: break
            default: try reject("-r", "only the listing and the live view show host names")
            }
            if format == .csv { throw ValidationError("-r and --format csv cannot be combined: CSV keeps addresses numeric") }
        }
        if resolveTimeoutGiven != nil && !resolve { throw ValidationError("--resolve-timeout goes with -r") }
        if cgroup {
            if mode != .list { try reject("--cgroup", "only the listing shows socket cgroups") }
            if source == .proc { throw ValidationError("--cgroup and --source proc cannot be combined: the cgroup id comes from netlink") }
        }
    }

    /// What acts on the sockets (-K, --dry-run) and the destroy events (-E).
    func validateActions(in mode: Mode) throws {
        func reject(_ option: String, _ why: String) throws {
            throw ValidationError("\(option) does not apply to \(mode.spelling): \(why)")
        }
        if dryRun && !kill { throw ValidationError("--dry-run goes with -K: it lists what -K would close") }
        if kill {
            if mode != .list { try reject("-K", "it closes the sockets of a listing") }
            if fromDump != nil { throw ValidationError("-K and --from-dump cannot be combined: a dump's sockets are not this kernel's") }
            if source == .proc { throw ValidationError("-K and --source proc cannot be combined: closing goes through netlink") }
            if families.selectsOtherFamilies {
                throw ValidationError("-K closes TCP, UDP, raw and MPTCP sockets: the kernel cannot close UNIX, packet or netlink sockets (SOCK_DESTROY)")
            }
            let selects = !expressionWords.isEmpty || filterFile != nil || !src.isEmpty || !dst.isEmpty
                || port != nil || sport != nil || dport != nil || pid != nil || processName != nil
            if !selects {
                // ss closes every socket on the machine here: one forgotten word from an outage.
                throw ValidationError("-K without a filter would close every socket: give an expression (e.g. 'dport = :8080'), "
                    + "--src/--dst, --port/--sport/--dport, --pid or --process")
            }
        }
        if mode == .events {
            if json { throw ValidationError("-E and --json cannot be combined: use -w --json for the event stream") }
            if pid != nil || processName != nil { try reject("--pid/--process", "a destroyed socket has no owner left to select by") }
        }
    }
}
