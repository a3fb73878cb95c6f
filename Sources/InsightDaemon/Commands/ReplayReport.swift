import Foundation
import InsightCore

/// A self-contained HTML page for a replay: a stacked bar chart of leads per day per plugin (inline SVG, no
/// scripts, no external files), and the summary tables. A branch head opens it in any browser.
enum ReplayReport {
    /// The built-in plugins' names for people, by id.
    static let pluginNames: [String: (zh: String, en: String)] = [
        "birthday-care": ("生日关怀", "Birthday care"), "loan-renewal": ("贷款续贷", "Loan renewal"),
        "product-match": ("产品推荐", "Product match"), "risk-alerts": ("风险预警", "Risk alerts"), "rules": ("自定义规则", "Bank rules"),
    ]

    static let palette = ["#2f6fde", "#e0731f", "#2a9d5c", "#c23b3b", "#7a4fc4", "#8c6d1f", "#1f8ca3", "#b5487f"]

    static func html(_ result: Replay.Result, title: String) -> String {
        func text(_ zh: String, _ en: String) -> String { result.text(zh, en) }
        func name(_ plugin: String) -> String {
            pluginNames[plugin].map { result.locale == "en" ? $0.en : $0.zh } ?? plugin
        }
        let plugins = result.perPlugin.map(\.0).sorted()
        let color = Dictionary(uniqueKeysWithValues: plugins.enumerated().map { ($1, palette[$0 % palette.count]) })
        let perDay = result.perDay
        let maximum = max(1, perDay.map { $0.plugins.values.reduce(0, +) }.max() ?? 1)
        let barWidth = max(4.0, min(24.0, 900.0 / Double(max(1, perDay.count))))
        let chartHeight = 260.0
        let width = Double(perDay.count) * barWidth + 60
        var svg = #"<svg id="leads-per-day" xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(chartHeight + 50))" role="img" aria-label="\#(text("每日各插件线索数", "Leads per day per plugin"))">"#
        svg += ##"<line x1="40" y1="10" x2="40" y2="\##(Int(chartHeight + 10))" stroke="#888"/>"##
        svg += #"<text x="36" y="18" font-size="11" text-anchor="end">\#(maximum)</text><text x="36" y="\#(Int(chartHeight + 10))" font-size="11" text-anchor="end">0</text>"#
        for (index, day) in perDay.enumerated() {
            var y = chartHeight + 10
            let x = 42 + Double(index) * barWidth
            for plugin in plugins {
                let count = day.plugins[plugin] ?? 0
                guard count > 0 else { continue }
                let height = chartHeight * Double(count) / Double(maximum)
                y -= height
                svg += String(format: #"<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%@"><title>%@ %@: %d</title></rect>"#,
                              x, y, barWidth - 1, height, color[plugin] ?? "#999", day.day.description, escape(name(plugin)), count)
            }
            if index % max(1, perDay.count / 8) == 0 {
                svg += String(format: #"<text x="%.1f" y="%d" font-size="10">%@</text>"#, x, Int(chartHeight + 26), String(day.day.description.suffix(5)))
            }
        }
        svg += "</svg>"
        let legend: String = plugins.map { (plugin: String) -> String in
            let swatch = color[plugin] ?? "#999"
            return "<span class=\"key\" title=\"\(escape(plugin))\"><i style=\"background:\(swatch)\"></i>\(escape(name(plugin)))</span>"
        }.joined(separator: "")
        let first = result.days.first?.description ?? "-", last = result.days.last?.description ?? "-"
        let held = result.tally.inhibited
        let summary = text("\(first)至\(last)共\(result.days.count)天，\(result.events)个事件，生成线索\(result.tally.total)条"
                               + (held > 0 ? "（其中\(held)条因客户有未结反洗钱线索被抑制，不推送）" : "")
                               + (result.rejected > 0 ? "，拒收事件\(result.rejected)个" : "") + "。",
                           "\(result.events) events over \(result.days.count) days (\(first) to \(last)), \(result.tally.total) leads"
                               + (held > 0 ? " (\(held) of them inhibited by an open AML lead, never sent)" : "")
                               + (result.rejected > 0 ? ", \(result.rejected) events rejected" : "") + ".")
        func table(_ caption: String, _ rows: [(String, Int)]) -> String {
            guard !rows.isEmpty else { return "" }
            return "<h2>\(escape(caption))</h2><table><tr><th></th><th>\(text("线索数", "leads"))</th></tr>"
                + rows.map { (row: (String, Int)) -> String in "<tr><td>\(escape(row.0))</td><td>\(row.1)</td></tr>" }.joined(separator: "")
                + "</table>"
        }
        return """
            <!doctype html>
            <html lang="\(result.locale == "en" ? "en" : "zh-CN")"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:24px;color:#222}
            table{border-collapse:collapse;margin-bottom:16px}td,th{border:1px solid #ddd;padding:3px 10px;text-align:left}
            .key{margin-right:14px;font-size:13px}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p>\(escape(summary))</p>
            <h2>\(text("每日各插件线索数", "Leads per day per plugin"))</h2>
            <div>\(legend)</div>
            \(svg)
            \(table(text("按插件", "Per plugin"), result.perPlugin.map { (result.pluginName($0.0), $0.1) }))
            \(table(text("按线索类型", "Per kind"), result.perKind))
            \(table(text("按规则（自定义规则插件）", "Per rule (rules plugin)"), result.perRule))
            \(table(text("线索最多的客户", "Top clients"), result.topClients))
            \(table(text("被抑制的线索（客户有未结反洗钱线索，已计入合计，不推送）", "Inhibited (an open AML lead; counted above, never sent)"),
                    result.perInhibited))
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension Commands {
    /// `insightd replay FILE... --config PATH [--until DATE] [--format table|json] [--report PATH]`.
    public static func replay(files: [String], configPath: String, until: String?, format: Replay.Format, report: String?,
                              write: @escaping (String) -> Void) async -> ExitCode {
        guard let configuration = loadOrReport(configPath) else { return 1 }
        var untilDay: LocalDate?
        if let until {
            guard let day = LocalDate(until) else {
                printError("--until must be a date (YYYY-MM-DD), got \"\(until)\"")
                return 1
            }
            untilDay = day
        }
        let terminal = isatty(STDERR_FILENO) == 1
        let started = ContinuousClock.now
        // The leads are written as they are read from the replay's ledger (JSON), or only counted (table):
        // never all held at once. Output goes out in blocks, not a write per lead.
        var buffer = ""
        func emit(_ text: String) {
            buffer += text
            if buffer.utf8.count >= 1 << 16 { write(buffer); buffer = "" }
        }
        var firstLead = true
        var began = false, complete = false
        let timeZone = configuration.pipelineSettings.timeZone
        let stream = Replay.LeadStream(
            begin: { events, days in
                began = true
                if terminal { FileHandle.standardError.write(Data("\n".utf8)) }  // off the progress line
                if format == .json { emit(Replay.Result.jsonHead(events: events, days: days)) }
            },
            page: { leads in
                guard format == .json else { return }
                // A page's leads are written on every core, then emitted in order.
                let texts = try ParallelMap.tryMap(count: leads.count, minimumForParallel: 64) {
                    try Replay.Result.leadJSON(leads[$0].lead, inhibitedBy: leads[$0].inhibitedBy, timeZone: timeZone)
                }
                for text in texts {
                    emit((firstLead ? "" : ",") + text)
                    firstLead = false
                }
            })
        do {
            let result = try await Replay(configuration: configuration).run(
                files: files, until: untilDay, stream: stream, rejection: { printError($0) },
                progress: { step in
                    guard terminal else { return }
                    let elapsed = ContinuousClock.now - started
                    let seconds = max(0.001, elapsed.timeInterval)
                    let filled = step.totalBytes > 0 ? Int(min(30, step.bytesRead * 30 / step.totalBytes)) : 30
                    let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 30 - filled)
                    FileHandle.standardError.write(Data(String(format: "\r%@ %@  %d events  %d leads  %.0f events/s ",
                                                               bar, step.day.description, step.events, step.leads,
                                                               Double(step.events) / seconds).utf8))
                })
            switch format {
            case .table: emit(result.table() + "\n")
            case .json: emit(result.jsonTail() + "\n")
            }
            write(buffer)
            buffer = ""
            complete = true
            if let report {
                let names = files.map { ($0 as NSString).lastPathComponent }.joined(separator: ", ")
                try ReplayReport.html(result, title: result.text("insightd 回放：", "insightd replay: ") + names)
                    .write(toFile: report, atomically: true, encoding: .utf8)
                printError("report written to \(report)")
            }
            return 0
        } catch {
            // Leads already written stay written: the document on stdout is then incomplete (and the status 1).
            write(buffer)
            printError("replay failed: \(error)" + (began && !complete && format == .json ? " (the JSON written before it is incomplete)" : ""))
            return 1
        }
    }
}
