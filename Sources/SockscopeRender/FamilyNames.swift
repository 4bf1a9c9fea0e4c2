/// Names `ss` prints for packet and netlink protocol numbers.
public enum FamilyNames {
    /// Common ethertypes (host order), as `ss -0` names them; nil for others (shown in hex).
    public static func ethertype(_ n: UInt16) -> String? {
        switch n {
        case 0x0003: return "*"  // ETH_P_ALL
        case 0x0800: return "ip"
        case 0x0806: return "arp"
        case 0x86DD: return "ipv6"
        case 0x8100: return "802.1Q"
        case 0x88CC: return "lldp"
        case 0x888E: return "802.1X"
        default: return nil
        }
    }

    /// Netlink protocols by number (<linux/netlink.h>), spelled as `ss -A netlink` spells them.
    public static func netlink(_ n: UInt8) -> String? {
        switch n {
        case 0: return "rtnl"
        case 2: return "usersock"
        case 3: return "fw"
        case 4: return "tcpdiag"
        case 5: return "nflog"
        case 6: return "xfrm"
        case 7: return "selinux"
        case 8: return "iscsi"
        case 9: return "audit"
        case 10: return "fiblookup"
        case 11: return "connector"
        case 12: return "nft"
        case 13: return "ip6fw"
        case 14: return "dec-rt"
        case 15: return "uevent"
        case 16: return "genl"
        case 18: return "scsi-trans"
        case 19: return "ecryptfs"
        case 20: return "rdma"
        case 21: return "crypto"
        case 22: return "smc"
        default: return nil
        }
    }
}
