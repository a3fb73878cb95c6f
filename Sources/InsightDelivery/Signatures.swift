import Crypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` + base64 HMAC-SHA256 over
/// `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the base64 part of a `whsec_` secret.
public enum StandardWebhookSignature {
    public struct InvalidSecret: Error, CustomStringConvertible {
        public var description: String { "the webhook secret must be whsec_ followed by base64" }
    }

    public static func key(secret: String) throws -> SymmetricKey {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), !bytes.isEmpty else { throw InvalidSecret() }
        return SymmetricKey(data: bytes)
    }

    public static func sign(key: SymmetricKey, id: String, timestamp: Int64, body: some DataProtocol) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Data("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }
}

/// A DingTalk custom robot with 加签: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key: secret,
/// message: "\(timestamp)\n\(secret)")), URL-encoded, as query parameters.
public enum DingTalkSignature {
    public static func sign(secret: String, timestampMs: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestampMs)\n\(secret)".utf8),
                                                  using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    public static func signedURL(_ url: String, secret: String, timestampMs: Int64) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let sign = sign(secret: secret, timestampMs: timestampMs).addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return url + (url.contains("?") ? "&" : "?") + "timestamp=\(timestampMs)&sign=\(sign)"
    }
}

/// A Feishu (Lark) custom bot with 签名校验: `timestamp` (s) and `sign` = base64(HMAC-SHA256(key:
/// "\(timestamp)\n\(secret)", message: empty)), in the JSON body.
public enum FeishuSignature {
    public static func sign(secret: String, timestamp: Int64) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(), using: SymmetricKey(data: Data("\(timestamp)\n\(secret)".utf8)))
        return Data(mac).base64EncodedString()
    }
}
