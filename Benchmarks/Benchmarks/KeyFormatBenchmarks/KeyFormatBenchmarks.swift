import Benchmark
import Crypto
import Foundation
import KeywardDomain

/// Access key format benchmarks: what checking a key costs next to the bare Ed25519 verification it rests on.
///
/// All three benchmarks use the same key material, made once when the suite is registered, outside any
/// measured loop. Each iteration does 1000 operations (`scalingFactor: .kilo`), so the reported wall clock
/// and throughput are per operation. `scripts/bench-keyformat` turns the p50s into the parse+verify / raw ratio.
let benchmarks: @Sendable () -> Void = {
    let material = KeyMaterial()

    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    // The floor: Ed25519 over the exact bytes and signature the access key carries, nothing else.
    Benchmark("Ed25519 raw verify") { benchmark in
        let publicKey = material.rawPublicKey
        let signature = material.signature
        let message = material.signedBytes
        for _ in benchmark.scaledIterations {
            blackHole(publicKey.isValidSignature(signature, for: message))
        }
    }

    // What a registry does with a pasted key: split, decode the payload, check it, look up the kid, verify.
    Benchmark("AccessKey parse+verify") { benchmark in
        let verifier = material.verifier
        let accessKey = material.accessKey
        let now = material.now
        for _ in benchmark.scaledIterations {
            blackHole(verifier.verify(accessKey, organization: "acme", now: now))
        }
    }

    // The parts of parse+verify around the signature check, to see where its overhead goes.
    Benchmark("AccessKey split") { benchmark in
        let accessKey = material.accessKey
        for _ in benchmark.scaledIterations {
            blackHole(AccessKey.split(accessKey))
        }
    }

    // Everything but the signature: an untrusted verifier stops at UNKNOWN_SIGNING_KEY after decoding and checking.
    Benchmark("AccessKey parse (no signature check)") { benchmark in
        let verifier = AccessKeyVerifier(trustStore: TrustStore())
        let accessKey = material.accessKey
        let now = material.now
        for _ in benchmark.scaledIterations {
            blackHole(verifier.verify(accessKey, organization: "acme", now: now))
        }
    }

    // What the authority does for each key it hands out.
    Benchmark("AccessKey issue (sign)") { benchmark in
        let license = material.license
        let signingKey = material.signingKey
        for _ in benchmark.scaledIterations {
            blackHole(AccessKey.issue(license, signedWith: signingKey))
        }
    }
}

/// One signing key, one license, the access key made from them, and what the benchmarks need from it.
struct KeyMaterial: Sendable {
    let signingKey: AuthoritySigningKey
    let license: LicenseKey
    let accessKey: String
    let verifier: AccessKeyVerifier
    let now: Date
    let rawPublicKey: Curve25519.Signing.PublicKey
    let signedBytes: [UInt8]
    let signature: [UInt8]

    init() {
        // A fixed Ed25519 seed, so every run signs and verifies the same bytes.
        let seed = [UInt8](0..<32)
        let pkcs8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        let pem = "-----BEGIN PRIVATE KEY-----\n\(Data(pkcs8Prefix + seed).base64EncodedString())\n-----END PRIVATE KEY-----\n"
        signingKey = try! AuthoritySigningKey(pem: pem)

        license = LicenseKey(
            serial: "KW-7F3K-9Q2M-XA4T-C8PD",
            organization: Organization(id: "acme", legalName: "Acme Corporation"),
            profile: .manager,
            useType: .nominative,
            users: 25,
            purchaseType: .rental,
            suiteVersion: LicenseKey.defaultSuiteVersion,
            validFrom: Timestamp.parse("2026-01-01T00:00:00Z")!,
            expiresAt: Timestamp.parse("2027-01-01T00:00:00Z")!,
            components: ["DOC", "WF", "AUD"],
            issuedAt: Timestamp.parse("2025-12-20T09:30:00Z")!
        )
        accessKey = AccessKey.issue(license, signedWith: signingKey)
        verifier = AccessKeyVerifier(trustStore: TrustStore([signingKey.publicKey]))
        now = Timestamp.parse("2026-06-01T00:00:00Z")!

        let parts = AccessKey.split(accessKey)!
        signedBytes = parts.signedBytes
        signature = parts.signature
        rawPublicKey = try! Curve25519.Signing.PublicKey(rawRepresentation: signingKey.publicKey.rawRepresentation)

        // Measure only the success paths.
        precondition(rawPublicKey.isValidSignature(signature, for: signedBytes), "raw Ed25519 verification failed")
        let outcome = verifier.verify(accessKey, organization: "acme", now: now)
        precondition(outcome.code == .valid, "the benchmark access key is \(outcome.code.rawValue), not VALID")
    }
}
