import Foundation
import TestSupport
import Testing

/// One mode per run, and only options that mean something in it: anything else is a usage error
/// (status 2, the reason on the first line, nothing on stdout), never silently ignored.
@Suite struct ModeTests {
    @Test(arguments: [
        (["-s", "-w"], "-w and -s cannot be combined"),
        (["-w", "--watch-port", "22"], "-w and --watch-port cannot be combined"),
        (["--until-up", "80", "--watch-port", "22"], "--watch-port and --until-up cannot be combined"),
        (["-w", "--json", "-s"], "-w --json and -s cannot be combined"),
        (["--listeners", "--map"], "--listeners and --map cannot be combined"),
        (["--count", "3"], "--count does not apply to the listing"),
        (["-s", "--count", "3"], "--count does not apply to -s"),
        (["--timeout", "5"], "--timeout does not apply to the listing"),
        (["--watch-port", "22", "--timeout", "5"], "--timeout does not apply to --watch-port"),
        (["-s", "--format", "json"], "--format does not apply to -s"),
        (["--interval", "2"], "--interval does not apply to the listing"),
        (["--map", "-a"], "-a does not apply to --map"),
        (["--listeners", "--state", "listening"], "--state does not apply to --listeners"),
        (["-w", "-i"], "-i does not apply to -w"),
        (["-s", "-m"], "-m does not apply to -s"),
        (["--listeners", "-p"], "-p does not apply to --listeners"),
        (["-s", "-H"], "-H does not apply to -s"),
        (["--map", "-e"], "-e does not apply to --map"),
    ])
    func conflictingOrMeaninglessOptionsAreUsageErrors(args: [String], reason: String) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 2, "\(args): \(r.stderrText)")
        #expect(r.stdout.isEmpty, "\(args)")
        let lines = r.stderrText.split(separator: "\n")
        #expect(lines.first.map { $0.hasPrefix("sockscope: \(reason)") } == true, "\(args): \(r.stderrText)")
    }

    @Test(arguments: [["--until-up", "1", "--timeout", "0.2", "--interval", "0.1"], ["--watch-port", "1", "--count", "1"],
                      ["-w", "--json", "--count", "1", "--interval", "0.1"], ["-s", "--json"], ["--listeners", "--json"],
                      ["--map", "--format", "dot"], ["-tan", "-e", "-i", "-m", "-H"], ["-tl", "-n"]])
    func optionsThatApplyAreAccepted(args: [String]) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 0 || (args.first == "--until-up" && r.status == 1), "\(args): \(r.stderrText)")
        #expect(!r.stderrText.contains("does not apply") && !r.stderrText.contains("cannot be combined"), "\(r.stderrText)")
    }

    /// Completion scripts offer `help`; it prints the help (status 0), like `--help`.
    @Test func everyWordCompletionOffersWorks() throws {
        let help = try Binary.sockscope(["help"])
        #expect(help.status == 0 && help.stdoutText.contains("USAGE:"), "\(help.stderrText)")
        let script = try Binary.sockscope(["--generate-completion-script", "bash"])
        #expect(script.status == 0)
        // The words offered where a subcommand could stand: each must run (status 0).
        let words = script.stdoutText.split(separator: "\n")
            .filter { $0.contains("compgen -W") }
            .compactMap { line -> [String]? in
                guard let a = line.range(of: "compgen -W '"), let b = line[a.upperBound...].firstIndex(of: "'") else { return nil }
                return line[a.upperBound..<b].split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") }
            }.flatMap { $0 }
        for w in Set(words) {
            let r = try Binary.sockscope([w])
            #expect(r.status == 0, "completion offers '\(w)', which fails: \(r.stderrText)")
        }
    }
}
