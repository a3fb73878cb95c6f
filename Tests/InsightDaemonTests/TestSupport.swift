import Foundation
import InsightDaemon
import InsightTesting

/// The repository root, for tests that check the shipped files.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// A configuration directory: `insightd.yaml` plus a `plugins/` directory holding the shipped rules.yaml.
struct ConfigFixture {
    let directory = TemporaryDirectory("insightd-config")

    init(main: String, plugins: [String: String]? = nil) {
        directory.write("insightd.yaml", main)
        let files = plugins ?? ["rules.yaml": (try? String(contentsOfFile: repositoryRoot + "/plugins-config/rules.yaml", encoding: .utf8)) ?? ""]
        for (name, text) in files { directory.write("plugins/\(name)", text) }
    }

    var mainPath: String { directory.file("insightd.yaml") }

    func load(environment: [String: String] = [:]) throws(ConfigErrors) -> LoadedConfiguration {
        try ConfigLoader().load(path: mainPath, environment: environment)
    }

    /// The single error's description with the directory path removed, or nil when loading succeeded.
    func firstError(environment: [String: String] = [:]) -> String? {
        do {
            _ = try load(environment: environment)
            return nil
        } catch {
            return error.errors.first?.description.replacingOccurrences(of: directory.path + "/", with: "")
        }
    }
}

extension ConfigFixture {
    /// A configuration for running the real daemon on loopback `port`: state under `state/`, a fast
    /// dispatcher, the `crm` webhook source with the bearer token `test-crm-token`, then `extra` YAML.
    static func daemon(port: Int, dispatcherPoll: String = "50ms", _ extra: String = "") -> ConfigFixture {
        ConfigFixture(main: """
            plugins_dir: plugins
            state_dir: state
            listen: 127.0.0.1:\(port)
            dispatcher: {poll_interval: \(dispatcherPoll)}
            sources:
              - {name: crm, kind: webhook, token: "test-crm-token"}

            """ + extra)
    }
}

/// `curl -s ARGUMENTS`: what it printed.
func curl(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = ["-s"] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Posts the sample events (NDJSON, as the `crm` source) to a daemon on `port` until it answers 202, for at
/// most 10 s or while `running` holds; returns the last status code.
func postSampleEvents(port: Int, while running: () -> Bool = { true }) throws -> String {
    let events = Bundle.module.path(forResource: "sample-events", ofType: "ndjson", inDirectory: "Fixtures") ?? ""
    var code = ""
    for _ in 0..<200 where code != "202" && running() {
        usleep(50_000)
        code = try curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "http://127.0.0.1:\(port)/v1/events",
                         "-H", "Authorization: Bearer test-crm-token", "-H", "Content-Type: application/x-ndjson",
                         "--data-binary", "@\(events)"])
    }
    return code
}

/// Posts an NDJSON file to a starting daemon's `/v1/events` with a bearer token until it answers (for at most
/// 10 s); returns the answer's body.
func postEvents(base: String, file: String, token: String) throws -> String {
    var answer = ""
    for _ in 0..<200 where !answer.contains("accepted") {
        usleep(50_000)
        answer = try curl(["-X", "POST", base + "/v1/events", "-H", "Authorization: Bearer \(token)",
                           "-H", "Content-Type: application/x-ndjson", "--data-binary", "@\(file)"])
    }
    return answer
}

/// The lines of a JSONL file once it has `count` of them (or after 15 s, or once `running` stops holding).
func waitForLines(_ path: String, count: Int, while running: () -> Bool = { true }) -> [String] {
    var lines: [String] = []
    let deadline = Date().addingTimeInterval(15)
    while lines.count < count && Date() < deadline && running() {
        usleep(100_000)
        lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
    return lines
}
