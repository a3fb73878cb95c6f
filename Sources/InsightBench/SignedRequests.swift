import ArgumentParser
import Foundation
import InsightIngest

/// Writes pre-signed Standard Webhooks requests for a load generator (`deploy/bench/http.sh` feeds them to
/// wrk): one request per line, `webhook-id<TAB>timestamp<TAB>signature<TAB>body`. Every request carries
/// distinct event ids, so none is a duplicate. Timestamps are now: use the file within 5 minutes.
struct SignedRequests: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signed-requests", abstract: "Write pre-signed webhook requests for wrk.")

    @Option(help: "Requests to write.") var count = 200_000
    @Option(help: "Events per request (1: single-event webhooks; 1000: batched ingest).") var eventsPerRequest = 1
    @Option(help: "The source's secret.") var secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    @Option(help: "Output file.") var output = "/tmp/insightd-requests.tsv"

    func run() throws {
        guard let signer = StandardWebhooks(secret: secret) else { throw ValidationError("the secret is not whsec_<base64>") }
        let timestamp = Int64(Date().timeIntervalSince1970)
        let run = UUID().uuidString.prefix(8)
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        var buffer = ""
        for request in 0..<count {
            let lines = (0..<eventsPerRequest).map { offset in
                Synthetic.line(request * eventsPerRequest + offset, clients: 10_000)
                    .replacingOccurrences(of: "\"id\":\"evt-", with: "\"id\":\"\(run)-")
            }
            let body = eventsPerRequest == 1 ? lines[0] : "[" + lines.joined(separator: ",") + "]"
            let id = "msg_\(run)_\(request)"
            buffer += "\(id)\t\(timestamp)\t\(signer.sign(id: id, timestamp: timestamp, body: Data(body.utf8)))\t\(body)\n"
            if buffer.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer = ""
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
        try handle.close()
        print("wrote \(count) signed requests (\(eventsPerRequest) event(s) each) to \(output)")
    }
}
