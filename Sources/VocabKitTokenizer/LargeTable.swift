#if canImport(Glibc)
import Glibc
#endif

/// Zeroed memory for the tokenizer's large tables (the hot table, the piece and merge tables, the miss cache),
/// on 2 MB pages where the kernel gives them on request (transparent huge pages in `madvise` mode, the common
/// default). Their probes land anywhere in megabytes: with 4 KB pages nearly every first-seen piece also
/// missed the TLB, and a page walk under virtualisation costs more than the cache miss itself. Tables under
/// 2 MB, or where mmap fails, come from calloc.
struct LargeTable {
    static let hugePage = 1 << 21
    let base: UnsafeMutableRawPointer
    private let mapped: Int

    init(bytes: Int) {
        let size = max(bytes, 1)
        if size >= LargeTable.hugePage {
            let rounded = (size + LargeTable.hugePage - 1) & ~(LargeTable.hugePage - 1)
            let span = rounded + LargeTable.hugePage
            if let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED {
                let address = Int(bitPattern: raw)
                let aligned = (address + LargeTable.hugePage - 1) & ~(LargeTable.hugePage - 1)
                if aligned > address { munmap(raw, aligned - address) }
                let tail = address + span - (aligned + rounded)
                if tail > 0 { munmap(UnsafeMutableRawPointer(bitPattern: aligned + rounded), tail) }
                let start = UnsafeMutableRawPointer(bitPattern: aligned)!
                _ = madvise(start, rounded, MADV_HUGEPAGE)
                base = start
                mapped = rounded
                return
            }
        }
        base = calloc(size, 1)!
        mapped = 0
    }

    /// Returns the memory (call once).
    func release() {
        if mapped > 0 { munmap(base, mapped) } else { free(base) }
    }
}
