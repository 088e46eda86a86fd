//! Every committed trace, v1 (Go 1.19, 1.21) and v2 (Go 1.22-1.27),
//! decodes to exactly the text Go's own parser prints for it
//! (`go tool trace -d=parsed`, Go 1.27.3), kept gzipped next to the trace as
//! `NAME.parsed.txt.gz`.

use std::io::Read;
use std::path::{Path, PathBuf};

use trace_core::{Reader, gofmt};

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces")
}

/// All `*.trace` files with an oracle from Go `min_minor` on.
fn traces_from(min_minor: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(traces_dir()) else { return out };
    for dir in dirs.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let minor: u32 = name.strip_prefix("go1.").and_then(|m| m.parse().ok()).unwrap_or(0);
        if minor < min_minor {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).into_iter().flatten().flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "trace") && oracle_path(&p).exists() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn oracle_path(trace: &Path) -> PathBuf {
    trace.with_extension("parsed.txt.gz")
}

fn read_oracle(trace: &Path) -> String {
    let gz = std::fs::read(oracle_path(trace)).expect("oracle readable");
    let mut s = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut s).expect("oracle is gzip text");
    s
}

/// Decodes `bytes` into Go's text; returns the text and the error, if any.
pub fn dump(bytes: &[u8]) -> (String, Option<trace_core::Error>) {
    let (out, err) = dump_bytes(bytes);
    (String::from_utf8(out).expect("committed traces have UTF-8 names"), err)
}

/// Decodes `bytes` into Go's text, byte for byte.
pub fn dump_bytes(bytes: &[u8]) -> (Vec<u8>, Option<trace_core::Error>) {
    let mut out = Vec::new();
    let mut reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                gofmt::write_event_bytes(&mut out, &ev, &reader.context());
                out.push(b'\n');
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  ours:   {x}\n  oracle: {y}", i + 1);
        }
    }
    format!("lengths differ: ours {} lines, oracle {} lines", a.lines().count(), b.lines().count())
}

#[test]
fn dump_matches_go_oracle_for_every_committed_trace() {
    let traces = traces_from(0);
    assert!(traces.len() >= 90, "expected the committed traces, found {}", traces.len());
    let mut failures = Vec::new();
    for t in &traces {
        let bytes = std::fs::read(t).expect("trace readable");
        let (ours, err) = dump(&bytes);
        let oracle = read_oracle(t);
        let go_failed = t.with_extension("parsed.err").exists();
        if go_failed && err.as_ref().is_some_and(|e| e.kind == trace_core::ErrorKind::Inconsistent) {
            // Go refuses it and prints nothing; gotv shows it whole, saying
            // so (checked on its own in `v1_refused.rs`).
            continue;
        }
        if ours != oracle {
            failures.push(format!("{}: {}", t.display(), first_difference(&ours, &oracle)));
        } else if err.is_some() != go_failed {
            failures.push(format!("{}: error verdict differs: ours {err:?}, Go failed: {go_failed}", t.display()));
        }
    }
    assert!(failures.is_empty(), "{} of {} traces differ:\n{}", failures.len(), traces.len(), failures.join("\n"));
}

#[test]
fn every_format_version_is_covered() {
    let traces = traces_from(0);
    let mut headers: Vec<Vec<u8>> = traces.iter().map(|t| std::fs::read(t).expect("readable")[..16].to_vec()).collect();
    headers.sort();
    headers.dedup();
    let all = [
        &b"go 1.19 trace"[..],
        b"go 1.21 trace",
        b"go 1.22 trace",
        b"go 1.23 trace",
        b"go 1.25 trace",
        b"go 1.26 trace",
    ];
    for want in all {
        assert!(
            headers.iter().any(|h| h.starts_with(want)),
            "no committed trace with header {:?}",
            String::from_utf8_lossy(want)
        );
    }
}

/// `Event::goroutine_states` (the cheap form) gives, for every event of
/// every committed trace, the states `Event::state_transition` gives, and
/// nothing for other events.
#[test]
fn goroutine_states_equal_those_of_the_state_transition() {
    let mut seen = std::collections::BTreeMap::<u8, usize>::new();
    for trace in traces_from(0) {
        let bytes = std::fs::read(&trace).unwrap();
        let mut reader = Reader::new(&bytes).unwrap();
        while let Ok(Some(e)) = reader.next_event() {
            let want = e.state_transition().and_then(|st| st.goroutine()).map(|(_, from, to)| (from, to));
            assert_eq!(e.goroutine_states(), want, "{}: {e:?}", trace.display());
            if want.is_some() {
                *seen.entry(e.typ).or_default() += 1;
            }
        }
    }
    assert!(seen.len() >= 12, "goroutine event types seen: {seen:?}");
}
