import ServiceLifecycle

/// The database as an application's first service: it starts before the others and, since a service group stops its
/// services in reverse, closes last, after the server has finished its requests and every other service has stopped
/// (a synchronization under way finishes or fails first). A PostgreSQL pool opened for a service
/// (``KeywardDatabase/openForService(_:logger:)``) runs here, in the service group.
public struct DatabaseService: Service {
    let database: KeywardDatabase

    public init(database: KeywardDatabase) {
        self.database = database
    }

    public func run() async throws {
        await database.serve()
    }
}
