import Foundation
import NIOSSL
import PostgresNIO

/// How to reach the PostgreSQL store: the `store:` section with `kind: postgres`.
///
/// ```yaml
/// store:
///   kind: postgres
///   url: "env:INSIGHTD_PG_URL"   # postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=require
///   pool: 16                     # connections per instance at most
///   schema: insightd             # the schema insightd's tables live in (created if missing)
/// ```
///
/// `sslmode` means what it means to libpq: `disable` (no TLS), `prefer` (the default: TLS when the server offers it,
/// certificate not checked), `require` (TLS or no connection, certificate not checked unless `sslrootcert` is given,
/// then as `verify-ca`), `verify-ca` (TLS, the
/// certificate signed by a trusted authority) and `verify-full` (that, and issued for the host). Trusted authorities are
/// the system's, or those of `sslrootcert` (a PEM file).
///
/// Its description never shows the password.
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the certificate authorities the server's certificate is checked against (`sslrootcert`).
    public var rootCertificate: String?
    /// Connections this instance opens at most.
    public var pool: Int
    /// The schema the tables live in.
    public var schema: String

    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// How long a connection may sit inside a transaction without a statement before the server ends its session: a
    /// paused or cut-off instance must not hold the journal's (or any) lock for the others longer than this. A
    /// transaction's body here runs statements back to back, never waiting on anything else.
    public static let idleInTransactionTimeout = "15s"

    /// The longest a statement may run (or wait for a lock) before the server cancels it: a connection that hangs on a
    /// statement fails its transaction, which is retried, rather than hold the dispatcher or a lane for ever.
    public static let statementTimeout = "300s"

    /// The default pool size.
    public static let defaultPool = 16

    /// A URL's problem, worded for a config error (the URL itself is never echoed: it holds the password).
    public struct InvalidURL: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&sslrootcert=…]` (or `postgresql://`).
    public init(url text: String, pool: Int = PostgresSettings.defaultPool, schema: String = "insightd") throws(InvalidURL) {
        guard let url = URLComponents(string: text), let scheme = url.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw InvalidURL(description: "is not a postgres:// URL")
        }
        // The host without an IPv6 address's brackets; user, password and database decoded once, from their encoded form.
        guard var host = url.percentEncodedHost, !host.isEmpty else { throw InvalidURL(description: "names no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let user = url.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw InvalidURL(description: "names no user")
        }
        let encodedPath = url.percentEncodedPath
        let encodedDatabase = encodedPath.hasPrefix("/") ? String(encodedPath.dropFirst()) : encodedPath
        guard !encodedDatabase.isEmpty, !encodedDatabase.contains("/"), let database = encodedDatabase.removingPercentEncoding else {
            throw InvalidURL(description: "names no database (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        var tls = TLSMode.prefer
        var rootCertificate: String?
        for item in url.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                switch item.value ?? "" {
                case "disable": tls = .disable
                case "allow", "prefer": tls = .prefer
                case "require": tls = .require
                case "verify-ca": tls = .verifyCA
                case "verify-full": tls = .verifyFull
                default: throw InvalidURL(description: "has an unknown sslmode (disable, prefer, require, verify-ca or verify-full)")
                }
            case "sslrootcert": rootCertificate = item.value
            case "application_name", "connect_timeout": continue
            default: throw InvalidURL(description: "has an unknown parameter '\(item.name)' (sslmode, sslrootcert)")
            }
        }
        guard (1...1000).contains(pool) else { throw InvalidURL(description: "pool must be between 1 and 1000") }
        guard Self.isIdentifier(schema) else {
            throw InvalidURL(description: "schema must be a plain identifier (lowercase letters, digits, _)")
        }
        self.host = host
        self.port = url.port ?? 5432
        self.username = user
        self.password = url.percentEncodedPassword.map { $0.removingPercentEncoding ?? $0 }
        self.database = database
        self.tls = tls
        self.rootCertificate = rootCertificate
        self.pool = pool
        self.schema = schema
    }

    /// A schema name that needs no quoting: it goes into `search_path` and `CREATE SCHEMA` as is.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63,
              (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    /// Where it points, without the password: for logs and errors.
    public var redacted: String {
        "postgres://\(username)@\(host):\(port)/\(database) (schema \(schema), sslmode \(tls.rawValue))"
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }

    /// The TLS client configuration `sslmode` and `sslrootcert` ask for (nil: no TLS), and whether TLS is required.
    private func tlsConfiguration() -> (configuration: TLSConfiguration, required: Bool)? {
        guard tls != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate {
            configuration.trustRoots = .file(rootCertificate)
        }
        switch tls {
        // As libpq: `require` with a root certificate file checks the certificate against it (as `verify-ca`).
        case .require where rootCertificate != nil: configuration.certificateVerification = .noHostnameVerification
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        default: configuration.certificateVerification = .fullVerification
        }
        return (configuration, tls != .prefer)
    }

    /// What every connection starts with: the schema on its search path, its name, and the idle-in-transaction limit.
    private var startupParameters: [(String, String)] {
        [("search_path", schema), ("application_name", "insightd"),
         ("idle_in_transaction_session_timeout", Self.idleInTransactionTimeout),
         ("statement_timeout", Self.statementTimeout)]
    }

    /// The pool's configuration.
    func clientConfiguration() -> PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        if let (configuration, required) = tlsConfiguration() {
            tlsSetting = required ? .require(configuration) : .prefer(configuration)
        } else {
            tlsSetting = .disable
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                         database: database, tls: tlsSetting)
        configuration.options.maximumConnections = pool
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }

    /// A single connection's configuration (``PostgresBlockingConnections``), the same as the pool's.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tlsSetting: PostgresConnection.Configuration.TLS
        if let (configuration, required) = tlsConfiguration() {
            let context = try NIOSSLContext(configuration: configuration)
            tlsSetting = required ? .require(context) : .prefer(context)
        } else {
            tlsSetting = .disable
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username,
                                                             password: password, database: database, tls: tlsSetting)
        configuration.options.additionalStartupParameters = startupParameters
        return configuration
    }
}

/// The `store:` section, as the daemon reads it:
///
/// ```yaml
/// store:
///   kind: postgres               # sqlite (the default: one instance, state_dir) or postgres (one or several instances)
///   url: "env:INSIGHTD_PG_URL"   # a secret reference (env:, file:, credential:) to a postgres:// URL
///   pool: 16                     # connections per instance at most (default 16)
///   schema: insightd             # the schema insightd's tables live in (default insightd)
/// ```
///
/// `url` is where the URL comes from, never logged; the daemon resolves it as it resolves every secret and makes the
/// ``PostgresSettings`` from it (``settings(url:)``).
public struct PostgresStoreConfig: Sendable, Equatable, Decodable {
    public enum Kind: String, Sendable, Decodable, CaseIterable {
        case sqlite, postgres
    }

    public var kind: Kind
    /// The URL's secret reference, as written.
    public var url: String?
    public var pool: Int
    public var schema: String

    public init(kind: Kind = .sqlite, url: String? = nil, pool: Int = PostgresSettings.defaultPool, schema: String = "insightd") {
        self.kind = kind
        self.url = url
        self.pool = pool
        self.schema = schema
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, url, pool, schema
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decodeIfPresent(Kind.self, forKey: .kind) ?? .sqlite
        url = try container.decodeIfPresent(String.self, forKey: .url)
        pool = try container.decodeIfPresent(Int.self, forKey: .pool) ?? PostgresSettings.defaultPool
        schema = try container.decodeIfPresent(String.self, forKey: .schema) ?? "insightd"
        switch kind {
        case .sqlite:
            for key in [CodingKeys.url, .pool, .schema] where container.contains(key) {
                throw DecodingError.dataCorruptedError(forKey: key, in: container,
                    debugDescription: "\(key.rawValue) belongs to kind: postgres (kind: sqlite keeps its state in state_dir)")
            }
        case .postgres:
            guard url != nil else {
                throw DecodingError.keyNotFound(CodingKeys.url, .init(codingPath: decoder.codingPath,
                    debugDescription: "kind: postgres needs url, e.g. url: \"env:INSIGHTD_PG_URL\""))
            }
            guard (1...1000).contains(pool) else {
                throw DecodingError.dataCorruptedError(forKey: .pool, in: container, debugDescription: "pool must be between 1 and 1000")
            }
            guard PostgresSettings.isIdentifier(schema) else {
                throw DecodingError.dataCorruptedError(forKey: .schema, in: container,
                    debugDescription: "schema must be a plain identifier (lowercase letters, digits, _)")
            }
        }
    }

    /// The connection settings, from the resolved URL.
    public func settings(url: String) throws(PostgresSettings.InvalidURL) -> PostgresSettings {
        try PostgresSettings(url: url, pool: pool, schema: schema)
    }
}
