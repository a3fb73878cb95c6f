import Crypto
import Foundation
import InsightCore

/// Verifies Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
/// possibly several space-separated (key rotation), with a 5-minute timestamp tolerance. The comparison is
/// swift-crypto's constant-time check over the raw MAC bytes.
public struct StandardWebhooks: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case missingHeaders
        /// A webhook-id over ``StandardWebhooks/maximumIdBytes``, with its size in bytes.
        case idTooLong(Int)
        case badTimestamp(String)
        case badSignatureHeader
        case stale(seconds: Int)
        case future(seconds: Int)
        case noMatchingSignature

        public var description: String {
            switch self {
            case .missingHeaders:
                return "missing webhook-id, webhook-timestamp or webhook-signature header"
            case .idTooLong(let bytes):
                return "webhook-id is \(bytes) bytes long; it must be at most \(StandardWebhooks.maximumIdBytes)"
            case .badSignatureHeader:
                return "webhook-signature holds no \"v1,<base64>\" signature (at most \(StandardWebhooks.maximumSignatures), space-separated)"
            case .badTimestamp(let text):
                return "webhook-timestamp \(EventRejection.excerpt(text, length: 20)) is not whole seconds since 1970"
            case .stale(let seconds):
                return "webhook-timestamp is \(seconds) s old, beyond the 300 s tolerance; check the sender's clock or resend"
            case .future(let seconds):
                return "webhook-timestamp is \(seconds) s in the future, beyond the 300 s tolerance; check the sender's clock"
            case .noMatchingSignature:
                return "no webhook-signature matches the body with this source's secret"
            }
        }
    }

    public static let tolerance: TimeInterval = 300

    /// The longest webhook-id accepted, in UTF-8 bytes. The id is kept with every signed request, for replay
    /// detection; senders' ids are short (`msg_2KWPBgLlAfxdpx2AI54pPJ85f4W`), and a header of any length
    /// would be kept whole.
    public static let maximumIdBytes = 256
    /// The most signatures one `webhook-signature` may carry (key rotation needs two or three).
    public static let maximumSignatures = 8

    /// What the request's head says about its signature, checked before any byte of the body is read: the id
    /// and timestamp are present and sane, the timestamp is inside the tolerance, and the signature header holds
    /// at least one well-formed `v1` signature. Only then is a body worth reading.
    public struct SignedHead: Sendable, Equatable {
        public let id: String
        public let timestamp: String
        /// The decoded `v1` signatures, one of which must match.
        let signatures: [Data]
    }

    /// Checks a request's head (see ``SignedHead``). The timestamp window is checked here, so a stale or
    /// forged-looking request is refused before its body is read.
    public static func checkHead(id: String?, timestamp: String?, signature: String?, now: Date) throws(Failure) -> SignedHead {
        guard let id, let timestamp, let signature, !id.isEmpty else { throw .missingHeaders }
        guard id.utf8.count <= maximumIdBytes else { throw .idTooLong(id.utf8.count) }
        guard timestamp.utf8.count <= 20, let seconds = Int64(timestamp) else { throw .badTimestamp(timestamp) }
        // Any Int64 may arrive here; clamp before converting so no header can overflow an Int.
        let age = min(max(now.timeIntervalSince1970 - Double(seconds), -1e12), 1e12)
        if age > Self.tolerance { throw .stale(seconds: Int(age)) }
        if age < -Self.tolerance { throw .future(seconds: Int(-age)) }
        var signatures: [Data] = []
        for candidate in signature.split(separator: " ").prefix(maximumSignatures) {
            let parts = candidate.split(separator: ",", maxSplits: 1)
            // A SHA-256 MAC is 32 bytes: 44 characters of base64.
            guard parts.count == 2, parts[0] == "v1", parts[1].utf8.count <= 64,
                  let mac = Data(base64Encoded: String(parts[1])), mac.count == SHA256.byteCount else { continue }
            signatures.append(mac)
        }
        guard !signatures.isEmpty else { throw .badSignatureHeader }
        return SignedHead(id: id, timestamp: timestamp, signatures: signatures)
    }

    /// A signature check fed the body as it streams in: ``update(_:)`` with each chunk, then ``matches()``.
    public struct Verification {
        private var mac: HMAC<SHA256>
        private let head: SignedHead

        init(key: SymmetricKey, head: SignedHead) {
            mac = HMAC<SHA256>(key: key)
            mac.update(data: Data("\(head.id).\(head.timestamp).".utf8))
            self.head = head
        }

        public mutating func update(_ bytes: some DataProtocol) {
            for region in bytes.regions { mac.update(data: region) }
        }

        /// Whether one of the head's signatures is this key's MAC of everything given (constant-time compares).
        public func matches() -> Bool {
            let code = mac.finalize()
            var found = false
            for signature in head.signatures where code == signature { found = true }
            return found
        }
    }

    /// Starts checking a body against this key, for a head ``checkHead(id:timestamp:signature:now:)`` accepted.
    public func verification(for head: SignedHead) -> Verification {
        Verification(key: key, head: head)
    }

    /// The raw key bytes (`SymmetricKey` is not `Sendable` in this swift-crypto; one is made per check).
    let keyBytes: Data
    var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// `whsec_<base64>`; a secret without the prefix is taken as base64 too, and as raw bytes if it is not.
    public init?(secret: String) {
        let body = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        if let decoded = Data(base64Encoded: body), !decoded.isEmpty {
            keyBytes = decoded
        } else if !secret.hasPrefix("whsec_"), !body.isEmpty {
            keyBytes = Data(body.utf8)
        } else {
            return nil
        }
    }

    /// Checks the headers against `body` at `now`, all at once. Returns nothing on success.
    public func verify(id: String?, timestamp: String?, signature: String?, body: some DataProtocol, now: Date) throws(Failure) {
        let head = try Self.checkHead(id: id, timestamp: timestamp, signature: signature, now: now)
        var verification = verification(for: head)
        verification.update(body)
        guard verification.matches() else { throw .noMatchingSignature }
    }

    /// The `webhook-signature` value for a payload, as a sender (or insightd's own webhook receiver) makes it.
    public func sign(id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}
