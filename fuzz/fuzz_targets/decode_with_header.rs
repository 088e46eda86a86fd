//! Whole-file decode behind a valid Go 1.22+ header, so that mutations are
//! spent on batches rather than on the magic. The first input byte picks
//! the version.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let minor = [22u8, 23, 25, 26][usize::from(pick % 4)];
    let mut bytes = Vec::with_capacity(16 + body.len());
    bytes.extend_from_slice(format!("go 1.{minor} trace\0\0\0").as_bytes());
    bytes.extend_from_slice(body);
    let Ok(mut reader) = trace_core::Reader::new(&bytes) else { return };
    let mut out = Vec::new();
    let cap = 4 * bytes.len() + 64;
    let mut n = 0usize;
    while let Ok(Some(ev)) = reader.next_event() {
        out.clear();
        trace_core::gofmt::write_event_bytes(&mut out, &ev, &reader.context());
        n += 1;
        assert!(n <= cap, "more than {cap} events from {} bytes", bytes.len());
    }
    assert!(matches!(reader.next_event(), Ok(None)), "next_event yielded after the end or an error");
});
