import InsightCore

/// The one explicit list of built-in plugins. Adding a plugin means: a folder in this module, a
/// `plugins-config/<id>.yaml`, and one line here. A test fails when those three disagree.
public enum BuiltinPlugins {
    public static let all: [PluginRegistration] = [
        .of(BirthdayCarePlugin.self),
        .of(LoanRenewalPlugin.self),
        .of(ProductMatchPlugin.self),
        .of(RiskAlertsPlugin.self),
        .of(RulesPlugin.self),
    ]

    public static func registration(id: String) -> PluginRegistration? {
        all.first { $0.id == id }
    }
}
