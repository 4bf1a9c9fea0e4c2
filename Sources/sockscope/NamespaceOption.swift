import SockscopeSystem

extension Sockscope {
    /// `--netns`: enters the namespace before anything is read (on the main thread, before any other
    /// thread starts, so the owner scan's thread and every socket opened later are in it too).
    /// Returns an exit status when it cannot be entered, nil to go on.
    func enterNetworkNamespace() -> Int32? {
        guard let netns else { return nil }
        do {
            try NetworkNamespace.enter(netns)
            return nil
        } catch {
            FileOutput.standardError("sockscope: cannot enter network namespace '\(netns)': \(error)")
            return 1
        }
    }
}
