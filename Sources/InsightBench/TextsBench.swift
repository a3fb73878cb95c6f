import ArgumentParser
import Foundation
import InsightCore

/// Renders a lead's three texts (the risk-alerts velocity templates, built in for `zh-CN`) over and over, and prints the
/// time per lead: the Mustache rendering every lead a plugin makes goes through.
struct TextsBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "texts",
        abstract: "Measure the rendering of a lead's texts (title, summary, suggested action) per lead.")

    @Option(help: "Leads to render.") var leads = 50_000

    func run() throws {
        let texts = try LeadTexts(builtIn: ["zh-CN": ["velocity": LeadTextSource(
            title: "{{#byCount}}交易频次异常{{/byCount}}{{^byCount}}短时大额支出{{/byCount}}：{{windowHours}}小时内支出{{count}}笔，合计{{total}}",
            summary: """
                {{from}}{{#to}}至{{to}}{{/to}}，客户在{{windowHours}}小时内支出{{count}}笔、合计{{total}}，\
                {{#byCount}}笔数超过{{maxCount}}笔{{/byCount}}{{#both}}，且{{/both}}{{#byTotal}}金额超过{{maxTotal}}{{/byTotal}}。
                """,
            suggestedAction: "按反洗钱流程复核该时段交易的对手方与用途，必要时提交可疑交易报告。")]], overrides: nil)
        var characters = 0
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for index in 0..<leads {
                let values: [String: Any] = [
                    "count": String(3 + index % 5), "total": "¥\(50_000 + index).00", "windowHours": "24",
                    "from": "12-0\(1 + index % 9) 10:15", "to": "12-0\(1 + index % 9) 18:40", "maxCount": "10",
                    "maxTotal": "¥49,999.99", "byCount": false, "byTotal": true, "both": false,
                ]
                let rendered = texts.render("velocity", locale: "zh-CN", values: values)
                characters += rendered.title.utf8.count + rendered.summary.utf8.count + rendered.suggestedAction.utf8.count
            }
        }
        let seconds = elapsed.timeInterval
        print(String(format: "lead texts: %d leads in %.3f s = %.1f µs per lead (%d bytes rendered)", leads, seconds,
                     seconds / Double(leads) * 1e6, characters))
    }
}
