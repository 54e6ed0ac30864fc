import SQLKit

extension Schema {
    /// The authority's tables (1001+), after the common ones.
    public static let authority: [Migration] =
        common + [
            Migration(1001, "create authority tables") { sql, kind in
                try await sql.raw(
                    """
                    CREATE TABLE organizations (
                        id TEXT PRIMARY KEY,
                        legal_name TEXT NOT NULL,
                        revision BIGINT NOT NULL DEFAULT 0,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE agreements (
                        id TEXT PRIMARY KEY,
                        organization_id TEXT NOT NULL REFERENCES organizations(id),
                        reference TEXT NOT NULL,
                        signed_on BIGINT,
                        created_at BIGINT NOT NULL,
                        UNIQUE (organization_id, reference)
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE license_keys (
                        serial TEXT PRIMARY KEY,
                        organization_id TEXT NOT NULL REFERENCES organizations(id),
                        legal_name TEXT NOT NULL,
                        agreement_id TEXT REFERENCES agreements(id),
                        line BIGINT,
                        profile TEXT NOT NULL CHECK (profile IN ('manager', 'staff', 'basic', 'view')),
                        use_type TEXT NOT NULL CHECK (use_type IN ('nominative', 'floating')),
                        users BIGINT NOT NULL CHECK (users >= 1),
                        purchase_type TEXT NOT NULL CHECK (purchase_type IN ('sale', 'trial', 'monthly', 'rental')),
                        suite_version TEXT NOT NULL,
                        components TEXT NOT NULL,
                        valid_from BIGINT NOT NULL,
                        expires_at BIGINT,
                        issued_at BIGINT NOT NULL,
                        kid TEXT NOT NULL,
                        access_key TEXT NOT NULL,
                        revision BIGINT NOT NULL,
                        revoked_at BIGINT,
                        revocation_reason TEXT,
                        replaced_by TEXT
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX license_keys_by_organization ON license_keys (organization_id, serial)").run()
                try await sql.raw(
                    """
                    CREATE TABLE installations (
                        installation_id TEXT PRIMARY KEY,
                        organization_id TEXT NOT NULL REFERENCES organizations(id),
                        environment TEXT NOT NULL CHECK (environment IN ('production', 'test')),
                        serials TEXT NOT NULL,
                        activated_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE environment_changes (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        organization_id TEXT NOT NULL REFERENCES organizations(id),
                        installation_id TEXT NOT NULL,
                        from_environment TEXT NOT NULL,
                        to_environment TEXT NOT NULL,
                        period TEXT NOT NULL,
                        changed_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX environment_changes_by_period ON environment_changes (organization_id, period)").run()
            },
            Migration(1002, "environment changes keep their reason") { sql, _ in
                try await sql.raw("ALTER TABLE environment_changes ADD COLUMN reason TEXT").run()
            },
            Migration(1003, "create operators") { sql, _ in
                // The vendor's licensing staff: each with a login, a name, a role and a password (bcrypt). Disabled,
                // never deleted, so the audit log's names stay someone's.
                try await sql.raw(
                    """
                    CREATE TABLE operators (
                        login_folded TEXT PRIMARY KEY,
                        login TEXT NOT NULL,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'auditor')),
                        password_hash TEXT NOT NULL,
                        active INTEGER NOT NULL DEFAULT 1,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL
                    )
                    """
                ).run()
            },
            Migration(1004, "create operator web sessions") { sql, _ in
                // The console's sessions (only the SHA-256 of each id) and the sign-ins sent to the identity provider.
                try await sql.raw(
                    """
                    CREATE TABLE operator_sessions (
                        id_hash TEXT PRIMARY KEY,
                        login_folded TEXT NOT NULL REFERENCES operators(login_folded),
                        csrf_token TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL,
                        method TEXT NOT NULL DEFAULT 'password'
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE operator_sign_ins (
                        state_hash TEXT PRIMARY KEY,
                        browser_hash TEXT NOT NULL,
                        nonce TEXT NOT NULL,
                        code_verifier TEXT NOT NULL,
                        redirect_uri TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL
                    )
                    """
                ).run()
            },
        ]
}
