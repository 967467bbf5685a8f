#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex. The standard library's `Mutex` would do, but its lock and unlock run inside the prebuilt
/// Synchronization library where ThreadSanitizer cannot see them, so TSan reported the data it guards as
/// raced (seen on the tokenizer's encoder pool and the counter's slice dispatcher); pthread calls are
/// intercepted, so these hand-overs are checked for real. Every lock in VocabKit is this one.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
