import CTumultSystem

/// The process's heap.
public enum Memory {
    /// Asks glibc to hand the heap's free pages back to the kernel
    /// (`malloc_trim(0)`). glibc keeps freed memory for reuse, so after one
    /// large allocation burst (a big request body parsed) the resident size
    /// would otherwise stay at its peak for the life of a long-running server.
    public static func returnFreedToTheSystem() {
        _ = malloc_trim(0)
    }
}
