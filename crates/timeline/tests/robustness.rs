//! The timeline build on damaged traces: cut anywhere or with bytes
//! flipped, it never panics, says what went wrong, and keeps what decoded.

use std::path::Path;

use timeline::{BuildError, Mode, Progress, Timeline};

/// Everything, thread tracks included, so every path of the build meets
/// the damage.
fn build(bytes: &[u8], progress: &Progress) -> Result<Timeline, BuildError> {
    timeline::build_all(bytes, progress, Mode::Parallel)
}

fn traces() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    ["go1.27/multigen.trace", "go1.27/timers.trace", "go1.22/chan.trace", "go1.21/chan.trace", "go1.19/sync.trace"]
        .iter()
        .map(|p| (p.to_string(), std::fs::read(root.join(p)).unwrap()))
        .collect()
}

fn events(tl: &Result<Timeline, timeline::BuildError>) -> u64 {
    tl.as_ref().map_or(0, |t| t.event_count)
}

#[test]
fn cut_traces_build_a_prefix_and_say_why() {
    for (name, bytes) in traces() {
        let full = build(&bytes, &Progress::default()).unwrap();
        assert!(full.error.is_none());
        let mut kept_some = 0;
        for k in 1..40 {
            let cut = bytes.len() * k / 40;
            let tl = build(&bytes[..cut], &Progress::default());
            match &tl {
                Ok(t) => {
                    assert!(t.error.is_some(), "{name} cut at {cut}: no error reported");
                    assert!(t.event_count <= full.event_count, "{name} cut at {cut}");
                    assert!(t.goroutines.len() <= full.goroutines.len() + 1);
                    if t.event_count > 0 {
                        kept_some += 1;
                    }
                }
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        // v2 traces with several generations keep the complete ones.
        if name.contains("multigen") || name.contains("timers") {
            assert!(kept_some > 10, "{name}: only {kept_some} cuts kept events");
        }
        // Losing the last byte costs the last generation only (a trace of
        // one generation loses everything, as with Go's reader).
        if name.contains("multigen") || name.contains("timers") {
            let last = build(&bytes[..bytes.len() - 1], &Progress::default());
            assert!(events(&last) > 0, "{name}");
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    for (name, bytes) in traces() {
        for k in 0..60 {
            let mut b = bytes.clone();
            let at = 16 + (k * 7919) % (b.len() - 16);
            b[at] ^= 1 << (k % 8);
            let tl = build(&b, &Progress::default());
            if let Ok(t) = &tl {
                // Whatever was built is usable by the viewer's queries.
                let view =
                    timeline::View { start_ns: t.start_ns, end_ns: t.end_ns.max(t.start_ns + 1), width_px: 500.0 };
                for g in t.goroutines.iter().take(50) {
                    let _ = timeline::plan_track(&g.track, view, 1.0);
                }
            }
            let _ = name;
        }
    }
}

#[test]
fn cancel_stops_the_build() {
    let (_, bytes) = traces().remove(0);
    let progress = Progress::default();
    progress.cancel();
    assert!(matches!(build(&bytes, &progress), Err(timeline::BuildError::Cancelled)));
}

/// Inputs that once crashed the fuzzer's `timeline_build` target.
#[test]
fn fuzz_regressions_build_without_panicking() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(&path).unwrap();
            if let Ok(t) = build(&bytes, &Progress::default()) {
                let view =
                    timeline::View { start_ns: t.start_ns, end_ns: t.end_ns.max(t.start_ns + 1), width_px: 300.0 };
                for g in &t.goroutines {
                    let _ = timeline::plan_track(&g.track, view, 1.0);
                }
                for p in &t.procs {
                    let _ = timeline::plan_track(&p.track, view, 1.0);
                }
            }
            n += 1;
        }
    }
    assert!(n >= 2, "{n} regression inputs");
}

#[test]
fn a_cut_before_the_frequency_is_reported_as_a_truncation() {
    // Go 1.22 wrote this trace's frequency after some of its event batches:
    // cut at a batch boundary before it, the file reads cleanly to its end.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let full = std::fs::read(root.join("go1.22/cgocallback.trace")).unwrap();
    let version = trace_core::Version::from_header(&full).unwrap();
    let gens = trace_core::GenerationIndex::scan(&full, version).generations;
    let freq = gens[0].batches.iter().find(|b| b.is_sync(false)).unwrap().offset as usize;
    assert!(freq > gens[0].start_offset as usize);
    let err = match build(&full[..freq], &Progress::default()) {
        Ok(t) => t.error.expect("an error"),
        Err(BuildError::Decode(e)) => e,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(err.kind, trace_core::ErrorKind::Truncated, "{err}");
    assert!(err.message.contains("ends before the generation's frequency event"), "{err}");
}
