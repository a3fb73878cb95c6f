import Foundation
import InsightCore
import InsightEngine
import InsightHTTP
import InsightIngest
import InsightPostgres
import InsightStore

/// `deploy/insightd.yaml`: the main configuration (DESIGN §6). Keys are snake_case; unknown keys are errors.
public struct DaemonConfig: Sendable, Decodable {
    public var listen: ListenAddress
    public var stateDir: String
    public var timezone: String
    public var locale: MessageLocale
    public var pluginsDir: String?
    public var sources: [SourceConfig]
    public var apiTokens: [APITokenConfig]
    public var receivers: [ReceiverConfig]
    public var routes: [RouteConfig]
    public var delivery: DeliveryConfig
    public var retention: RetentionConfig
    public var dispatcher: DispatcherConfig
    public var storage: StorageConfig
    /// `store:`: where journal, state, ledger and outbox live (InsightPostgres declares it).
    public var store: PostgresStoreConfig
    /// `cluster:`: this instance's part in a cluster on the shared store (InsightEngine declares it); only with
    /// `store.kind: postgres`.
    public var cluster: ClusterSettings?
    public var logging: LoggingConfig
    public var http: HTTPConfig
    public var compliance: ComplianceConfig
    /// `inhibit:`: leads held back while a matching source lead is open (Alertmanager's inhibit_rules).
    public var inhibit: [InhibitConfig]
    public var snooze: SnoozeConfig

    enum CodingKeys: String, CodingKey, CaseIterable {
        case listen, timezone, locale, sources, receivers, routes, delivery, retention, dispatcher, storage, logging, http
        case compliance, inhibit, snooze, store, cluster
        case stateDir = "state_dir"
        case pluginsDir = "plugins_dir"
        case apiTokens = "api_tokens"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(ListenAddress.self, forKey: .listen) ?? ListenAddress(host: "127.0.0.1", port: 8080)
        stateDir = try c.decodeIfPresent(String.self, forKey: .stateDir) ?? "./var"
        timezone = try c.decodeIfPresent(String.self, forKey: .timezone) ?? "Asia/Shanghai"
        guard TimeZone(identifier: timezone) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .timezone, in: c,
                debugDescription: "unknown time zone \"\(timezone)\"; use an IANA name such as Asia/Shanghai or Asia/Hong_Kong")
        }
        locale = try c.decodeIfPresent(MessageLocale.self, forKey: .locale) ?? .zhCN
        pluginsDir = try c.decodeIfPresent(String.self, forKey: .pluginsDir)
        sources = try c.decodeIfPresent([SourceConfig].self, forKey: .sources) ?? []
        apiTokens = try c.decodeIfPresent([APITokenConfig].self, forKey: .apiTokens) ?? []
        receivers = try c.decodeIfPresent([ReceiverConfig].self, forKey: .receivers) ?? []
        routes = try c.decodeIfPresent([RouteConfig].self, forKey: .routes) ?? []
        delivery = try c.decodeIfPresent(DeliveryConfig.self, forKey: .delivery) ?? DeliveryConfig()
        retention = try c.decodeIfPresent(RetentionConfig.self, forKey: .retention) ?? RetentionConfig()
        dispatcher = try c.decodeIfPresent(DispatcherConfig.self, forKey: .dispatcher) ?? DispatcherConfig()
        storage = try c.decodeIfPresent(StorageConfig.self, forKey: .storage) ?? StorageConfig()
        store = try c.decodeIfPresent(PostgresStoreConfig.self, forKey: .store) ?? PostgresStoreConfig()
        cluster = try c.decodeIfPresent(ClusterSettings.self, forKey: .cluster)
        if cluster != nil, store.kind != .postgres {
            throw DecodingError.dataCorruptedError(forKey: .cluster, in: c,
                debugDescription: "cluster: needs store: {kind: postgres, ...}; instances share the work through the shared store")
        }
        logging = try c.decodeIfPresent(LoggingConfig.self, forKey: .logging) ?? LoggingConfig()
        http = try c.decodeIfPresent(HTTPConfig.self, forKey: .http) ?? HTTPConfig()
        compliance = try c.decodeIfPresent(ComplianceConfig.self, forKey: .compliance) ?? ComplianceConfig()
        inhibit = try c.decodeIfPresent([InhibitConfig].self, forKey: .inhibit) ?? []
        snooze = try c.decodeIfPresent(SnoozeConfig.self, forKey: .snooze) ?? SnoozeConfig()
    }

    public var timeZone: TimeZone { TimeZone(identifier: timezone) ?? TimeZone(secondsFromGMT: 8 * 3600) ?? .current }
}

public enum MessageLocale: String, Sendable, Decodable, CaseIterable {
    case zhCN = "zh-CN"
    case en

    public init(from decoder: any Decoder) throws {
        try self.init(decodingOneOf: decoder)
    }
}

/// `host:port`, e.g. `127.0.0.1:8080` or `[::1]:8080`.
public struct ListenAddress: Sendable, Hashable, Decodable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" is not host:port; write for example 127.0.0.1:8080"))
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" has no host; write for example 127.0.0.1:8080"))
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public struct SourceConfig: Sendable, Decodable {
    public enum Kind: String, Sendable, Decodable, CaseIterable {
        case webhook, inbox
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public enum DoneAction: String, Sendable, Decodable, CaseIterable {
        case move, delete
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public var name: String
    public var kind: Kind
    public var secret: SecretReference?
    public var token: SecretReference?
    public var path: String?
    public var csv: [CSVMappingConfig]
    public var pollInterval: ConfigDuration?
    public var onDone: DoneAction?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, secret, token, path, csv
        case pollInterval = "poll_interval"
        case onDone = "on_done"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        kind = try c.decode(Kind.self, forKey: .kind)
        secret = try c.decodeIfPresent(SecretReference.self, forKey: .secret)
        token = try c.decodeIfPresent(SecretReference.self, forKey: .token)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        csv = try c.decodeIfPresent([CSVMappingConfig].self, forKey: .csv) ?? []
        pollInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .pollInterval)
        onDone = try c.decodeIfPresent(DoneAction.self, forKey: .onDone)
    }
}

/// Maps the columns of CSV files matching a glob to the fields of one event type.
public struct CSVMappingConfig: Sendable, Decodable {
    /// Declared by the inbox that reads the files (`InsightIngest`).
    public typealias Encoding = TextEncoding

    public var match: String
    public var type: String
    public var encoding: Encoding
    public var delimiter: String
    public var source: String?
    /// Event field → CSV column name. Envelope fields (`id`, `time`, `clientId`) may be mapped too.
    public var columns: [String: String]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case match, type, encoding, delimiter, source, columns
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        match = try c.decode(String.self, forKey: .match)
        type = try c.decode(String.self, forKey: .type)
        encoding = try c.decodeIfPresent(Encoding.self, forKey: .encoding) ?? .utf8
        delimiter = try c.decodeIfPresent(String.self, forKey: .delimiter) ?? ","
        source = try c.decodeIfPresent(String.self, forKey: .source)
        columns = try c.decode([String: String].self, forKey: .columns)
        guard delimiter.count == 1 else {
            throw DecodingError.dataCorruptedError(forKey: .delimiter, in: c, debugDescription: "must be one character, such as , or |")
        }
    }
}

public struct APITokenConfig: Sendable, Decodable {
    /// Declared by the HTTP API that checks them (`InsightHTTP`).
    public typealias Scope = Authenticator.Scope

    public var name: String
    public var token: SecretReference
    public var scopes: [Scope]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, token, scopes
    }
}

public struct ReceiverConfig: Sendable, Decodable {
    public enum Kind: String, Sendable, Decodable, CaseIterable {
        case console, webhook, wecom, dingtalk, feishu, slack, file
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public var name: String
    public var kind: Kind
    public var url: String?
    public var secret: SecretReference?
    public var path: String?
    public var timeout: ConfigDuration?
    public var concurrency: Int?
    /// Messages a minute at most (the robots' own limits by default: WeCom and DingTalk 20, Feishu 100,
    /// Slack 60); 0 means no limit.
    public var maxPerMinute: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, url, secret, path, timeout, concurrency
        case maxPerMinute = "max_per_minute"
    }

    /// The platform's documented rate for a group robot, where it has one.
    public var defaultMaxPerMinute: Int? {
        switch kind {
        case .wecom, .dingtalk: 20
        case .feishu: 100
        case .slack: 60
        case .webhook, .console, .file: nil
        }
    }
}

public struct RouteConfig: Sendable, Decodable {
    public enum Mode: String, Sendable, Decodable, CaseIterable {
        case immediate, digest
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public struct Match: Sendable, Decodable {
        public var plugin: [String]?
        public var kind: [String]?
        public var priority: [LeadPriority]?
        public var branch: [String]?
        public var segment: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case plugin, kind, priority, branch, segment
        }

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            plugin = try c.decodeIfPresent([String].self, forKey: .plugin)
            kind = try c.decodeIfPresent([String].self, forKey: .kind)
            priority = try c.decodeIfPresent([LeadPriority].self, forKey: .priority)
            branch = try c.decodeIfPresent([String].self, forKey: .branch)
            segment = try c.decodeIfPresent([String].self, forKey: .segment)
        }
    }

    public var match: Match
    public var receivers: [String]
    public var mode: Mode
    public var digestAt: LocalTime?
    public var quietHours: QuietHours?
    public var maxPerManagerPerDay: Int?
    public var `continue`: Bool
    public var fallback: String?
    public var escalateAfter: ConfigDuration?
    public var escalation: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case match, receivers, mode, `continue`, fallback, escalation
        case digestAt = "digest_at"
        case quietHours = "quiet_hours"
        case maxPerManagerPerDay = "max_per_manager_per_day"
        case escalateAfter = "escalate_after"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        match = try c.decodeIfPresent(Match.self, forKey: .match) ?? Match()
        receivers = try c.decode([String].self, forKey: .receivers)
        mode = try c.decodeIfPresent(Mode.self, forKey: .mode) ?? .immediate
        digestAt = try c.decodeIfPresent(LocalTime.self, forKey: .digestAt)
        quietHours = try c.decodeIfPresent(QuietHours.self, forKey: .quietHours)
        maxPerManagerPerDay = try c.decodeIfPresent(Int.self, forKey: .maxPerManagerPerDay)
        `continue` = try c.decodeIfPresent(Bool.self, forKey: .continue) ?? false
        fallback = try c.decodeIfPresent(String.self, forKey: .fallback)
        escalateAfter = try c.decodeIfPresent(ConfigDuration.self, forKey: .escalateAfter)
        escalation = try c.decodeIfPresent([String].self, forKey: .escalation)
        if mode == .digest, digestAt == nil {
            throw DecodingError.dataCorruptedError(forKey: .mode, in: c,
                debugDescription: "mode digest needs digest_at, the local time the digest goes out (e.g. \"17:30\")")
        }
        if let cap = maxPerManagerPerDay, cap < 1 {
            throw DecodingError.dataCorruptedError(forKey: .maxPerManagerPerDay, in: c, debugDescription: "must be at least 1")
        }
    }
}

/// `21:00-08:00`: a local time window, possibly across midnight.
public struct QuietHours: Sendable, Hashable, Decodable, CustomStringConvertible {
    public var start: LocalTime
    public var end: LocalTime

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = LocalTime(parts[0]), let end = LocalTime(parts[1]), start != end else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "\"\(text)\" is not a window; write HH:MM-HH:MM, e.g. 21:00-08:00"))
        }
        self.start = start
        self.end = end
    }

    public var description: String { "\(start)-\(end)" }
}

public struct DeliveryConfig: Sendable, Decodable {
    public var retrySchedule: [ConfigDuration]
    public var timeout: ConfigDuration
    /// Receivers for leads whose client has no manager (e.g. the branch queue).
    public var unassigned: [String]
    /// Attempts in flight per receiver, unless the receiver sets its own.
    public var concurrency: Int
    /// How often idle outbox lanes look for due deliveries.
    public var pollInterval: ConfigDuration
    /// Message template overrides (`<name>.<locale>.mustache`); default: `templates/` in plugins_dir.
    public var templatesDir: String?
    /// The compliance queue: receivers that get AML leads in full (e.g. the AML team's robot).
    public var compliance: [String]
    /// What the client's own manager gets of an AML lead: a neutral task (default) or nothing.
    public var amlManagerNotice: AMLManagerNotice
    /// The lead kinds handled as AML: compliance queue, neutral notice, no snooze or dismissal by a manager.
    public var amlKinds: [String]
    /// Leads for one client that become due for one receiver within this window go as one message.
    public var groupWindow: ConfigDuration

    public enum AMLManagerNotice: String, Sendable, Decodable, CaseIterable {
        case none, neutral
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case timeout, unassigned, concurrency, compliance
        case retrySchedule = "retry_schedule"
        case pollInterval = "poll_interval"
        case templatesDir = "templates_dir"
        case amlManagerNotice = "aml_manager_notice"
        case amlKinds = "aml_kinds"
        case groupWindow = "group_window"
    }

    public init() {
        retrySchedule = ["0s", "5s", "5m", "30m", "2h", "5h", "10h", "10h"].compactMap(ConfigDuration.init)
        timeout = ConfigDuration(seconds: 15, text: "15s")
        unassigned = []
        concurrency = 4
        pollInterval = ConfigDuration(seconds: 0.5, text: "500ms")
        compliance = []
        amlManagerNotice = .neutral
        amlKinds = AMLNotice.defaultKinds.sorted()
        groupWindow = ConfigDuration(seconds: 60, text: "60s")
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let schedule = try c.decodeIfPresent([ConfigDuration].self, forKey: .retrySchedule) {
            guard !schedule.isEmpty else {
                throw DecodingError.dataCorruptedError(forKey: .retrySchedule, in: c, debugDescription: "needs at least one attempt, e.g. [0s]")
            }
            retrySchedule = schedule
        }
        timeout = try c.decodeIfPresent(ConfigDuration.self, forKey: .timeout) ?? timeout
        unassigned = try c.decodeIfPresent([String].self, forKey: .unassigned) ?? []
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? concurrency
        guard (1...256).contains(concurrency) else {
            throw DecodingError.dataCorruptedError(forKey: .concurrency, in: c, debugDescription: "must be 1 to 256, got \(concurrency)")
        }
        pollInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .pollInterval) ?? pollInterval
        templatesDir = try c.decodeIfPresent(String.self, forKey: .templatesDir)
        compliance = try c.decodeIfPresent([String].self, forKey: .compliance) ?? []
        amlManagerNotice = try c.decodeIfPresent(AMLManagerNotice.self, forKey: .amlManagerNotice) ?? amlManagerNotice
        amlKinds = try c.decodeIfPresent([String].self, forKey: .amlKinds) ?? amlKinds
        groupWindow = try c.decodeIfPresent(ConfigDuration.self, forKey: .groupWindow) ?? groupWindow
        guard groupWindow.seconds <= 3600 else {
            throw DecodingError.dataCorruptedError(forKey: .groupWindow, in: c,
                debugDescription: "must be at most 1h (0s sends every lead on its own), got \(groupWindow)")
        }
    }
}

/// One entry of `inhibit:`: while a lead matching `source` is open (made within `for`, not yet decided by
/// compliance), new leads matching `target` that share the `equal` fields are held back, never sent.
public struct InhibitConfig: Sendable, Decodable {
    public struct Match: Sendable, Decodable {
        public var plugin: [String]?
        public var kind: [String]?
        public var priority: [LeadPriority]?
        public var tags: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case plugin, kind, priority, tags
        }
    }

    public enum Field: String, Sendable, Decodable, CaseIterable {
        case client, manager
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public var source: Match
    public var target: Match
    public var equal: [Field]
    /// How long a source lead stays open after it was made; absent: until compliance decides on it.
    public var duration: ConfigDuration?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, target, equal
        case duration = "for"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(Match.self, forKey: .source)
        target = try c.decode(Match.self, forKey: .target)
        equal = try c.decodeIfPresent([Field].self, forKey: .equal) ?? [.client]
        duration = try c.decodeIfPresent(ConfigDuration.self, forKey: .duration)
        guard !equal.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .equal, in: c,
                debugDescription: "name what source and target share: [client] (or [manager]); an empty list would hold back every client's leads")
        }
        if let duration, duration.seconds <= 0 {
            throw DecodingError.dataCorruptedError(forKey: .duration, in: c, debugDescription: "must be longer than 0s, such as 30d")
        }
    }
}

/// `snooze:`: limits on what managers and operators may hold back.
public struct SnoozeConfig: Sendable, Decodable {
    /// The furthest ahead a snooze's `until` may be.
    public var maxDays: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxDays = "max_days"
    }

    public init() {
        maxDays = 90
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxDays = try c.decodeIfPresent(Int.self, forKey: .maxDays) ?? maxDays
        guard (1...366).contains(maxDays) else {
            throw DecodingError.dataCorruptedError(forKey: .maxDays, in: c, debugDescription: "must be 1 to 366 days, got \(maxDays)")
        }
    }
}

public struct RetentionConfig: Sendable, Decodable {
    public var journalDays: Int
    public var quarantineDays: Int
    public var leadsDays: Int
    public var deliveredDays: Int
    public var webhookIdsDays: Int
    /// The local time of the daily retention run.
    public var runAt: LocalTime

    enum CodingKeys: String, CodingKey, CaseIterable {
        case journalDays = "journal_days"
        case quarantineDays = "quarantine_days"
        case leadsDays = "leads_days"
        case deliveredDays = "delivered_days"
        case webhookIdsDays = "webhook_ids_days"
        case runAt = "run_at"
    }

    public init() {
        journalDays = 90
        quarantineDays = 90
        leadsDays = 400
        deliveredDays = 30
        webhookIdsDays = 7
        runAt = LocalTime(hour: 3, minute: 30)
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        journalDays = try c.decodeIfPresent(Int.self, forKey: .journalDays) ?? journalDays
        quarantineDays = try c.decodeIfPresent(Int.self, forKey: .quarantineDays) ?? quarantineDays
        leadsDays = try c.decodeIfPresent(Int.self, forKey: .leadsDays) ?? leadsDays
        deliveredDays = try c.decodeIfPresent(Int.self, forKey: .deliveredDays) ?? deliveredDays
        webhookIdsDays = try c.decodeIfPresent(Int.self, forKey: .webhookIdsDays) ?? webhookIdsDays
        runAt = try c.decodeIfPresent(LocalTime.self, forKey: .runAt) ?? runAt
        let days: [(CodingKeys, Int)] = [(.journalDays, journalDays), (.quarantineDays, quarantineDays), (.leadsDays, leadsDays),
                                         (.deliveredDays, deliveredDays), (.webhookIdsDays, webhookIdsDays)]
        for (key, value) in days where value < 1 {
            throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "must be at least 1 day")
        }
        if webhookIdsDays < 7 {
            throw DecodingError.dataCorruptedError(forKey: .webhookIdsDays, in: c,
                debugDescription: "must be at least 7 (Standard Webhooks replay protection keeps seen ids a week)")
        }
    }
}

/// Dispatcher tuning; the defaults suit a 2-core host.
public struct DispatcherConfig: Sendable, Decodable {
    /// `batch_size`: events per batch at most (default ``Dispatcher/defaultBatchSize``).
    public var batchSize: Int
    /// Whether the file set `batch_size`: `insightd replay`, whose batches commit no client state, uses a smaller
    /// default (``Replay/defaultBatchSize``) unless it was set.
    public var batchSizeIsSet = false
    public var shards: Int
    public var pollInterval: ConfigDuration
    /// `client_cache`: at most this many clients' projected state stay in memory between batches (more are
    /// read from the database when their events come). It bounds the daemon's memory whatever the size of
    /// the book; a batch's own clients are always held while it runs.
    public var clientCache: Int
    /// `state_checkpoint`: how long a dispatcher catching up on a backlog keeps the clients' changed state in memory
    /// before writing it (``Dispatcher/StateWrites/checkpointed(every:)``); each batch still commits its leads. It is
    /// written anyway once the journal is caught up, before a daily tick and at shutdown. A crash dispatches the events
    /// since the last write again (their leads are not made twice). `0s` writes the state with every batch.
    public var stateCheckpoint: ConfigDuration

    enum CodingKeys: String, CodingKey, CaseIterable {
        case shards
        case batchSize = "batch_size"
        case pollInterval = "poll_interval"
        case clientCache = "client_cache"
        case stateCheckpoint = "state_checkpoint"
    }

    /// How the daemon's dispatcher writes client state.
    public var stateWrites: Dispatcher.StateWrites {
        stateCheckpoint.seconds > 0 ? .checkpointed(every: stateCheckpoint.duration) : .everyBatch
    }

    public init() {
        batchSize = Dispatcher.defaultBatchSize
        shards = max(1, ProcessInfo.processInfo.activeProcessorCount)
        pollInterval = ConfigDuration(seconds: 0.2, text: "200ms")
        clientCache = Dispatcher.defaultCacheCapacity
        stateCheckpoint = ConfigDuration(seconds: 10, text: "10s")
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let configured = try c.decodeIfPresent(Int.self, forKey: .batchSize) {
            batchSize = configured
            batchSizeIsSet = true
        }
        shards = try c.decodeIfPresent(Int.self, forKey: .shards) ?? shards
        pollInterval = try c.decodeIfPresent(ConfigDuration.self, forKey: .pollInterval) ?? pollInterval
        clientCache = try c.decodeIfPresent(Int.self, forKey: .clientCache) ?? clientCache
        stateCheckpoint = try c.decodeIfPresent(ConfigDuration.self, forKey: .stateCheckpoint) ?? stateCheckpoint
        guard stateCheckpoint.seconds <= 3600 else {
            throw DecodingError.dataCorruptedError(forKey: .stateCheckpoint, in: c,
                debugDescription: "must be at most 1h (0s writes the state with every batch), got \(stateCheckpoint)")
        }
        guard (1_000...100_000_000).contains(clientCache) else {
            throw DecodingError.dataCorruptedError(forKey: .clientCache, in: c,
                debugDescription: "must be between 1000 and 100000000 clients, got \(clientCache)")
        }
        guard (1...100_000).contains(batchSize) else {
            throw DecodingError.dataCorruptedError(forKey: .batchSize, in: c, debugDescription: "must be between 1 and 100000")
        }
        guard (1...256).contains(shards) else {
            throw DecodingError.dataCorruptedError(forKey: .shards, in: c, debugDescription: "must be between 1 and 256")
        }
    }
}

/// How much memory SQLite may use in the daemon (``AppDatabase/MemoryUse``). With `dispatcher.client_cache` it
/// bounds the daemon's memory whatever the size of the book, the journal or a file dropped in the inbox.
public struct StorageConfig: Sendable, Decodable {
    /// `page_cache_mb`: the writer connection's page cache (16 MiB by default). A dispatcher checkpoint dirties
    /// thousands of state pages, in key order; with too small a cache SQLite writes them to the WAL mid-transaction
    /// and reads them back.
    public var pageCacheMiB: Int
    /// `memory_map_mb`: how much of the database file every connection reads through a memory map (0: none, every
    /// page is read with a system call). Mapped pages count in RSS as file pages, which the kernel may drop.
    public var memoryMapMiB: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case pageCacheMiB = "page_cache_mb"
        case memoryMapMiB = "memory_map_mb"
    }

    public init() {
        pageCacheMiB = AppDatabase.MemoryUse.daemon.writerCacheMiB
        memoryMapMiB = AppDatabase.MemoryUse.daemon.memoryMapMiB
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pageCacheMiB = try c.decodeIfPresent(Int.self, forKey: .pageCacheMiB) ?? pageCacheMiB
        memoryMapMiB = try c.decodeIfPresent(Int.self, forKey: .memoryMapMiB) ?? memoryMapMiB
        guard (2...65_536).contains(pageCacheMiB) else {
            throw DecodingError.dataCorruptedError(forKey: .pageCacheMiB, in: c,
                debugDescription: "must be between 2 and 65536 (MiB), got \(pageCacheMiB)")
        }
        // SQLite caps the map at SQLITE_MAX_MMAP_SIZE (just under 2 GiB in Debian's build) without saying so.
        guard (0...2_047).contains(memoryMapMiB) else {
            throw DecodingError.dataCorruptedError(forKey: .memoryMapMiB, in: c,
                debugDescription: "must be between 0 (no memory map) and 2047 (MiB, SQLite's limit), got \(memoryMapMiB)")
        }
    }

    /// The daemon's SQLite memory.
    public var memoryUse: AppDatabase.MemoryUse {
        AppDatabase.MemoryUse(writerCacheMiB: pageCacheMiB, memoryMapMiB: memoryMapMiB)
    }
}

/// HTTP limits: what one client, or many, may take of the server before anything is authenticated (see
/// `ServerLimits` in InsightHTTP, whose defaults these are).
public struct HTTPConfig: Sendable, Decodable {
    /// The largest request body; larger ones are refused with 413 while streaming. Default 10 MiB.
    public var maxBodyBytes: Int
    /// Open connections; over it the listener stops accepting until one closes. Default 1024.
    public var maxConnections: Int
    /// Open connections from one client address (0: no limit); over it a new one is closed. Default 256.
    public var maxConnectionsPerAddress: Int
    /// `POST /v1/events` bodies held at once; over it 503 with Retry-After. Default 256.
    public var maxBodiesInFlight: Int
    /// The bytes those bodies may hold in all; over it 503 with Retry-After. Default 64 MiB, at least max_body_bytes.
    public var maxBodyBytesInFlight: Int
    /// From a request's first byte to the end of its head. Default 10s.
    public var headerTimeout: ConfigDuration
    /// From a request's head to the end of its body. Default 60s.
    public var bodyTimeout: ConfigDuration
    /// A kept-alive connection with no request in progress is closed after this. Default 75s.
    public var idleTimeout: ConfigDuration
    /// After SIGTERM, how long requests in progress may take before their connections are closed. Default 10s.
    public var shutdownGrace: ConfigDuration
    /// Events per request; a body with more is refused whole (413). Default 100000.
    public var maxItems: Int
    /// Rejected items listed in an answer; the rest are counted in `rejectedCount`. Default 100.
    public var maxListedRejections: Int
    /// Rejected items of one request stored in the quarantine; the rest are counted. Default 1000.
    public var maxQuarantinedPerRequest: Int

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxBodyBytes = "max_body_bytes"
        case maxConnections = "max_connections"
        case maxConnectionsPerAddress = "max_connections_per_address"
        case maxBodiesInFlight = "max_bodies_in_flight"
        case maxBodyBytesInFlight = "max_body_bytes_in_flight"
        case headerTimeout = "header_timeout"
        case bodyTimeout = "body_timeout"
        case idleTimeout = "idle_timeout"
        case shutdownGrace = "shutdown_grace"
        case maxItems = "max_items"
        case maxListedRejections = "max_listed_rejections"
        case maxQuarantinedPerRequest = "max_quarantined_per_request"
    }

    public init() {
        maxBodyBytes = 10 * 1024 * 1024
        maxConnections = 1024
        maxConnectionsPerAddress = 256
        maxBodiesInFlight = 256
        maxBodyBytesInFlight = 64 << 20
        headerTimeout = ConfigDuration(seconds: 10, text: "10s")
        bodyTimeout = ConfigDuration(seconds: 60, text: "60s")
        idleTimeout = ConfigDuration(seconds: 75, text: "75s")
        shutdownGrace = ConfigDuration(seconds: 10, text: "10s")
        maxItems = 100_000
        maxListedRejections = 100
        maxQuarantinedPerRequest = 1000
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func integer(_ key: CodingKeys, _ value: inout Int, in range: ClosedRange<Int>) throws {
            value = try c.decodeIfPresent(Int.self, forKey: key) ?? value
            guard range.contains(value) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c,
                    debugDescription: "must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            }
        }
        func duration(_ key: CodingKeys, _ value: inout ConfigDuration, in range: ClosedRange<Double>) throws {
            value = try c.decodeIfPresent(ConfigDuration.self, forKey: key) ?? value
            guard range.contains(value.seconds) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c,
                    debugDescription: "must be between \(range.lowerBound) s and \(range.upperBound) s, got \(value.text)")
            }
        }
        try integer(.maxBodyBytes, &maxBodyBytes, in: 1024...(1 << 30))
        try integer(.maxConnections, &maxConnections, in: 1...1_000_000)
        try integer(.maxConnectionsPerAddress, &maxConnectionsPerAddress, in: 0...1_000_000)
        try integer(.maxBodiesInFlight, &maxBodiesInFlight, in: 1...100_000)
        try integer(.maxBodyBytesInFlight, &maxBodyBytesInFlight, in: 1024...(1 << 40))
        guard maxBodyBytesInFlight >= maxBodyBytes else {
            throw DecodingError.dataCorruptedError(forKey: .maxBodyBytesInFlight, in: c,
                debugDescription: "must be at least max_body_bytes (\(maxBodyBytes)), so that one largest body fits; got \(maxBodyBytesInFlight)")
        }
        try integer(.maxItems, &maxItems, in: 1...100_000_000)
        try integer(.maxListedRejections, &maxListedRejections, in: 0...100_000)
        try integer(.maxQuarantinedPerRequest, &maxQuarantinedPerRequest, in: 0...100_000_000)
        try duration(.headerTimeout, &headerTimeout, in: 0.1...3600)
        try duration(.bodyTimeout, &bodyTimeout, in: 0.1...86_400)
        try duration(.idleTimeout, &idleTimeout, in: 0.1...86_400)
        // The unit gives the whole stop 60 s (TimeoutStopSec); the dispatcher's last commit and the WAL checkpoint
        // come after the grace.
        try duration(.shutdownGrace, &shutdownGrace, in: 0...40)
    }
}

public struct LoggingConfig: Sendable, Decodable {
    public enum Level: String, Sendable, Decodable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public enum Format: String, Sendable, Decodable, CaseIterable {
        case auto, json, text
        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public var level: Level
    public var format: Format

    enum CodingKeys: String, CodingKey, CaseIterable {
        case level, format
    }

    public init() {
        level = .info
        format = .auto
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decodeIfPresent(Level.self, forKey: .level) ?? level
        format = try c.decodeIfPresent(Format.self, forKey: .format) ?? format
    }
}


/// What compliance forbids in lead texts: `insightd check` refuses any plugin template, rule text or product
/// name containing one of these phrases (case-insensitive).
public struct ComplianceConfig: Sendable, Decodable {
    /// Promise wording that must never reach a client conversation.
    public var forbiddenPhrases: [String]

    public static let defaultForbiddenPhrases = ["保本", "保收益", "稳赚", "无风险", "零风险", "guaranteed return"]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case forbiddenPhrases = "forbidden_phrases"
    }

    public init() {
        forbiddenPhrases = Self.defaultForbiddenPhrases
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        forbiddenPhrases = try c.decodeIfPresent([String].self, forKey: .forbiddenPhrases) ?? forbiddenPhrases
        if forbiddenPhrases.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw DecodingError.dataCorruptedError(forKey: .forbiddenPhrases, in: c,
                                                   debugDescription: "an empty phrase would match every text; remove it")
        }
    }

    /// The first forbidden phrase `text` contains, if any.
    public func violation(in text: String) -> String? {
        let folded = text.lowercased()
        return forbiddenPhrases.first { folded.contains($0.lowercased()) }
    }
}
