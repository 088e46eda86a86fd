//! Decoding all generations of a trace on rayon's thread pool.

use std::collections::BTreeMap;
use std::sync::mpsc;

use trace_core::parallel::Chained;
use trace_core::{GenerationRun, ParallelDecode, Result};

/// Decodes every generation in parallel, handing each run to `consume`,
/// then confirms them in order (re-running the few it must).
///
/// The values come back in generation order, together with the per
/// generation time floors described in [`Chained`].
pub fn decode_parallel<'a, T, F>(data: &'a [u8], consume: F) -> Result<Chained<T>>
where
    T: Send + Default,
    F: Fn(&mut GenerationRun<'a>) -> T + Sync,
{
    let pd = ParallelDecode::new(data)?;
    let mut chainer = pd.chainer();
    // A generation starts as soon as one finishes (no window waits for its
    // slowest member); at most this many are decoding or waiting to be
    // confirmed, which bounds the tables and speculation logs alive at once.
    let limit = rayon::current_num_threads().max(1) + IN_FLIGHT_EXTRA;
    let (tx, rx) = mpsc::channel();
    // The calling thread confirms; the pool decodes.
    rayon::in_place_scope(|s| {
        let (pd, consume) = (&pd, &consume);
        let spawn = |i: usize| {
            let tx = tx.clone();
            s.spawn(move |_| {
                // A panic is sent on, so the confirming thread does not wait
                // for a result that will never come; it re-raises it.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pd.run(i, consume)));
                let _ = tx.send((i, run));
            });
        };
        let (mut next, mut held, mut want) = (0, 0, 0);
        let mut ready = BTreeMap::new();
        while want < pd.len() && !chainer.is_stopped() {
            while next < pd.len() && held < limit {
                spawn(next);
                next += 1;
                held += 1;
            }
            let Ok((i, run)) = rx.recv() else { break };
            match run {
                Ok(started) => ready.insert(i, started),
                Err(panic) => std::panic::resume_unwind(panic),
            };
            while let Some(started) = ready.remove(&want) {
                chainer.feed(started, consume);
                want += 1;
                held -= 1;
            }
        }
    });
    Ok(chainer.finish())
}

/// Generations decoding or waiting beyond one per thread.
const IN_FLIGHT_EXTRA: usize = 0;

/// The same, one generation after another on the calling thread; used to
/// show that the parallel build equals the sequential one.
pub fn decode_sequential<'a, T, F>(data: &'a [u8], consume: F) -> Result<Chained<T>>
where
    T: Default,
    F: Fn(&mut GenerationRun<'a>) -> T,
{
    let pd = ParallelDecode::new(data)?;
    let started: Vec<_> = (0..pd.len()).map(|i| pd.run(i, &consume)).collect();
    Ok(pd.chain(started, &consume))
}
