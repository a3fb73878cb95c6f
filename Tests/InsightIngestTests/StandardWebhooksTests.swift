import Foundation
import InsightIngest
import Testing

/// The published Standard Webhooks test vector, as in the reference libraries
/// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go, `TestWebhookSign`).
private enum Vector {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let id = "msg_p5jXN8AQM9LWM0D4loKWxJek"
    static let timestamp: Int64 = 1_614_265_330
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    static let now = Date(timeIntervalSince1970: 1_614_265_330)

    static func verifier(_ secret: String = secret) throws -> StandardWebhooks {
        try #require(StandardWebhooks(secret: secret))
    }
}

/// Runs `verify` and returns the failure, or nil when the signature was accepted.
private func failure(_ verifier: StandardWebhooks, id: String? = Vector.id, timestamp: String? = String(Vector.timestamp),
                     signature: String? = Vector.signature, body: [UInt8] = Vector.body,
                     now: Date = Vector.now) -> StandardWebhooks.Failure? {
    do {
        try verifier.verify(id: id, timestamp: timestamp, signature: signature, body: body, now: now)
        return nil
    } catch {
        return error
    }
}

@Suite("Standard Webhooks")
struct StandardWebhooksTests {
    @Test("sign reproduces the published test vector")
    func signMatchesVector() throws {
        let signature = try Vector.verifier().sign(id: Vector.id, timestamp: Vector.timestamp, body: Vector.body)
        #expect(signature == Vector.signature)
    }

    @Test("verify accepts the published test vector")
    func verifyAcceptsVector() throws {
        #expect(failure(try Vector.verifier()) == nil)
    }

    @Test("the whsec_ prefix is optional, as in the reference libraries")
    func prefixIsOptional() throws {
        let bare = try Vector.verifier(String(Vector.secret.dropFirst("whsec_".count)))
        #expect(bare.sign(id: Vector.id, timestamp: Vector.timestamp, body: Vector.body) == Vector.signature)
        #expect(failure(bare) == nil)
    }

    @Test("a whsec_ secret that is not base64, or is empty, is refused")
    func badSecrets() {
        #expect(StandardWebhooks(secret: "whsec_not base64!!") == nil)
        #expect(StandardWebhooks(secret: "whsec_") == nil)
        #expect(StandardWebhooks(secret: "") == nil)
    }

    @Test("a secret without the prefix that is not base64 is used as raw bytes")
    func rawSecret() throws {
        let verifier = try #require(StandardWebhooks(secret: "plain text secret"))
        let signature = verifier.sign(id: "msg_1", timestamp: Vector.timestamp, body: Vector.body)
        #expect(signature != Vector.signature)
        #expect(failure(verifier, id: "msg_1", signature: signature) == nil)
    }

    @Test("sign and verify round-trip over an empty body")
    func emptyBody() throws {
        let verifier = try Vector.verifier()
        let signature = verifier.sign(id: Vector.id, timestamp: Vector.timestamp, body: [UInt8]())
        #expect(failure(verifier, signature: signature, body: []) == nil)
        #expect(failure(verifier, signature: signature, body: Vector.body) == .noMatchingSignature)
    }

    @Test("a tampered body is refused", arguments: [
        #"{"test": 2432232315}"#, #"{"test":2432232314}"#, #"{"test": 2432232314} "#, "",
    ])
    func tamperedBody(body: String) throws {
        #expect(failure(try Vector.verifier(), body: Array(body.utf8)) == .noMatchingSignature)
    }

    @Test("a tampered id or timestamp is refused: both are signed")
    func tamperedIdOrTimestamp() throws {
        let verifier = try Vector.verifier()
        #expect(failure(verifier, id: "msg_p5jXN8AQM9LWM0D4loKWxJel") == .noMatchingSignature)
        #expect(failure(verifier, timestamp: "1614265331", now: Vector.now) == .noMatchingSignature)
    }

    @Test("another secret does not verify the vector")
    func wrongSecret() throws {
        let other = try Vector.verifier("whsec_" + Data(repeating: 7, count: 32).base64EncodedString())
        #expect(failure(other) == .noMatchingSignature)
        #expect(other.sign(id: Vector.id, timestamp: Vector.timestamp, body: Vector.body) != Vector.signature)
    }

    @Test("the timestamp tolerance is 300 s either way, inclusive")
    func toleranceEdges() throws {
        let verifier = try Vector.verifier()
        #expect(failure(verifier, now: Vector.now.addingTimeInterval(300)) == nil)
        #expect(failure(verifier, now: Vector.now.addingTimeInterval(-300)) == nil)
    }

    @Test("a stale timestamp (> 300 s old) is refused, saying how old")
    func stale() throws {
        let result = failure(try Vector.verifier(), now: Vector.now.addingTimeInterval(301))
        #expect(result == .stale(seconds: 301))
        let text = try #require(result).description
        #expect(text.contains("301 s old"))
        #expect(text.contains("300 s tolerance"))
    }

    @Test("a timestamp in the future (> 300 s ahead) is refused, saying so")
    func future() throws {
        let result = failure(try Vector.verifier(), now: Vector.now.addingTimeInterval(-3600))
        #expect(result == .future(seconds: 3600))
        #expect(try #require(result).description.contains("3600 s in the future"))
    }

    @Test("the clock is checked before the signature: a stale request with a valid MAC is still refused")
    func staleWithValidSignature() throws {
        #expect(failure(try Vector.verifier(), now: Vector.now.addingTimeInterval(86_400)) == .stale(seconds: 86_400))
    }

    @Test("missing headers are refused")
    func missingHeaders() throws {
        let verifier = try Vector.verifier()
        #expect(failure(verifier, id: nil) == .missingHeaders)
        #expect(failure(verifier, id: "") == .missingHeaders)
        #expect(failure(verifier, timestamp: nil) == .missingHeaders)
        #expect(failure(verifier, signature: nil) == .missingHeaders)
        #expect(StandardWebhooks.Failure.missingHeaders.description.contains("webhook-id"))
    }

    @Test("a timestamp that is not whole seconds is refused", arguments: ["1614265330.5", "abc", "", "1e9", " 1614265330"])
    func badTimestamp(timestamp: String) throws {
        #expect(failure(try Vector.verifier(), timestamp: timestamp) == .badTimestamp(timestamp))
    }

    /// Issue 14: the webhook-id is kept with every request for replay detection; a validly signed id of any
    /// length was accepted.
    @Test("a webhook-id over 256 bytes is refused even when signed; 256 is fine")
    func idLength() throws {
        let verifier = try Vector.verifier()
        let longest = String(repeating: "m", count: 256)
        let longestSignature = verifier.sign(id: longest, timestamp: Vector.timestamp, body: Vector.body)
        #expect(failure(verifier, id: longest, signature: longestSignature) == nil)
        let tooLong = String(repeating: "m", count: 100_000)
        let signature = verifier.sign(id: tooLong, timestamp: Vector.timestamp, body: Vector.body)
        let refused = try #require(failure(verifier, id: tooLong, signature: signature))
        #expect(refused.description == "webhook-id is 100000 bytes long; it must be at most 256")
    }

    @Test("key rotation: several space-separated signatures, only the second valid")
    func rotation() throws {
        let verifier = try Vector.verifier()
        let old = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
        #expect(failure(verifier, signature: "\(old) \(Vector.signature)") == nil)
        #expect(failure(verifier, signature: "\(old) \(Vector.signature) \(old)") == nil)
        #expect(failure(verifier, signature: "\(old) \(old)") == .noMatchingSignature)
    }

    @Test("malformed signature entries are skipped, not fatal", arguments: [
        "garbage", "v1", "v1,", "v1,%%%not-base64%%%", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", ",,,",
    ])
    func malformedEntryIgnored(entry: String) throws {
        let verifier = try Vector.verifier()
        #expect(failure(verifier, signature: "\(entry) \(Vector.signature)") == nil)
        // Nothing well-formed at all: refused on the head, before the body is read.
        #expect(failure(verifier, signature: entry) == .badSignatureHeader)
    }

    @Test("a truncated MAC is not accepted")
    func truncatedMAC() throws {
        let mac = try #require(Data(base64Encoded: String(Vector.signature.dropFirst(3))))
        let short = "v1," + mac.prefix(16).base64EncodedString()
        #expect(failure(try Vector.verifier(), signature: short) == .badSignatureHeader)
        #expect(failure(try Vector.verifier(), signature: "v1,") == .badSignatureHeader)
    }

    @Test("a timestamp far in the past is stale, however far")
    func farPast() throws {
        let result = failure(try Vector.verifier(), timestamp: "-9000000000000000000")
        guard case .stale = result else {
            Issue.record("expected .stale, got \(String(describing: result))")
            return
        }
    }

    /// `verify` reports the age as `Int(age)`; for a timestamp near Int64.min the age (a Double) is above
    /// Int.max and the conversion traps. Runs in a child process (exit test) because it kills the process.
    @Test("a webhook-timestamp of Int64.min is refused as stale, without crashing")
    func int64MinTimestamp() async {
        await #expect(processExitsWith: .success) {
            guard let verifier = StandardWebhooks(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") else { return }
            do {
                try verifier.verify(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "-9223372036854775808",
                                    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                    body: Array(#"{"test": 2432232314}"#.utf8), now: Date(timeIntervalSince1970: 1_614_265_330))
                preconditionFailure("accepted a timestamp from before the Big Bang")
            } catch let failure as StandardWebhooks.Failure {
                guard case .stale = failure else { preconditionFailure("expected .stale, got \(failure)") }
            } catch {
                preconditionFailure("unexpected \(error)")
            }
        }
    }

    @Test("the tolerance constant is the 5 minutes of the specification")
    func toleranceConstant() {
        #expect(StandardWebhooks.tolerance == 300)
    }
}

@Suite("Standard Webhooks: the head before the body")
struct StandardWebhooksHeadTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let now = Date(timeIntervalSince1970: 1_614_265_330)

    @Test("a body fed in chunks verifies as it does whole, and a changed chunk does not", arguments: [1, 7, 64, 4096])
    func chunked(chunk: Int) throws {
        let verifier = try #require(StandardWebhooks(secret: Self.secret))
        let body = Array((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let signature = verifier.sign(id: "msg_1", timestamp: 1_614_265_330, body: body)
        let head = try StandardWebhooks.checkHead(id: "msg_1", timestamp: "1614265330", signature: signature, now: Self.now)
        var verification = verifier.verification(for: head)
        for start in stride(from: 0, to: body.count, by: chunk) { verification.update(body[start..<min(start + chunk, body.count)]) }
        #expect(verification.matches())
        var tampered = verifier.verification(for: head)
        tampered.update(body.dropLast())
        tampered.update([body[body.count - 1] ^ 1])
        #expect(!tampered.matches())
    }

    @Test("an over-long webhook-id is refused on the head")
    func longId() throws {
        let id = String(repeating: "a", count: StandardWebhooks.maximumIdBytes + 1)
        #expect(throws: StandardWebhooks.Failure.idTooLong(StandardWebhooks.maximumIdBytes + 1)) {
            try StandardWebhooks.checkHead(id: id, timestamp: "1614265330", signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                           now: Self.now)
        }
        let fits = String(repeating: "a", count: StandardWebhooks.maximumIdBytes)
        _ = try StandardWebhooks.checkHead(id: fits, timestamp: "1614265330", signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                                           now: Self.now)
    }

    @Test("only the first signatures of a long list are tried")
    func manySignatures() throws {
        let verifier = try #require(StandardWebhooks(secret: Self.secret))
        let body = Array(#"{"test": 2432232314}"#.utf8)
        let good = verifier.sign(id: "msg_1", timestamp: 1_614_265_330, body: body)
        let junk = Array(repeating: "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", count: StandardWebhooks.maximumSignatures)
        #expect(throws: StandardWebhooks.Failure.noMatchingSignature) {
            try verifier.verify(id: "msg_1", timestamp: "1614265330", signature: (junk + [good]).joined(separator: " "), body: body, now: Self.now)
        }
        try verifier.verify(id: "msg_1", timestamp: "1614265330", signature: (junk.dropLast() + [good]).joined(separator: " "), body: body, now: Self.now)
    }
}
