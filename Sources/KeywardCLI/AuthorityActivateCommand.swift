import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardAuthorityHTTP
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Logging

/// `keyward authority activate --request FILE`: offline activation, by the vendor, of a registry's request file.
struct AuthorityActivateCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Activate an installation from its offline request file and write the signed certificate.",
        discussion: """
            The registry writes the request with `keyward activation request`; hand the certificate back for `keyward activation apply`.
            Revoked keys in the request are not refused: the certificate covers the others and names these, so the registry
            learns of the revocation. --promote makes the installation production (the current one becomes test); say why
            with --reason.
            """
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The activation request file.")
    var request: String

    @Option(help: "Where to write the certificate; standard output when absent.")
    var out: String?

    @Flag(help: "Make this installation the organization's production one; the current production installation becomes test.")
    var promote = false

    @Option(help: "Why the environment changes (kept in the environment history and the audit log).")
    var reason: String?

    @Flag(help: "Print {\"certificate\", \"changes\", \"revoked\"} as JSON (the certificate is still written to --out when given).")
    var json = false

    /// What `--json` prints.
    struct Output: Encodable {
        struct Change: Encodable {
            let installationId: String
            let from: String
            let to: String
        }

        let certificate: SignedDocument
        let changes: [Change]
        let revoked: [FeedEnvelope.Revoked]
    }

    func run(console: Console) async throws {
        guard let data = FileManager.default.contents(atPath: request) else {
            throw CommandFailure.badInput("--request", "cannot read \(request).")
        }
        let file: ActivationRequestFile
        do {
            file = try KeywardJSON.decoder.decode(ActivationRequestFile.self, from: data)
        } catch {
            throw CommandFailure.badInput("--request", "\(request) is not an activation request file (\(error.localizedDescription)).")
        }
        guard file.v == ActivationRequestFile.currentVersion else {
            throw CommandFailure.badInput(
                "--request", "\(request) has version \(file.v); this authority reads version \(ActivationRequestFile.currentVersion).")
        }
        var asked = file
        if promote { asked.promote = true }
        if let reason { asked.reason = reason }
        let result = try await dataDirectory.withAuthority { try await $0.activate(asked, actor: AuthorityDataDirectory.actor) }
        let certificate = result.certificate
        for revoked in result.revoked {
            console.warning(
                "\(revoked.serial) is revoked (\(revoked.reason ?? "no reason given")): the certificate leaves it out and tells the registry.")
        }
        for change in result.changes {
            console.error("Installation \(change.installationId): \(change.from.rawValue) -> \(change.to.rawValue).")
        }
        let text = Console.json(certificate) + "\n"
        if json {
            console.print(
                Console.json(
                    Output(
                        certificate: certificate,
                        changes: result.changes.map { .init(installationId: $0.installationId, from: $0.from.rawValue, to: $0.to.rawValue) },
                        revoked: result.revoked)))
        }
        if let out {
            do {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CommandFailure.failed("cannot write \(out): \(error.localizedDescription)")
            }
            console.error("Certificate for installation \(file.installationId) (\(file.environment.rawValue)) written to \(out).")
        } else if !json {
            console.print(text, terminator: "")
        }
    }
}
