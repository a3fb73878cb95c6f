import Crypto
import Foundation

/// Verifies Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
/// possibly several space-separated (key rotation), with a 5-minute timestamp tolerance. The comparison is
/// swift-crypto's constant-time check over the raw MAC bytes.
public struct StandardWebhooks: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case missingHeaders
        /// A webhook-id over ``StandardWebhooks/maximumIdBytes``, with its size in bytes.
        case idTooLong(Int)
        case badTimestamp(String)
        case stale(seconds: Int)
        case future(seconds: Int)
        case noMatchingSignature

        public var description: String {
            switch self {
            case .missingHeaders:
                return "missing webhook-id, webhook-timestamp or webhook-signature header"
            case .idTooLong(let bytes):
                return "webhook-id is \(bytes) bytes long; it must be at most \(StandardWebhooks.maximumIdBytes)"
            case .badTimestamp(let text):
                return "webhook-timestamp \"\(text.prefix(20))\" is not whole seconds since 1970"
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

    /// Checks the headers against `body` at `now`. Returns nothing on success.
    public func verify(id: String?, timestamp: String?, signature: String?, body: some DataProtocol, now: Date) throws(Failure) {
        guard let id, let timestamp, let signature, !id.isEmpty else { throw .missingHeaders }
        guard id.utf8.count <= Self.maximumIdBytes else { throw .idTooLong(id.utf8.count) }
        guard let seconds = Int64(timestamp) else { throw .badTimestamp(timestamp) }
        // Any Int64 may arrive here; clamp before converting so no header can overflow an Int.
        let age = min(max(now.timeIntervalSince1970 - Double(seconds), -1e12), 1e12)
        if age > Self.tolerance { throw .stale(seconds: Int(age)) }
        if age < -Self.tolerance { throw .future(seconds: Int(-age)) }
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        for candidate in signature.split(separator: " ") {
            let parts = candidate.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let mac = Data(base64Encoded: String(parts[1])) else { continue }
            if HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: key) { return }
        }
        throw .noMatchingSignature
    }

    /// The `webhook-signature` value for a payload, as a sender (or insightd's own webhook receiver) makes it.
    public func sign(id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}
