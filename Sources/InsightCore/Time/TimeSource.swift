import Foundation

/// Where "now" comes from. Plugins never call this: they read `context.now`, which the dispatcher sets
/// from a time source (the system clock when live, event time in replay, a fixed instant in tests).
public protocol TimeSource: Sendable {
    func now() -> Date
}

public struct SystemTimeSource: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}
