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
            Migration(2006, "create directory users, groups, links and assignment errors") { sql, kind in
                // A user from a directory (SCIM or LDAP) keeps the directory's id and external id, and what it sent.
                // `directory_active` is what the directory says; `locally_disabled` is an administrator's own
                // disabling, which the directory does not undo; `active` is both together, as the rules read it.
                for column in [
                    "source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'scim', 'ldap'))",
                    "directory_id TEXT", "external_id TEXT", "directory_attributes TEXT",
                    "directory_active BOOLEAN NOT NULL DEFAULT TRUE", "locally_disabled BOOLEAN NOT NULL DEFAULT FALSE",
                    "modified_at BIGINT", "version BIGINT NOT NULL DEFAULT 1",
                ] {
                    try await sql.raw("ALTER TABLE registry_users ADD COLUMN \(unsafeRaw: column)").run()
                }
                try await sql.raw("CREATE UNIQUE INDEX registry_users_directory_id ON registry_users (directory_id)").run()
                try await sql.raw(
                    "CREATE UNIQUE INDEX registry_users_external_id ON registry_users (source, external_id) WHERE external_id IS NOT NULL"
                ).run()
                try await sql.raw(
                    """
                    CREATE TABLE directory_groups (
                        id TEXT PRIMARY KEY,
                        source TEXT NOT NULL CHECK (source IN ('scim', 'ldap')),
                        external_id TEXT,
                        display_name TEXT NOT NULL,
                        display_name_folded TEXT NOT NULL,
                        attributes TEXT NOT NULL,
                        created_at BIGINT NOT NULL,
                        modified_at BIGINT NOT NULL,
                        version BIGINT NOT NULL DEFAULT 1
                    )
                    """
                ).run()
                try await sql.raw(
                    "CREATE UNIQUE INDEX directory_groups_external_id ON directory_groups (source, external_id) WHERE external_id IS NOT NULL"
                ).run()
                try await sql.raw("CREATE INDEX directory_groups_name ON directory_groups (display_name_folded)").run()
                // The id orders memberships: when seats run short, the latest ones are those left out.
                try await sql.raw(
                    """
                    CREATE TABLE directory_group_members (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        group_id TEXT NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
                        login_folded TEXT NOT NULL REFERENCES registry_users(login_folded),
                        added_at BIGINT NOT NULL,
                        UNIQUE (group_id, login_folded)
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX directory_group_members_login ON directory_group_members (login_folded)").run()
                // An access group takes users from the directory groups linked to it.
                try await sql.raw(
                    """
                    CREATE TABLE access_group_links (
                        access_group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
                        directory_group_id TEXT NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
                        linked_at BIGINT NOT NULL,
                        PRIMARY KEY (access_group_id, directory_group_id)
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX access_group_links_directory ON access_group_links (directory_group_id)").run()
                // A member row is there because an administrator added the user (direct), or because the user is in a
                // linked directory group, or both.
                try await sql.raw("ALTER TABLE group_members ADD COLUMN direct BOOLEAN NOT NULL DEFAULT TRUE").run()
                // A user the directory puts in an access group who found no seat on its key: not a member until a seat
                // frees (retried then, or on request), with the key's figures when it was refused.
                try await sql.raw(
                    """
                    CREATE TABLE assignment_errors (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        access_group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
                        login_folded TEXT NOT NULL REFERENCES registry_users(login_folded),
                        direct BOOLEAN NOT NULL,
                        key_serial TEXT NOT NULL,
                        seat_limit BIGINT NOT NULL,
                        in_use BIGINT NOT NULL,
                        requested BIGINT NOT NULL,
                        created_at BIGINT NOT NULL,
                        retried_at BIGINT,
                        UNIQUE (access_group_id, login_folded)
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX assignment_errors_login ON assignment_errors (login_folded)").run()
            },
            Migration(2007, "create held directory changes") { sql, kind in
                // A directory change that would take access from too many of an access group's users at once (an empty
                // group pushed by mistake): the directory's data is stored, but these users keep their access until an
                // administrator confirms (they lose it then) or discards (they keep it, as users added by hand).
                try await sql.raw(
                    """
                    CREATE TABLE held_changes (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        access_group_id BIGINT NOT NULL REFERENCES access_groups(id) ON DELETE CASCADE,
                        source TEXT NOT NULL,
                        actor TEXT NOT NULL,
                        logins TEXT NOT NULL,
                        removed BIGINT NOT NULL,
                        group_size BIGINT NOT NULL,
                        status TEXT NOT NULL CHECK (status IN ('held', 'confirmed', 'discarded')),
                        created_at BIGINT NOT NULL,
                        decided_at BIGINT,
                        decided_by TEXT
                    )
                    """
                ).run()
                try await sql.raw("CREATE INDEX held_changes_status ON held_changes (status, id)").run()
            },
            Migration(2008, "create directory synchronizations") { sql, kind in
                // Every LDAP synchronization, as the directory page's history lists it.
                try await sql.raw(
                    """
                    CREATE TABLE directory_synchronizations (
                        id \(unsafeRaw: SQLTypes.autoIncrementKey(kind)),
                        trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
                        actor TEXT NOT NULL,
                        started_at BIGINT NOT NULL,
                        finished_at BIGINT,
                        outcome TEXT CHECK (outcome IN ('succeeded', 'unchanged', 'failed')),
                        counts TEXT NOT NULL DEFAULT '{}',
                        error_code TEXT,
                        error_message TEXT
                    )
                    """
                ).run()
                // One row while a directory synchronization runs somewhere: one at a time across the instances.
                try await sql.raw(
                    """
                    CREATE TABLE directory_sync_lease (
                        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                        holder TEXT NOT NULL,
                        expires_at BIGINT NOT NULL
                    )
                    """
                ).run()
            },
            Migration(2009, "create OpenID Connect sign-ins") { sql, kind in
                // A sign-in sent to the identity provider and not back yet: its state (hashed), the browser it was
                // started in (hashed), its nonce and PKCE verifier. Taken once by the callback; gone after 10 minutes.
                try await sql.raw(
                    """
                    CREATE TABLE oidc_sign_ins (
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
                // How a web session was opened: a password, or the identity provider (whose sign-out is then offered).
                try await sql.raw("ALTER TABLE web_sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password'").run()
            },
        ]
}
