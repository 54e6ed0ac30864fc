import Testing

/// The root of the authority tests: every suite of this target is an extension of it and shares its traits.
/// A hung test fails after thirty minutes instead of holding CI up; thirty, not ten as elsewhere, because one case of
/// `LargeActivationTests` (100,000 keys) takes seven minutes on two shared cores, and the shortest limit applies.
@Suite(.timeLimit(.minutes(30))) struct AuthorityTests {}
