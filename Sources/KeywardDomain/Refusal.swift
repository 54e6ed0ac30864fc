/// What kind of refusal a service error is, so each adapter (HTTP, CLI) can choose its own form for it.
public enum RefusalKind: Sendable, Equatable {
    /// The input breaks a rule.
    case invalid
    /// The thing named does not exist, or may not be seen.
    case notFound
    /// The caller is not who they must be (a refused sign-in or identity token).
    case unauthorized
    /// The caller may not do this.
    case forbidden
    /// The change clashes with what is stored.
    case conflict
    /// The service is too busy right now; the same request may succeed later.
    case busy
}
