//! Decoding all generations of a trace on rayon's thread pool.

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
    // At most this many are decoding or waiting to be confirmed, which
    // bounds the tables and speculation logs alive at once.
    let limit = rayon::current_num_threads().max(1) + IN_FLIGHT_EXTRA;
    crate::ordered::in_order(
        pd.len(),
        limit,
        true,
        &mut chainer,
        |_, _| (),
        |i, ()| pd.run(i, &consume),
        |chainer, _, started| {
            chainer.feed(started, &consume);
            !chainer.is_stopped()
        },
    );
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
