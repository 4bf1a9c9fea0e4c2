/// What the live view asks the collector for, in one place for `-w` and the refresh benchmark.
public enum WatchCollection {
    /// `tcp_info` (with the congestion name) for rtt and throughput, and memory for the detail
    /// pane; netlink only, /proc has neither.
    public static func options(source: SourceChoice = .auto, procRoot: String = "/proc") -> CollectOptions {
        CollectOptions(source: source, procRoot: procRoot, tcpInfo: true, memory: true)
    }
}
