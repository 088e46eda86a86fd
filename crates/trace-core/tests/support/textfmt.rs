//! Converts the text form of a v2 trace (as in Go's golden tests) into the
//! binary wire format the decoder reads.
//!
//! Text form, one event per line after a `Trace Go1.NN` header:
//!
//! ```text
//! EventBatch gen=1 m=0 time=300 size=3
//! GoCreateSyscall dt=1 new_g=4
//! Stack id=1 nframes=1
//!     pc=200 func=2 file=3 line=4
//! String id=1
//!     data="foo"
//! ```
//!
//! Arguments are `name=decimal` and must appear in the order of the wire
//! spec. A `Stack` is followed by `nframes` frame lines; `String` and
//! `ExperimentalBatch` by one `data=<Go quoted string>` line. Lines whose
//! first non-space character is `#`, and blank lines, are skipped.
//!
//! Encoding: the type byte, every argument (and frame field) as a uvarint,
//! then for events with data a uvarint length and the raw bytes. Batch
//! `size` fields are written as given, never recomputed, as Go's raw writer
//! does; [`WireTrace::notes`] reports those that do not match the bytes
//! that follow.

use trace_core::spec::{self, EventType, ev};

use super::unquote::go_unquote;

/// Field names of one stack frame line, in wire order.
const FRAME_FIELDS: [&str; 4] = ["pc", "func", "file", "line"];

/// The result of a conversion.
#[derive(Debug)]
pub struct WireTrace {
    /// The minor Go version of the header (`22` for `Go1.22`).
    pub minor: u32,
    /// The complete binary trace, header included.
    pub bytes: Vec<u8>,
    /// Number of events written (batch headers included).
    pub events: usize,
    /// Batches whose `size` differs from the bytes actually following them.
    pub notes: Vec<String>,
}

/// The highest event type the text of a version may name, mirroring the
/// per-version spec tables of Go's `internal/trace/version` package.
fn last_type(minor: u32) -> Option<EventType> {
    match minor {
        22 => Some(ev::USER_LOG),
        23 => Some(ev::EXPERIMENTAL_BATCH),
        25 => Some(ev::CLOCK_SNAPSHOT),
        26 => Some(ev::MAX_EXPERIMENTAL_EVENT - 1),
        _ => None,
    }
}

fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Splits off the first whitespace-delimited token. A `#` starts a comment
/// when a token would begin, and ends a token it interrupts.
fn token(s: &str) -> (&str, &str) {
    let Some(start) = s.find(|c: char| !is_space(c)) else {
        return ("", "");
    };
    let s = &s[start..];
    if s.starts_with('#') {
        return ("", "");
    }
    match s.find(|c: char| is_space(c) || c == '#') {
        Some(end) => (&s[..end], &s[end..]),
        None => (s, ""),
    }
}

/// Parses `name=value` tokens for exactly `names`, in order, with only
/// whitespace allowed after the last one.
fn args(mut s: &str, names: &[&str]) -> Result<Vec<u64>, String> {
    let mut vals = Vec::with_capacity(names.len());
    for &want in names {
        let (tok, rest) = token(s);
        if tok.is_empty() {
            return Err(format!("missing argument {want:?}"));
        }
        let Some((name, val)) = tok.split_once('=') else {
            return Err(format!("malformed argument {tok:?}"));
        };
        if name != want {
            return Err(format!("expected argument {want:?}, found {name:?}"));
        }
        if val.is_empty() || !val.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("argument {name:?} has a non-decimal value {val:?}"));
        }
        let v: u64 = val.parse().map_err(|e| format!("argument {name:?} = {val:?}: {e}"))?;
        vals.push(v);
        s = rest;
    }
    if s.chars().any(|c| !is_space(c)) {
        return Err(format!("unexpected text after the arguments: {s:?}"));
    }
    Ok(vals)
}

/// Parses a `data=<quoted>` line.
fn data(line: &str) -> Result<Vec<u8>, String> {
    match line.split_once('=') {
        Some((key, val)) if key.trim() == "data" => go_unquote(val.trim()),
        _ => Err(format!("malformed data line {line:?}")),
    }
}

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Non-blank, non-comment lines with their 1-based line numbers.
struct Lines<'a> {
    inner: std::iter::Enumerate<std::str::Lines<'a>>,
}

impl<'a> Lines<'a> {
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        self.inner.by_ref().map(|(i, l)| (i + 1, l)).find(|(_, l)| !token(l).0.is_empty())
    }
}

/// Tracks the open batch to check its declared size.
struct OpenBatch {
    line: usize,
    declared: u64,
    payload_start: usize,
}

fn close_batch(batch: Option<OpenBatch>, end: usize, notes: &mut Vec<String>) {
    if let Some(b) = batch {
        let actual = (end - b.payload_start) as u64;
        if actual != b.declared {
            notes.push(format!("line {}: EventBatch size={} but {} bytes follow it", b.line, b.declared, actual));
        }
    }
}

/// Converts a text trace to wire bytes. Errors carry the line number.
pub fn text_to_wire(text: &str) -> Result<WireTrace, String> {
    let mut lines = Lines { inner: text.lines().enumerate() };
    let Some((hline, header)) = lines.next_line() else {
        return Err("empty trace text: no header line".into());
    };
    let at = |n: usize, e: String| format!("line {n}: {e}");
    let (word, rest) = token(header);
    if word != "Trace" {
        return Err(at(hline, format!("expected a `Trace Go1.NN` header, found {header:?}")));
    }
    let (gover, rest) = token(rest);
    let minor: u32 = gover
        .strip_prefix("Go1.")
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| at(hline, format!("bad Go version {gover:?} in the header")))?;
    if rest.chars().any(|c| !is_space(c)) {
        return Err(at(hline, format!("unexpected text after the header: {rest:?}")));
    }
    let last = last_type(minor).ok_or_else(|| at(hline, format!("no v2 text format for Go 1.{minor}")))?;

    let mut bytes = format!("go 1.{minor} trace\0\0\0").into_bytes();
    let mut events = 0;
    let mut notes = Vec::new();
    let mut batch: Option<OpenBatch> = None;
    while let Some((n, line)) = lines.next_line() {
        let (name, rest) = token(line);
        let typ = spec::type_by_name(name)
            .filter(|&t| t <= last)
            .ok_or_else(|| at(n, format!("unknown event {name:?} for Go 1.{minor}")))?;
        let sp = &spec::SPECS[typ as usize];
        let vals = args(rest, sp.args).map_err(|e| at(n, format!("{name}: {e}")))?;

        if typ == ev::EVENT_BATCH || typ == ev::EXPERIMENTAL_BATCH {
            close_batch(batch.take(), bytes.len(), &mut notes);
        }
        bytes.push(typ);
        for &v in &vals {
            put_uvarint(&mut bytes, v);
        }
        if typ == ev::STACK {
            let nframes = vals[1];
            for _ in 0..nframes {
                let (fl, frame) =
                    lines.next_line().ok_or_else(|| at(n, format!("text ends inside a stack of {nframes} frames")))?;
                for v in args(frame, &FRAME_FIELDS).map_err(|e| at(fl, format!("stack frame: {e}")))? {
                    put_uvarint(&mut bytes, v);
                }
            }
        }
        if typ == ev::STRING || typ == ev::EXPERIMENTAL_BATCH {
            let (dl, dline) = lines.next_line().ok_or_else(|| at(n, format!("text ends before the data of {name}")))?;
            let d = data(dline).map_err(|e| at(dl, e))?;
            put_uvarint(&mut bytes, d.len() as u64);
            bytes.extend_from_slice(&d);
        }
        if typ == ev::EVENT_BATCH {
            batch = Some(OpenBatch { line: n, declared: vals[3], payload_start: bytes.len() });
        }
        events += 1;
    }
    close_batch(batch, bytes.len(), &mut notes);
    Ok(WireTrace { minor, bytes, events, notes })
}
