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
        }
    }

    var refreshes: Bool {
        switch self {
        case .stream, .watch, .watchPort, .untilUp, .untilDown: return true
        case .list, .summary, .listeners, .map: return false
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
        func reject(_ option: String, _ why: String) throws {
            throw ValidationError("\(option) does not apply to \(mode.spelling): \(why)")
        }
        if intervalGiven != nil && !mode.refreshes {
            try reject("--interval", "only -w, -w --json, --watch-port, --until-up and --until-down refresh")
        }
        if count != nil {
            switch mode {
            case .stream, .watchPort, .untilUp, .untilDown: break
            default: try reject("--count", "it counts the refreshes of -w --json, --watch-port, --until-up and --until-down")
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
        if extended {
            switch mode {
            case .list, .stream, .watchPort, .untilUp, .untilDown: break
            default: try reject("-e", "only socket rows (the listing, -w --json, --watch-port) carry uid, inode and cookie")
            }
        }
        if noHeader {
            switch mode {
            case .list, .listeners, .map: break
            default: try reject("-H", "only tables have a header")
            }
        }
        if processes {
            switch mode {
            case .list, .stream, .watch: break
            case .listeners, .map, .watchPort, .untilUp, .untilDown: try reject("-p", "it always shows owners")
            case .summary: try reject("-p", "a summary has no rows to show owners on (--pid and --process still select)")
            }
        }
    }
}
