import Crypto
import Foundation
import HTTPTypes
import InsightIngest

/// Who may call, and as whom: webhook sources (Standard Webhooks secret or bearer token) and scoped API
/// tokens. Token comparison is constant-time.
public struct Authenticator: Sendable {
    /// What an API token may do (`api_tokens[].scopes` in the config, decoded as this type: an unknown scope is a
    /// config error with its line, never dropped).
    public enum Scope: String, Sendable, CaseIterable, Decodable {
        case ingest, read, feedback, admin
        /// AML decisions (`POST /v1/leads/{id}/decision`), and snoozes that may hold back AML leads.
        case compliance

        public init(from decoder: any Decoder) throws { try self.init(decodingOneOf: decoder) }
    }

    public struct APIToken: Sendable {
        public var name: String
        public var token: String
        public var scopes: Set<Scope>

        public init(name: String, token: String, scopes: Set<Scope>) {
            self.name = name
            self.token = token
            self.scopes = scopes
        }
    }

    /// A caller that may send events, and the source name its events are journaled under.
    public struct Sender: Sendable, Equatable {
        public let source: String
        /// The webhook-id, when the request was signed (for replay detection).
        public let webhookId: String?
    }

    let signers: [(source: String, verifier: StandardWebhooks)]
    let sourceTokens: [(source: String, token: String)]
    let apiTokens: [APIToken]

    /// `webhookSecrets` and `sourceTokens` map source names to secrets; `apiTokens` carry their scopes.
    public init(webhookSecrets: [String: String], sourceTokens: [String: String], apiTokens: [APIToken]) {
        signers = webhookSecrets.sorted { $0.key < $1.key }.compactMap { name, secret in
            StandardWebhooks(secret: secret).map { (name, $0) }
        }
        self.sourceTokens = sourceTokens.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        self.apiTokens = apiTokens
    }

    /// What a request's head says about its sender, before any byte of the body is read.
    public enum HeadCheck {
        /// A bearer token: the sender is known.
        case sender(Sender)
        /// A Standard Webhooks request whose id, timestamp and signature header are sound: the body is read, fed
        /// to the signature check as it arrives, and the sender is known at its end.
        case signed(PendingSignature)
    }

    /// The body of a signed request, checked against every webhook source's key as it streams in.
    public struct PendingSignature {
        public let webhookId: String
        var checks: [(source: String, verification: StandardWebhooks.Verification)]

        public mutating func update(_ bytes: some DataProtocol) {
            for index in checks.indices { checks[index].verification.update(bytes) }
        }

        /// The sender whose key signed the whole body, or 401.
        public func finish() throws(Problem) -> Sender {
            for check in checks where check.verification.matches() { return Sender(source: check.source, webhookId: webhookId) }
            throw Problem.unauthorized(StandardWebhooks.Failure.noMatchingSignature.description)
        }
    }

    /// Authenticates an event sender on the request's head: a bearer token (a source's, or an API token with scope
    /// ingest), or a Standard Webhooks id, timestamp (inside the tolerance) and signature header. Anything else is
    /// refused here, so an unauthenticated caller never has its body read.
    public func check(head headers: HTTPFields, now: Date) throws(Problem) -> HeadCheck {
        guard let signature = headers[HTTPField.Name.webhookSignature] else {
            let token = try bearer(headers)
            for (source, expected) in sourceTokens where constantTimeEqual(token, expected) {
                return .sender(Sender(source: source, webhookId: nil))
            }
            let caller = try apiToken(token)
            guard caller.scopes.contains(.ingest) else {
                throw Problem.forbidden("token \(caller.name) lacks scope ingest")
            }
            return .sender(Sender(source: caller.name, webhookId: nil))
        }
        guard !signers.isEmpty else { throw Problem.unauthorized("no webhook source with a secret is configured") }
        let head: StandardWebhooks.SignedHead
        do {
            head = try StandardWebhooks.checkHead(id: headers[HTTPField.Name.webhookId], timestamp: headers[HTTPField.Name.webhookTimestamp],
                                                  signature: signature, now: now)
        } catch {
            throw Problem.unauthorized(error.description)
        }
        return .signed(PendingSignature(webhookId: head.id,
                                        checks: signers.map { ($0.source, $0.verifier.verification(for: head)) }))
    }

    /// Authenticates an event sender whose whole body is at hand (see ``check(head:now:)``).
    public func sender(headers: HTTPFields, body: some DataProtocol, now: Date) throws(Problem) -> Sender {
        switch try check(head: headers, now: now) {
        case .sender(let sender):
            return sender
        case .signed(var pending):
            pending.update(body)
            return try pending.finish()
        }
    }

    /// Authenticates an API caller and checks it holds `scope`.
    public func require(_ scope: Scope, headers: HTTPFields) throws(Problem) -> APIToken {
        let caller = try apiToken(try bearer(headers))
        guard caller.scopes.contains(scope) else {
            throw Problem.forbidden("token \(caller.name) lacks scope \(scope.rawValue)")
        }
        return caller
    }

    /// A caller holding at least one of `scopes`.
    public func requireAny(_ scopes: Set<Scope>, headers: HTTPFields) throws(Problem) -> APIToken {
        let caller = try apiToken(try bearer(headers))
        guard !caller.scopes.isDisjoint(with: scopes) else {
            throw Problem.forbidden("token \(caller.name) lacks scope \(scopes.map(\.rawValue).sorted().joined(separator: " or "))")
        }
        return caller
    }

    private func bearer(_ headers: HTTPFields) throws(Problem) -> String {
        guard let value = headers[.authorization] else {
            throw Problem.unauthorized("send Authorization: Bearer <token>, or sign the request with Standard Webhooks")
        }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw Problem.unauthorized("the Authorization header must be: Bearer <token>")
        }
        return String(parts[1])
    }

    private func apiToken(_ token: String) throws(Problem) -> APIToken {
        for candidate in apiTokens where constantTimeEqual(token, candidate.token) { return candidate }
        throw Problem.unauthorized("the bearer token is not valid")
    }

    /// Compares two secrets without an early exit, so timing does not reveal how much matched.
    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = SHA256.hash(data: Data(a.utf8))
        let right = SHA256.hash(data: Data(b.utf8))
        return left == right  // swift-crypto's digest equality is constant-time
    }
}

extension HTTPField.Name {
    static let webhookId = constant("webhook-id")
    static let webhookTimestamp = constant("webhook-timestamp")
    static let webhookSignature = constant("webhook-signature")
    static let ceSpecVersion = constant("ce-specversion")

    /// A header name written in the source: a typo is a programming error, caught by the first test.
    static func constant(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a valid HTTP field name") }
        return field
    }
}
