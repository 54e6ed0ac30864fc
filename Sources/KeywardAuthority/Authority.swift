import Foundation
import KeywardDomain
import KeywardStore
import NIOConcurrencyHelpers

/// The authority's operations, shared by its HTTP API and its CLI: validation first, then one store transaction.
public struct Authority: Sendable {
    public let store: AuthorityStore
    /// The signing keys as they are now: a rotation or a retirement through any copy of this authority (the console,
    /// the API) is seen by every copy at once, without a restart.
    public var keyring: AuthorityKeyring { signing.current.keyring }
    public let catalog: Catalog
    /// The catalog signed with the active key, made once a key: registries take only a signed catalog.
    public var signedCatalog: SignedDocument { signing.current.signedCatalog }
    public let now: @Sendable () -> Date
    /// How long the activation certificates it signs stay good.
    public let certificateLifetime: TimeInterval
    let feeds: FeedCache
    let signing: SigningKeys

    public init(
        store: AuthorityStore, keyring: AuthorityKeyring, catalog: Catalog, now: @escaping @Sendable () -> Date = Date.init,
        feedCacheBudget: Int = 128 << 20, certificateLifetime: TimeInterval = ActivationCertificate.defaultLifetime
    ) {
        self.store = store
        self.catalog = catalog
        self.signing = SigningKeys(keyring: keyring, catalog: catalog)
        self.now = now
        self.certificateLifetime = certificateLifetime
        self.feeds = FeedCache(budget: feedCacheBudget)
    }

    // MARK: Organizations

    public static let organizationRules =
        "The id must be a lowercase slug of letters, digits and single hyphens (e.g. acme-corp), 1 to 63 characters."

    public func createOrganization(id: String, legalName: String, actor: String) async throws -> OrganizationRecord {
        var problems: [FieldError] = []
        if !Organization.isValidID(id) { problems.append(FieldError(field: "id", code: "INVALID_ORGANIZATION_ID", message: Self.organizationRules)) }
        if !Organization.isValidLegalName(legalName) { problems.append(Self.legalNameProblem) }
        guard problems.isEmpty else { throw AuthorityError.invalid(problems) }
        return try await store.createOrganization(Organization(id: id, legalName: legalName), actor: actor, now: now())
    }

    public func updateOrganization(id: String, legalName: String, actor: String) async throws -> OrganizationRecord {
        guard Organization.isValidLegalName(legalName) else { throw AuthorityError.invalid([Self.legalNameProblem]) }
        return try await store.updateOrganization(id, legalName: legalName, actor: actor, now: now())
    }

    static let legalNameProblem = FieldError(
        field: "legalName", code: "INVALID_LEGAL_NAME",
        message: "The legal name must be 1 to \(Organization.maximumLegalNameLength) characters, without control characters.")

    // MARK: Keys

    /// Issues one key for an organization.
    public func issue(_ specification: LicenseKeySpecification, organizationId: String, actor: String) async throws -> IssuedKeyRecord {
        let organization = try await requireOrganization(organizationId)
        let key = try sign(specification, for: organization, field: nil)
        let revision = try await store.storeIssuedKeys([key], organizationId: organizationId, actor: actor, now: now())
        return IssuedKeyRecord(license: key.license, accessKey: key.accessKey, kid: key.kid, revision: revision)
    }

    /// Issues an agreement: one key per line, all or none.
    public func issueAgreement(
        reference: String, signedOn: Date?, lines: [LicenseKeySpecification], organizationId: String, actor: String
    ) async throws -> (agreement: AgreementRecord, keys: [IssuedKeyRecord]) {
        let organization = try await requireOrganization(organizationId)
        let reference = reference.trimmingCharacters(in: .whitespaces)
        // Every problem at once: the reference's, the lines' count, and each line's.
        var problems = Self.referenceProblem(reference).map { [$0] } ?? []
        if !(1...100).contains(lines.count) {
            problems.append(FieldError(field: "lines", code: "INVALID_LINES", message: "An agreement has 1 to 100 lines, one per key."))
        }
        var keys: [NewIssuedKey] = []
        for (index, line) in lines.prefix(100).enumerated() {
            do {
                keys.append(try sign(line, for: organization, field: "lines[\(index)]"))
            } catch let AuthorityError.invalid(found) {
                problems += found
            }
        }
        guard problems.isEmpty else { throw AuthorityError.invalid(problems) }
        let id = "AG-" + Serial.generate().dropFirst(3)
        let time = now()
        let revision = try await store.storeIssuedKeys(
            keys, organizationId: organizationId, agreement: (id, reference, signedOn), actor: actor, now: time)
        let records = keys.enumerated().map { index, key in
            IssuedKeyRecord(license: key.license, accessKey: key.accessKey, kid: key.kid, agreementId: id, line: index + 1, revision: revision)
        }
        let agreement = AgreementRecord(
            id: id, organizationId: organizationId, reference: reference, signedOn: signedOn, createdAt: time,
            serials: keys.map(\.license.serial))
        return (agreement, records)
    }

    /// Why `reference` (trimmed) cannot name an agreement, if it cannot.
    public static func referenceProblem(_ reference: String) -> FieldError? {
        guard reference.isEmpty || reference.count > 100 || reference.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return nil }
        return FieldError(
            field: "reference", code: "INVALID_REFERENCE", message: "The agreement reference must be 1 to 100 characters, e.g. \"2026-ACME-001\".")
    }

    /// Revokes a key, with a reason the registry will show.
    public func revoke(_ serial: String, reason: String, actor: String) async throws -> IssuedKeyRecord {
        let reason = reason.trimmingCharacters(in: .whitespaces)
        guard !reason.isEmpty, reason.count <= 500, !reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw AuthorityError.invalid([
                FieldError(
                    field: "reason", code: "INVALID_REASON",
                    message: "Give a reason of 1 to 500 characters without control characters; the customer's administrators will see it.")
            ])
        }
        return try await store.revokeKey(serial, reason: reason, actor: actor, now: now())
    }

    /// Renews a key: the same serial, re-signed with a new expiry.
    public func renew(_ serial: String, expiresAt: Date, actor: String) async throws -> IssuedKeyRecord {
        guard let current = try await store.key(serial) else {
            throw StoreError(code: "UNKNOWN_KEY", message: "There is no key \(serial).", kind: .notFound)
        }
        guard !current.isRevoked else {
            throw StoreError(code: "KEY_REVOKED", message: "Key \(serial) is revoked; it cannot be renewed.", kind: .conflict)
        }
        guard expiresAt > current.license.validFrom else {
            throw AuthorityError.invalid([
                FieldError(
                    field: "expiresAt", code: "EXPIRY_BEFORE_VALIDITY",
                    message: "The new expiry must come after the key's validity start, \(Timestamp.format(current.license.validFrom)).")
            ])
        }
        let organization = try await requireOrganization(current.license.organization.id)
        var license = current.license
        license.expiresAt = expiresAt
        license.issuedAt = now()
        license.organization = organization.organization
        let signingKey = keyring.activeKey
        let key = NewIssuedKey(license: license, accessKey: AccessKey.issue(license, signedWith: signingKey), kid: signingKey.kid)
        return try await store.replaceKey(key, actor: actor, now: license.issuedAt)
    }

    /// Switches a key for a new one: issues `specification` and revokes `serial`, in one transaction.
    public func switchKey(_ serial: String, to specification: LicenseKeySpecification, actor: String) async throws -> (
        revoked: IssuedKeyRecord, issued: IssuedKeyRecord
    ) {
        guard let current = try await store.key(serial) else {
            throw StoreError(code: "UNKNOWN_KEY", message: "There is no key \(serial).", kind: .notFound)
        }
        let organization = try await requireOrganization(current.license.organization.id)
        let key = try sign(specification, for: organization, field: nil)
        return try await store.switchKey(serial, to: key, actor: actor, now: now())
    }

    /// Checks a specification (rules and catalog) and signs it with a new serial.
    public func sign(_ specification: LicenseKeySpecification, for organization: OrganizationRecord, field prefix: String?) throws -> NewIssuedKey {
        var problems = specification.problems(for: organization.organization)
        let unknown = catalog.unknownComponents(in: specification.components)
        if !unknown.isEmpty, !problems.contains(where: { $0.field == "components" }) {
            problems.append(
                FieldError(
                    field: "components", code: "UNKNOWN_COMPONENT",
                    message:
                        "Not in the solutions catalog: \(unknown.joined(separator: ", ")). Known: \(catalog.components.map(\.code).joined(separator: ", "))."
                ))
        }
        guard problems.isEmpty else {
            throw AuthorityError.invalid(
                problems.map { problem in
                    prefix.map { FieldError(field: "\($0).\(problem.field)", code: problem.code, message: problem.message) } ?? problem
                })
        }
        let signingKey = keyring.activeKey
        let issued = try KeyIssuer(signingKey: signingKey).issue(specification, for: organization.organization, now: now())
        return NewIssuedKey(license: issued.license, accessKey: issued.accessKey, kid: signingKey.kid)
    }

    public func requireOrganization(_ id: String) async throws -> OrganizationRecord {
        guard let organization = try await store.organization(id) else {
            throw StoreError(code: "UNKNOWN_ORGANIZATION", message: "There is no organization \(id).", kind: .notFound)
        }
        return organization
    }

    // MARK: Feed

    /// A signed feed as served: its entity tag and JSON body.
    public struct Feed: Sendable {
        public let etag: String
        public let revision: Int64
        public let body: [UInt8]
    }

    /// The entity tag of an organization's feed at `revision`: it changes with the keys and with the signing key.
    public func etag(revision: Int64) -> String { etag(revision: revision, kid: keyring.activeKey.kid) }

    func etag(revision: Int64, kid: String) -> String { "\"r\(revision)-\(kid)\"" }

    /// The organization's current revision, for answering `If-None-Match` without building the feed.
    public func feedRevision(_ organizationId: String) async throws -> Int64 {
        guard let revision = try await store.revision(of: organizationId) else {
            throw StoreError(code: "UNKNOWN_ORGANIZATION", message: "There is no organization \(organizationId).", kind: .notFound)
        }
        return revision
    }

    /// The signed feed of an organization, built from one snapshot and cached until its revision changes.
    public func feed(_ organizationId: String) async throws -> Feed {
        if let revision = try await store.revision(of: organizationId), let cached = feeds.feed(for: organizationId, etag: etag(revision: revision)) {
            return cached
        }
        let signingKey = keyring.activeKey
        guard let snapshot = try await store.feedSnapshot(of: organizationId) else {
            throw StoreError(code: "UNKNOWN_ORGANIZATION", message: "There is no organization \(organizationId).", kind: .notFound)
        }
        let envelope = FeedEnvelope(
            organization: snapshot.organization.organization, revision: snapshot.organization.revision, issuedAt: now(),
            keys: snapshot.keys.map { FeedEnvelope.Key(serial: $0.serial, accessKey: $0.accessKey) },
            revoked: snapshot.revoked.map { FeedEnvelope.Revoked(serial: $0.serial, revokedAt: $0.revokedAt, reason: $0.reason) },
            productionInstallationId: snapshot.productionInstallationId)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try encoder.encode(envelope.signed(with: signingKey))
        let feed = Feed(
            etag: etag(revision: snapshot.organization.revision, kid: signingKey.kid), revision: snapshot.organization.revision, body: Array(body))
        feeds.store(feed, for: organizationId)
        return feed
    }

    // MARK: Activations

    /// Activates an installation and returns its signed certificate.
    /// Revoked keys the request names are not refused: the certificate covers the others and carries these, signed.
    public func activate(_ request: ActivationRequestFile, actor: String) async throws
        -> (certificate: SignedDocument, changes: [ActivationRules.Change], revoked: [FeedEnvelope.Revoked])
    {
        var problems: [FieldError] = []
        let installation = request.installationId
        if installation.isEmpty || installation.count > 64 || !installation.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) {
            problems.append(
                FieldError(
                    field: "installationId", code: "INVALID_INSTALLATION_ID",
                    message: "The installation id must be 1 to 64 letters, digits or hyphens."))
        }
        let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let reason, reason.unicodeScalars.count > 500 || reason.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            problems.append(
                FieldError(field: "reason", code: "INVALID_REASON", message: "The reason must be at most 500 characters, without control characters.")
            )
        }
        guard problems.isEmpty else { throw AuthorityError.invalid(problems) }
        let signingKey = keyring.activeKey
        let time = now()
        let certificateLifetime = certificateLifetime
        let storeRequest = AuthorityStore.ActivationRequest(
            installationId: installation, environment: request.environment, serials: request.serials,
            promote: request.promote, reason: reason?.isEmpty == true ? nil : reason)
        return try await store.activate(storeRequest, organizationId: request.organizationId, actor: actor, now: time) {
            organization, valid, revoked in
            ActivationCertificate(
                installationId: installation, organization: organization, environment: request.environment, serials: valid, issuedAt: time,
                expiresAt: time.addingTimeInterval(certificateLifetime), revoked: revoked
            ).signed(with: signingKey)
        }
    }
}

/// Refusals of the authority's own rules, before anything reaches the store.
public enum AuthorityError: Error, Sendable, Equatable {
    /// Fields that break the rules, each named.
    case invalid([FieldError])
}

/// The last built feed of each organization, reused while its entity tag holds, within a memory budget.
final class FeedCache: Sendable {
    private let feeds = NIOLockedValueBox<[String: Authority.Feed]>([:])
    /// Feeds are large (about 0.8 KiB a key): the cache holds at most this many bytes, evicting others first.
    public let budget: Int

    public init(budget: Int = 128 << 20) {
        self.budget = budget
    }

    public func feed(for organizationId: String, etag: String) -> Authority.Feed? {
        feeds.withLockedValue { $0[organizationId] }.flatMap { $0.etag == etag ? $0 : nil }
    }

    public func store(_ feed: Authority.Feed, for organizationId: String) {
        guard feed.body.count <= budget else { return }
        feeds.withLockedValue { feeds in
            feeds[organizationId] = nil
            var used = feeds.values.reduce(0) { $0 + $1.body.count }
            while used + feed.body.count > budget, let victim = feeds.keys.first {
                used -= feeds[victim]!.body.count
                feeds[victim] = nil
            }
            feeds[organizationId] = feed
        }
    }

    public var bytes: Int { feeds.withLockedValue { $0.values.reduce(0) { $0 + $1.body.count } } }
}
