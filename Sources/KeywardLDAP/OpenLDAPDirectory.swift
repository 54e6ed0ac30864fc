import CLDAP
import Foundation
import KeywardRegistry

/// ``LDAPDirectory`` over OpenLDAP's `libldap` (Debian's libldap-dev): a well-kept implementation of the protocol,
/// TLS and StartTLS included, rather than one of our own. Its calls block, so each operation runs on a thread of its
/// own with its own connection, opened and closed there.
public struct OpenLDAPDirectory: LDAPDirectory {
    /// The paged results control (RFC 2696).
    static let pagedResultsOID = "1.2.840.113556.1.4.319"

    public init() {}

    public func search(
        _ settings: LDAPConnectionSettings, base: String, filter: String, attributes: [String], pageSize: Int,
        page: @escaping @Sendable ([LDAPEntry]) -> Void
    ) async throws(LDAPFailure) {
        try await Self.blocking { () throws(LDAPFailure) in
            let connection = try Connection(settings)
            defer { connection.close() }
            try connection.search(base: base, filter: filter, attributes: attributes, pageSize: max(1, pageSize), page: page)
        }
    }

    public func bind(_ settings: LDAPConnectionSettings) async throws(LDAPFailure) {
        try await Self.blocking { () throws(LDAPFailure) in
            let connection = try Connection(settings)
            connection.close()
        }
    }

    /// Runs `work` on a thread of its own: libldap's synchronous calls must not hold a Swift concurrency thread.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () throws(LDAPFailure) -> T) async throws(LDAPFailure) -> T {
        let result: Result<T, LDAPFailure> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                do throws(LDAPFailure) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// One connection, bound, used by one thread.
    final class Connection {
        let handle: OpaquePointer
        let timeout: timeval

        init(_ settings: LDAPConnectionSettings) throws(LDAPFailure) {
            var made: OpaquePointer?
            let initialized = ldap_initialize(&made, settings.url)
            guard initialized == LDAP_SUCCESS, let made else {
                throw LDAPFailure(
                    code: "LDAP_INVALID_URL", message: "\(settings.url) is not an LDAP URL: use ldaps://host:636 or ldap://host:389 with StartTLS.")
            }
            handle = made
            let seconds = max(1, Int(settings.timeout.components.seconds))
            timeout = timeval(tv_sec: seconds, tv_usec: 0)
            var version = LDAP_VERSION3
            ldap_set_option(handle, LDAP_OPT_PROTOCOL_VERSION, &version)
            var network = timeout
            ldap_set_option(handle, LDAP_OPT_NETWORK_TIMEOUT, &network)
            var operation = timeout
            ldap_set_option(handle, LDAP_OPT_TIMEOUT, &operation)
            ldap_set_option(handle, LDAP_OPT_REFERRALS, nil)
            if let caFile = settings.caFile {
                ldap_set_option(handle, LDAP_OPT_X_TLS_CACERTFILE, caFile)
                var demand = LDAP_OPT_X_TLS_DEMAND
                ldap_set_option(handle, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)
                var newContext: Int32 = 0
                ldap_set_option(handle, LDAP_OPT_X_TLS_NEWCTX, &newContext)
            }
            do throws(LDAPFailure) {
                if settings.startTLS {
                    let started = ldap_start_tls_s(handle, nil, nil)
                    guard started == LDAP_SUCCESS else {
                        throw Self.failure(started, handle, doing: "StartTLS with \(settings.url)")
                    }
                }
                var credentials = berval()
                let bound = settings.password.withCString { password in
                    credentials.bv_len = ber_len_t(strlen(password))
                    credentials.bv_val = UnsafeMutablePointer(mutating: password)
                    return ldap_sasl_bind_s(handle, settings.bindDN, nil, &credentials, nil, nil, nil)
                }
                guard bound == LDAP_SUCCESS else { throw Self.failure(bound, handle, doing: "binding as \(settings.bindDN)") }
            } catch {
                close()
                throw error
            }
        }

        func close() { ldap_unbind_ext_s(handle, nil, nil) }

        /// Every entry, page after page until the server's cookie is empty, each page handed to `page`.
        func search(base: String, filter: String, attributes: [String], pageSize: Int, page: ([LDAPEntry]) -> Void) throws(LDAPFailure) {
            var cookie: UnsafeMutablePointer<berval>?
            defer { if let cookie { ber_bvfree(cookie) } }
            let names = attributes.map { strdup($0) } + [nil]
            defer { for name in names { free(name) } }
            repeat {
                var control: UnsafeMutablePointer<LDAPControl>?
                let made = ldap_create_page_control(handle, ber_int_t(pageSize), cookie, 0, &control)
                guard made == LDAP_SUCCESS, let control else { throw Self.failure(made, handle, doing: "asking for paged results") }
                defer { ldap_control_free(control) }
                var result: OpaquePointer?
                var time = timeout
                var controls: [UnsafeMutablePointer<LDAPControl>?] = [control, nil]
                var attributeNames = names
                let searched = ldap_search_ext_s(handle, base, LDAP_SCOPE_SUBTREE, filter, &attributeNames, 0, &controls, nil, &time, 0, &result)
                defer { if let result { ldap_msgfree(result) } }
                guard searched == LDAP_SUCCESS, let result else {
                    throw Self.failure(searched, handle, doing: "searching \(base) for \(filter)")
                }
                page(read(result))
                var code: Int32 = 0
                var returned: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
                let parsed = ldap_parse_result(handle, result, &code, nil, nil, nil, &returned, 0)
                defer { if let returned { ldap_controls_free(returned) } }
                guard parsed == LDAP_SUCCESS, code == LDAP_SUCCESS else {
                    throw Self.failure(parsed == LDAP_SUCCESS ? code : parsed, handle, doing: "searching \(base)")
                }
                if let cookie { ber_bvfree(cookie) }
                cookie = nil
                guard let returned, let response = ldap_control_find(Self.pagedOID, returned, nil) else { break }
                var next = berval()
                var total: ber_int_t = 0
                guard ldap_parse_pageresponse_control(handle, response, &total, &next) == LDAP_SUCCESS, next.bv_len > 0 else {
                    if next.bv_val != nil { ber_memfree(next.bv_val) }
                    break
                }
                cookie = ber_bvdup(&next)
                ber_memfree(next.bv_val)
            } while cookie != nil
        }

        static let pagedOID = OpenLDAPDirectory.pagedResultsOID

        /// The entries of one page.
        func read(_ result: OpaquePointer) -> [LDAPEntry] {
            var entries: [LDAPEntry] = []
            var entry = ldap_first_entry(handle, result)
            while let current = entry {
                var dn = ""
                if let text = ldap_get_dn(handle, current) {
                    dn = String(cString: text)
                    ldap_memfree(text)
                }
                var attributes: [String: [String]] = [:]
                var element: OpaquePointer?
                var name = ldap_first_attribute(handle, current, &element)
                while let attribute = name {
                    let key = String(cString: attribute)
                    if let values = ldap_get_values_len(handle, current, attribute) {
                        var index = 0
                        var list: [String] = []
                        while let value = values[index] {
                            let bytes = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                            list.append(Self.text(bytes))
                            index += 1
                        }
                        attributes[key, default: []] += list
                        ldap_value_free_len(values)
                    }
                    ldap_memfree(attribute)
                    name = ldap_next_attribute(handle, current, element)
                }
                if let element { ber_free(element, 0) }
                entries.append(LDAPEntry(dn: dn, attributes: attributes))
                entry = ldap_next_entry(handle, current)
            }
            return entries
        }

        /// A value as text: UTF-8 as it is; a binary one (Active Directory's `objectGUID`) in lowercase hexadecimal.
        static func text(_ bytes: UnsafeRawBufferPointer) -> String {
            if let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" }) {
                return text
            }
            return bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }

        /// A failure in words, by libldap's result code.
        static func failure(_ code: Int32, _ handle: OpaquePointer, doing what: String) -> LDAPFailure {
            let reason = String(cString: ldap_err2string(code))
            var diagnostic: UnsafeMutablePointer<CChar>?
            ldap_get_option(handle, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diagnostic)
            var detail = ""
            if let diagnostic {
                let text = String(cString: diagnostic)
                if !text.isEmpty { detail = " (\(text))" }
                ldap_memfree(diagnostic)
            }
            switch code {
            case LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR:
                return LDAPFailure(code: "LDAP_UNREACHABLE", message: "The LDAP server cannot be reached, \(what): \(reason)\(detail).")
            case LDAP_TIMEOUT:
                return LDAPFailure(code: "LDAP_TIMEOUT", message: "The LDAP server did not answer in time, \(what).")
            case LDAP_INVALID_CREDENTIALS, LDAP_INAPPROPRIATE_AUTH,
                LDAP_INVALID_DN_SYNTAX where what.hasPrefix("binding"):
                return LDAPFailure(
                    code: "LDAP_BIND_REFUSED", message: "The LDAP server refused \(what): \(reason)\(detail). Check the bind DN and password.")
            case LDAP_NO_SUCH_OBJECT:
                return LDAPFailure(code: "LDAP_NO_SUCH_BASE", message: "The LDAP server has no entry \(what): \(reason)\(detail). Check the base DN.")
            case LDAP_SIZELIMIT_EXCEEDED, LDAP_ADMINLIMIT_EXCEEDED:
                return LDAPFailure(
                    code: "LDAP_SIZE_LIMIT",
                    message:
                        "The LDAP server stopped \(what) at its size limit\(detail), so the registry did not see every entry. Let the bind DN read them all in pages (OpenLDAP: limits dn.exact=\"<bind DN>\" size.prtotal=unlimited)."
                )
            case LDAP_FILTER_ERROR:
                return LDAPFailure(code: "LDAP_BAD_FILTER", message: "The LDAP server cannot read the filter, \(what)\(detail).")
            default:
                return LDAPFailure(code: "LDAP_ERROR", message: "The LDAP server refused \(what): \(reason)\(detail).")
            }
        }
    }
}
