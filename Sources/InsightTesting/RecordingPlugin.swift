import Foundation
import InsightCore
import Synchronization

/// What a ``RecordingPlugin`` saw, shared with the test.
public final class PluginRecorder: Sendable {
    private let seen = Mutex<[Event]>([])
    private let ticks = Mutex<[ScheduleTick]>([])

    public init() {}

    public var events: [Event] { seen.withLock { $0 } }
    public var tickLog: [ScheduleTick] { ticks.withLock { $0 } }

    func record(_ event: Event) { seen.withLock { $0.append(event) } }
    func record(_ tick: ScheduleTick) { ticks.withLock { $0.append(tick) } }
}

/// A test plugin: subscribes to `*`, records every event and tick, emits one lead per event whose
/// `data.lead` is true, and throws on events whose `data.fail` is true.
public struct RecordingPlugin: Plugin {
    public struct Configuration: PluginConfiguration {
        public var enabled: Bool
        public var recorder: PluginRecorder
        public var schedule: LocalTime?

        public init(enabled: Bool = true, recorder: PluginRecorder, schedule: LocalTime? = nil) {
            self.enabled = enabled
            self.recorder = recorder
            self.schedule = schedule
        }

        public init(from decoder: any Decoder) throws {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "built in code only"))
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String { "recording plugin was told to fail" }
    }

    public static let id = "recording"
    public static let summary = "test plugin"
    public let configuration: Configuration

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public var subscriptions: [EventPattern] { EventPattern("*").map { [$0] } ?? [] }
    public var schedule: LocalTime? { configuration.schedule }

    public func handle(_ event: Event, context: PluginContext) throws -> [LeadDraft] {
        configuration.recorder.record(event)
        if event.field("fail")?.boolValue == true { throw Failure() }
        guard event.field("lead")?.boolValue == true else { return [] }
        return [LeadDraft(key: "\(event.clientId ?? "-"):\(event.id)", kind: "recorded", clientId: event.clientId,
                          title: "Recorded \(event.id)", evidence: [Evidence(key: "now", label: "now", value: "\(context.now.timeIntervalSince1970)")],
                          sourceEvents: [event.id])]
    }

    public func tick(_ tick: ScheduleTick, context: PluginContext) throws -> [LeadDraft] {
        configuration.recorder.record(tick)
        return try context.state.allClients().map { client in
            LeadDraft(key: "\(client.id):\(tick.localDate)", kind: "daily", clientId: client.id,
                      title: "Daily \(tick.localDate)", dueAt: tick.scheduledAt)
        }
    }
}
