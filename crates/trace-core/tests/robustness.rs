//! Robustness of the decoder against truncated, corrupted and hostile input.
//!
//! 1. **Prefixes.** Every committed v2 trace is cut at a deterministic
//!    sample of points (every byte of the header and the first 64 bytes
//!    after it, ~200 evenly spaced points, and the bytes around every batch
//!    boundary). Decoding a prefix must not panic, must end, and must yield
//!    a prefix of the full trace's formatted events (all but a final Sync,
//!    which the reader synthesises at the end or before an error). An error
//!    must point inside the prefix and say something. A prefix that ends
//!    exactly at a generation boundary keeps every complete generation.
//!
//!    Before Go 1.26 a generation cut short is still decoded, as Go does,
//!    and its events depend on which batches made it into the prefix; for
//!    it the test only requires the same opening Sync (but for its time)
//!    and events that the full generation has too. See [`check_prefix`].
//! 2. **Corruption** (proptest). Real traces with a few bytes flipped,
//!    overwritten, inserted or deleted, random bytes behind a valid header,
//!    and random but well-framed batches must decode to the end without a
//!    panic and within a time limit.
//! 3. **Hostile inputs** made by hand (absurd sizes, generation 0, huge
//!    stacks and strings, foreign files) must be rejected with a fitting
//!    error kind and message.
//!
//! `PROPTEST_CASES=N` runs more cases per property (default 256);
//! `PROPTEST_RNG_SEED=N` replays a run. With `GOTV_ROBUSTNESS_SAVE=DIR` an
//! input that makes the decoder panic or hang is written to `DIR`; keep
//! such inputs in `testdata/fuzz-regressions/` (they are replayed by
//! `fuzz_regressions_decode_without_panic`).

use std::collections::{BTreeSet, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;
use trace_core::spec::{self, ev};
use trace_core::version::HEADER_LEN;
use trace_core::{Error, ErrorKind, EventKind, GenerationIndex, Reader, Version, gofmt};

/// How long one decode of a (corrupted) trace may take before it counts as a hang.
const DECODE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the whole prefix sweep may take before it counts as a hang.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------
// Committed traces and their full decodes.

struct Trace {
    /// `go1.XX/name`.
    name: String,
    bytes: Vec<u8>,
    version: Version,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every committed v2 trace (go1.22 .. go1.27), sorted by name.
fn traces() -> &'static [Trace] {
    static TRACES: OnceLock<Vec<Trace>> = OnceLock::new();
    TRACES.get_or_init(|| {
        let mut out = Vec::new();
        let dir = repo_root().join("testdata/traces");
        for sub in std::fs::read_dir(&dir).expect("testdata/traces readable").flatten() {
            let dir_name = sub.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(sub.path()).into_iter().flatten().flatten() {
                let p = f.path();
                if p.extension().is_none_or(|e| e != "trace") {
                    continue;
                }
                let bytes = std::fs::read(&p).expect("trace readable");
                let Ok(version) = Version::from_header(&bytes) else { continue };
                if version.is_v1() {
                    continue;
                }
                let stem = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                out.push(Trace { name: format!("{dir_name}/{stem}"), bytes, version });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(out.len() >= 60, "expected the committed v2 traces, found {}", out.len());
        out
    })
}

/// The full decode of each trace in [`traces`], same order.
fn full_decodes() -> &'static [Decoded] {
    static FULL: OnceLock<Vec<Decoded>> = OnceLock::new();
    FULL.get_or_init(|| {
        traces()
            .iter()
            .map(|t| {
                let d = decode(&t.bytes, usize::MAX, None);
                assert!(d.err.is_none(), "{}: the full trace fails to decode: {:?}", t.name, d.err);
                assert!(d.stopped.is_none(), "{}: {:?}", t.name, d.stopped);
                assert_eq!(d.kinds.first(), Some(&EventKind::Sync), "{}: first event is not a Sync", t.name);
                assert_eq!(d.kinds.last(), Some(&EventKind::Sync), "{}: last event is not a Sync", t.name);
                d
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------
// Decoding helpers.

/// The formatted events of a decode and how it ended.
#[derive(Debug, Default)]
struct Decoded {
    /// Each event as Go's parser prints it.
    lines: Vec<String>,
    /// The kind of each event.
    kinds: Vec<EventKind>,
    /// The error that ended decoding, from `Reader::new` or `next_event`.
    err: Option<Error>,
    /// Why decoding was abandoned early, if it was.
    stopped: Option<String>,
    /// Whether `next_event` kept returning `Ok(None)` after the end.
    fused: bool,
}

/// Decodes `bytes` to the end, formatting every event.
///
/// Gives up after `cap` events. With `expect`, gives up as soon as an event
/// other than the last one read differs from `expect` (the last one may be
/// the reader's final Sync, which is allowed to differ).
fn decode(bytes: &[u8], cap: usize, expect: Option<&[String]>) -> Decoded {
    let mut d = Decoded::default();
    let mut reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(e) => {
            d.err = Some(e);
            d.fused = true;
            return d;
        }
    };
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                if let (Some(expect), Some(i)) = (expect, d.lines.len().checked_sub(1))
                    && expect.get(i) != d.lines.get(i)
                {
                    d.stopped = Some(format!("event {i} differs from the full trace's"));
                    return d;
                }
                if d.lines.len() >= cap {
                    d.stopped = Some(format!("more than {cap} events"));
                    return d;
                }
                let mut line = String::new();
                gofmt::write_event(&mut line, &ev, &reader.context());
                d.lines.push(line);
                d.kinds.push(ev.kind());
            }
            Ok(None) => break,
            Err(e) => {
                d.err = Some(e);
                break;
            }
        }
    }
    d.fused = matches!(reader.next_event(), Ok(None)) && matches!(reader.next_event(), Ok(None));
    d
}

/// Whether two formatted events are the same, except that Sync events may
/// differ in their time (see [`check_prefix`]).
fn same_event(got: &str, want: &str) -> bool {
    got == want || (is_sync_line(got) && is_sync_line(want) && without_time(got) == without_time(want))
}

fn is_sync_line(line: &str) -> bool {
    line.starts_with("M=-1 P=-1 G=-1 Sync Time=")
}

/// The line without its `Time=` field.
fn without_time(line: &str) -> String {
    line.split(' ').filter(|f| !f.starts_with("Time=")).collect::<Vec<_>>().join(" ")
}

/// An upper bound on the number of events `len` bytes can produce: a wire
/// event takes at least two bytes and expands to at most three events.
fn event_cap(len: usize) -> usize {
    4 * len + 64
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".into()
    }
}

/// Runs `f` on its own thread; a panic or exceeding `timeout` is an `Err`.
/// (A timed-out thread is left running; the test fails anyway.)
fn run_with_timeout<T: Send + 'static>(timeout: Duration, f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("robustness-decode".into())
        .spawn(move || {
            let r = catch_unwind(AssertUnwindSafe(f)).map_err(|p| format!("panicked: {}", panic_message(&*p)));
            let _ = tx.send(r);
        })
        .expect("spawn decode thread");
    match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("did not finish within {timeout:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("decode thread died".into()),
    }
}

/// Decodes an arbitrary input fully on a separate thread with a time limit
/// and checks that it ends properly; returns the decode for more checks.
fn decode_hostile(bytes: Vec<u8>) -> Result<Decoded, String> {
    let len = bytes.len();
    let result = run_with_timeout(DECODE_TIMEOUT, move || decode(&bytes, event_cap(len), None));
    let d = result?;
    if let Some(why) = &d.stopped {
        return Err(format!("runaway decode: {why}"));
    }
    if !d.fused {
        return Err("next_event returned something after the end or an error".into());
    }
    if let Some(e) = &d.err {
        check_error(e, len)?;
    }
    Ok(d)
}

/// Every error must point into the input and say something.
fn check_error(e: &Error, len: usize) -> Result<(), String> {
    if e.offset > len as u64 {
        return Err(format!("error offset {} is past the end of the {len}-byte input: {e}", e.offset));
    }
    if e.message.trim().is_empty() || e.what.is_empty() {
        return Err(format!("error without a message or subject: {e:?}"));
    }
    if e.to_string().is_empty() {
        return Err(format!("error displays as nothing: {e:?}"));
    }
    Ok(())
}

/// Writes a failing input to `$GOTV_ROBUSTNESS_SAVE`, if set; returns where.
fn save_failure(tag: &str, bytes: &[u8]) -> String {
    let Some(dir) = std::env::var_os("GOTV_ROBUSTNESS_SAVE") else {
        return "set GOTV_ROBUSTNESS_SAVE=DIR to save the input".into();
    };
    let dir = PathBuf::from(dir);
    let _ = std::fs::create_dir_all(&dir);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{tag}-{h:016x}.bin"));
    match std::fs::write(&path, bytes) {
        Ok(()) => format!("input saved to {}", path.display()),
        Err(e) => format!("could not save the input to {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------
// 1. Prefixes.

/// The byte range of every batch of a trace (and, from Go 1.26, of every
/// one-byte end-of-generation marker). A prefix ending strictly inside one
/// of them must fail.
fn batch_ranges(t: &Trace) -> Vec<(usize, usize)> {
    let index = GenerationIndex::scan(&t.bytes, t.version);
    assert!(index.tail_error.is_none(), "{}: scan error {:?}", t.name, index.tail_error);
    let mut out = Vec::new();
    for g in &index.generations {
        for b in &g.batches {
            out.push((b.offset as usize, (b.data_offset as usize) + b.data.len()));
        }
        if t.version >= Version::Go126 {
            // The one-byte end-of-generation marker.
            out.push((g.end_offset as usize - 1, g.end_offset as usize));
        }
    }
    out
}

/// The deterministic sample of cut points for one trace.
fn cut_points(t: &Trace, batches: &[(usize, usize)]) -> BTreeSet<usize> {
    let len = t.bytes.len();
    let mut cuts: BTreeSet<usize> = (0..=(HEADER_LEN + 64).min(len)).collect();
    const EVEN: usize = 200;
    for i in 0..=EVEN {
        cuts.insert(HEADER_LEN + (len - HEADER_LEN) * i / EVEN);
    }
    for &(start, end) in batches {
        for at in [start, end] {
            cuts.extend([at.saturating_sub(1), at, at + 1]);
        }
    }
    cuts.retain(|&c| c <= len);
    cuts
}

/// Whether a cut at `cut` falls strictly inside the header or a batch.
fn cuts_a_batch(cut: usize, batches: &[(usize, usize)]) -> bool {
    cut < HEADER_LEN || batches.iter().any(|&(s, e)| s < cut && cut < e)
}

/// What prefixes of one trace are compared against.
struct Reference<'a> {
    full: &'a Decoded,
    /// Index in `full` of each Sync: one per generation, then the final one.
    syncs: Vec<usize>,
    /// File offset where each generation ends.
    generation_ends: Vec<usize>,
    /// The lines of each generation's events (its Sync excluded).
    generation_lines: Vec<HashSet<&'a str>>,
}

impl<'a> Reference<'a> {
    fn new(t: &Trace, full: &'a Decoded) -> Self {
        let index = GenerationIndex::scan(&t.bytes, t.version);
        let syncs: Vec<usize> = (0..full.kinds.len()).filter(|&i| full.kinds[i] == EventKind::Sync).collect();
        assert_eq!(syncs.len(), index.generations.len() + 1, "{}: one Sync per generation plus one", t.name);
        let generation_lines =
            syncs.windows(2).map(|w| full.lines[w[0] + 1..w[1]].iter().map(String::as_str).collect()).collect();
        let generation_ends = index.generations.iter().map(|g| g.end_offset as usize).collect();
        Reference { full, syncs, generation_ends, generation_lines }
    }
}

/// Checks the prefix property for one cut; `Err` describes a violation.
fn check_prefix(t: &Trace, r: &Reference<'_>, batches: &[(usize, usize)], cut: usize) -> Result<(), String> {
    let full = r.full;
    let prefix = &t.bytes[..cut];
    // From Go 1.26 a generation is dropped unless complete, so the prefix's
    // events must be exactly the full trace's, and decoding can stop at the
    // first difference.
    let strict = t.version >= Version::Go126;
    let expect = strict.then_some(&full.lines[..]);
    let d = catch_unwind(AssertUnwindSafe(|| decode(prefix, full.lines.len() + 1, expect)))
        .map_err(|p| format!("panicked: {}", panic_message(&*p)))?;
    if let Some(why) = &d.stopped {
        let i = d.lines.len().saturating_sub(1);
        return Err(format!(
            "{why}\n    prefix: {}\n    full:   {}",
            d.lines.get(i).map_or("-", |s| s),
            full.lines.get(i).map_or("-", |s| s)
        ));
    }
    if !d.fused {
        return Err("next_event returned something after the end or an error".into());
    }
    // The reader's final Sync (at the end, or before an error) is its own.
    let mut n = d.lines.len();
    if d.kinds.last() == Some(&EventKind::Sync) {
        n -= 1;
    }
    if n > full.lines.len() {
        return Err(format!("the prefix has {n} events, more than the full trace's {}", full.lines.len()));
    }
    // Before Go 1.26, a generation cut short is still decoded (Go keeps what
    // it read before a read error), so what it yields depends on which
    // batches made it into the prefix: its Sync carries the earliest time
    // among the batches present (Go: `freq.mul(gen.minTs)`), and with some
    // M's batches missing the merge order and the validation differ (Go
    // fails the same way, e.g. "failed to advance"). So only the complete
    // generations must match exactly; the partial one must open with the
    // same Sync but for its time, and hold only events of that generation.
    let complete = r.generation_ends.iter().filter(|&&end| end <= cut).count();
    let exact = if strict { n } else { n.min(r.syncs[complete]) };
    if let Some(i) = (0..exact).find(|&i| d.lines[i] != full.lines[i]) {
        return Err(format!(
            "event {i} of {n} differs from the full trace's:\n    prefix: {}\n    full:   {}",
            d.lines[i], full.lines[i]
        ));
    }
    if exact < n {
        if !same_event(&d.lines[exact], &full.lines[exact]) {
            return Err(format!(
                "the partial generation opens differently:\n    prefix: {}\n    full:   {}",
                d.lines[exact], full.lines[exact]
            ));
        }
        let lines = &r.generation_lines[complete];
        if let Some(i) = (exact + 1..n).find(|&i| !lines.contains(d.lines[i].as_str())) {
            return Err(format!(
                "event {i} of the partial generation {} is not in that generation of the full trace:\n    {}",
                complete + 1,
                d.lines[i]
            ));
        }
    }
    if cut == t.bytes.len() {
        if d.err.is_some() || d.lines != full.lines {
            return Err(format!("the whole file decodes differently the second time: {:?}", d.err));
        }
        return Ok(());
    }
    match &d.err {
        Some(e) => {
            check_error(e, cut)?;
            if cut == 0 && e.kind != ErrorKind::NotATrace {
                return Err(format!("empty input: expected NotATrace, got {e:?}"));
            }
            if (1..HEADER_LEN).contains(&cut) && e.kind != ErrorKind::Truncated {
                return Err(format!("cut inside the header: expected Truncated, got {e:?}"));
            }
        }
        None if cuts_a_batch(cut, batches) => {
            return Err(format!("no error although the cut splits a batch ({n} events)"));
        }
        None => {}
    }
    Ok(())
}

/// All failures of the prefix property for one trace.
fn sweep_trace(i: usize) -> Vec<String> {
    let t = &traces()[i];
    let reference = Reference::new(t, &full_decodes()[i]);
    let batches = batch_ranges(t);
    let mut failures = Vec::new();
    for cut in cut_points(t, &batches) {
        if let Err(why) = check_prefix(t, &reference, &batches, cut) {
            failures.push(format!("{} cut at {cut} of {}: {why}", t.name, t.bytes.len()));
        }
    }
    failures
}

#[test]
fn prefixes_decode_to_a_prefix_of_the_full_trace() {
    let n = traces().len();
    full_decodes();
    let next = std::sync::Arc::new(AtomicUsize::new(0));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    let (tx, rx) = mpsc::channel::<(usize, Vec<String>)>();
    for _ in 0..workers {
        let (next, tx) = (next.clone(), tx.clone());
        std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let failures = catch_unwind(|| sweep_trace(i)).unwrap_or_else(|p| {
                    vec![format!("{}: the sweep itself panicked: {}", traces()[i].name, panic_message(&*p))]
                });
                if tx.send((i, failures)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + SWEEP_TIMEOUT;
    let mut done = vec![false; n];
    let mut failures = Vec::new();
    while done.iter().any(|d| !d) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, f)) => {
                done[i] = true;
                failures.extend(f);
            }
            Err(e) => {
                let pending: Vec<&str> = (0..n).filter(|&i| !done[i]).map(|i| traces()[i].name.as_str()).collect();
                panic!("prefix sweep did not finish ({e:?}); hung or panicked on one of {pending:?}");
            }
        }
    }
    let shown: Vec<&String> = failures.iter().take(40).collect();
    assert!(failures.is_empty(), "{} prefix failures:\n{shown:#?}", failures.len());
}

#[test]
fn prefix_at_a_generation_boundary_keeps_complete_generations() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (t, full) in traces().iter().zip(full_decodes()) {
        let index = GenerationIndex::scan(&t.bytes, t.version);
        // Indices of the full trace's Sync events: one per generation, plus the final one.
        let syncs: Vec<usize> = (0..full.kinds.len()).filter(|&i| full.kinds[i] == EventKind::Sync).collect();
        assert_eq!(syncs.len(), index.generations.len() + 1, "{}: Sync count", t.name);
        for (k, g) in index.generations.iter().enumerate() {
            let cut = g.end_offset as usize;
            if t.version >= Version::Go126 {
                assert_eq!(t.bytes[cut - 1], ev::END_OF_GENERATION, "{}: no marker before {cut}", t.name);
            } else if let Some(next) = index.generations.get(k + 1) {
                assert_eq!(
                    cut as u64, next.start_offset,
                    "{}: generation {k} does not end where the next begins",
                    t.name
                );
            }
            // Everything up to (not including) the Sync that opens generation k + 1.
            let keep = syncs[k + 1];
            let d = decode(&t.bytes[..cut], full.lines.len() + 1, None);
            checked += 1;
            let ok = d.err.is_none()
                && d.stopped.is_none()
                && d.lines.len() == keep + 1
                && d.lines[..keep] == full.lines[..keep]
                && d.kinds[keep] == EventKind::Sync;
            if !ok {
                failures.push(format!(
                    "{} cut after generation {} at {cut}: {} events (want {keep} + final Sync), error {:?}, stopped {:?}",
                    t.name,
                    k + 1,
                    d.lines.len(),
                    d.err,
                    d.stopped
                ));
            }
            // From Go 1.26 a generation without its marker is dropped whole.
            if t.version >= Version::Go126 {
                let drop_from = syncs[k];
                let d = decode(&t.bytes[..cut - 1], full.lines.len() + 1, None);
                let ok = d.err.as_ref().is_some_and(|e| e.kind == ErrorKind::Truncated && e.offset <= cut as u64)
                    && d.lines.len() == drop_from + 1
                    && d.lines[..drop_from] == full.lines[..drop_from];
                if !ok {
                    failures.push(format!(
                        "{} cut just before the marker of generation {} at {}: {} events (want {drop_from} + final Sync), error {:?}",
                        t.name,
                        k + 1,
                        cut - 1,
                        d.lines.len(),
                        d.err
                    ));
                }
            }
        }
    }
    assert!(checked >= traces().len());
    assert!(failures.is_empty(), "{} failures:\n{failures:#?}", failures.len());
}

// ---------------------------------------------------------------------------
// 2. Corruption.

fn proptest_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig {
        cases,
        // Never write proptest-regressions/ files next to the tests; failing
        // inputs are kept by hand in testdata/fuzz-regressions/.
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip one bit of the byte at the position.
    Flip(Index, u8),
    /// Overwrite the byte at the position.
    Set(Index, u8),
}

#[derive(Clone, Debug)]
enum Splice {
    None,
    /// Insert a byte before the position.
    Insert(Index, u8),
    /// Delete the byte at the position.
    Delete(Index),
}

/// Bytes that mean something in the format, plus anything.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => any::<u8>(),
        1 => prop::sample::select(vec![
            0u8,
            1,
            0x7f,
            0x80,
            0xff,
            ev::EVENT_BATCH,
            ev::STRINGS,
            ev::STACKS,
            ev::EXPERIMENTAL_BATCH,
            ev::SYNC,
            ev::END_OF_GENERATION,
        ]),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), interesting_byte()).prop_map(|(at, b)| Mutation::Set(at, b)),
    ]
}

fn splice() -> impl Strategy<Value = Splice> {
    prop_oneof![
        2 => Just(Splice::None),
        1 => (any::<Index>(), interesting_byte()).prop_map(|(at, b)| Splice::Insert(at, b)),
        1 => any::<Index>().prop_map(Splice::Delete),
    ]
}

/// Applies the mutations to the bytes after the header.
fn corrupt(bytes: &[u8], mutations: &[Mutation], splice: &Splice) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let body = |at: &Index, len: usize| HEADER_LEN + at.index(len - HEADER_LEN);
    for m in mutations {
        match m {
            Mutation::Flip(at, bit) => {
                let i = body(at, out.len());
                out[i] ^= 1 << bit;
            }
            Mutation::Set(at, b) => {
                let i = body(at, out.len());
                out[i] = *b;
            }
        }
    }
    match splice {
        Splice::None => {}
        Splice::Insert(at, b) => {
            let i = body(at, out.len() + 1);
            out.insert(i, *b);
        }
        Splice::Delete(at) => {
            let i = body(at, out.len());
            out.remove(i);
        }
    }
    out
}

/// Asserts that `bytes` decodes without a panic, a hang or a runaway.
fn assert_survives(tag: &str, what: &str, bytes: Vec<u8>) -> Result<Decoded, TestCaseError> {
    let copy = bytes.clone();
    decode_hostile(bytes).map_err(|why| TestCaseError::fail(format!("{what}: {why} ({})", save_failure(tag, &copy))))
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn corrupted_traces_never_panic_or_hang(
        trace in any::<Index>(),
        mutations in prop::collection::vec(mutation(), 1..=8),
        splice in splice(),
    ) {
        let t = &traces()[trace.index(traces().len())];
        let bytes = corrupt(&t.bytes, &mutations, &splice);
        let what = format!("{} with {mutations:?} {splice:?}", t.name);
        assert_survives("corrupt", &what, bytes)?;
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        minor in prop::sample::select(vec![22u32, 23, 25, 26]),
        body in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = header(minor);
        bytes.extend_from_slice(&body);
        assert_survives("random", &format!("go 1.{minor}, {} random bytes", body.len()), bytes)?;
    }

    #[test]
    fn random_well_framed_batches_never_panic(
        minor in prop::sample::select(vec![22u32, 23, 25, 26]),
        generations in prop::collection::vec(prop::collection::vec(batch_spec(), 0..6), 1..=3),
        first_gen in prop_oneof![4 => Just(1u64), 1 => 0u64..4],
        with_sync in prop::bool::weighted(0.9),
    ) {
        let bytes = framed_trace(minor, first_gen, with_sync, &generations);
        assert_survives("framed", &format!("go 1.{minor}: {generations:?}"), bytes)?;
    }
}

// Building blocks for well-framed random traces and hand-made hostile ones.

fn header(minor: u32) -> Vec<u8> {
    let h = format!("go 1.{minor} trace\0\0\0").into_bytes();
    assert_eq!(h.len(), HEADER_LEN);
    h
}

fn push_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An EventBatch: type, generation, M, time, size, payload.
fn push_batch(out: &mut Vec<u8>, generation: u64, m: u64, time: u64, payload: &[u8]) {
    out.push(ev::EVENT_BATCH);
    push_uvarint(out, generation);
    push_uvarint(out, m);
    push_uvarint(out, time);
    push_uvarint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// The batch that carries the clock data: a lone Frequency event before Go
/// 1.25, a Sync batch with Frequency and ClockSnapshot from 1.25.
fn push_sync_batch(out: &mut Vec<u8>, minor: u32, generation: u64) {
    let mut p = Vec::new();
    if minor >= 25 {
        p.push(ev::SYNC);
    }
    p.push(ev::FREQUENCY);
    push_uvarint(&mut p, 1_000_000_000);
    if minor >= 25 {
        p.push(ev::CLOCK_SNAPSHOT);
        for v in [10, 1_000, 1_700_000_000, 5] {
            push_uvarint(&mut p, v);
        }
    }
    push_batch(out, generation, u64::MAX, 100, &p);
}

#[derive(Clone, Debug)]
enum BatchKind {
    Events,
    Strings,
    Stacks,
    CpuSamples,
    Experimental,
}

#[derive(Clone, Debug)]
struct BatchSpec {
    kind: BatchKind,
    m: u64,
    time: u64,
    /// For event batches: start with a ProcStatus and a GoStatus that give
    /// the M a running P and G, so that more of the events can happen.
    prelude: bool,
    /// (type, values): for event batches, the values follow the type byte as
    /// varints; for tables, they are turned into records of the table's shape.
    records: Vec<(u8, Vec<u64>)>,
}

/// Mostly small numbers, so that IDs and sequence numbers match up now and then.
fn value() -> impl Strategy<Value = u64> {
    prop_oneof![6 => 0u64..4, 3 => 0u64..40, 1 => any::<u64>()]
}

fn event_type() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => ev::PROCS_CHANGE..=ev::GO_STATUS_STACK,
        1 => ev::SPAN..=ev::GOROUTINE_STACK_FREE,
        1 => any::<u8>(),
    ]
}

fn batch_spec() -> impl Strategy<Value = BatchSpec> {
    let kind = prop_oneof![
        6 => Just(BatchKind::Events),
        1 => Just(BatchKind::Strings),
        1 => Just(BatchKind::Stacks),
        1 => Just(BatchKind::CpuSamples),
        1 => Just(BatchKind::Experimental),
    ];
    let record = (event_type(), prop::collection::vec(value(), 0..=6));
    (kind, 0u64..4, 0u64..1000, prop::bool::weighted(0.7), prop::collection::vec(record, 0..24))
        .prop_map(|(kind, m, time, prelude, records)| BatchSpec { kind, m, time, prelude, records })
}

/// The payload of one batch. Table IDs continue from `next_id` (kept per
/// generation and table), so they are mostly valid and distinct.
fn batch_payload(spec: &BatchSpec, next_id: &mut u64) -> Vec<u8> {
    let mut p = Vec::new();
    let arg = |vals: &[u64], i: usize| vals.get(i).copied().unwrap_or(0);
    // Now and then, an arbitrary ID.
    let mut id = |typ: u8, vals: &[u64]| {
        *next_id += 1;
        if typ > 240 { arg(vals, 0) } else { *next_id }
    };
    match spec.kind {
        BatchKind::Events | BatchKind::Experimental => {
            if spec.prelude && matches!(spec.kind, BatchKind::Events) {
                // ProcStatus(dt, p, Running), GoStatus(dt, g, m, Running).
                p.push(ev::PROC_STATUS);
                for v in [0, spec.m, 1] {
                    push_uvarint(&mut p, v);
                }
                p.push(ev::GO_STATUS);
                for v in [0, spec.m + 1, spec.m, 2] {
                    push_uvarint(&mut p, v);
                }
            }
            for (typ, vals) in &spec.records {
                p.push(*typ);
                // The number of values the format expects, or whatever we have.
                let n = spec::spec_of(*typ).filter(|s| s.timed).map_or(vals.len(), |s| s.args.len());
                for i in 0..n {
                    push_uvarint(&mut p, arg(vals, i));
                }
            }
        }
        BatchKind::Strings => {
            p.push(ev::STRINGS);
            for (typ, vals) in &spec.records {
                p.push(ev::STRING);
                push_uvarint(&mut p, id(*typ, vals));
                let s = format!("s{typ}");
                push_uvarint(&mut p, s.len() as u64);
                p.extend_from_slice(s.as_bytes());
            }
        }
        BatchKind::Stacks => {
            p.push(ev::STACKS);
            for (typ, vals) in &spec.records {
                p.push(ev::STACK);
                push_uvarint(&mut p, id(*typ, vals));
                let frames = vals.len().saturating_sub(1) / 2;
                push_uvarint(&mut p, frames as u64);
                for f in 0..frames {
                    for v in [arg(vals, 1 + 2 * f), 0, 0, arg(vals, 2 + 2 * f)] {
                        push_uvarint(&mut p, v);
                    }
                }
            }
        }
        BatchKind::CpuSamples => {
            p.push(ev::CPU_SAMPLES);
            for (_, vals) in &spec.records {
                p.push(ev::CPU_SAMPLE);
                for i in 0..5 {
                    push_uvarint(&mut p, arg(vals, i));
                }
            }
        }
    }
    p
}

/// A trace of well-framed batches with random contents.
fn framed_trace(minor: u32, first_gen: u64, with_sync: bool, generations: &[Vec<BatchSpec>]) -> Vec<u8> {
    let mut out = header(minor);
    for (i, batches) in generations.iter().enumerate() {
        let generation = first_gen + i as u64;
        if with_sync {
            push_sync_batch(&mut out, minor, generation);
        }
        let (mut strings, mut stacks, mut other) = (0, 0, 0);
        for b in batches {
            let next_id = match b.kind {
                BatchKind::Strings => &mut strings,
                BatchKind::Stacks => &mut stacks,
                _ => &mut other,
            };
            let payload = batch_payload(b, next_id);
            if matches!(b.kind, BatchKind::Experimental) {
                out.push(ev::EXPERIMENTAL_BATCH);
                out.push(1);
                push_uvarint(&mut out, generation);
                push_uvarint(&mut out, b.m);
                push_uvarint(&mut out, b.time);
                push_uvarint(&mut out, payload.len() as u64);
                out.extend_from_slice(&payload);
            } else {
                let m = if matches!(b.kind, BatchKind::Events) { b.m } else { u64::MAX };
                push_batch(&mut out, generation, m, b.time, &payload);
            }
        }
        if minor >= 26 {
            out.push(ev::END_OF_GENERATION);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// 3. Hostile inputs.

/// Decodes a hostile input and returns the error it must end with.
fn expect_error(what: &str, bytes: Vec<u8>) -> Error {
    let d = decode_hostile(bytes).unwrap_or_else(|why| panic!("{what}: {why}"));
    d.err.unwrap_or_else(|| panic!("{what}: decoded without an error: {:#?}", d.lines))
}

fn assert_error(what: &str, e: &Error, kind: ErrorKind, needle: &str) {
    assert_eq!(e.kind, kind, "{what}: wrong kind: {e:?}");
    assert!(e.message.contains(needle), "{what}: message {:?} does not mention {needle:?}", e.message);
}

/// The v2 header minors: one per wire-format version.
const MINORS: [u32; 4] = [22, 23, 25, 26];

#[test]
fn header_only_traces() {
    for minor in MINORS {
        let what = format!("go 1.{minor} header only");
        if minor >= 26 {
            // Go 1.26+ reads an empty body as a clean, empty trace
            // (readGeneration: "All done"; docs/format.md): one final Sync.
            let d = decode_hostile(header(minor)).unwrap_or_else(|why| panic!("{what}: {why}"));
            assert!(d.err.is_none(), "{what}: {:?}", d.err);
            assert_eq!(d.kinds, [EventKind::Sync], "{what}");
        } else {
            let e = expect_error(&what, header(minor));
            assert_error(&what, &e, ErrorKind::Corrupt, "no frequency event found");
        }
    }
}

#[test]
fn batch_claiming_a_huge_size_is_rejected() {
    for minor in MINORS {
        let mut b = header(minor);
        b.push(ev::EVENT_BATCH);
        for v in [1, 0, 0, 1 << 40] {
            push_uvarint(&mut b, v);
        }
        b.extend_from_slice(&[0; 32]);
        let what = format!("go 1.{minor} batch of size 2^40");
        let e = expect_error(&what, b);
        assert_error(&what, &e, ErrorKind::Corrupt, "invalid batch size");
        assert_eq!(e.offset, HEADER_LEN as u64, "{what}");
    }
}

#[test]
fn batch_of_generation_zero_is_rejected() {
    for minor in MINORS {
        let mut b = header(minor);
        push_batch(&mut b, 0, 1, 1, &[ev::PROC_STOP, 1]);
        let what = format!("go 1.{minor} batch of generation 0");
        let e = expect_error(&what, b);
        assert_error(&what, &e, ErrorKind::Corrupt, "invalid generation number 0");
        assert_eq!(e.offset, HEADER_LEN as u64, "{what}");
    }
}

/// A generation: the clock batch, then `table` as a table batch, then the marker (1.26+).
fn generation_with_table(minor: u32, table: &[u8]) -> Vec<u8> {
    let mut b = header(minor);
    push_sync_batch(&mut b, minor, 1);
    push_batch(&mut b, 1, u64::MAX, 100, table);
    if minor >= 26 {
        b.push(ev::END_OF_GENERATION);
    }
    b
}

#[test]
fn stack_with_a_huge_frame_count_is_rejected() {
    for minor in MINORS {
        for frames in [129, 1 << 20, u64::MAX] {
            let mut t = vec![ev::STACKS, ev::STACK];
            push_uvarint(&mut t, 1);
            push_uvarint(&mut t, frames);
            // A few real frames; the claimed count is far larger.
            t.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
            let what = format!("go 1.{minor} stack of {frames} frames");
            let e = expect_error(&what, generation_with_table(minor, &t));
            assert_error(&what, &e, ErrorKind::Corrupt, "invalid stack size");
        }
    }
}

#[test]
fn string_longer_than_1kib_is_rejected() {
    for minor in MINORS {
        for len in [1025u64, 1 << 32, u64::MAX] {
            let mut t = vec![ev::STRINGS, ev::STRING];
            push_uvarint(&mut t, 1);
            push_uvarint(&mut t, len);
            t.extend(std::iter::repeat_n(b'x', 1100));
            let what = format!("go 1.{minor} string of {len} bytes");
            let e = expect_error(&what, generation_with_table(minor, &t));
            assert_error(&what, &e, ErrorKind::Corrupt, "invalid string size");
        }
        // A string at the limit is fine as far as the table is concerned.
        let mut t = vec![ev::STRINGS, ev::STRING, 1];
        push_uvarint(&mut t, 1024);
        t.extend(std::iter::repeat_n(b'x', 1024));
        let what = format!("go 1.{minor} string of 1024 bytes");
        let d = decode_hostile(generation_with_table(minor, &t)).unwrap_or_else(|why| panic!("{what}: {why}"));
        assert!(d.err.is_none(), "{what}: {:?}", d.err);
    }
}

#[test]
fn foreign_files_are_not_traces() {
    let cases: [(&str, Vec<u8>, ErrorKind, &str); 6] = [
        ("empty file", Vec::new(), ErrorKind::NotATrace, "empty"),
        ("text file", b"hello, world\nthis is a text file, not a trace\n".to_vec(), ErrorKind::NotATrace, "text"),
        (
            "gzip",
            vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0x4c, 0x4a, 0x06, 0x00, 0xc2, 0x41],
            ErrorKind::NotATrace,
            "gzip",
        ),
        ("go 1.99", header(99), ErrorKind::UnsupportedVersion, "1.99"),
        ("go 1.24 header", header(24), ErrorKind::UnsupportedVersion, "1.24"),
        ("truncated header", b"go 1.2".to_vec(), ErrorKind::Truncated, "header"),
    ];
    for (what, bytes, kind, needle) in cases {
        let e = expect_error(what, bytes);
        assert_error(what, &e, kind, needle);
        assert_eq!(e.offset, 0, "{what}");
    }
    // Arbitrary binary garbage and a nearly-right header.
    for (what, bytes) in [
        ("binary", vec![0u8, 159, 146, 150, 255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        ("bad padding", b"go 1.22 trace\0\0X".to_vec()),
        ("no space", b"go 1.22trace\0\0\0\0".to_vec()),
        ("huge minor", b"go 1.99999999999999999999 trace".to_vec()),
    ] {
        let e = expect_error(what, bytes);
        assert_eq!(e.kind, ErrorKind::NotATrace, "{what}: {e:?}");
    }
}

#[test]
fn malformed_batch_contents_are_rejected() {
    for minor in MINORS {
        // A varint that never ends inside the batch header.
        let mut b = header(minor);
        b.push(ev::EVENT_BATCH);
        b.extend_from_slice(&[0xff; 11]);
        let what = format!("go 1.{minor} overlong varint");
        let e = expect_error(&what, b);
        assert_error(&what, &e, ErrorKind::Corrupt, "varint");

        // A batch cut short.
        let mut b = header(minor);
        push_batch(&mut b, 1, 1, 1, &[0; 40]);
        b.truncate(b.len() - 10);
        let what = format!("go 1.{minor} short batch");
        let e = expect_error(&what, b);
        assert_eq!(e.kind, ErrorKind::Truncated, "{what}: {e:?}");

        // Not a batch at all.
        let mut b = header(minor);
        b.extend_from_slice(&[ev::GO_START, 1, 2, 3]);
        let what = format!("go 1.{minor} event outside a batch");
        let e = expect_error(&what, b);
        assert_error(&what, &e, ErrorKind::Corrupt, "expected batch event");

        // Event batches holding an unknown event type, and a known but untimed one.
        for (typ, needle) in
            [(200u8, "invalid event type"), (0x7e, "without a timestamp"), (ev::STRING, "without a timestamp")]
        {
            let mut b = header(minor);
            push_sync_batch(&mut b, minor, 1);
            push_batch(&mut b, 1, 1, 200, &[typ, 1, 2, 3]);
            if minor >= 26 {
                b.push(ev::END_OF_GENERATION);
            }
            let what = format!("go 1.{minor} event type {typ} in an event batch");
            let e = expect_error(&what, b);
            assert_error(&what, &e, ErrorKind::Corrupt, needle);
        }

        // Two strings with the same ID.
        let t = [ev::STRINGS, ev::STRING, 1, 1, b'a', ev::STRING, 1, 1, b'b'];
        let what = format!("go 1.{minor} duplicate string");
        let e = expect_error(&what, generation_with_table(minor, &t));
        assert_error(&what, &e, ErrorKind::Corrupt, "same ID");

        // Generations out of order (pre-1.26) / interleaved (1.26+).
        let mut b = header(minor);
        push_sync_batch(&mut b, minor, 1);
        push_sync_batch(&mut b, minor, 5);
        let what = format!("go 1.{minor} generation jump");
        let e = expect_error(&what, b);
        assert_eq!(e.kind, ErrorKind::Corrupt, "{what}: {e:?}");
    }
}

#[test]
fn fuzz_regressions_decode_without_panic() {
    let dir = repo_root().join("testdata/fuzz-regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "bin")).collect();
    files.sort();
    for p in files {
        let bytes = std::fs::read(&p).expect("regression input readable");
        if let Err(why) = decode_hostile(bytes) {
            panic!("{}: {why}", p.display());
        }
    }
}

/// Go's reader (1.27.3) ends a Go 1.26+ trace cleanly when the input stops
/// after some of a generation's batches if none of them is an event batch
/// (`readGeneration` only calls a generation incomplete when
/// `len(g.batches) != 0`, and `g.batches` holds event batches only): e.g.
/// `go tool trace -d=parsed` on go1.26/timers cut at byte 67, right after
/// the first Sync batch, prints one Sync and exits 0. gotv must agree.
#[test]
fn go126_cut_after_only_non_event_batches_ends_cleanly_like_go() {
    let mut failures = Vec::new();
    for t in traces().iter().filter(|t| t.version >= Version::Go126) {
        let index = GenerationIndex::scan(&t.bytes, t.version);
        let full = decode(&t.bytes, usize::MAX, None);
        let mut generation_start = 0;
        for g in &index.generations {
            // The generation's leading batches that are not event batches.
            let structural = g.batches.iter().take_while(|b| b.m == u64::MAX || b.exp != 0).count();
            let Some(last) = structural.checked_sub(1).map(|i| &g.batches[i]) else { continue };
            let cut = (last.data_offset as usize) + last.data.len();
            let d = decode(&t.bytes[..cut], usize::MAX, None);
            let keep = (0..full.kinds.len()).filter(|&i| full.kinds[i] == EventKind::Sync).nth(generation_start);
            if d.err.is_some() || keep.map(|k| k + 1) != Some(d.lines.len()) {
                failures.push(format!("{} cut at {cut}: {:?}", t.name, d.err));
            }
            generation_start += 1;
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
