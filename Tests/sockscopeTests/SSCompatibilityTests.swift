import Foundation
import TestSupport
import Testing

/// ss's options that sockscope lacks get an answer naming the option and the alternative (status
/// 2); a "did you mean" is offered only when it resembles what was typed.
@Suite struct SSCompatibilityTests {
    @Test(arguments: [
        (["--tos"], "--tos (an ss option): "), (["--inet-sockopt"], "--inet-sockopt"),
        (["--bpf-maps"], "--bpf-maps/--bpf-map-id (an ss option): "), (["-V"], "-V (an ss option): use --version"), (["-Z"], "-Z/--context/-z/--contexts (an ss option): SELinux contexts are not available"),
        (["--dccp"], "-d/--dccp (an ss option)"), (["-taB"], "-B/--bound-inactive (an ss option)"), (["--tipcinfo"], "--tipcinfo (an ss option)"),
    ])
    func ssOptionsAreAnsweredByName(args: [String], answer: String) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 2 && r.stdout.isEmpty, "\(args): \(r.stderrText)")
        #expect(r.stderrText.split(separator: "\n").first?.hasPrefix("sockscope: \(answer)") == true, "\(r.stderrText)")
    }

    @Test(arguments: [("--colour", nil), ("--nope", nil), ("--listners", "--listeners"), ("--jsno", "--json")] as [(String, String?)])
    func didYouMeanOnlyWhenItResemblesTheInput(typed: String, suggestion: String?) throws {
        let r = try Binary.sockscope([typed])
        let first = String(r.stderrText.split(separator: "\n").first ?? "")
        #expect(r.status == 2)
        if let suggestion {
            #expect(first == "sockscope: Unknown option '\(typed)'. Did you mean '\(suggestion)'?", "\(first)")
        } else {
            #expect(first == "sockscope: Unknown option '\(typed)'", "\(first)")
        }
    }

    /// `-N NAME` / `--net NAME` is ss's spelling of `--netns`.
    @Test(arguments: [["-N", "sockscope-no-such-ns"], ["--net", "sockscope-no-such-ns"], ["--netns", "sockscope-no-such-ns"]])
    func netIsTheNamespaceOption(args: [String]) throws {
        let r = try Binary.sockscope(args)
        #expect(r.status == 1 && r.stderrText.contains("cannot enter network namespace 'sockscope-no-such-ns'"), "\(r.stderrText)")
    }
}
