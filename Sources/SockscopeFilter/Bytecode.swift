import SockscopeModel

/// Which port of a socket a condition reads.
public enum PortSide: Sendable, Hashable { case source, destination }

/// The kernel's inet_diag filter language: its ops and their encoding (the compiler is `plan`, in
/// KernelFilter.swift, with the model of the kernel's machine and auditor).
///
/// The program is a list of 4-byte ops `{u8 code, u8 yes, u16 no}`; a port comparison takes a
/// second op whose `no` holds the port. Evaluation starts at 0; after each op the program counter
/// moves by `yes` when the condition holds, else by `no`. The socket is accepted when the counter
/// lands exactly on the end, rejected when it jumps past it. The kernel's auditor follows only
/// `yes` links, so every compiled program keeps `yes` sequential and uses `no` for branches.
/// Each compiled fragment falls through to its end when true and jumps to `end + 4` when false.
public enum InetDiagBytecode {
    // Op codes from <linux/inet_diag.h>.
    public static let nop: UInt8 = 0, jmp: UInt8 = 1, sGE: UInt8 = 2, sLE: UInt8 = 3, dGE: UInt8 = 4, dLE: UInt8 = 5
    public static let sEQ: UInt8 = 11, dEQ: UInt8 = 12

    /// Largest program sent: the netlink attribute length is 16 bits. Larger filters run in userspace.
    public static let maxLength = 60_000

    static func op(_ code: UInt8, yes: Int, no: Int) -> [UInt8] {
        let n = UInt16(truncatingIfNeeded: no)
        return withUnsafeBytes(of: n) { [code, UInt8(yes)] + Array($0) }
    }

    /// In `code`, every jump to "reject" (end + 4) is moved `by` bytes further, so that a fragment
    /// followed by `by` bytes of another still rejects past the new end.
    static func relocateRejects(_ code: inout [UInt8], by extra: Int) {
        var pc = 0
        while pc + 4 <= code.count {
            let yes = Int(code[pc + 1])
            let no = Int(readNo(code, pc))
            if code[pc] != nop && pc + no == code.count + 4 { writeNo(&code, pc, UInt16(no + extra)) }
            guard yes > 0 else { break }
            pc += yes
        }
    }

    static func readNo(_ code: [UInt8], _ pc: Int) -> UInt16 {
        var v: UInt16 = 0
        withUnsafeMutableBytes(of: &v) { $0[0] = code[pc + 2]; $0[1] = code[pc + 3] }
        return v
    }

    static func writeNo(_ code: inout [UInt8], _ pc: Int, _ v: UInt16) {
        withUnsafeBytes(of: v) { code[pc + 2] = $0[0]; code[pc + 3] = $0[1] }
    }

    /// Checks a program as the kernel's `inet_diag_bc_audit` does: false means the kernel would say EINVAL.
    public static func audit(_ code: [UInt8]) -> Bool { audit(code, netAdmin: true) == .accepted }
}
