//! Whole-file decode: `Reader` over arbitrary bytes, every event formatted
//! the way `go tool trace -d=parsed` prints it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = trace_core::Reader::new(data) else { return };
    let mut out = Vec::new();
    // A decoder that keeps yielding events must still end: cap the count
    // well above anything the input could legitimately encode.
    let cap = 4 * data.len() + 64;
    let mut n = 0usize;
    while let Ok(Some(ev)) = reader.next_event() {
        out.clear();
        trace_core::gofmt::write_event_bytes(&mut out, &ev, &reader.context());
        n += 1;
        assert!(n <= cap, "more than {cap} events from {} bytes", data.len());
    }
    // After the end or an error the reader stays finished.
    assert!(matches!(reader.next_event(), Ok(None)), "next_event yielded after the end or an error");
});
