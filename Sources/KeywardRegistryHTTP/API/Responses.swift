import Foundation
import Hummingbird
import KeywardStore

/// An access group as the API shows it.
struct AccessGroupResponse: ResponseCodable {
    let idNumber: String
    let name: String
    let keySerial: String
    let component: String
    let menus: [String]
    let active: Bool
    /// The users' logins, in assignment order.
    let users: [String]

    init(_ record: AccessGroupRecord) {
        idNumber = record.idNumber
        name = record.name
        keySerial = record.keySerial
        component = record.component
        menus = record.menus
        active = record.active
        users = record.users
    }
}

/// A session of the suite, open or ended, as the API lists it.
struct UserSessionResponse: ResponseCodable {
    let id: String
    let login: String
    let keySerial: String
    let floating: Bool
    let ip: String?
    let startedAt: Date
    let leaseExpiresAt: Date
    let endedAt: Date?
    let endReason: UserSession.EndReason?

    init(_ session: UserSession) {
        id = session.id
        login = session.login
        keySerial = session.keySerial
        floating = session.floating
        ip = session.ip
        startedAt = session.startedAt
        leaseExpiresAt = session.leaseExpiresAt
        endedAt = session.endedAt
        endReason = session.endReason
    }
}

/// A synchronization with the licensing authority, running or finished.
struct SynchronizationRunResponse: ResponseCodable {
    let id: Int64
    let trigger: SynchronizationRun.Trigger
    let actor: String
    let startedAt: Date
    let finishedAt: Date?
    let outcome: SynchronizationRun.Outcome?
    let added: Int
    let renewed: Int
    let revoked: Int
    let unchanged: Int
    let revision: Int64?
    let errorCode: String?
    let errorMessage: String?
    /// Why the activation right after it was refused, when it was.
    let activationError: String?

    init(_ run: SynchronizationRun) {
        id = run.id
        trigger = run.trigger
        actor = run.actor
        startedAt = run.startedAt
        finishedAt = run.finishedAt
        outcome = run.outcome
        added = run.added
        renewed = run.renewed
        revoked = run.revoked
        unchanged = run.unchanged
        revision = run.revision
        errorCode = run.errorCode
        errorMessage = run.errorMessage
        activationError = run.activationError
    }
}
