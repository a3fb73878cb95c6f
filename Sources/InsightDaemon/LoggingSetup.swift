import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

enum LoggingSetup {
    /// Logs go to stderr (journald picks them up under systemd): human-readable text on a terminal, one
    /// JSON object per line otherwise, unless the configuration says which. Either way a record is one line,
    /// whatever its message and metadata hold: both formats escape control characters.
    static func bootstrap(_ config: LoggingConfig) {
        let level = Logger.Level(rawValue: config.level.rawValue) ?? .info
        let json: Bool
        switch config.format {
        case .json: json = true
        case .text: json = false
        case .auto: json = isatty(STDERR_FILENO) == 0
        }
        LoggingSystem.bootstrap { label in
            if json {
                return JSONLogHandler(logLevel: level, label: label)
            }
            return TextLogHandler(logLevel: level, label: label)
        }
    }
}
