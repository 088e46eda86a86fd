//! A hook through which the program's allocator takes back the memory a
//! build frees on threads other than the one that allocated it.
//!
//! A generation is collected on one of rayon's threads and merged, then
//! freed, on others. An allocator with per-thread heaps (mimalloc, which
//! the `gotv` binary uses) files such a free with the heap that made the
//! block and only acts on it when that thread next looks at the page, so
//! pages whose blocks were all freed elsewhere stay resident. On a trace of
//! 2 M short-lived goroutines the process held 267 MB after the build, 135
//! MB once every thread had collected. `timeline` knows nothing of the
//! allocator: the program installs what to call ([`set_reclaim_hook`]),
//! and the build calls it where it matters: on a worker before each
//! generation it collects, and on the calling thread and every thread of
//! the pool once the build is done (or cancelled).
//!
//! ```
//! fn collect_this_thread() {
//!     // e.g. `unsafe { libmimalloc_sys::mi_collect(false) }`
//! }
//! timeline::set_reclaim_hook(collect_this_thread);
//! ```

use std::sync::OnceLock;

static HOOK: OnceLock<fn()> = OnceLock::new();

/// Installs `hook`, which hands the calling thread's freed memory back (to
/// the allocator's shared pool or the system). The first hook installed is
/// kept; later ones are ignored. Without one, builds reclaim nothing.
pub fn set_reclaim_hook(hook: fn()) {
    let _ = HOOK.set(hook);
}

/// Calls the hook, if any, on this thread.
pub(crate) fn here() {
    if let Some(hook) = HOOK.get() {
        hook();
    }
}

/// Calls the hook on this thread, and has every thread of rayon's pool
/// call it once it is done with what it is running (the build does not
/// wait for a thread busy with someone else's long job).
pub(crate) fn everywhere() {
    if HOOK.get().is_some() {
        here();
        rayon::spawn_broadcast(|_| here());
    }
}
