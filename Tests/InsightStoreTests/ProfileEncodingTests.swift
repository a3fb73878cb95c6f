import Foundation
import InsightCore
@testable import InsightStore
import Testing

/// Profiles are stored as JSON written by hand on the hot path; it must be exactly what `JSONEncoder` writes,
/// so the decoder (and every row written before) agrees.
@Suite struct ProfileEncodingTests {
    @Test func handWrittenProfileJSONMatchesJSONEncoder() throws {
        var random = SeededRandom(seed: 99)
        let texts = ["张三", "O'Brien \"Bob\"", "a/b\\c", "tab\there", "emoji 🎉", "", "line\nbreak", "\u{1}", "back\u{8}space", "form\u{C}feed\u{1F}"]
        for _ in 0..<300 {
            var profile = ClientProfile()
            func maybe<T>(_ value: T) -> T? { random.unit() < 0.7 ? value : nil }
            profile.name = maybe(texts[random.int(0..<texts.count)])
            profile.birthDate = maybe(LocalDate(dayNumber: random.int(-20_000..<20_000)))
            profile.birthCalendar = maybe(random.unit() < 0.5 ? .chinese : .gregorian)
            profile.segment = maybe(["mass", "hnw", "private"][random.int(0..<3)])
            profile.riskLevel = maybe(RiskLevel(1 + random.int(0..<5))) ?? nil
            profile.riskAssessedAt = maybe(LocalDate(dayNumber: random.int(19_000..<21_000)))
            profile.managerId = maybe("M\(random.int(0..<100))")
            profile.branchId = maybe("B\(random.int(0..<10))")
            profile.tags = random.unit() < 0.5 ? [] : [texts[random.int(0..<texts.count)], "vip"]
            profile.phone = maybe("1381234\(random.int(1000..<9999))")
            profile.idNumber = maybe("11010119900101\(random.int(1000..<9999))")
            profile.marketingConsent = maybe(random.unit() < 0.5)
            profile.status = maybe("active")

            let expected = String(decoding: try AppDatabase.jsonEncoder.encode(profile), as: UTF8.self)
            let written = profile.storedText
            #expect(written == expected)
            #expect(try JSONDecoder().decode(ClientProfile.self, from: Data(written.utf8)) == profile)
            // Read back by hand, as a cache miss does: the same profile as the reference decoder's.
            #expect(ClientProfile(stored: try JSONParser.parse(Array(written.utf8))) == profile)
            #expect(try AppDatabase.decodeProfile(written, client: "C1") == profile)
        }
    }

    /// Whatever the hand reader does not take goes to `JSONDecoder`: the verdict, value or error, is the reference's.
    @Test(arguments: [
        #"{"tags":[],"name":null,"segment":"mass","extra":{"x":[1,2]}}"#,  // null as absent, unknown keys ignored
        #"{"tags":["a"],"riskLevel":{"value":7}}"#,  // out of range: the decoder takes it as it always did
        #"{"tags":["a"],"riskLevel":{"value":3.0}}"#,
        #"{"tags":["a"],"marketingConsent":1}"#,
        #"{"tags":null}"#,
        #"{"name":"x"}"#,  // no tags
        #"{"tags":["a", 3]}"#,
        #"{"tags":[],"birthDate":"2026-02-30"}"#,
        #"{"tags":[],"birthCalendar":"julian"}"#,
        #"[1,2]"#,
        #"{"tags":[],"#,
    ])
    func profilesNotInTheStoredFormGetTheReferenceVerdict(text: String) throws {
        let reference = Result { try JSONDecoder().decode(ClientProfile.self, from: Data(text.utf8)) }
        let read = Result { try AppDatabase.decodeProfile(text, client: "C9") }
        switch (reference, read) {
        case (.success(let expected), .success(let profile)): #expect(profile == expected)
        case (.failure, .failure(let error)):
            #expect("\(error)".contains("C9"), "the error names the client row")
        default: Issue.record("\(text): the reference gave \(reference), the reader \(read)")
        }
    }
}
