import Foundation
import InsightDelivery
import InsightCore
import InsightEngine
import InsightIngest
import InsightPlugins

/// Loads and validates `insightd.yaml` and the plugin files next to it. Pure apart from reading files and
/// secrets: `insightd check`, `insightd run` and SIGHUP reload all go through here.
public struct ConfigLoader: Sendable {
    public var registry: [PluginRegistration]
    /// Files in the plugins directory that are data, not plugins (the product catalog, the working calendar).
    public var auxiliaryFiles: Set<String>

    public init(registry: [PluginRegistration] = BuiltinPlugins.all,
                auxiliaryFiles: Set<String> = ["products", "calendar"]) {
        self.registry = registry
        self.auxiliaryFiles = auxiliaryFiles
    }

    public func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigErrors) -> LoadedConfiguration {
        let document: YAMLDocument
        let config: DaemonConfig
        do {
            document = try YAMLDocument(contentsOf: path)
            config = try document.decode(DaemonConfig.self)
        } catch {
            throw ConfigErrors([error])
        }
        let baseDirectory = (absolute(path, relativeTo: FileManager.default.currentDirectoryPath) as NSString).deletingLastPathComponent
        var errors: [ConfigError] = []
        var warnings: [String] = []
        var secrets: [String: Secret] = [:]

        func check(_ condition: Bool, _ path: [String], _ message: String) {
            if !condition { errors.append(document.error(at: path, message)) }
        }
        func resolve(_ reference: SecretReference?, _ path: [String]) {
            guard let reference else { return }
            if reference.isLiteral {
                let location = document.error(at: path, "")
                warnings.append("\(location.file):\(location.line ?? 0): \(location.keyPath) is a literal secret; use env:, file: or credential: outside local trials")
            }
            do {
                var resolved = reference
                if case .file(let file) = reference { resolved = .file(absolute(file, relativeTo: baseDirectory)) }
                secrets[YAMLDocument.keyPath(path)] = try resolved.resolve(environment: environment)
            } catch {
                errors.append(document.error(at: path, error.message))
            }
        }

        checkUnique(config.sources.map(\.name), "sources", "source", document: document, errors: &errors)
        for (index, source) in config.sources.enumerated() {
            let path = ["sources", "\(index)"]
            check(!source.name.isEmpty, path + ["name"], "a source needs a name")
            check(!source.name.contains("/"), path + ["name"], Self.slashInSenderName)
            switch source.kind {
            case .webhook:
                check(source.secret != nil || source.token != nil, path,
                      "webhook source \(source.name) needs secret (Standard Webhooks, whsec_...) or token (bearer)")
                check(source.path == nil && source.csv.isEmpty, path, "path and csv belong to inbox sources, not webhook ones")
            case .inbox:
                check(source.path != nil, path, "inbox source \(source.name) needs path, the directory files are dropped into")
                check(source.secret == nil && source.token == nil, path, "secret and token belong to webhook sources")
            }
            resolve(source.secret, path + ["secret"])
            resolve(source.token, path + ["token"])
            if let secret = secrets[YAMLDocument.keyPath(path + ["secret"])], StandardWebhooks(secret: secret.value) == nil {
                check(false, path + ["secret"], "a Standard Webhooks secret is whsec_ followed by base64 (as the sender's dashboard shows it)")
            }
            for (mappingIndex, mapping) in source.csv.enumerated() {
                check(!mapping.columns.isEmpty, path + ["csv", "\(mappingIndex)", "columns"], "map at least one column")
                check(EventPattern(mapping.type) != nil && !mapping.type.contains("*"), path + ["csv", "\(mappingIndex)", "type"],
                      "\"\(mapping.type)\" is not an event type such as loan.account")
            }
        }

        checkUnique(config.apiTokens.map(\.name), "api_tokens", "API token", document: document, errors: &errors)
        let sourceNames = Set(config.sources.map(\.name))
        for (index, token) in config.apiTokens.enumerated() {
            // A token that sends events is their sender, as a source is: its events are journaled under its name.
            check(!sourceNames.contains(token.name), ["api_tokens", "\(index)", "name"],
                  "a source is also named \(token.name); events sent with this token would be journaled under that source's "
                      + "name and share its event ids (either's event e500 would make the other's a duplicate); "
                      + "give the token a name of its own")
            check(!token.name.contains("/"), ["api_tokens", "\(index)", "name"], Self.slashInSenderName)
            check(!token.scopes.isEmpty, ["api_tokens", "\(index)", "scopes"], "give the token at least one scope: ingest, read, feedback, admin, compliance")
            resolve(token.token, ["api_tokens", "\(index)", "token"])
        }

        checkUnique(config.receivers.map(\.name), "receivers", "receiver", document: document, errors: &errors)
        let receiverNames = Set(config.receivers.map(\.name))
        for (index, receiver) in config.receivers.enumerated() {
            let path = ["receivers", "\(index)"]
            switch receiver.kind {
            case .webhook, .wecom, .dingtalk, .feishu, .slack:
                if let url = receiver.url {
                    let parsed = URL(string: url)
                    check(parsed?.host != nil && ["http", "https"].contains(parsed?.scheme ?? ""), path + ["url"],
                          "\"\(url)\" is not an http(s) URL")
                } else {
                    check(false, path, "receiver \(receiver.name) of kind \(receiver.kind.rawValue) needs url")
                }
            case .file:
                check(receiver.path != nil, path, "receiver \(receiver.name) of kind file needs path (a JSONL file)")
            case .console:
                break
            }
            resolve(receiver.secret, path + ["secret"])
            if let concurrency = receiver.concurrency {
                check((1...256).contains(concurrency), path + ["concurrency"], "must be 1 to 256, got \(concurrency)")
            }
            if let rate = receiver.maxPerMinute {
                check(rate >= 0, path + ["max_per_minute"], "must be 0 (no limit) or more, got \(rate)")
            }
            if receiver.kind == .webhook, let secret = secrets[YAMLDocument.keyPath(path + ["secret"])] {
                check((try? StandardWebhookSignature.key(secret: secret.value)) != nil, path + ["secret"],
                      "a webhook receiver's secret is whsec_ followed by base64 (Standard Webhooks)")
            }
            if [.console, .file, .wecom, .slack].contains(receiver.kind) {
                check(receiver.secret == nil, path + ["secret"], "a \(receiver.kind.rawValue) receiver takes no secret")
            }
        }
        for (offset, name) in config.delivery.unassigned.enumerated() {
            check(receiverNames.contains(name), ["delivery", "unassigned", "\(offset)"],
                  "no receiver is named \(name); define it under receivers")
        }

        let routed = Set(config.routes.flatMap { $0.receivers + ($0.escalation ?? []) + ($0.fallback.map { [$0] } ?? []) }
                         + config.delivery.unassigned)
        for (offset, name) in config.delivery.compliance.enumerated() {
            check(receiverNames.contains(name), ["delivery", "compliance", "\(offset)"],
                  "no receiver is named \(name); define it under receivers (the AML team's queue)")
            check(!routed.contains(name), ["delivery", "compliance", "\(offset)"],
                  "\(name) is also a route's (or the unassigned queue's) receiver; the compliance queue needs a receiver of its own, "
                      + "or managers' leads would reach the AML team and the AML team's copies mix with theirs")
        }
        let pluginIds = Set(registry.map(\.id))
        for (index, rule) in config.inhibit.enumerated() {
            for (side, match) in [("source", rule.source), ("target", rule.target)] {
                for (offset, plugin) in (match.plugin ?? []).enumerated() {
                    check(pluginIds.contains(plugin), ["inhibit", "\(index)", side, "plugin", "\(offset)"],
                          "unknown plugin id \(plugin); known plugins: \(pluginIds.sorted().joined(separator: ", "))")
                }
                check(match.plugin != nil || match.kind != nil || match.priority != nil || match.tags != nil,
                      ["inhibit", "\(index)", side], "an empty match names every lead; give plugin, kind, priority or tags")
            }
            for (offset, kind) in (rule.target.kind ?? []).enumerated() {
                check(!config.delivery.amlKinds.contains(kind), ["inhibit", "\(index)", "target", "kind", "\(offset)"],
                      "\(kind) is an AML kind (delivery.aml_kinds): AML leads are never held back, they must reach compliance")
            }
        }
        if config.delivery.compliance.isEmpty, !config.delivery.amlKinds.isEmpty {
            if config.delivery.amlManagerNotice == .none {
                check(false, ["delivery", "aml_manager_notice"],
                      "none sends AML leads to nobody while delivery.compliance names no receiver; name the AML team's receivers there")
            } else {
                warnings.append(document.error(at: ["delivery"], "delivery.compliance names no receiver: AML leads ("
                    + config.delivery.amlKinds.joined(separator: ", ") + ") reach managers only as a neutral task and no one "
                    + "gets them in full; name the AML team's receivers there").description)
            }
        }
        for (index, route) in config.routes.enumerated() {
            let path = ["routes", "\(index)"]
            check(!route.receivers.isEmpty, path + ["receivers"], "name at least one receiver")
            for (receiverIndex, name) in route.receivers.enumerated() {
                check(receiverNames.contains(name), path + ["receivers", "\(receiverIndex)"],
                      receiverNames.isEmpty ? "no receiver is named \(name); no receivers are defined yet: add one under receivers" : "no receiver is named \(name); define it under receivers (known: \(receiverNames.sorted().joined(separator: ", ")))")
            }
            for (offset, name) in (route.escalation ?? []).enumerated() {
                check(receiverNames.contains(name), path + ["escalation", "\(offset)"], "no receiver is named \(name)")
            }
            if let fallback = route.fallback {
                check(receiverNames.contains(fallback), path + ["fallback"], "no receiver is named \(fallback)")
            }
            for (offset, plugin) in (route.match.plugin ?? []).enumerated() {
                check(pluginIds.contains(plugin), path + ["match", "plugin", "\(offset)"],
                      "unknown plugin id \(plugin); known plugins: \(pluginIds.sorted().joined(separator: ", "))")
            }
        }

        if config.store.kind == .postgres, let url = config.store.url {
            resolve(SecretReference(url), ["store", "url"])
            if let secret = secrets["store.url"] {
                do {
                    _ = try config.store.settings(url: secret.value)
                } catch {
                    // The URL holds the password: the message says what is wrong with it, never what it is.
                    errors.append(document.error(at: ["store", "url"], "the PostgreSQL URL \(error.description)"))
                }
            }
        }

        let stateDirectory = absolute(config.stateDir, relativeTo: baseDirectory)
        let pluginsDirectory = absolute(config.pluginsDir ?? "plugins-config", relativeTo: baseDirectory)
        var plugins: [LoadedPlugin] = []
        loadPlugins(from: pluginsDirectory, pluginsDirKey: config.pluginsDir != nil, document: document,
                    compliance: config.compliance, plugins: &plugins, errors: &errors, warnings: &warnings)
        let workingCalendar = loadWorkingCalendar(from: pluginsDirectory, errors: &errors, warnings: &warnings)
        let templatesDirectory = absolute(config.delivery.templatesDir ?? "templates",
                                          relativeTo: config.delivery.templatesDir == nil ? pluginsDirectory : baseDirectory)
        do {
            _ = try MessageTemplates(locale: config.locale.rawValue, timeZone: config.timeZone, directory: templatesDirectory)
        } catch {
            errors.append(document.error(at: ["delivery", "templates_dir"], "\(error)"))
        }

        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return LoadedConfiguration(config: config, configPath: path, baseDirectory: baseDirectory, stateDirectory: stateDirectory,
                                   pluginsDirectory: pluginsDirectory, templatesDirectory: templatesDirectory, plugins: plugins,
                                   workingCalendar: workingCalendar,
                                   secrets: secrets, warnings: warnings)
    }

    /// Reads `calendar.yaml` from the plugins directory; without it, weekends are the only days off.
    private func loadWorkingCalendar(from directory: String, errors: inout [ConfigError],
                                     warnings: inout [String]) -> WorkingCalendar {
        let path = (directory as NSString).appendingPathComponent(WorkingCalendarFile.name + ".yaml")
        guard FileManager.default.fileExists(atPath: path) else {
            warnings.append("\(directory): no \(WorkingCalendarFile.name).yaml; only weekends count as days off")
            return .weekendsOnly
        }
        do {
            let document = try YAMLDocument(contentsOf: path)
            let file = try document.decode(WorkingCalendarFile.self)
            for problem in file.problems() { errors.append(document.error(at: problem.path, problem.message)) }
            let calendar = file.calendar
            let thisYear = LocalDate(Date(), in: .current).year
            for year in [thisYear, thisYear + 1] where !calendar.covers(year) {
                warnings.append("\(path): no schedule for \(year); add it when it is published (until then only weekends are days off)")
            }
            for (year, schedule) in file.years.sorted(by: { $0.key < $1.key }) where schedule.provisional {
                warnings.append("\(path): the \(year) schedule is provisional; replace it with the official one when it is published")
            }
            return calendar
        } catch {
            errors.append(error)
            return .weekendsOnly
        }
    }

    /// Loads the plugin files and the working calendar of a plugins directory on their own, without a main
    /// config (for benchmarks and tools).
    public func loadPluginsDirectory(_ directory: String, compliance: ComplianceConfig = ComplianceConfig())
        throws(ConfigErrors) -> (loaded: [LoadedPlugin], calendar: WorkingCalendar) {
        var errors: [ConfigError] = []
        var warnings: [String] = []
        var plugins: [LoadedPlugin] = []
        loadPlugins(from: directory, pluginsDirKey: false, document: nil, compliance: compliance, plugins: &plugins,
                    errors: &errors, warnings: &warnings)
        let calendar = loadWorkingCalendar(from: directory, errors: &errors, warnings: &warnings)
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return (plugins, calendar)
    }

    private func loadPlugins(from directory: String, pluginsDirKey: Bool, document: YAMLDocument?, compliance: ComplianceConfig,
                             plugins: inout [LoadedPlugin], errors: inout [ConfigError], warnings: inout [String]) {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            if let document {
                errors.append(pluginsDirKey
                    ? document.error(at: ["plugins_dir"], "plugins directory \(directory) does not exist")
                    : ConfigError(file: document.file, message: "no plugins directory at \(directory); set plugins_dir"))
            } else {
                errors.append(ConfigError(file: directory, message: "no such plugins directory"))
            }
            return
        }
        let files = ((try? manager.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let known = Set(registry.map(\.id))
        for file in files where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            let id = (file as NSString).deletingPathExtension
            if !known.contains(id), !auxiliaryFiles.contains(id) {
                errors.append(ConfigError(file: (directory as NSString).appendingPathComponent(file),
                                          message: "unknown plugin id \(id); plugin files are named <plugin-id>.yaml with one of: \(known.sorted().joined(separator: ", "))"))
            }
        }
        for registration in registry {
            let candidates = ["\(registration.id).yaml", "\(registration.id).yml"]
            guard let file = candidates.first(where: { files.contains($0) }) else {
                warnings.append("\(directory): no \(registration.id).yaml; plugin \(registration.id) is off")
                continue
            }
            let path = (directory as NSString).appendingPathComponent(file)
            do {
                let pluginDocument = try YAMLDocument(contentsOf: path)
                let resources = DirectoryResources(directory: directory)
                let plugin = try pluginDocument.decode { decoder in try registration.load(from: decoder, resources: resources) }
                for text in plugin.publishedTexts {
                    guard let phrase = compliance.violation(in: text.text) else { continue }
                    let message = "contains the forbidden promise wording \"\(phrase)\" (compliance.forbidden_phrases); reword it"
                    if let auxiliary = text.file {
                        let auxiliaryPath = (directory as NSString).appendingPathComponent(auxiliary + ".yaml")
                        errors.append((try? YAMLDocument(contentsOf: auxiliaryPath))?.error(at: text.path, message)
                                      ?? ConfigError(file: auxiliaryPath, message: message))
                    } else {
                        errors.append(pluginDocument.error(at: text.path, message))
                    }
                }
                plugins.append(plugin)
            } catch {
                errors.append(error)
            }
        }
    }

    /// Source and token names are the senders' namespaces in the journal; a sender's event that names another
    /// source is journaled as `sender/source` (``Event/journaled(under:)``). A `/` in a sender's own name would
    /// let it write into that space: a token named `crm/core-banking` into what `crm` sends for `core-banking`.
    private static let slashInSenderName = "a name must not contain /: events a sender sends for another source "
        + "are journaled as <sender>/<source>, and this name could collide with them"

    private func checkUnique(_ names: [String], _ key: String, _ what: String, document: YAMLDocument,
                             errors: inout [ConfigError]) {
        var seen = Set<String>()
        for (index, name) in names.enumerated() where !seen.insert(name).inserted {
            errors.append(document.error(at: [key, "\(index)", "name"], "another \(what) is already named \(name); names must be unique"))
        }
    }

    private func absolute(_ path: String, relativeTo base: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let joined = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        return (joined as NSString).standardizingPath
    }
}

/// Auxiliary files next to the plugin files (`products.yaml`), decoded strictly with located errors.
public struct DirectoryResources: PluginResources {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func decode<T: Decodable>(_ type: T.Type, fromFile name: String) throws -> T {
        let path = (directory as NSString).appendingPathComponent(name + ".yaml")
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigError(file: path, message: "missing: this plugin needs \(name).yaml next to its own file")
        }
        return try YAMLDocument(contentsOf: path).decode(T.self)
    }
}
