import Foundation
import Logging

enum LoggingSetup {
    /// Logs go to stderr (journald picks them up under systemd), at the configured level.
    static func bootstrap(_ config: LoggingConfig) {
        let level = Logger.Level(rawValue: config.level.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
