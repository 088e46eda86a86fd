//! Per-generation decode: every generation run independently (speculatively
//! for all but the first), then chained in order, on one thread.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pd) = trace_core::ParallelDecode::new(data) else { return };
    let drain = |run: &mut trace_core::GenerationRun<'_>| {
        let mut n = 0u64;
        while let Ok(Some(_)) = run.next_event() {
            n += 1;
        }
        n
    };
    let started: Vec<_> = (0..pd.len()).map(|i| pd.run(i, drain)).collect();
    let _ = pd.chain(started, drain);
});
