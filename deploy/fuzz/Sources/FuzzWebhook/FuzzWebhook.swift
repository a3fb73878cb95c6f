import Foundation
import InsightIngest

// Standard Webhooks verification (Sources/InsightIngest/Webhook/StandardWebhooks.swift) on headers it has never seen.
// - Input: `webhook-id`, `webhook-timestamp` and `webhook-signature` values, one per line, then the body (a
//   missing line is a missing header). Verified with the published test vector's secret at the vector's time:
//   no trap, no overflow, whatever the timestamp and signature say.
// - The first line is also tried as a secret (`whsec_…`, bare base64, raw bytes).
// - Round trips: what `sign` makes for these id and body at a valid timestamp verifies, also after any other
//   candidates in the header (key rotation); the same signature over a body one byte longer does not.
// - The head check that runs before a body is read (`checkHead`) never accepts what `verify` refuses for a header
//   reason, and a head it accepts, fed the body in chunks of the input's choosing, matches exactly when `verify`
//   accepts the whole body.
// A broken property traps (`check`), which libFuzzer reports as a crash with the input.

@inline(never)
func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("check failed: \(message())") }
}

/// The published test vector (StandardWebhooksTests).
let vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
let vectorNow = Date(timeIntervalSince1970: 1_614_265_330)
let verifier = StandardWebhooks(secret: vectorSecret)!

func roundTrip(_ webhooks: StandardWebhooks, id: String, seconds: Int64, body: [UInt8], otherCandidates: String) {
    // Ids over the limit are refused whatever their signature; only the first signatures of a header are tried.
    guard id.utf8.count <= StandardWebhooks.maximumIdBytes,
          otherCandidates.split(separator: " ").count < StandardWebhooks.maximumSignatures else { return }
    let now = Date(timeIntervalSince1970: Double(seconds))
    let signature = webhooks.sign(id: id, timestamp: seconds, body: body)
    do {
        try webhooks.verify(id: id, timestamp: String(seconds), signature: signature, body: body, now: now)
    } catch {
        fatalError("a signature from sign does not verify: \(error)")
    }
    do {
        try webhooks.verify(id: id, timestamp: String(seconds), signature: otherCandidates + " " + signature, body: body, now: now)
    } catch {
        fatalError("a signature from sign does not verify after other candidates: \(error)")
    }
    do {
        try webhooks.verify(id: id, timestamp: String(seconds), signature: signature, body: body + [0x20], now: now)
        fatalError("a signature verified another body")
    } catch {
        check(error == .noMatchingSignature, "another body failed with \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    let parts = bytes.split(separator: 0x0A, maxSplits: 3, omittingEmptySubsequences: false)
    func header(_ index: Int) -> String? {
        index < parts.count && index < 3 ? String(decoding: parts[index], as: UTF8.self) : nil
    }
    let id = header(0), timestamp = header(1), signature = header(2)
    let body = parts.count > 3 ? Array(parts[3]) : []

    let verified: Bool
    do {
        try verifier.verify(id: id, timestamp: timestamp, signature: signature, body: body, now: vectorNow)
        verified = true
    } catch {
        _ = error.description
        verified = false
    }
    // The same decision in two steps: the head, then the body streamed in chunks sized by the body's first byte.
    do {
        let head = try StandardWebhooks.checkHead(id: id, timestamp: timestamp, signature: signature, now: vectorNow)
        var verification = verifier.verification(for: head)
        let chunk = max(1, Int(body.first ?? 1))
        for start in stride(from: 0, to: body.count, by: chunk) { verification.update(body[start..<min(start + chunk, body.count)]) }
        check(verification.matches() == verified, "the head and streamed body decided \(!verified), verify \(verified)")
    } catch {
        check(!verified, "checkHead refused (\(error)) what verify accepted")
    }

    if let id, !id.isEmpty {
        // A timestamp as the header gives it, within ±2^40 s of 1970 (35,000 years): beyond, `Date` (seconds since 2001
        // in a Double) cannot hold it to the second, and "now" at that time is no clock's.
        let given = timestamp.flatMap { Int64($0) }
        let seconds = given.flatMap { (-(1 << 40)...(1 << 40)).contains($0) ? $0 : nil } ?? 1_614_265_330
        roundTrip(verifier, id: id, seconds: seconds, body: body, otherCandidates: signature ?? "")
        if let fromInput = StandardWebhooks(secret: id) {
            roundTrip(fromInput, id: id, seconds: seconds, body: body, otherCandidates: signature ?? "")
        }
    }
    return 0
}
