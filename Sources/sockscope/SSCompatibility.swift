/// What sockscope says about an ss option it does not take: someone switching from ss types ss's
/// flags, and "Unknown option" (or a "did you mean" pointing at an unrelated option) tells them
/// nothing. Consulted only when the argument parser rejects an option, so an entry never shadows
/// an option sockscope has.
enum SSCompatibility {
    struct Answer {
        var spellings: [String]
        var answer: String
    }

    static let answers: [Answer] = [
        Answer(spellings: ["-Q", "--no-queues"], answer: "the queue columns are always shown; --json and jq pick fields"),
        Answer(spellings: ["-B", "--bound-inactive"], answer: "bound-inactive sockets are not listed yet"),
        Answer(spellings: ["--tos"], answer: "ToS/traffic class is not supported yet"),
        Answer(spellings: ["--tipcinfo"], answer: "TIPC sockets are not supported"),
        Answer(spellings: ["--inet-sockopt"], answer: "socket options are not supported yet"),
        Answer(spellings: ["-Z", "--context", "-z", "--contexts"],
               answer: "SELinux contexts are not available (this tool reads none; most systems it runs on have no SELinux)"),
        Answer(spellings: ["--bpf-maps", "--bpf-map-id"], answer: "BPF socket-local storage is not supported"),
        Answer(spellings: ["-V"], answer: "use --version"),
        Answer(spellings: ["-d", "--dccp"], answer: "DCCP sockets are not supported"),
        Answer(spellings: ["--xdp"], answer: "XDP sockets are not supported"),
    ]

    /// The answer for `option` as the parser named it (`-K`, `--kill`, `--net=x`), if ss has it.
    static func answer(for option: String) -> String? {
        let name = option.split(separator: "=", maxSplits: 1).first.map(String.init) ?? option
        guard let a = answers.first(where: { $0.spellings.contains(name) }) else { return nil }
        return "\(a.spellings.joined(separator: "/")) (an ss option): \(a.answer)"
    }

    /// A parser message with any "Did you mean" that does not resemble what was typed removed:
    /// `--kill` → `--all` misleads more than no suggestion. Kept when the suggestion starts with the
    /// same letter and is one edit away (two for longer names), transpositions counting as one.
    static func tune(_ message: String) -> String {
        guard let typed = quoted(in: message, after: "Unknown option "),
              let cut = find(". Did you mean ", in: message), let suggested = quoted(in: message, after: "Did you mean ")
        else { return message }
        let a = Array(typed.drop { $0 == "-" }), b = Array(suggested.drop { $0 == "-" })
        let close = a.first == b.first && distance(a, b) <= (max(a.count, b.count) > 6 ? 2 : 1)
        return close ? message : String(message[..<cut.lowerBound])
    }

    /// The text between single quotes right after `prefix`.
    static func quoted(in text: String, after prefix: String) -> String? {
        guard let r = find(prefix + "'", in: text) else { return nil }
        let rest = text[r.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    /// The first occurrence of `needle` (the CLI links no Foundation, which has `range(of:)`).
    static func find(_ needle: String, in text: String) -> Range<String.Index>? {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i...].hasPrefix(needle) { return i..<text.index(i, offsetBy: needle.count) }
            i = text.index(after: i)
        }
        return nil
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}
