// OrderBench: `broker bench --orders N` (placeholder until the harness lands).
import Wire

/// Order-path benchmark.
public enum OrderBench {
    /// Runs the benchmark.
    public static func run(_ ctx: RoleContext) throws {
        throw RoleError("bench --orders: not implemented yet")
    }
}
