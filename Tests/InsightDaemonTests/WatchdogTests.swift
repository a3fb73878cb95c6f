import Foundation
import InsightDaemon
import InsightTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The watchdog is fed only while every loop (the dispatcher and the outbox) makes progress. The waits are
/// long because other suites' blocking tests can hold the machine's two cooperative threads for seconds.
@Suite struct WatchdogTests {
    @Test func aStalledOutboxWithholdsTheWatchdogUntilItMovesAgain() async throws {
        let directory = TemporaryDirectory("insightd-watchdog")
        let socket = try #require(NotifySocket(directory: directory.path))
        // WATCHDOG_USEC 300 ms: pings every 150 ms, a loop is stalled after 300 ms without a beat.
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "300000"])
        let dispatcher = Heartbeat()
        let outbox = Heartbeat()
        let listening = ReadyGate()
        listening.open()
        let service = SystemdService(notifier: notifier, heartbeats: [("dispatcher", dispatcher), ("outbox", outbox)],
                                     listening: listening, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let group = ServiceGroup(services: [service], logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let outboxMoves = ManagedFlag(true)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                while !Task.isCancelled {
                    dispatcher.beat()
                    if outboxMoves.value { outbox.beat() }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(await wait(socket, "READY=1", timeout: 60) != nil)
            #expect(await wait(socket, "WATCHDOG=1", timeout: 60) != nil, "fed while both loops move")

            outboxMoves.value = false
            try await Task.sleep(for: .milliseconds(600))
            await drain(socket)  // pings sent before the stall showed
            #expect(await wait(socket, "WATCHDOG=1", timeout: 1) == nil, "withheld while the outbox is stalled")

            outboxMoves.value = true
            #expect(await wait(socket, "WATCHDOG=1", timeout: 60) != nil, "fed again once it moves")
            await group.triggerGracefulShutdown()
            tasks.cancelAll()
        }
    }
}

/// A flag two tasks share.
final class ManagedFlag: Sendable {
    private let stored: Mutex<Bool>
    init(_ value: Bool) { stored = Mutex(value) }
    var value: Bool {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }
}

/// The socket's blocking waits run on a thread of their own: not on the (two-thread) cooperative pool the service
/// under test needs, nor on Dispatch's global queues, whose threads that pool can share on Linux (a wait of 60 s
/// there, with other suites busy, kept READY=1 from being sent at all).
private func wait(_ socket: NotifySocket, _ text: String, timeout: TimeInterval) async -> [String]? {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: socket.waitFor(text, timeout: timeout)) }
    }
}

private func drain(_ socket: NotifySocket) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        Thread.detachNewThread {
            while socket.receive(timeout: 0.05) != nil {}
            continuation.resume()
        }
    }
}
