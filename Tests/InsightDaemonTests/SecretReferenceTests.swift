import Foundation
import InsightDaemon
import InsightTesting
import Testing

@Suite struct SecretReferenceTests {
    @Test func environmentFileAndCredentialSecretsResolve() throws {
        let directory = TemporaryDirectory()
        let file = directory.write("token", "s3cret-from-file\n")
        directory.write("creds/gateway-whsec", "whsec_credential")
        #expect(try SecretReference("env:TOKEN").resolve(environment: ["TOKEN": "from-env"]).value == "from-env")
        #expect(try SecretReference("file:\(file)").resolve(environment: [:]).value == "s3cret-from-file")
        #expect(try SecretReference("credential:gateway-whsec")
            .resolve(environment: ["CREDENTIALS_DIRECTORY": directory.file("creds")]).value == "whsec_credential")
        #expect(try SecretReference("plain").resolve(environment: [:]).value == "plain")
    }

    @Test func missingSecretsSayHowToProvideThem() {
        #expect(throws: SecretError.self) { try SecretReference("env:ABSENT").resolve(environment: [:]) }
        do {
            _ = try SecretReference("credential:x").resolve(environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("LoadCredential"))
        }
        do {
            _ = try SecretReference("file:/nonexistent/secret").resolve(environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("/nonexistent/secret"))
        }
    }

    @Test func resolvedSecretsNeverPrint() throws {
        let secret = try SecretReference("plain-value").resolve(environment: [:])
        #expect("\(secret)" == "(secret)")
        #expect(!"\(SecretReference("plain-value"))".contains("plain-value"))
    }

    @Test func fileSecretsAreRelativeToTheConfigFile() throws {
        let fixture = ConfigFixture(main: """
            plugins_dir: plugins
            sources:
              - {name: crm, kind: webhook, token: "file:crm.token"}
            """)
        fixture.directory.write("crm.token", "relative-token")
        let loaded = try fixture.load()
        #expect(loaded.secrets["sources[0].token"]?.value == "relative-token")
        // The fixture holds only rules.yaml, so the other plugins are off (a warning each); nothing else is flagged.
        #expect(loaded.warnings.filter { !$0.contains("calendar.yaml") && !$0.hasSuffix(" is off") }.isEmpty)
    }
}
