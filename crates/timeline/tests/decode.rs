//! The rayon decode equals the one-thread decode equals trace-core's
//! sequential reader, on every committed multi-generation trace.

use std::path::Path;

use trace_core::{Event, GenerationRun, Reader};

/// Event fingerprints of one generation: (wire type, time, G, P, M, args).
fn events(run: &mut GenerationRun<'_>) -> Vec<Event> {
    let mut v = Vec::new();
    let mut e = Event::EMPTY;
    while let Ok(true) = run.next_into(&mut e) {
        v.push(e);
    }
    v
}

/// Applies the chain's time floors, giving the events in trace order.
fn settle(c: trace_core::parallel::Chained<Vec<Event>>) -> Vec<Event> {
    let mut out = Vec::new();
    for (gen_events, floor) in c.values.into_iter().zip(c.time_floors) {
        for (i, mut e) in gen_events.into_iter().enumerate() {
            if let Some(f) = floor {
                e.time = e.time.max(trace_core::TimeNs(f.0 + 1 + i as i64));
            }
            out.push(e);
        }
    }
    out.extend(c.final_sync);
    out
}

#[test]
fn rayon_decode_equals_sequential_decode() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut checked = 0;
    for v in ["go1.22", "go1.23", "go1.24", "go1.25", "go1.26", "go1.27"] {
        for name in ["timers", "multigen", "net"] {
            let bytes = std::fs::read(root.join(v).join(format!("{name}.trace"))).expect("committed trace");
            let par = settle(timeline::decode::decode_parallel(&bytes, events).expect("decodes"));
            let one = settle(timeline::decode::decode_sequential(&bytes, events).expect("decodes"));
            let mut r = Reader::new(&bytes).expect("header");
            let mut reference = Vec::new();
            while let Some(e) = r.next_event().expect("valid trace") {
                reference.push(e);
            }
            // Task ends carry reader-local string IDs; compare everything else.
            let key = |e: &Event| (e.typ, e.time, e.g, e.p, e.m, e.offset, e.args[0], e.args[1]);
            assert_eq!(par.iter().map(key).collect::<Vec<_>>(), one.iter().map(key).collect::<Vec<_>>(), "{v}/{name}");
            assert_eq!(
                par.iter().map(key).collect::<Vec<_>>(),
                reference.iter().map(key).collect::<Vec<_>>(),
                "{v}/{name}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}
