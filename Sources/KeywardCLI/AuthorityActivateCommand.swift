import ArgumentParser
import Foundation
import KeywardAuthority
import KeywardDomain
import KeywardHTTP
import KeywardStore
import Logging

/// `keyward authority activate --request FILE`: offline activation, by the vendor, of a registry's request file.
struct AuthorityActivateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activate",
        abstract: "Activate an installation from its offline request file and write the signed certificate.",
        discussion: "The registry writes the request with `keyward activation request`; hand the certificate back for `keyward activation apply`."
    )

    @OptionGroup var dataDirectory: AuthorityDataDirectory

    @Option(help: "The activation request file.")
    var request: String

    @Option(help: "Where to write the certificate; standard output when absent.")
    var out: String?

    func run() async throws {
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
            throw CommandFailure.badInput("--request", "\(request) has version \(file.v); this authority reads version \(ActivationRequestFile.currentVersion).")
        }
        let authority = try await dataDirectory.openAuthority(logger: Logger(label: "keyward.authority"))
        let certificate: SignedDocument
        do {
            certificate = try await authority.activate(file, actor: "operator:offline").certificate
        } catch let error as StoreError {
            await authority.store.database.close()
            throw CommandFailure.failed("\(error.code): \(error.message)")
        } catch let AuthorityError.invalid(problems) {
            await authority.store.database.close()
            throw CommandFailure.badInput("--request", problems.map(\.message).joined(separator: " "))
        }
        await authority.store.database.close()
        let text = Console.json(certificate) + "\n"
        if let out {
            do {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CommandFailure.failed("cannot write \(out): \(error.localizedDescription)")
            }
            Console.error("Certificate for installation \(file.installationId) (\(file.environment.rawValue)) written to \(out).")
        } else {
            print(text, terminator: "")
        }
    }
}
