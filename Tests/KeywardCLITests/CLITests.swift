import Testing

/// The root of the command line tests: every suite of this target is an extension of it and shares its traits.
/// A hung test fails after ten minutes instead of holding CI up.
@Suite(.timeLimit(.minutes(10))) struct CLITests {}
