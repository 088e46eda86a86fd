//! The allocator: mimalloc, set to hand freed memory back to the system
//! at once.
//!
//! Building a timeline allocates and frees a lot of per-generation scratch
//! memory on rayon's threads. glibc's malloc keeps most of it resident, and
//! so does mimalloc's default delayed purging on threads that then sit
//! idle: on a 300 MB trace the process stayed at about 2.3 GB (glibc) and
//! 1.0-1.2 GB (mimalloc, default) after the build, against 0.94 GB with
//! immediate purging, for a timeline of 0.8 GB. mimalloc is also built to
//! commit its arena lazily (`.cargo/config.toml`), which halves the peak of
//! small runs such as `gotv stats --decode-only`. A build frees much of
//! what it allocated on other threads, which mimalloc only takes back when
//! the allocating thread collects: the build calls the hook
//! [`return_freed_memory_at_once`] installs for that (see
//! `timeline::set_reclaim_hook`).

/// The process's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its position in `mi_option_e` in
/// mimalloc.h; the bindings name the options around it but not this one).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc return freed pages to the system immediately instead of
/// after a delay, and lets the timeline build have each of its threads
/// collect what other threads freed for it. Call it first thing in `main`.
#[allow(unsafe_code)]
pub fn return_freed_memory_at_once() {
    // SAFETY: sets an integer option; mimalloc reads this one whenever it
    // purges, and allows options to be set at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    timeline::set_reclaim_hook(collect_this_thread);
}

/// Frees the calling thread's pages that other threads emptied (and so,
/// with no purge delay, hands them back to the system).
#[allow(unsafe_code)]
fn collect_this_thread() {
    // SAFETY: walks the calling thread's own heap; no pointers are passed.
    unsafe { libmimalloc_sys::mi_collect(false) };
}
