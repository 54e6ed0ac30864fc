// Why Keyward locks with NIOLockedValueBox rather than Synchronization's Mutex: on Linux, ThreadSanitizer does not
// see Mutex's futex-based locking, so it reports a "Swift access race" on state that only a Mutex guards. This
// program is correct and TSan still flags it (Swift 6.3, x86_64 Linux):
//
//   swiftc -sanitize=thread scripts/tsan-mutex-reproducer.swift -o /tmp/reproducer && /tmp/reproducer
//
// scripts/verify's sanitizer part runs it and says whether the toolchain still does this. With pthread-based
// locks (NIOLockedValueBox), TSan checks our own locking for real.
import Dispatch
import Synchronization

final class Counter: Sendable {
    let counts = Mutex<[String: Int]>([:])
}

let counter = Counter()
DispatchQueue.concurrentPerform(iterations: 8) { thread in
    for index in 0..<20_000 {
        counter.counts.withLock { $0["k\(index % 50)", default: 0] += thread }
    }
}
print("keys: \(counter.counts.withLock { $0.count })")
