import Foundation
import Hummingbird
import InsightCore
import InsightStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `GET /healthz` (the process answers) and `GET /readyz` (the database takes writes, every source is running, the
/// process has descriptors to spare; otherwise 503 naming what is wrong).
///
/// `/readyz` answers anyone (a load balancer has no token), so it names components and their state only: a
/// failure's own text can hold paths and addresses, and goes only to a caller with a token of scope `read` or
/// `admin` (and always to the log).
struct HealthController: Sendable {
    let store: StoreReadiness
    let health: HealthBoard
    let authenticator: Authenticator
    let connections: ConnectionGauge
    let maximumConnections: Int

    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in EventsController.json(.object(["status": .string("ok")]), status: .ok) }
        router.get("/readyz") { request, _ in
            let detailed = (try? authenticator.requireAny([.read, .admin], headers: request.headers)) != nil
            return await self.readiness(detailed: detailed)
        }
    }

    func readiness(detailed: Bool = false) async -> Response {
        var problems: [String] = []
        let store = await self.store.check(detailed)
        if let problem = store.problem { problems.append(problem) }
        for (name, status) in health.snapshot.sorted(by: { $0.key < $1.key }) {
            switch status {
            case .running: break
            case .starting: problems.append("\(name): starting")
            case .failed(let reason): problems.append(detailed ? "\(name): \(reason)" : "\(name): failed (see the daemon's log)")
            }
        }
        var body: [String: JSONValue] = ["connections": .number(String(connections.openConnections))]
        if let use = DescriptorUse.current() {
            body["descriptors"] = .object(["open": .number(String(use.open)), "limit": .number(String(use.limit))])
            if use.isLow {
                problems.append("descriptors: \(use.open) of \(use.limit) open; raise LimitNOFILE or lower http.max_connections")
            }
        }
        if detailed, let details = store.details { body["store"] = details }
        body["status"] = .string(problems.isEmpty ? "ready" : "not ready")
        body["problems"] = .array(problems.map(JSONValue.string))
        return EventsController.json(.object(body), status: problems.isEmpty ? .ok : .serviceUnavailable)
    }
}

/// The store's part of `/readyz`: a problem that makes the instance not ready (nil: none), and what a reader with the
/// read or admin scope sees of it (a cluster's partitions, instances and lag).
public struct StoreReadiness: Sendable {
    /// Called with whether the caller may see the details (an anonymous probe gets the cheap check only).
    public var check: @Sendable (_ detailed: Bool) async -> (problem: String?, details: JSONValue?)

    public init(check: @escaping @Sendable (_ detailed: Bool) async -> (problem: String?, details: JSONValue?)) {
        self.check = check
    }

    /// The embedded SQLite store: ready while its database takes writes.
    public static func sqlite(_ database: AppDatabase) -> StoreReadiness {
        StoreReadiness { _ in (database.isWritable() ? nil : "database: not writable", nil) }
    }
}

/// The process's open file descriptors against its limit (`RLIMIT_NOFILE`).
public struct DescriptorUse: Sendable, Equatable {
    public let open: Int
    public let limit: Int

    public init(open: Int, limit: Int) {
        self.open = open
        self.limit = limit
    }

    /// Fewer than a tenth of the limit left, or fewer than 64: a new connection, inbox file or database file may
    /// fail to open.
    public var isLow: Bool { limit - open < max(64, limit / 10) }

    /// Read from `/proc/self/fd` and `getrlimit`, at most once a second (`/readyz` answers anyone, and listing
    /// tens of thousands of descriptors takes a while); nil where neither is available. A listing that fails for
    /// want of a descriptor is the answer too: every one is in use.
    @Sendable public static func current() -> DescriptorUse? {
        #if canImport(Glibc)
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0 }), cached.at.duration(to: now) < .seconds(1) { return cached.use }
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let soft = Int(clamping: limit.rlim_cur)
        let use: DescriptorUse
        if let directory = opendir("/proc/self/fd") {
            var count = 0
            while let entry = readdir(directory) {
                // "." and "..", and not the listing's own descriptor (counted once: it is open while this runs).
                if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
            }
            closedir(directory)
            use = DescriptorUse(open: max(0, count - 1), limit: soft)
        } else if errno == EMFILE || errno == ENFILE {
            use = DescriptorUse(open: soft, limit: soft)
        } else {
            return nil
        }
        cache.withLock { $0 = (now, use) }
        return use
        #else
        return nil
        #endif
    }

    private static let cache = Mutex<(at: ContinuousClock.Instant, use: DescriptorUse)?>(nil)
}
