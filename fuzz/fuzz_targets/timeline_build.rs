//! The full timeline build (parallel generations, sharded track merge,
//! ranges, counters, annotations) on arbitrary bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tl) = timeline::build(data, &timeline::Progress::default()) {
        // Touch what the viewer reads.
        for g in &tl.goroutines {
            let _ = g.track.spans();
        }
        let view = timeline::View { start_ns: tl.start_ns, end_ns: tl.end_ns, width_px: 100.0 };
        for p in &tl.procs {
            let _ = timeline::plan_track(&p.track, view, 1.0);
        }
    }
});
