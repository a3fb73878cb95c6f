import Foundation
import Testing
@testable import InsightCore

private func client(name: String? = "张三", managerId: String? = "M1", branchId: String? = "B1") -> ClientState {
    var state = ClientState(id: "C000123")
    state.profile.name = name
    state.profile.managerId = managerId
    state.profile.branchId = branchId
    state.profile.segment = "affluent"
    return state
}

private let now = Date(timeIntervalSince1970: 1_795_132_800)

@Suite("Lead")
struct LeadTests {
    @Test func idIsAStableFNV1aHash() {
        // FNV-1a 64 test vectors.
        #expect(Lead.id(forKey: "") == "ld_cbf29ce484222325")
        #expect(Lead.id(forKey: "a") == "ld_af63dc4c8601ec8c")
        #expect(Lead.id(forKey: "foobar") == "ld_85944171f73967e8")
        #expect(Lead.id(forKey: "birthday-care:C000123:2026") == Lead.id(forKey: "birthday-care:C000123:2026"))
    }

    @Test func idIsLdAndSixteenLowercaseHexDigits() {
        let keys = (0..<2000).map { "plugin:C\($0):2026" }
        let ids = keys.map(Lead.id(forKey:))
        for id in ids {
            #expect(id.hasPrefix("ld_"))
            #expect(id.count == 19)
            #expect(id.dropFirst(3).allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(Set(ids).count == keys.count)
        // Leading zeros are kept (about one hash in 16 starts with a zero nibble).
        #expect(ids.contains { $0.hasPrefix("ld_0") })
    }

    @Test func differentKeysDiffer() {
        #expect(Lead.id(forKey: "a:C1:2026") != Lead.id(forKey: "a:C1:2027"))
        #expect(Lead.id(forKey: "a:C1") != Lead.id(forKey: "b:C1"))
    }

    @Test func completeFillsTheHostFields() {
        let draft = LeadDraft(key: "C000123:2026", kind: "birthday", priority: .high, clientId: "C000123",
                              title: "生日关怀", summary: "客户生日", suggestedAction: "致电问候",
                              evidence: [Evidence(key: "birthDate", label: "生日", value: "11-25")], sourceEvents: ["evt-1"])
        let lead = draft.complete(plugin: "birthday-care", client: client(), manager: nil, now: now)
        #expect(lead.key == "birthday-care:C000123:2026")
        #expect(lead.id == Lead.id(forKey: "birthday-care:C000123:2026"))
        #expect(lead.plugin == "birthday-care")
        #expect(lead.kind == "birthday")
        #expect(lead.priority == .high)
        #expect(lead.client == ClientReference(id: "C000123", name: "张*", segment: "affluent"))
        #expect(lead.manager == ManagerReference(id: "M1", name: nil, branchId: "B1"))
        #expect(lead.createdAt == now)
        #expect(lead.status == .new)
        #expect(lead.title == "生日关怀")
        #expect(lead.summary == "客户生日")
        #expect(lead.suggestedAction == "致电问候")
        #expect(lead.evidence == [Evidence(key: "birthDate", label: "生日", value: "11-25")])
        #expect(lead.sourceEvents == ["evt-1"])
        #expect(lead.products == nil)
        #expect(lead.dueAt == nil)
    }

    @Test func evidenceCarriesAStableKeyAndStoredEvidenceWithoutOneStillDecodes() throws {
        let evidence = Evidence(key: "debitTotal", label: "支出合计", value: "¥1,000,000")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(evidence), as: UTF8.self)
                == #"{"key":"debitTotal","label":"支出合计","value":"¥1,000,000"}"#)
        #expect(try JSONDecoder().decode(Evidence.self, from: Data(#"{"key":"debitTotal","label":"支出合计","value":"¥1,000,000"}"#.utf8)) == evidence)
        // A lead stored before evidence had keys: the label is the key.
        let old = try JSONDecoder().decode(Evidence.self, from: Data(#"{"label":"debitTotal","value":"¥1,000,000"}"#.utf8))
        #expect(old == Evidence(key: "debitTotal", label: "debitTotal", value: "¥1,000,000"))
    }

    @Test func completeMasksTheManagerName() {
        var manager = ManagerState(id: "M1")
        manager.name = "王小明"
        manager.branchId = "B9"
        let draft = LeadDraft(key: "k", kind: "kind", clientId: "C000123", title: "t")
        let lead = draft.complete(plugin: "p", client: client(), manager: manager, now: now)
        #expect(lead.manager == ManagerReference(id: "M1", name: "王**", branchId: "B9"))
        #expect(lead.client?.name == "张*")
        #expect(lead.priority == .normal)
    }

    @Test func managerBranchFallsBackToTheClientBranch() {
        let draft = LeadDraft(key: "k", kind: "kind", clientId: "C000123", title: "t")
        let lead = draft.complete(plugin: "p", client: client(), manager: ManagerState(id: "M1"), now: now)
        #expect(lead.manager == ManagerReference(id: "M1", name: nil, branchId: "B1"))
    }

    @Test func draftManagerIdWinsOverTheClientProfile() {
        let draft = LeadDraft(key: "k", kind: "kind", clientId: "C000123", managerId: "M7", title: "t")
        let lead = draft.complete(plugin: "p", client: client(), manager: nil, now: now)
        #expect(lead.manager?.id == "M7")
    }

    @Test func withoutClientStateTheClientIdIsKept() {
        let draft = LeadDraft(key: "k", kind: "kind", clientId: "C9", title: "t")
        let lead = draft.complete(plugin: "p", client: nil, manager: nil, now: now)
        #expect(lead.client == ClientReference(id: "C9", name: nil, segment: nil))
        #expect(lead.manager == nil)
    }

    @Test func clientWithoutNameOrManager() {
        let draft = LeadDraft(key: "k", kind: "kind", clientId: "C000123", title: "t")
        let lead = draft.complete(plugin: "p", client: client(name: nil, managerId: nil), manager: nil, now: now)
        #expect(lead.client?.name == nil)
        #expect(lead.manager == nil)
    }

    @Test func pluginsCannotShareKeys() {
        let draft = LeadDraft(key: "C000123:2026", kind: "kind", clientId: "C000123", title: "t")
        let first = draft.complete(plugin: "birthday-care", client: nil, manager: nil, now: now)
        let second = draft.complete(plugin: "large-inflow", client: nil, manager: nil, now: now)
        #expect(first.key != second.key)
        #expect(first.id != second.id)
    }

    @Test func priorityOrder() {
        #expect(LeadPriority.low < .normal)
        #expect(LeadPriority.normal < .high)
        #expect(LeadPriority.high < .urgent)
        #expect(LeadPriority.allCases.sorted() == [.low, .normal, .high, .urgent])
    }
}
