//! How an lpzero process sets glibc's allocator: freed memory is kept for the next tensors.
//!
//! By default every buffer over a threshold is its own `mmap`, and freeing it unmaps it; a gather
//! allocates and frees hundreds of such activations and gradients per architecture, and each new
//! one costs a page fault and a zeroed page per 4 KiB (a quarter of a GPT-2 gather's profile was
//! the kernel clearing pages). With no `mmap` allocations and no trimming, freed buffers are
//! reused by the next ones. Values are unchanged (only where buffers live); peak memory is what
//! is live at once, plus fragmentation (measured in docs/RESULTS.md, "Gathering again").
//!
//! One arena for all threads: glibc gives each thread that allocates (two gathers at once) an
//! arena of its own, and an arena other than the main one maps every chunk above its 64 MiB heap
//! size afresh whatever `M_MMAP_MAX` says, so the large activations of concurrent gathers were
//! still mapped and unmapped each time (three times the page faults of one arena on a GPT-2 of
//! 45 M parameters; docs/RESULTS.md, "Fresh pages"). Small allocations keep their per-thread
//! caches.
//!
//! The library never calls this itself: a process that embeds it (the Python package) keeps its
//! own allocator settings. The `lpzero` binary and the benchmarks in `benches/` call it first.

/// Sets the allocator as described above (glibc on Linux; elsewhere nothing). Call it before any
/// other thread starts.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; callers run it before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
