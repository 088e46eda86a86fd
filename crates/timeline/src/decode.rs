//! Decoding all generations of a trace on rayon's thread pool.

use rayon::prelude::*;
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
    // One generation per thread at a time, confirmed as each window
    // finishes, so only a window's tables and speculation logs are alive
    // at once (two windows' worth cost 10% of the file in memory, for no
    // measurable speed).
    let window = rayon::current_num_threads().max(1);
    let mut start = 0;
    while start < pd.len() && !chainer.is_stopped() {
        let end = (start + window).min(pd.len());
        let started: Vec<_> = (start..end).into_par_iter().map(|i| pd.run(i, &consume)).collect();
        for s in started {
            chainer.feed(s, &consume);
        }
        start = end;
    }
    Ok(chainer.finish())
}

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
