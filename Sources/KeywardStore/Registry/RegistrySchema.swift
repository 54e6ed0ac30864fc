import SQLKit

extension Schema {
    /// The registry's tables (2001+), after the common ones.
    public static let registry: [Migration] =
        common + [
            Migration(2001, "create registry tables") { sql, _ in
                // One row: this installation.
                try await sql.raw(
                    """
                    CREATE TABLE installation (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        installation_id TEXT NOT NULL,
                        organization_id TEXT NOT NULL,
                        legal_name TEXT NOT NULL,
                        environment TEXT NOT NULL CHECK (environment IN ('production', 'test')),
                        created_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE registered_keys (
                        serial TEXT PRIMARY KEY,
                        id_number TEXT NOT NULL,
                        id_number_folded TEXT NOT NULL UNIQUE,
                        source TEXT NOT NULL CHECK (source IN ('manual', 'synchronized')),
                        access_key TEXT NOT NULL,
                        kid TEXT NOT NULL,
                        organization_id TEXT NOT NULL,
                        legal_name TEXT NOT NULL,
                        profile TEXT NOT NULL CHECK (profile IN ('manager', 'staff', 'basic', 'view')),
                        use_type TEXT NOT NULL CHECK (use_type IN ('nominative', 'floating')),
                        users BIGINT NOT NULL CHECK (users >= 1),
                        purchase_type TEXT NOT NULL CHECK (purchase_type IN ('sale', 'trial', 'monthly', 'rental')),
                        suite_version TEXT NOT NULL,
                        components TEXT NOT NULL,
                        valid_from BIGINT NOT NULL,
                        expires_at BIGINT,
                        issued_at BIGINT NOT NULL,
                        registered_at BIGINT NOT NULL,
                        registered_by TEXT NOT NULL,
                        revoked_at BIGINT,
                        revocation_reason TEXT
                    )
                    """
                ).run()
                // One row at most: the certificate in force.
                try await sql.raw(
                    """
                    CREATE TABLE activation (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        certificate TEXT NOT NULL,
                        serials TEXT NOT NULL,
                        covered_keys TEXT NOT NULL,
                        environment TEXT NOT NULL,
                        issued_at BIGINT NOT NULL,
                        installed_at BIGINT NOT NULL,
                        method TEXT NOT NULL CHECK (method IN ('online', 'offline'))
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE registry_users (
                        login_folded TEXT PRIMARY KEY,
                        login TEXT NOT NULL,
                        name TEXT NOT NULL,
                        email TEXT NOT NULL,
                        password_hash TEXT,
                        active BOOLEAN NOT NULL,
                        builtin BOOLEAN NOT NULL,
                        created_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE web_sessions (
                        id_hash TEXT PRIMARY KEY,
                        login_folded TEXT NOT NULL REFERENCES registry_users(login_folded),
                        csrf_token TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        expires_at BIGINT NOT NULL
                    )
                    """
                ).run()
            },
            Migration(2002, "create synchronizations") { sql, kind in
                try await sql.raw(
                    """
                    CREATE TABLE synchronizations (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
                        actor TEXT NOT NULL,
                        started_at BIGINT NOT NULL,
                        finished_at BIGINT,
                        outcome TEXT CHECK (outcome IN ('succeeded', 'unchanged', 'failed')),
                        added BIGINT NOT NULL DEFAULT 0,
                        renewed BIGINT NOT NULL DEFAULT 0,
                        revoked BIGINT NOT NULL DEFAULT 0,
                        unchanged BIGINT NOT NULL DEFAULT 0,
                        revision BIGINT,
                        error_code TEXT,
                        error_message TEXT,
                        activation_error TEXT
                    )
                    """
                ).run()
                // One row while a synchronization runs: which instance holds it, until when (a crashed holder's lease expires).
                try await sql.raw(
                    """
                    CREATE TABLE sync_lease (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        holder TEXT NOT NULL,
                        expires_at BIGINT NOT NULL
                    )
                    """
                ).run()
                // One row: what the last applied feed was, for rollback checks and If-None-Match.
                try await sql.raw(
                    """
                    CREATE TABLE sync_state (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        revision BIGINT NOT NULL,
                        etag TEXT
                    )
                    """
                ).run()
            },
            Migration(2003, "create registry settings") { sql, _ in
                // What an administrator set on the settings page, by name (e.g. authority.url, sync.token).
                try await sql.raw(
                    """
                    CREATE TABLE registry_settings (
                        name TEXT PRIMARY KEY,
                        value TEXT NOT NULL,
                        updated_at BIGINT NOT NULL,
                        updated_by TEXT NOT NULL
                    )
                    """
                ).run()
            },
            Migration(2004, "create access groups, members and sessions") { sql, kind in
                try await sql.raw(
                    """
                    CREATE TABLE access_groups (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        id_number TEXT NOT NULL,
                        id_number_folded TEXT NOT NULL UNIQUE,
                        name TEXT NOT NULL,
                        key_serial TEXT NOT NULL REFERENCES registered_keys(serial),
                        component TEXT NOT NULL,
                        menus TEXT NOT NULL,
                        active BOOLEAN NOT NULL,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX access_groups_key ON access_groups (key_serial)").run()
                // The id orders assignments: on an over-allocated key the most recent ones lose their seats first.
                try await sql.raw(
                    """
                    CREATE TABLE group_members (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
                        login_folded TEXT NOT NULL REFERENCES registry_users(login_folded),
                        assigned_at BIGINT NOT NULL,
                        UNIQUE (group_id, login_folded)
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX group_members_login ON group_members (login_folded)").run()
                try await sql.raw(
                    """
                    CREATE TABLE user_sessions (
                        id TEXT PRIMARY KEY,
                        login_folded TEXT NOT NULL REFERENCES registry_users(login_folded),
                        key_serial TEXT NOT NULL,
                        floating BOOLEAN NOT NULL,
                        ip TEXT,
                        started_at BIGINT NOT NULL,
                        lease_expires_at BIGINT NOT NULL,
                        ended_at BIGINT,
                        end_reason TEXT CHECK (end_reason IN ('logout', 'expired', 'disconnected'))
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX user_sessions_open ON user_sessions (key_serial, lease_expires_at) WHERE ended_at IS NULL").run()
                try await sql.raw("CREATE INDEX user_sessions_started ON user_sessions (started_at)").run()
                try await sql.raw("CREATE INDEX registry_users_name ON registry_users (name)").run()
            },
            Migration(2005, "index open sessions by user and key") { sql, _ in
                // A logout reads the user's remaining lease on the key (SessionStore.openLease) instead of every open session.
                try await sql.raw(
                    "CREATE INDEX user_sessions_open_login ON user_sessions (login_folded, key_serial, lease_expires_at) WHERE ended_at IS NULL"
                ).run()
            },
        ]
}
