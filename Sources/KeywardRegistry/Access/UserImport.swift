import Foundation
import KeywardDomain
import KeywardStore

/// Reads a CSV file of users (`login,name,email[,active]`, with a header line) and imports the good lines; each bad
/// one is reported with its line number and reason.
public struct UserImport: Sendable {
    /// One line that was not imported.
    public struct Problem: Sendable, Hashable, Codable {
        public let line: Int
        public let reason: String
    }

    public struct Report: Sendable, Hashable, Codable {
        public var imported = 0
        public var problems: [Problem] = []
        public var dryRun = false
        /// How the file was read, when that needs saying (a semicolon-separated file, as spreadsheets write in many
        /// countries).
        public var notes: [String] = []

        public init() {}
    }

    struct Row {
        let line: Int
        let login: String
        let name: String
        let email: String
        let active: Bool
    }

    /// The rows of `text` that pass the field rules, and the problems of the others (repeats within the file too).
    static func parse(_ text: String) -> (rows: [Row], problems: [Problem], notes: [String]) {
        var rows: [Row] = []
        var problems: [Problem] = []
        var notes: [String] = []
        var lines = CSV.records(text)
        // A spreadsheet set to a language whose decimal mark is a comma writes semicolons between fields.
        if let header = lines.first, header.fields.count == 1, header.fields[0].contains(";") {
            lines = CSV.records(text, separator: ";")
            notes.append("The file is separated by semicolons (;), not commas; it was read that way.")
        }
        guard let header = lines.first else {
            return ([], [Problem(line: 1, reason: "The file is empty: it needs a header line login,name,email[,active].")], notes)
        }
        let columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let login = columns.firstIndex(of: "login"), let name = columns.firstIndex(of: "name"), let email = columns.firstIndex(of: "email")
        else {
            return (
                [], [Problem(line: header.line, reason: "The header must name the columns login, name and email (and optionally active).")], notes
            )
        }
        let active = columns.firstIndex(of: "active")
        let index = ["login": login, "name": name, "email": email, "active": active ?? -1]
        lines.removeFirst()
        var seen: [String: Int] = [:]
        for record in lines {
            if record.fields.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard record.fields.count <= columns.count else {
                problems.append(
                    Problem(
                        line: record.line,
                        reason:
                            "this line has \(record.fields.count) fields and the header \(columns.count): put a value that holds a comma in double quotes, e.g. \"Stone, Bob\""
                    ))
                continue
            }
            func field(_ index: Int) -> String { index >= 0 && index < record.fields.count ? record.fields[index] : "" }
            do throws(RegistryError) {
                let row = Row(
                    line: record.line, login: try UserRules.login(field(login)), name: try UserRules.name(field(name)),
                    email: try UserRules.email(field(email)),
                    active: try active.map { index throws(RegistryError) in try Self.flag(field(index)) } ?? true)
                if let first = seen[AccessModel.fold(row.login)] {
                    problems.append(Problem(line: record.line, reason: "login \"\(row.login)\" repeats line \(first)"))
                    continue
                }
                seen[AccessModel.fold(row.login)] = record.line
                rows.append(row)
            } catch {
                // The value at fault, quoted, so the line can be found and mended.
                if case .invalid(let problem) = error, let column = index[problem.field] {
                    problems.append(Problem(line: record.line, reason: "\(problem.field) \"\(field(column).prefix(80))\": \(error.message)"))
                } else {
                    problems.append(Problem(line: record.line, reason: error.message))
                }
            }
        }
        return (rows, problems, notes)
    }

    public static func flag(_ text: String) throws(RegistryError) -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "", "true", "yes", "1", "active": return true
        case "false", "no", "0", "disabled": return false
        default: throw .invalid(FieldError(field: "active", code: "INVALID_ACTIVE", message: "active is true or false, not \"\(text)\"."))
        }
    }
}

extension Registry {
    /// Imports users from CSV text in transactions of `chunk` lines, telling `progress` after each; a dry run checks
    /// everything (taken logins too) and writes nothing.
    public func importUsers(
        csv text: String, dryRun: Bool, actor: String, chunk: Int = 5_000,
        progress: @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }
    ) async throws -> UserImport.Report {
        let parsed = UserImport.parse(text)
        var report = UserImport.Report()
        var imported: [String] = []
        report.problems = parsed.problems
        report.notes = parsed.notes
        report.dryRun = dryRun
        let total = parsed.rows.count
        for start in stride(from: 0, to: total, by: chunk) {
            let rows = Array(parsed.rows[start..<min(start + chunk, total)])
            let taken: [String]
            if dryRun {
                taken = try await store.takenLogins(rows.map(\.login))
            } else {
                taken = try await access.notifying(.change(.users(rows.map(\.login)))) {
                    try await store.importUsers(rows.map { ($0.login, $0.name, $0.email, $0.active) }, actor: actor, now: now())
                }
            }
            let takenSet = Set(taken.map(AccessModel.fold))
            imported.append(contentsOf: rows.map(\.login).filter { !takenSet.contains(AccessModel.fold($0)) })
            for row in rows where takenSet.contains(AccessModel.fold(row.login)) {
                report.problems.append(UserImport.Problem(line: row.line, reason: "login \"\(row.login)\" is taken"))
            }
            report.imported += rows.count - takenSet.count
            progress(min(start + chunk, total), total)
        }
        report.problems.sort { $0.line < $1.line }
        // A patch reads back what was imported; past a few thousand users one rebuild reads less.
        if !dryRun, report.imported > 0 {
            if imported.count <= 5_000 { try await access.apply(.users(imported)) } else { try await access.refresh() }
        }
        return report
    }
}

/// A small RFC 4180 reader: commas (or another separator), double quotes with `""` inside, CRLF or LF; each record keeps its first line number.
public enum CSV {
    struct Record {
        let line: Int
        let fields: [String]
    }

    static func records(_ text: String, separator: Unicode.Scalar = ",") -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var start = 1
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            if let scalar = pending {
                pending = nil
                return scalar
            }
            return iterator.next()
        }
        while let scalar = next() {
            if quoted {
                if scalar == "\"" {
                    let following = next()
                    if following == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        pending = following
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty: quoted = true
            case separator:
                fields.append(field)
                field = ""
            case "\r": continue
            case "\n":
                fields.append(field)
                records.append(Record(line: start, fields: fields))
                fields = []
                field = ""
                line += 1
                start = line
            default: field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(line: start, fields: fields))
        }
        return records
    }
}
