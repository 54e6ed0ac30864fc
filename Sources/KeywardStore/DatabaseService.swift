import ServiceLifecycle

/// Keeps the database open while the application runs and closes it on graceful shutdown, after the server.
public struct DatabaseService: Service {
    let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await database.close()
    }
}
