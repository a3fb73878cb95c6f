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
/// `sslmode` follows libpq's names: `disable`, `prefer` (the default: TLS when the server offers it) and `require`
/// (TLS or no connection; the server's certificate is verified against the system's trust store, or `sslrootcert`,
/// a PEM file, when given).
public struct PostgresSettings: Sendable, Equatable {
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
    }

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
        guard let host = url.host, !host.isEmpty else { throw InvalidURL(description: "names no host") }
        guard let user = url.user, !user.isEmpty else { throw InvalidURL(description: "names no user") }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty, !database.contains("/") else {
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
                case "require", "verify-ca", "verify-full": tls = .require
                default: throw InvalidURL(description: "has an unknown sslmode (disable, prefer or require)")
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
        self.username = user.removingPercentEncoding ?? user
        self.password = url.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
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

    /// The pool's configuration: every connection starts with the schema on its search path.
    func clientConfiguration() -> PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        switch tls {
        case .disable:
            tlsSetting = .disable
        case .prefer, .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let rootCertificate {
                configuration.trustRoots = .file(rootCertificate)
            }
            tlsSetting = tls == .require ? .require(configuration) : .prefer(configuration)
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                         database: database, tls: tlsSetting)
        configuration.options.maximumConnections = pool
        configuration.options.additionalStartupParameters = [("search_path", schema), ("application_name", "insightd")]
        return configuration
    }
}
