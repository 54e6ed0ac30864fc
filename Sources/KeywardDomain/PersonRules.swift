import Foundation

/// The rules for a person's account fields, a registry user's and an authority operator's alike; each refusal names
/// its field.
public enum PersonRules {
    /// 1 to 64 code points (as the API's description counts), in Unicode NFC: letters and digits of any script (`joão.silva`, `zoë`), the marks that
    /// complete them, and `. _ - @`; no spaces, punctuation or symbols, so a login reads as what it is. Compared
    /// without regard to case (see `AccessModel.fold`).
    public static func login(_ text: String) throws(FieldError) -> String {
        let login = text.precomposedStringWithCanonicalMapping.trimmingCharacters(in: .whitespaces)
        let scalars = Array(login.unicodeScalars)
        guard (1...64).contains(scalars.count), let first = scalars.first, !isMark(first), scalars.allSatisfy(isLoginScalar) else {
            throw
                (FieldError(
                    field: "login", code: "INVALID_LOGIN",
                    message: "A login is 1 to 64 letters or digits (of any alphabet), and . _ - @, without spaces (e.g. j.smith or joão.silva)."))
        }
        return login
    }

    static func isLoginScalar(_ scalar: Unicode.Scalar) -> Bool {
        if "._-@".unicodeScalars.contains(scalar) { return true }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber, .nonspacingMark, .spacingMark:
            return true
        default:
            return false
        }
    }

    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        [.nonspacingMark, .spacingMark].contains(scalar.properties.generalCategory)
    }

    /// A user's or an access group's name: in Unicode NFC (as an ID # is), trimmed, 1 to 200 characters without control
    /// or format characters, so none of the bidirectional controls that make a name read other than it is stored.
    public static func name(_ text: String) throws(FieldError) -> String {
        guard let name = label(text.precomposedStringWithCanonicalMapping, given: text, maximum: 200) else {
            throw
                (FieldError(
                    field: "name", code: "INVALID_NAME",
                    message: "The name is required: 1 to 200 characters without control, formatting or text-direction characters, e.g. Jane Smith."))
        }
        return name
    }

    /// One `@`, a non-empty local part, a domain with a dot, no spaces, at most 254 characters. Read scalar by scalar,
    /// as the API's description counts and matches: an `@` followed by a combining mark or an emoji modifier forms
    /// one `Character` with it, and a split by `Character` missed it (found by schemathesis).
    public static func email(_ text: String) throws(FieldError) -> String {
        let email = text.trimmingCharacters(in: .whitespaces)
        let scalars = Array(email.unicodeScalars)
        let parts = scalars.split(separator: "@", omittingEmptySubsequences: false)
        let bad = CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "<>(),;:\"[]\\"))
        guard scalars.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), parts[1].first != ".", parts[1].last != ".",
            !scalars.contains(where: { bad.contains($0) || isControlOrFormat($0) })
        else {
            throw
                (FieldError(
                    field: "email", code: "INVALID_EMAIL", message: "The e-mail address is required and must look like jane.smith@example.com."))
        }
        return email
    }

    /// Unicode's control (Cc) and format (Cf) characters, as for an ID #. (On Linux, Foundation's
    /// `CharacterSet.controlCharacters` also holds the unassigned code points of plane 14, so a name or e-mail with one
    /// was refused.)
    static func isControlOrFormat(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
    }

    /// `text` trimmed, when it is not only white space, holds no control or format character, and `given` (what was
    /// typed) is at most `maximum` Unicode scalars: the API descriptions' `maxLength` counts scalars, so 200 letters
    /// with marks stacked on them are more than 200.
    static func label(_ text: String, given: String, maximum: Int) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, given.unicodeScalars.count <= maximum, !trimmed.unicodeScalars.contains(where: isControlOrFormat) else {
            return nil
        }
        return trimmed
    }

    /// A token's name: who uses it, 1 to 100 characters (Unicode scalars, as given) without control or format
    /// characters and not only white space; trimmed.
    public static func tokenName(_ text: String) throws(FieldError) -> String {
        guard let name = label(text, given: text, maximum: 100) else {
            throw
                (FieldError(
                    field: "name", code: "INVALID_TOKEN_NAME",
                    message: "A token's name says who uses it: 1 to 100 characters without control or format characters, e.g. entra-id."))
        }
        return name
    }

    /// A password: at least 12 characters, counted as Unicode scalars like the API description's `minLength`, and at
    /// most 72 bytes in UTF-8, which is all bcrypt reads (72 ASCII characters, fewer of others). It counted bytes at
    /// both ends, so 8 accented letters passed as 12 (found by scripts/verify_api.py).
    public static func password(_ text: String) throws(FieldError) -> String {
        guard text.unicodeScalars.count >= 12, text.utf8.count <= 72 else {
            throw
                (FieldError(
                    field: "password", code: "INVALID_PASSWORD",
                    message:
                        "A password is at least 12 characters and at most 72 bytes (72 letters without accents, fewer with); leave it out for users who never log into the registry."
                ))
        }
        return text
    }
}
