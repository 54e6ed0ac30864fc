import Foundation

/// Files the registry and the authority write hold tokens' hashes, password hashes and the organization token: only
/// the service's own account may read them.
public enum DataDirectoryPermissions {
    /// Makes every file this process creates from now on readable by its owner only (the SQLite files and their
    /// journals, the trust file, the demo's files).
    public static func restrictNewFiles() {
        umask(0o077)
    }

    /// Tightens a data directory (and the database files in it) that others may read to owner-only, and says so.
    /// Returns the warnings to log.
    @discardableResult
    public static func tighten(_ directory: URL) -> [String] {
        var warnings: [String] = []
        let manager = FileManager.default
        guard let attributes = try? manager.attributesOfItem(atPath: directory.path),
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint16Value
        else { return warnings }
        if mode & 0o077 != 0 {
            if (try? manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)) != nil {
                warnings.append(
                    "the data directory \(directory.path) was readable by others (mode \(String(mode & 0o777, radix: 8))); it is now 700, readable by this account only"
                )
            } else {
                warnings.append(
                    "the data directory \(directory.path) is readable by others (mode \(String(mode & 0o777, radix: 8))) and could not be changed: run chmod 700 on it"
                )
            }
        }
        for name in (try? manager.contentsOfDirectory(atPath: directory.path)) ?? [] {
            let path = directory.appendingPathComponent(name).path
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let fileMode = ((try? manager.attributesOfItem(atPath: path))?[.posixPermissions] as? NSNumber)?.uint16Value,
                fileMode & 0o077 != 0
            else { continue }
            try? manager.setAttributes([.posixPermissions: fileMode & 0o700], ofItemAtPath: path)
        }
        return warnings
    }
}
