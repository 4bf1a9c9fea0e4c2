/// How much styling the terminal gets: `NO_COLOR` turns colours off, `TERM=dumb` everything.
public struct TerminalStyle: Sendable {
    public var colors: Bool
    public var attributes: Bool
    public init(colors: Bool, attributes: Bool) { self.colors = colors; self.attributes = attributes }

    /// From the environment: https://no-color.org and `TERM=dumb`.
    public static func from(environment env: [String: String]) -> TerminalStyle {
        let dumb = env["TERM"] == "dumb"
        let noColor = !(env["NO_COLOR"] ?? "").isEmpty
        return TerminalStyle(colors: !dumb && !noColor, attributes: !dumb)
    }
}
