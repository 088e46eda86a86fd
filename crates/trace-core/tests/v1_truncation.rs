//! A truncated v1 trace yields what can be ordered before the cut, then the
//! error (issue 7). Go yields nothing for such a trace.
//!
//! A v1 trace writes its tick frequency and stack table at the very end,
//! so a cut trace normally has neither: times stay in ticks and events
//! have no stacks. Each yielded event is therefore compared with the full
//! trace's events by its first line with `Time=` removed: every one must
//! occur in the full decode (as a multiset: no more often than there).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use trace_core::{ErrorKind, Reader, gofmt};

fn v1_traces() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces");
    let mut out = Vec::new();
    for dir in ["go1.19", "go1.21"] {
        for f in std::fs::read_dir(root.join(dir)).expect("v1 trace dir").flatten() {
            if f.path().extension().is_some_and(|e| e == "trace") {
                out.push(f.path());
            }
        }
    }
    out.sort();
    assert!(out.len() >= 20, "expected the committed v1 traces, found {}", out.len());
    out
}

/// First line of each event with `Time=` removed, and the error, if any.
fn decode(bytes: &[u8]) -> (Vec<String>, Option<trace_core::Error>) {
    let mut out = Vec::new();
    let mut reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                let mut buf = Vec::new();
                gofmt::write_event_bytes(&mut buf, &ev, &reader.context());
                let text = String::from_utf8_lossy(&buf);
                let first = text.lines().next().unwrap_or_default();
                out.push(strip_time(first));
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn strip_time(line: &str) -> String {
    let Some(at) = line.find(" Time=") else { return line.to_owned() };
    let rest = &line[at + " Time=".len()..];
    let end = rest.find(' ').unwrap_or(rest.len());
    format!("{}{}", &line[..at], &rest[end..])
}

#[test]
fn truncated_v1_traces_keep_what_can_be_ordered() {
    for path in v1_traces() {
        let name = format!(
            "{}/{}",
            path.parent().and_then(|d| d.file_name()).unwrap_or_default().to_string_lossy(),
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let full = std::fs::read(&path).expect("trace");
        let (all, err) = decode(&full);
        // A trace Go refuses is read whole all the same (`v1_refused.rs`);
        // cut between two of its footer's events, it still looks whole.
        let refused = err.as_ref().is_some_and(|e| e.kind == ErrorKind::Inconsistent);
        assert!(err.is_none() || refused, "{name}: full trace fails: {err:?}");
        let mut budget: HashMap<&str, usize> = HashMap::new();
        for l in all.iter().filter(|l| !l.contains(" Sync ")) {
            *budget.entry(l.as_str()).or_default() += 1;
        }
        for pct in [25, 50, 75] {
            let cut = full.len() * pct / 100;
            let (got, err) = decode(&full[..cut]);
            let err = err.unwrap_or_else(|| panic!("{name} cut at {pct}%: no error"));
            let kinds: &[ErrorKind] = match refused {
                true => &[ErrorKind::Truncated, ErrorKind::Corrupt, ErrorKind::Inconsistent],
                false => &[ErrorKind::Truncated, ErrorKind::Corrupt],
            };
            assert!(kinds.contains(&err.kind), "{name} at {pct}%: {err}");
            let mut left = budget.clone();
            for l in got.iter().filter(|l| !l.contains(" Sync ")) {
                let n = left.get_mut(l.as_str()).unwrap_or_else(|| panic!("{name} at {pct}%: {l:?} not in full trace"));
                assert!(*n > 0, "{name} at {pct}%: {l:?} more often than in the full trace");
                *n -= 1;
            }
            if !got.is_empty() {
                assert!(got.first().is_some_and(|l| l.contains(" Sync ")), "{name} at {pct}%: no first Sync");
                assert!(got.last().is_some_and(|l| l.contains(" Sync ")), "{name} at {pct}%: no final Sync");
                assert!(
                    err.kind == ErrorKind::Inconsistent || err.message.contains("kept the "),
                    "{name} at {pct}%: {err}"
                );
            }
            eprintln!("{name} cut at {pct}%: {} of {} events, {err}", got.len(), all.len());
            let big = ["chan.trace", "manyg.trace", "net.trace"].iter().any(|b| name.ends_with(b));
            if pct == 75 && big {
                assert!(got.len() > 2, "{name} at 75%: nothing kept");
            }
        }
    }
}

#[test]
fn cut_and_damaged_v1_traces_never_panic() {
    for p in v1_traces() {
        let bytes = std::fs::read(&p).expect("trace");
        let step = (bytes.len() / 97).max(1);
        for cut in (16..bytes.len()).step_by(step) {
            // Some cuts still decode (Go accepts them too when the frequency
            // event came early); only panics are failures here.
            let _ = decode(&bytes[..cut]);
        }
        for at in (16..bytes.len()).step_by(step) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xa5;
            let _ = decode(&damaged);
        }
    }
}

#[test]
fn header_only_v1_trace_is_an_error() {
    let (out, err) = decode(b"go 1.19 trace\0\0\0");
    assert!(out.is_empty());
    assert!(err.is_some());
}
