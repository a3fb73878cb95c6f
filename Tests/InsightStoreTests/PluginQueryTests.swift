import Foundation
import GRDB
import InsightCore
@testable import InsightStore
import InsightTesting
import Testing

private func event(_ id: String, _ type: String, client: String, at time: Date, _ data: [String: JSONValue]) -> Event {
    Event(id: id, source: "test", type: type, time: time, clientId: client, data: .object(data))
}

/// A whole-second instant `days` days and `seconds` seconds after 2026-01-01T00:00:00Z.
private func instant(days: Int, seconds: Int = 0) -> Date {
    Date(timeIntervalSince1970: Double(day("2026-01-01").dayNumber * 86_400 + days * 86_400 + seconds))
}

/// A client population built by projecting random events, committed the way the dispatcher commits it: in
/// several batches, each writing the parts its events changed.
private struct Population {
    var states: [String: ClientState] = [:]

    static let segments: [String?] = ["mass", "affluent", "hnw", "private", "corporate", nil]

    /// Events for `count` clients, in time order per client.
    static func events(count: Int, using generator: inout SeededRandom) -> [Event] {
        var events: [Event] = []
        for index in 0..<count {
            let id = "C\(String(format: "%05d", index))"
            var time = Int.random(in: 0...100, using: &generator) * 86_400
            func next() -> Date {
                time += Int.random(in: 1...200_000, using: &generator)
                return Date(timeIntervalSince1970: Double(day("2026-01-01").dayNumber * 86_400 + time))
            }
            var profile: [String: JSONValue] = ["name": .string("客户\(index)")]
            if Int.random(in: 0..<10, using: &generator) > 0 {
                let birth = LocalDate(dayNumber: Int.random(in: day("1940-01-01").dayNumber...day("2010-12-31").dayNumber,
                                                            using: &generator))
                profile["birthDate"] = .string(birth.description)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: profile["birthCalendar"] = .string("chinese")
                case 1: profile["birthCalendar"] = .string("gregorian")
                default: break
                }
            }
            if let segment = segments.randomElement(using: &generator)! { profile["segment"] = .string(segment) }
            profile["managerId"] = .string("M\(Int.random(in: 1...5, using: &generator))")
            events.append(event("\(id)-p", EventType.clientProfile, client: id, at: next(), profile))
            for loan in 0..<Int.random(in: 0...2, using: &generator) {
                var data: [String: JSONValue] = ["loanId": .string("LN-\(id)-\(loan)"), "principal": .number("100000")]
                if Int.random(in: 0..<5, using: &generator) > 0 {
                    let maturity = day("2026-01-01").adding(days: Int.random(in: 0...730, using: &generator))
                    data["maturityDate"] = .string(maturity.description)
                }
                events.append(event("\(id)-l\(loan)", EventType.loanAccount, client: id, at: next(), data))
            }
            for deposit in 0..<Int.random(in: 0...2, using: &generator) {
                let maturity = day("2026-01-01").adding(days: Int.random(in: 0...730, using: &generator))
                events.append(event("\(id)-d\(deposit)", EventType.depositTerm, client: id, at: next(), [
                    "depositId": .string("TD-\(id)-\(deposit)"), "amount": .number("50000.00"),
                    "maturityDate": .string(maturity.description),
                ]))
            }
            for trade in 0..<Int.random(in: 0...3, using: &generator) {
                let action = Int.random(in: 0..<4, using: &generator) == 0 ? "redeem" : "buy"
                events.append(event("\(id)-w\(trade)", EventType.wealthTrade, client: id, at: next(), [
                    "productId": .string("WP-\(trade % 2)"), "amount": .number("10000"), "action": .string(action),
                ]))
            }
            for transaction in 0..<Int.random(in: 0...2, using: &generator) {
                events.append(event("\(id)-t\(transaction)", EventType.accountTransaction, client: id, at: next(), [
                    "accountId": .string("AC-\(id)"), "amount": .number("100"), "direction": .string("credit"),
                    "balanceAfter": .number("\(1000 + transaction)"),
                ]))
            }
            // A later profile update moves some clients to another segment or clears the birthday.
            if Int.random(in: 0..<5, using: &generator) == 0 {
                var update: [String: JSONValue] = [:]
                if Int.random(in: 0..<2, using: &generator) == 0 { update["birthDate"] = .null }
                update["segment"] = segments.randomElement(using: &generator)!.map(JSONValue.string) ?? .null
                events.append(event("\(id)-p2", EventType.clientProfile, client: id, at: next(), update))
            }
        }
        return events
    }

    /// Projects `events` and commits them in `batches` dispatcher-style commits.
    mutating func project(_ events: [Event], batches: Int, into database: AppDatabase, at now: Date) throws {
        let size = max(1, (events.count + batches - 1) / batches)
        for start in stride(from: 0, to: events.count, by: size) {
            var changed: [String: StateChanges] = [:]
            for event in events[start..<min(start + size, events.count)] {
                guard let id = event.clientId else { continue }
                changed[id, default: []].formUnion(states[id, default: ClientState(id: id)].apply(event))
            }
            var step = DispatchCommit()
            step.clients = changed.keys.sorted().compactMap { id in
                states[id].map { DispatchCommit.ClientUpdate(state: $0, changes: changed[id] ?? []) }
            }
            try database.commit(step, at: now)
        }
    }
}

@Suite("Indexed plugin queries agree with InMemoryState; plugin memory and new columns persist")
struct PluginQueryTests {
    let now = instant("2026-11-20T12:00:00+08:00")

    /// The state as stored: `lastEventAt` is written at day resolution, so it is left out of comparisons.
    private func comparable(_ states: [ClientState]) -> [ClientState] {
        states.map { var state = $0; state.lastEventAt = nil; return state }
    }

    @Test func storeQueriesAgreeWithInMemoryState() throws {
        let store = try TestStore()
        var generator = SeededRandom(seed: 20_261_120)
        var population = Population()
        try population.project(Population.events(count: 400, using: &generator), batches: 7, into: store.database, at: now)
        let reader = StoreStateReader(database: store.database)
        let memory = InMemoryState(clients: Array(population.states.values))
        #expect(try reader.allClients().count == 400)
        #expect(comparable(try reader.allClients()) == comparable(try memory.allClients()),
                "the committed state loads back as projected")

        var hits = (birthdays: 0, loans: 0, deposits: 0, segments: 0, wealth: 0)
        for _ in 0..<40 {
            // Birthdays: the keys celebrated in a random window of 0 to 10 days.
            let start = day("2026-01-01").adding(days: Int.random(in: 0...800, using: &generator))
            let keys = Birthdays.keys(celebratedOn: (0...Int.random(in: 0...10, using: &generator)).map { start.adding(days: $0) })
            let birthdays = try reader.clients(birthdayKeys: keys)
            #expect(birthdays.map(\.id) == (try memory.clients(birthdayKeys: keys)).map(\.id), "birthdays from \(start)")
            #expect(birthdays.allSatisfy { $0.profile.birthdayKey.map(keys.contains) == true })
            hits.birthdays += birthdays.count

            let from = day("2026-01-01").adding(days: Int.random(in: -10...740, using: &generator))
            let through = from.adding(days: Int.random(in: 0...40, using: &generator))
            let loans = try reader.clients(loansMaturingFrom: from, through: through)
            #expect(comparable(loans) == comparable(try memory.clients(loansMaturingFrom: from, through: through)),
                    "loans \(from)...\(through)")
            hits.loans += loans.count
            let deposits = try reader.clients(depositsMaturingFrom: from, through: through)
            #expect(comparable(deposits) == comparable(try memory.clients(depositsMaturingFrom: from, through: through)),
                    "deposits \(from)...\(through)")
            hits.deposits += deposits.count

            let segments = Population.segments.compactMap { $0 }.filter { _ in Bool.random(using: &generator) }
            let inSegments = try reader.clients(inSegments: segments)
            #expect(inSegments.map(\.id) == (try memory.clients(inSegments: segments)).map(\.id), "segments \(segments)")
            hits.segments += inSegments.count

            let since = instant(days: Int.random(in: 0...120, using: &generator), seconds: Int.random(in: 0..<86_400, using: &generator))
            let until = since.addingTimeInterval(Double(Int.random(in: 0...(20 * 86_400), using: &generator)))
            let wealth = try reader.clients(lastWealthPurchaseFrom: since, until: until)
            #expect(wealth.map(\.id) == (try memory.clients(lastWealthPurchaseFrom: since, until: until)).map(\.id),
                    "wealth purchases \(since)..<\(until)")
            hits.wealth += wealth.count
        }
        // The random windows found something in every query, so agreement is not agreement on nothing.
        #expect(hits.birthdays > 0 && hits.loans > 0 && hits.deposits > 0 && hits.segments > 0 && hits.wealth > 0,
                "\(hits)")
        #expect(try reader.clients(birthdayKeys: []).isEmpty)
        #expect(try reader.clients(inSegments: []).isEmpty)
    }

    @Test func queriesReturnExactlyTheMatchingClients() throws {
        let store = try TestStore()
        func client(_ id: String, birth: String?, calendar: BirthCalendar? = nil, segment: String? = nil) -> ClientState {
            var state = ClientState(id: id)
            state.profile.birthDate = birth.map(day)
            state.profile.birthCalendar = calendar
            state.profile.segment = segment
            return state
        }
        var a = client("A", birth: "1980-11-25", segment: "hnw")
        a.loans["LA"] = LoanState(id: "LA", currency: "CNY", maturityDate: day("2026-12-01"), overdueDays: 0)
        a.loans["LA2"] = LoanState(id: "LA2", currency: "CNY", maturityDate: day("2026-12-02"), overdueDays: 0)
        a.lastWealthPurchaseAt = instant("2026-11-10T10:00:00+08:00")
        var b = client("B", birth: "1966-09-29", calendar: .chinese, segment: "private")  // lunar 8/15
        b.deposits["TB"] = TermDeposit(id: "TB", amount: money("10000"), currency: "CNY", maturityDate: day("2026-12-01"))
        b.lastWealthPurchaseAt = instant("2026-11-20T10:00:00+08:00")
        var c = client("C", birth: "1964-02-29", segment: "mass")
        c.loans["LC"] = LoanState(id: "LC", currency: "CNY", maturityDate: nil, overdueDays: 0)
        c.deposits["TC"] = TermDeposit(id: "TC", amount: money("10000"), currency: "CNY", maturityDate: day("2026-11-30"))
        let d = client("D", birth: nil)
        var step = DispatchCommit()
        step.clients = [a, b, c, d].map { .init(state: $0, changes: StateStoreTests.everyChange(of: $0)) }
        try store.database.commit(step, at: now)
        let reader = StoreStateReader(database: store.database)

        #expect(try reader.clients(birthdayKeys: [1125]).map(\.id) == ["A"])
        #expect(try reader.clients(birthdayKeys: [10_815]).map(\.id) == ["B"], "the lunar key")
        #expect(try reader.clients(birthdayKeys: [929]).isEmpty, "B celebrates on the lunar calendar")
        #expect(try reader.clients(birthdayKeys: Birthdays.keys(celebratedOn: [day("2026-02-28")])).map(\.id) == ["C"])
        #expect(try reader.clients(birthdayKeys: Birthdays.keys(celebratedOn: [day("2026-09-25")])).map(\.id) == ["B"])
        #expect(try reader.clients(birthdayKeys: [1125, 10_815, 229]).map(\.id) == ["A", "B", "C"])

        #expect(try reader.clients(loansMaturingFrom: day("2026-12-01"), through: day("2026-12-02")).map(\.id) == ["A"],
                "one client with two loans is listed once")
        #expect(try reader.clients(loansMaturingFrom: day("2026-12-02"), through: day("2026-12-31")).map(\.id) == ["A"])
        #expect(try reader.clients(loansMaturingFrom: day("2026-11-01"), through: day("2026-11-30")).isEmpty)
        #expect(try reader.clients(depositsMaturingFrom: day("2026-11-30"), through: day("2026-11-30")).map(\.id) == ["C"])
        #expect(try reader.clients(depositsMaturingFrom: day("2026-11-30"), through: day("2026-12-01")).map(\.id) == ["B", "C"])

        #expect(try reader.clients(inSegments: ["hnw", "private"]).map(\.id) == ["A", "B"])
        #expect(try reader.clients(inSegments: ["corporate"]).isEmpty)

        let from = instant("2026-11-10T10:00:00+08:00"), until = instant("2026-11-20T10:00:00+08:00")
        #expect(try reader.clients(lastWealthPurchaseFrom: from, until: until).map(\.id) == ["A"], "from inclusive, until exclusive")
        #expect(try reader.clients(lastWealthPurchaseFrom: from, until: until.addingTimeInterval(1)).map(\.id) == ["A", "B"])
        #expect(try reader.clients(lastWealthPurchaseFrom: from.addingTimeInterval(1), until: until).isEmpty)

        // Loaded clients are complete, not just ids.
        let loaded = try #require(try reader.clients(loansMaturingFrom: day("2026-12-01"), through: day("2026-12-01")).first)
        #expect(loaded == a)
    }

    @Test func aProfileChangeMovesTheIndexedColumns() throws {
        let store = try TestStore()
        var state = ClientState(id: "C1")
        state.apply(event("e1", EventType.clientProfile, client: "C1", at: instant(days: 1),
                          ["birthDate": .string("1980-11-25"), "segment": .string("hnw")]))
        var step = DispatchCommit()
        step.clients = [.init(state: state, changes: [.profile])]
        try store.database.commit(step, at: now)
        let reader = StoreStateReader(database: store.database)
        #expect(try reader.clients(birthdayKeys: [1125]).map(\.id) == ["C1"])

        let changes = state.apply(event("e2", EventType.clientProfile, client: "C1", at: instant(days: 2),
                                        ["birthCalendar": .string("chinese"), "segment": .null]))
        step.clients = [.init(state: state, changes: changes)]
        try store.database.commit(step, at: now)
        #expect(try reader.clients(birthdayKeys: [1125]).isEmpty)
        let lunarKey = try #require(state.profile.birthdayKey)
        #expect(lunarKey > 10_000)
        #expect(try reader.clients(birthdayKeys: [lunarKey]).map(\.id) == ["C1"])
        #expect(try reader.clients(inSegments: ["hnw"]).isEmpty)
    }

    @Test func lastLeadAgreesWithInMemoryState() throws {
        let store = try TestStore()
        var generator = SeededRandom(seed: 77)
        var memory = InMemoryState()
        var step = DispatchCommit()
        let plugins = ["birthday-care", "rules", "maturity"]
        for index in 0..<300 {
            let plugin = plugins.randomElement(using: &generator)!
            let client = "C\(Int.random(in: 0..<40, using: &generator))"
            let created = instant(days: Int.random(in: 0...300, using: &generator), seconds: Int.random(in: 0..<86_400, using: &generator))
            let lead = LeadDraft(key: "k\(index)", kind: "test", clientId: client, title: "t")
                .complete(plugin: plugin, client: nil, manager: nil, now: created)
            step.leads.append((lead, nil))
            memory.leads.append((plugin, client, created))
        }
        // A lead for a manager, with no client, is nobody's last lead.
        step.leads.append((LeadDraft(key: "greeting", kind: "holiday_greeting", clientId: nil, managerId: "M1", title: "g")
            .complete(plugin: "birthday-care", client: nil, manager: nil, now: instant(days: 400)), nil))
        try store.database.commit(step, at: now)
        let reader = StoreStateReader(database: store.database)
        var found = 0
        for client in (0..<42).map({ "C\($0)" }) {
            for plugin in plugins + ["unknown"] {
                let stored = try reader.lastLead(plugin: plugin, client: client)
                #expect(stored == (try memory.lastLead(plugin: plugin, client: client)), "\(plugin) \(client)")
                if stored != nil { found += 1 }
            }
        }
        #expect(found > 60)
        #expect(try reader.lastLead(plugin: "rules", client: "C999") == nil)
    }

    @Test func pluginMemoryRoundTripsInTheClientRow() throws {
        let store = try TestStore()
        var state = ClientState(id: "C1")
        state.profile.name = "张三"
        let counter: JSONValue = .object(["count": .number("2"), "seen": .array([.string("E1"), .string("E2")]),
                                          "since": .string("2026-11-20T10:00:00+08:00"), "flag": .bool(true), "none": .null])
        state.memory["counter"] = counter
        state.memory["other"] = .object(["x": .number("1.50")])
        var step = DispatchCommit()
        step.clients = [.init(state: state, changes: [.profile, .memory("counter"), .memory("other")])]
        try store.database.commit(step, at: now)

        let loaded = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(loaded.memory == ["counter": counter, "other": .object(["x": .number("1.50")])])
        #expect(loaded == state)

        // Clearing one plugin's memory removes it from the client row; the other plugin's memory stays.
        state.memory["counter"] = nil
        step.clients = [.init(state: state, changes: [.memory("counter")])]
        try store.database.commit(step, at: now)
        let after = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(after.memory == ["other": .object(["x": .number("1.50")])])
        let stored = try store.database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT memory FROM client WHERE id = 'C1'")
        }
        #expect(stored == #"{"other":{"x":1.50}}"#)

        // An activity-only change leaves the stored memory alone; a profile write stores the state's memory.
        state.memory["other"] = .object(["x": .number("9")])
        state.lastEventAt = now
        step.clients = [.init(state: state, changes: [.activity])]
        try store.database.commit(step, at: now)
        #expect(try store.database.loadClients(["C1"])["C1"]?.memory["other"] == .object(["x": .number("1.50")]))
        step.clients = [.init(state: state, changes: [.profile])]
        try store.database.commit(step, at: now)
        #expect(try store.database.loadClients(["C1"])["C1"]?.memory["other"] == .object(["x": .number("9")]))
        state.memory["other"] = .object(["x": .number("1.50")])
        step.clients = [.init(state: state, changes: [.memory("other")])]
        try store.database.commit(step, at: now)
        // The memory comes with the indexed queries too.
        #expect(try store.database.allClients().first?.memory["other"] == .object(["x": .number("1.50")]))
    }

    @Test func previousTransactionAndLastWealthPurchasePersist() throws {
        let store = try TestStore()
        var state = ClientState(id: "C1")
        var changes = StateChanges()
        for (index, time) in ["2026-11-01T09:00:00+08:00", "2026-11-15T09:00:00+08:00", "2026-11-20T09:00:00+08:00"].enumerated() {
            changes.formUnion(state.apply(event("t\(index)", EventType.accountTransaction, client: "C1", at: instant(time), [
                "accountId": .string("AC1"), "amount": .number("10"), "direction": .string("credit"),
            ])))
        }
        changes.formUnion(state.apply(event("w1", EventType.wealthTrade, client: "C1", at: instant("2026-11-18T14:00:00+08:00"), [
            "productId": .string("WP-1"), "amount": .number("5000"), "action": .string("buy"),
        ])))
        changes.formUnion(state.apply(event("w2", EventType.wealthTrade, client: "C1", at: instant("2026-11-19T14:00:00+08:00"), [
            "productId": .string("WP-1"), "amount": .number("1000"), "action": .string("redeem"),
        ])))
        #expect(state.accounts["AC1"]?.previousTransactionAt == instant("2026-11-15T09:00:00+08:00"))
        #expect(state.lastWealthPurchaseAt == instant("2026-11-18T14:00:00+08:00"), "a redemption is not a purchase")
        var step = DispatchCommit()
        step.clients = [.init(state: state, changes: changes)]
        try store.database.commit(step, at: now)

        let loaded = try #require(try store.database.loadClients(["C1"])["C1"])
        #expect(loaded.accounts["AC1"]?.previousTransactionAt == instant("2026-11-15T09:00:00+08:00"))
        #expect(loaded.accounts["AC1"]?.lastTransactionAt == instant("2026-11-20T09:00:00+08:00"))
        #expect(loaded.lastWealthPurchaseAt == instant("2026-11-18T14:00:00+08:00"))
    }

    @Test func theV4MigrationMovesPluginMemoryIntoTheClientRow() throws {
        let directory = TemporaryDirectory("insightd-store-test")
        let path = directory.file(AppDatabase.fileName)
        do {
            let queue = try DatabaseQueue(path: path)
            try AppMigrations.migrator.migrate(queue, upTo: "v3-plugin-queries-memory")
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO client (id, profile, segment) VALUES ('C1', '{"tags":[]}', 'hnw'), ('C2', NULL, NULL);
                    INSERT INTO plugin_memory (client_id, plugin, data) VALUES
                      ('C1', 'risk-alerts', '{"d":[[1,"2.50"]]}'), ('C1', 'rules', '{"r":5}');
                    INSERT INTO account (id, client_id, currency, balance, transaction_count) VALUES ('A1', 'C1', 'CNY', '10', 3);
                    """)
            }
            try queue.close()
        }
        let database = try AppDatabase.open(directory: directory.path)
        let clients = try database.loadClients(["C1", "C2"])
        #expect(clients["C1"]?.memory == ["risk-alerts": .object(["d": .array([.array([.number("1"), .string("2.50")])])]),
                                          "rules": .object(["r": .number("5")])])
        #expect(clients["C2"]?.memory.isEmpty == true)
        #expect(clients["C1"]?.accounts["A1"]?.transactionCount == 3, "rows survive the WITHOUT ROWID rebuild")
        #expect(try database.clients(inSegments: ["hnw"]).map(\.id) == ["C1"], "indexes are rebuilt")
        let withoutRowid = try database.pool.read { db in
            try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'client'")
        }
        #expect(withoutRowid?.hasSuffix("WITHOUT ROWID") == true)
        try database.close()
    }

    @Test func theV3MigrationIndexesBirthdaysOfClientsWrittenBeforeIt() throws {
        let directory = TemporaryDirectory("insightd-store-test")
        let path = directory.file(AppDatabase.fileName)
        do {
            // A database at v2, with clients projected then (no birthday_key column yet).
            let queue = try DatabaseQueue(path: path)
            try AppMigrations.migrator.migrate(queue, upTo: "v2-ingest")
            try queue.write { db in
                #expect(try !db.columns(in: "client").contains { $0.name == "birthday_key" })
                try db.execute(sql: "INSERT INTO client (id, profile) VALUES (?, ?)", arguments: [
                    "G", #"{"birthDate":"1980-11-25","tags":[]}"#,
                ])
                try db.execute(sql: "INSERT INTO client (id, profile) VALUES (?, ?)", arguments: [
                    "L", #"{"birthDate":"1966-09-29","birthCalendar":"chinese","tags":[]}"#,
                ])
                try db.execute(sql: "INSERT INTO client (id, profile) VALUES (?, ?)", arguments: ["N", #"{"tags":[]}"#])
                try db.execute(sql: "INSERT INTO client (id, profile) VALUES (?, NULL)", arguments: ["E"])
                // Wealth trades: G bought (then redeemed later), N only holds a product traded before.
                try db.execute(sql: """
                    INSERT INTO journal (source, event_id, type, client_id, time_ms, received_ms, data) VALUES
                      ('s', 'w1', 'wealth.trade', 'G', 1000, 0, '{"productId":"P","action":"buy","amount":"1"}'),
                      ('s', 'w2', 'wealth.trade', 'G', 2000, 0, '{"productId":"P","action":"redeem","amount":"1"}');
                    INSERT INTO holding (client_id, product_id, amount, last_trade_ms) VALUES ('N', 'P', '5', 500);
                    """)
            }
            try queue.close()
        }
        let database = try AppDatabase.open(directory: directory.path)
        let keys = try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, birthday_key FROM client ORDER BY id").map { row -> String in
                let id: String = row["id"]
                let key: Int? = row["birthday_key"]
                return "\(id):\(key.map(String.init) ?? "nil")"
            }
        }
        #expect(keys == ["E:nil", "G:1125", "L:10815", "N:nil"])
        let purchases = try database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, last_wealth_buy_ms FROM client ORDER BY id").map { row -> String in
                let id: String = row["id"]
                let ms: Int64? = row["last_wealth_buy_ms"]
                return "\(id):\(ms.map(String.init) ?? "nil")"
            }
        }
        #expect(purchases == ["E:nil", "G:1000", "L:nil", "N:500"], "the last buy, not the later redemption")
        let reader = StoreStateReader(database: database)
        #expect(try reader.clients(birthdayKeys: Birthdays.keys(celebratedOn: [day("2026-09-25")])).map(\.id) == ["L"])
        #expect(try reader.clients(birthdayKeys: [1125]).map(\.id) == ["G"])
        try database.close()
    }

    /// The client indexes hold no NULLs (v8), and the plugins' queries still search them rather than scan the book;
    /// `hasClients()` answers without counting the table.
    @Test func theClientIndexesLeaveNullsOutAndThePluginQueriesStillUseThem() throws {
        let store = try TestStore()
        #expect(try !store.database.hasClients())
        let plans = try store.database.pool.read { db -> [String: String] in
            let queries: [String: (String, StatementArguments)] = [
                "client_birthday": (AppDatabase.birthdayQuery, ["[1125]"]),
                "client_segment": (AppDatabase.segmentQuery, [#"["hnw"]"#]),
                "client_wealth_buy": (AppDatabase.wealthPurchaseQuery, [1, 2]),
                // No query reads a manager's book yet: the index must still serve one.
                "client_manager": ("SELECT id FROM client WHERE manager_id = ?", ["M1"]),
            ]
            var plans: [String: String] = [:]
            for (index, (sql, arguments)) in queries {
                plans[index] = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments)
                    .map { $0["detail"] as String }.joined(separator: "; ")
            }
            return plans
        }
        for (index, plan) in plans { #expect(plan.contains("INDEX \(index) "), "\(index): \(plan)") }
        let partial = try store.database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'client'")
                .filter { ($0["sql"] as String?)?.contains("IS NOT NULL") == true }.map { $0["name"] as String }.sorted()
        }
        #expect(partial == ["client_birthday", "client_manager", "client_segment", "client_wealth_buy"])
        try store.database.pool.write { db in try db.execute(sql: "INSERT INTO client (id) VALUES ('C1')") }
        #expect(try store.database.hasClients())
    }
}
