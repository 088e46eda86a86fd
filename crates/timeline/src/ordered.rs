//! Work spread over rayon's pool and handed back in order: how the
//! generations of a trace are decoded and built.

use std::collections::BTreeMap;
use std::sync::mpsc;

/// Runs `work(i, prepare(state, i))` for every `i` in `0..n` and hands each
/// result to `done(state, i, result)` in index order, until `done` returns
/// false.
///
/// In parallel, `work` runs on rayon's pool and the next item starts as
/// soon as one finishes (nothing waits for the slowest of a group), with at
/// most `limit` items started and not yet done, which bounds what is alive
/// at once; `prepare` and `done` run on the calling thread. A panic in
/// `work` is raised again on the calling thread. Sequentially, everything
/// runs on the calling thread, one item after another.
pub(crate) fn in_order<S, P, R>(
    n: usize,
    limit: usize,
    parallel: bool,
    state: &mut S,
    mut prepare: impl FnMut(&mut S, usize) -> P,
    work: impl Fn(usize, P) -> R + Sync,
    mut done: impl FnMut(&mut S, usize, R) -> bool,
) where
    P: Send,
    R: Send,
{
    if !parallel {
        for i in 0..n {
            let p = prepare(state, i);
            if !done(state, i, work(i, p)) {
                return;
            }
        }
        return;
    }
    let (tx, rx) = mpsc::channel();
    rayon::in_place_scope(|s| {
        let work = &work;
        let (mut next, mut want) = (0, 0);
        let mut ready = BTreeMap::new();
        while want < n {
            while next < n && next - want < limit.max(1) {
                let (i, tx, p) = (next, tx.clone(), prepare(state, next));
                s.spawn(move |_| {
                    // A panic is sent on, so the calling thread does not wait
                    // for a result that will never come.
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i, p)));
                    let _ = tx.send((i, r));
                });
                next += 1;
            }
            let Ok((i, r)) = rx.recv() else { return };
            match r {
                Ok(v) => ready.insert(i, v),
                Err(panic) => std::panic::resume_unwind(panic),
            };
            while let Some(v) = ready.remove(&want) {
                let go_on = done(state, want, v);
                want += 1;
                if !go_on {
                    // Items still running finish; their results are dropped.
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order_with_a_bounded_number_in_flight() {
        for parallel in [false, true] {
            let mut seen = Vec::new();
            let mut prepared = 0;
            in_order(
                50,
                3,
                parallel,
                &mut (&mut seen, &mut prepared),
                |(seen, prepared), i| {
                    // Never more than `limit` prepared and not yet done.
                    assert!(**prepared - seen.len() < 3, "{} prepared, {} done", **prepared, seen.len());
                    **prepared += 1;
                    i * 10
                },
                |i, p| {
                    // Later items finish first now and then.
                    std::thread::sleep(std::time::Duration::from_micros(((50 - i) % 7) as u64 * 100));
                    p + 1
                },
                |(seen, _), i, r| {
                    seen.push((i, r));
                    true
                },
            );
            assert_eq!(seen, (0..50).map(|i| (i, i * 10 + 1)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn done_can_stop_early() {
        for parallel in [false, true] {
            let mut seen = Vec::new();
            in_order(
                100,
                4,
                parallel,
                &mut seen,
                |_, i| i,
                |_, p| p,
                |seen, i, _| {
                    seen.push(i);
                    i < 9
                },
            );
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_panic_in_work_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| {
            in_order(10, 2, true, &mut (), |_, i| i, |i, _| assert_ne!(i, 5, "boom"), |_, _, _| true);
        });
        assert!(r.is_err());
    }
}
