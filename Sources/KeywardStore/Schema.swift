import SQLKit

/// Keyward's schema history. Numbers 1–999 are shared by both services, 1001+ belong to the authority,
/// 2001+ to the registry. A landed migration is never edited: add a new one.
public enum Schema {
    /// Tables both the authority and the registry have.
    public static let common: [Migration] = [
        Migration(1, "create audit_events") { sql, kind in
            try await sql.create(table: "audit_events")
                .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                .column("occurred_at", type: .bigint, .notNull)
                .column("actor", type: .text, .notNull)
                .column("action", type: .text, .notNull)
                .column("target", type: .text, .notNull)
                .column("details", type: .text, .notNull)
                .run()
            try await sql.create(index: "audit_events_by_target").on("audit_events").column("target").run()
            try await sql.create(index: "audit_events_by_actor").on("audit_events").column("actor").run()
            // Append-only in SQL too, so no code path (or hand-typed statement) can rewrite history.
            switch kind {
            case .sqlite:
                for event in ["UPDATE", "DELETE"] {
                    try await sql.raw(
                        """
                        CREATE TRIGGER audit_events_no_\(unsafeRaw: event.lowercased()) BEFORE \(unsafeRaw: event) ON audit_events
                        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                        """
                    ).run()
                }
            case .postgres:
                try await sql.raw(
                    """
                    CREATE FUNCTION keyward_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
                    FOR EACH ROW EXECUTE FUNCTION keyward_refuse_change()
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
                    FOR EACH STATEMENT EXECUTE FUNCTION keyward_refuse_change()
                    """
                ).run()
            }
        },
        Migration(2, "create api_tokens") { sql, _ in
            // Bearer tokens of every kind; the secret's SHA-256 only, never the secret.
            try await sql.raw(
                """
                CREATE TABLE api_tokens (
                    id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    subject TEXT,
                    secret_hash TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    revoked_at BIGINT
                )
                """
            ).run()
        },
    ]
}
