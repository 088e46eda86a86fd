//! A truncated trace keeps every complete generation and says precisely
//! what was lost.

use std::path::Path;

use trace_core::{ErrorKind, GenerationIndex, Reader, Version};

fn trace(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces").join(rel)).expect("trace")
}

fn decode(bytes: &[u8]) -> (usize, Option<trace_core::Error>) {
    let mut r = Reader::new(bytes).expect("header");
    let mut n = 0;
    loop {
        match r.next_event() {
            Ok(Some(_)) => n += 1,
            Ok(None) => return (n, None),
            Err(e) => return (n, Some(e)),
        }
    }
}

#[test]
fn truncation_names_generation_and_bytes_kept() {
    for rel in ["go1.27/timers.trace", "go1.26/timers.trace", "go1.25/timers.trace", "go1.22/timers.trace"] {
        let full = trace(rel);
        let version = Version::from_header(&full).expect("header");
        let complete = GenerationIndex::scan(&full, version).generations;
        assert!(complete.len() >= 3, "{rel}: needs several generations");
        // Cut in the middle of the third generation.
        let g = &complete[2];
        let cut = ((g.start_offset + g.end_offset) / 2) as usize;
        let bytes = &full[..cut];
        let (_, err) = decode(bytes);
        let err = err.unwrap_or_else(|| panic!("{rel}: a cut trace must report an error"));
        assert_eq!(err.kind, ErrorKind::Truncated, "{rel}: {err}");
        let kept_spans = GenerationIndex::scan(bytes, version).generations;
        // From Go 1.26 the cut generation is dropped; before, it is kept as far as it was read.
        let (n, kept) = if version >= Version::Go126 {
            (3, complete[1].end_offset)
        } else {
            (3, kept_spans.last().expect("kept").end_offset)
        };
        let want = format!("trace truncated at byte {cut}: generation {n} incomplete");
        assert!(err.message.starts_with(&want), "{rel}: {}", err.message);
        let pct = kept as f64 * 100.0 / cut as f64;
        assert!(err.message.contains(&format!("kept {kept} of {cut} bytes ({pct:.1}%)")), "{rel}: {}", err.message);
    }
}

#[test]
fn complete_generations_survive_any_cut_after_them() {
    let full = trace("go1.27/timers.trace");
    let version = Version::from_header(&full).expect("header");
    let gens = GenerationIndex::scan(&full, version).generations;
    let (all, _) = decode(&full);
    // Events of the first two generations, Sync events included.
    let first_two = {
        let end = gens[1].end_offset as usize;
        decode(&full[..end]).0
    };
    assert!(first_two < all);
    for cut in (gens[1].end_offset as usize + 1..full.len()).step_by(97) {
        let (n, err) = decode(&full[..cut]);
        if err.is_some() {
            // Every event of the complete generations, plus the closing Sync.
            assert!(n >= first_two, "cut at {cut}: kept {n} events, need {first_two}");
        }
    }
}

/// Where `rel`'s last generation has its frequency batch, which Go 1.22-1.24
/// wrote after some of this trace's event batches.
fn frequency_offset(full: &[u8], version: Version) -> usize {
    let gens = GenerationIndex::scan(full, version).generations;
    let last = gens.last().expect("a generation");
    let freq = last.batches.iter().find(|b| b.is_sync(version >= Version::Go125)).expect("a frequency batch");
    assert!(freq.offset > last.start_offset, "the frequency is not the generation's first batch");
    freq.offset as usize
}

#[test]
fn a_cut_before_the_frequency_at_a_batch_boundary_is_a_truncation() {
    // A file cut at a batch boundary reads cleanly up to the cut; Go calls
    // it a generation without a frequency, as if the file were corrupt.
    for rel in ["go1.22/cgocallback.trace", "go1.23/cgocallback.trace"] {
        let full = trace(rel);
        let version = Version::from_header(&full).expect("header");
        let cut = frequency_offset(&full, version);
        let (events, err) = decode(&full[..cut]);
        let err = err.unwrap_or_else(|| panic!("{rel}: a cut trace must report an error"));
        // Only the Sync that opens the generation, as Go prints it.
        assert_eq!((events, err.kind), (1, ErrorKind::Truncated), "{rel}: {err}");
        let want = format!(
            "trace truncated at byte {cut}: generation 1 incomplete (the file ends before the generation's \
             frequency event)"
        );
        assert!(err.message.starts_with(&want), "{rel}: {}", err.message);
        assert!(err.message.ends_with("no frequency event found"), "{rel}: {}", err.message);
    }
}
