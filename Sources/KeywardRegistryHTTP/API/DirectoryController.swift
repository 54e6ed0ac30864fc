import Foundation
import Hummingbird
import KeywardDomain
import KeywardHTTP
import KeywardRegistry
import KeywardStore

/// An assignment error as the API lists it: who, in which access group, and the key's figures when it was refused.
public struct AssignmentErrorResponse: ResponseCodable, Sendable {
    public let id: Int64
    public let login: String
    public let accessGroup: String
    public let code: String
    public let message: String
    public let keySerial: String
    public let limit: Int
    public let inUse: Int
    public let requested: Int
    public let createdAt: Date
    public let retriedAt: Date?

    init(_ record: AssignmentErrorRecord) {
        id = record.id
        login = record.login
        accessGroup = record.accessGroup
        code = record.code
        message = record.message
        keySerial = record.keySerial
        limit = record.limit
        inUse = record.inUse
        requested = record.requested
        createdAt = record.createdAt
        retriedAt = record.retriedAt
    }
}

/// A directory group as administrators choose it for an access group.
struct DirectoryGroupResponse: ResponseCodable {
    let id: String
    let source: String
    let displayName: String
    let externalId: String?
    let members: Int
    let accessGroups: [String]
}

/// `/api/v1/directory-groups` and `/api/v1/assignment-errors`: what the directory provides, for administrators of
/// access groups.
struct DirectoryController: Sendable {
    let registry: Registry

    struct ReprocessResponse: ResponseCodable {
        let cleared: Int
        let remaining: Int
    }

    struct HeldChangeResponse: ResponseCodable {
        let id: Int64
        let accessGroup: String
        let actor: String
        let logins: [String]
        let removed: Int
        let groupSize: Int
        let status: String
        let message: String
        let createdAt: Date
        let decidedAt: Date?
        let decidedBy: String?

        init(_ record: HeldChangeRecord) {
            id = record.id
            accessGroup = record.accessGroup
            actor = record.actor
            logins = record.logins
            removed = record.removed
            groupSize = record.groupSize
            status = record.status.rawValue
            message = record.message
            createdAt = record.createdAt
            decidedAt = record.decidedAt
            decidedBy = record.decidedBy
        }
    }

    func add(to router: Router<RegistryRequestContext>) {
        router.group("/api/v1/directory/held-changes", authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.accessGroup))
            .get(use: heldChanges)
            .post(":id/confirm", use: confirm)
            .post(":id/discard", use: discard)
        router.group("/api/v1/directory-groups", authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.accessGroup))
            .get(use: groups)
        router.group("/api/v1/assignment-errors", authorizedBy: RegistryRole.administrator(registry.access, menu: ConfigurationMenu.accessGroup))
            .get(use: assignmentErrors)
            .post("reprocess", use: reprocess)
    }

    /// The held changes waiting for a decision, newest first; every one with `?all=true`.
    @Sendable func heldChanges(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<HeldChangeResponse> {
        let given = request.uri.queryParameters.get("all")
        guard given == nil || given == "true" || given == "false" else {
            throw APIError.invalidField(
                FieldError(
                    field: "all", code: "INVALID_QUERY", message: "all is true (every held change, decided ones too) or false (those waiting)."))
        }
        let all = given == "true"
        return ItemsResponse(items: try await registry.heldChanges(all: all).map(HeldChangeResponse.init))
    }

    /// The users of a held change lose the access the directory took from them.
    @Sendable func confirm(_ request: Request, context: RegistryRequestContext) async throws -> HeldChangeResponse {
        HeldChangeResponse(try await registry.decideHeldChange(try Self.heldID(context), confirm: true, actor: context.actor))
    }

    /// The users of a held change keep their access, as users added by hand.
    @Sendable func discard(_ request: Request, context: RegistryRequestContext) async throws -> HeldChangeResponse {
        HeldChangeResponse(try await registry.decideHeldChange(try Self.heldID(context), confirm: false, actor: context.actor))
    }

    static func heldID(_ context: RegistryRequestContext) throws -> Int64 {
        let text = try context.parameters.require("id")
        guard let id = Int64(text), id > 0 else {
            throw APIError(.notFound, code: "UNKNOWN_HELD_CHANGE", message: "There is no held change \(text.prefix(40)).")
        }
        return id
    }

    /// Every directory group, by name, with how many members it has and the access groups linked to it.
    @Sendable func groups(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<DirectoryGroupResponse> {
        let records = try await registry.store.directoryGroups(source: nil, members: false)
        return ItemsResponse(
            items: records.map {
                DirectoryGroupResponse(
                    id: $0.id, source: $0.source.rawValue, displayName: $0.displayName, externalId: $0.externalId, members: $0.memberCount,
                    accessGroups: $0.accessGroups)
            })
    }

    /// The assignment errors, oldest first.
    @Sendable func assignmentErrors(_ request: Request, context: RegistryRequestContext) async throws -> ItemsResponse<AssignmentErrorResponse> {
        ItemsResponse(items: try await registry.store.assignmentErrors().map(AssignmentErrorResponse.init))
    }

    /// Retries every assignment error now.
    @Sendable func reprocess(_ request: Request, context: RegistryRequestContext) async throws -> ReprocessResponse {
        let effect = try await registry.reprocessAssignmentErrors(actor: context.actor)
        return ReprocessResponse(cleared: effect.retried, remaining: try await registry.store.assignmentErrorCount())
    }
}
