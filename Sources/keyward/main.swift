import Foundation
import KeywardCLI

#if canImport(Glibc)
    import Glibc

    // glibc gives each thread that allocates its own arena of memory, up to eight per core, and freed memory stays
    // in the arena it came from: a synchronization of 100,000 directory users, read on one thread and applied on
    // others, left three times its live memory behind (bench-ldap: 377 MiB peak, 232 MiB with two arenas). Two
    // arenas, as MALLOC_ARENA_MAX=2 would set, unless the environment chooses.
    // (mallopt is declared in malloc.h, which no Swift module exports: looked up by name.)
    if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
        typealias MallocOption = @convention(c) (Int32, Int32) -> Int32
        let arenaMaximum: Int32 = -8  // M_ARENA_MAX
        _ = unsafeBitCast(symbol, to: MallocOption.self)(arenaMaximum, 2)
    }
#endif

exit(await KeywardCommand.run(Array(CommandLine.arguments.dropFirst())))
