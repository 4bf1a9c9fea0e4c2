import ArgumentParser
import SockscopeCollect
import SockscopeFilter
import SockscopeSystem

/// Shell completions for option values (`--generate-completion-script bash|zsh|fish`). Each
/// offers only words the option accepts: a completed command line never fails on the value.
enum Completions {
    /// `--state`: the state names `StateSet` parses.
    static let states = CompletionKind.list(StateSet.vocabulary.split(separator: ",").map {
        String($0.drop { $0 == " " })
    })

    /// `--source`: auto, netlink, proc.
    static let sources = CompletionKind.list(SourceChoice.allCases.map(\.rawValue))

    /// `--format`: what the command line so far accepts (dot with --map, csv for the listing).
    static let formats = CompletionKind.custom { words, _, _ in
        if words.contains("--map") { return ["table", "json", "dot"] }
        if words.contains("--listeners") { return ["table", "json"] }
        return ["table", "json", "csv"]
    }

    /// `--netns`: the names under /run/netns (where `ip netns add` puts them).
    static let namespaces = CompletionKind.custom { _, _, _ in
        names(in: "/run/netns") { !$0.contains("\u{FFFD}") }  // a name that did not decode could not be typed back
    }

    /// `--pid`: the running processes (numeric entries of /proc).
    static let pids = CompletionKind.custom { _, _, _ in
        names(in: "/proc") { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && $0.first != "0" }
            .sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }
    }

    static func names(in path: String, where keep: (String) -> Bool) -> [String] {
        guard let dir = try? Directory(path: path), let names = try? dir.entryNames() else { return [] }
        return names.filter { $0 != "." && $0 != ".." && keep($0) }.sorted()
    }
}
