//! The reclaim hook (`timeline::set_reclaim_hook`): a build calls it on the
//! thread of each generation it collects and, once done, on every thread
//! of rayon's pool and the calling thread. The hook is set once per
//! process, so this file is its own test binary with one test.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;

use timeline::{Mode, Progress, build_with};

static CALLS: AtomicUsize = AtomicUsize::new(0);
static THREADS: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());

fn hook() {
    CALLS.fetch_add(1, Ordering::SeqCst);
    THREADS.lock().unwrap().push(std::thread::current().id());
}

/// Calls and threads seen since the last `take`, once every pool thread
/// has run what the build asked of it (a broadcast runs after those a
/// thread was given before).
fn take() -> (usize, Vec<ThreadId>) {
    rayon::broadcast(|_| ());
    (CALLS.swap(0, Ordering::SeqCst), std::mem::take(&mut *THREADS.lock().unwrap()))
}

#[test]
fn a_build_reclaims_on_each_generation_and_on_every_thread_when_done() {
    timeline::set_reclaim_hook(hook);
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/timers.trace")).unwrap();
    let pool: Vec<ThreadId> = rayon::broadcast(|_| std::thread::current().id());
    let me = std::thread::current().id();

    for mode in [Mode::Parallel, Mode::Sequential] {
        take();
        let tl = build_with(&bytes, &Progress::default(), mode).unwrap();
        assert!(tl.generations >= 2, "a trace of several generations");
        let (calls, threads) = take();
        // One call per generation collected, then one on each pool thread
        // and one here.
        assert!(calls > tl.generations + pool.len(), "{mode:?}: {calls} calls for {} generations", tl.generations);
        assert!(pool.iter().all(|t| threads.contains(t)), "{mode:?}: every pool thread collects at the end");
        assert!(threads.contains(&me), "{mode:?}: and the calling thread");
        assert_eq!(calls, tl.generations + pool.len() + 1, "{mode:?}: no more than that");
    }

    // A cancelled build still hands back what it freed.
    let progress = Progress::default();
    progress.cancel();
    assert!(build_with(&bytes, &progress, Mode::Parallel).is_err());
    let (_, threads) = take();
    assert!(pool.iter().all(|t| threads.contains(t)) && threads.contains(&me), "a cancelled build reclaims everywhere");
}
