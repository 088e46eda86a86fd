//! The timeline's parallel decode (rayon, windowed speculation + chaining)
//! with a consumer that only counts events.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = timeline::decode::decode_parallel(data, |run| {
        let mut n = 0u64;
        while let Ok(Some(_)) = run.next_event() {
            n += 1;
        }
        n
    });
});
