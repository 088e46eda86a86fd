//! v1 traces (Go 1.11-1.21) decode to exactly the text Go 1.27.3 prints for
//! them with `go tool trace -d=parsed`, kept gzipped next to each trace as
//! `NAME.parsed.txt.gz`.

use std::io::Read;
use std::path::{Path, PathBuf};

use trace_core::{ErrorKind, Reader, gofmt};

/// Oracles that do not match yet, by "go1.NN/name". Empty: every committed
/// v1 trace matches. A name listed here is skipped; every other one must
/// match, so a regression fails the test.
const KNOWN_MISMATCHES: &[&str] = &[];

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces")
}

fn v1_traces() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["go1.19", "go1.21"] {
        let Ok(entries) = std::fs::read_dir(traces_dir().join(dir)) else { continue };
        for f in entries.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|e| e == "trace") && p.with_extension("parsed.txt.gz").exists() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn label(p: &Path) -> String {
    let dir = p.parent().and_then(|d| d.file_name()).unwrap().to_string_lossy();
    let name = p.file_stem().unwrap().to_string_lossy();
    format!("{dir}/{name}")
}

fn read_oracle(trace: &Path) -> Vec<u8> {
    let gz = std::fs::read(trace.with_extension("parsed.txt.gz")).unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
    out
}

/// Decodes `bytes` into Go's text; also returns the error, if any.
fn dump(bytes: &[u8]) -> (Vec<u8>, Option<trace_core::Error>) {
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

/// The first differing line of two outputs, for failure messages.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
        if a != b {
            return format!("line {}:\n  want: {a}\n  got:  {b}", i + 1);
        }
    }
    format!("lengths differ: want {} lines, got {} lines", w.lines().count(), g.lines().count())
}

#[test]
fn v1_traces_match_go_oracles() {
    let traces = v1_traces();
    assert!(!traces.is_empty(), "no v1 traces found under {}", traces_dir().display());
    let mut matched = 0;
    let mut failures = Vec::new();
    for p in &traces {
        let name = label(p);
        let bytes = std::fs::read(p).unwrap();
        let (got, err) = dump(&bytes);
        let want = read_oracle(p);
        let ok = err.is_none() && got == want;
        if ok {
            matched += 1;
        }
        if KNOWN_MISMATCHES.contains(&name.as_str()) {
            continue;
        }
        if !ok {
            let why = match err {
                Some(e) => format!("error: {e}"),
                None => first_difference(&want, &got),
            };
            failures.push(format!("{name}: {why}"));
        }
    }
    eprintln!("v1 oracle matches: {matched}/{}", traces.len());
    assert!(failures.is_empty(), "{} v1 trace(s) differ from Go:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn truncated_v1_trace_is_an_error() {
    let path = traces_dir().join("go1.21/chan.trace");
    let bytes = std::fs::read(&path).unwrap();
    // The frequency and stack table come last, so any cut loses them.
    let (_, err) = dump(&bytes[..bytes.len() / 2]);
    let err = err.expect("a trace cut in half must fail");
    assert!(matches!(err.kind, ErrorKind::Truncated | ErrorKind::Corrupt | ErrorKind::Invalid), "{err:?}");
}

#[test]
fn cut_and_damaged_v1_traces_never_panic() {
    for p in v1_traces() {
        let bytes = std::fs::read(&p).unwrap();
        let step = (bytes.len() / 97).max(1);
        for cut in (16..bytes.len()).step_by(step) {
            // Some cuts still decode (Go accepts them too when the frequency
            // event came early); only panics are failures here.
            let _ = dump(&bytes[..cut]);
        }
        for at in (16..bytes.len()).step_by(step) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0xa5;
            let _ = dump(&damaged);
        }
    }
}

#[test]
fn header_only_v1_trace_is_an_error() {
    let (out, err) = dump(b"go 1.19 trace\0\0\0");
    assert!(out.is_empty());
    assert!(err.is_some());
}
