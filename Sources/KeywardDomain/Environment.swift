/// Where an installation runs; an organization has at most one production installation.
public enum InstallationEnvironment: String, Codable, Sendable, CaseIterable {
    case production
    case test
}
