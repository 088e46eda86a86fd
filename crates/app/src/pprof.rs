//! Blocking profiles as pprof files.
//!
//! [`write_profile`] turns the result of
//! [`timeline::analysis::blocking_profile`] into the gzipped
//! [`profile.proto`](https://github.com/google/pprof/blob/main/proto/profile.proto)
//! that `go tool trace -pprof=TYPE` writes and `go tool pprof` reads: sample
//! types `contentions/count` and `delay/nanoseconds` (the default), period
//! type `trace/count` with period 1, one sample per stack, innermost frame
//! first. Functions are shared by (file, name) as Go does; locations by
//! (function, file, line), each with a synthetic address (its own ID, as the
//! trace's program counters are not kept). There is no mapping, as in Go's
//! output. The protobuf encoder is the few lines the format needs: varints
//! and length-delimited fields.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use timeline::analysis::{ProfileEntry, ProfileKind};
use timeline::{Frame, StrId, Timeline};

/// Frames kept per stack, as `go tool trace` keeps (`pprofMaxStack`).
pub const MAX_STACK_DEPTH: usize = 128;

/// Writes `entries` (a blocking profile of `kind` over `tl`) to `out` as a
/// gzipped pprof profile, the format `go tool trace -pprof=KIND` writes.
///
/// Each entry becomes one sample with values `[count, total_ns]` and the
/// entry's stack, cut to [`MAX_STACK_DEPTH`] frames; an entry without a
/// stack, or whose frames are all unknown (no function, file or line: Go
/// keys those by PC 0, the same as no stack), becomes a sample without
/// locations. `kind` is recorded in a comment
/// (`go tool pprof -comments`). `out` is not flushed beyond the end of the
/// gzip stream; wrap a file in a `BufWriter` and flush it afterwards.
///
/// ```no_run
/// use timeline::analysis::{Filter, ProfileKind, blocking_profile};
///
/// # fn main() -> anyhow::Result<()> {
/// let tl = timeline::build(&std::fs::read("trace.out")?, &timeline::Progress::default())?;
/// let entries = blocking_profile(&tl, ProfileKind::Sync, &Filter::all());
/// let mut out = std::io::BufWriter::new(std::fs::File::create("sync.pb.gz")?);
/// gotv::pprof::write_profile(&tl, &entries, ProfileKind::Sync, &mut out)?;
/// std::io::Write::flush(&mut out)?;
/// # Ok(())
/// # }
/// ```
pub fn write_profile(
    tl: &Timeline,
    entries: &[ProfileEntry],
    kind: ProfileKind,
    out: impl Write,
) -> anyhow::Result<()> {
    let bytes = encode_profile(tl, entries, kind);
    let mut gz = GzEncoder::new(out, Compression::default());
    gz.write_all(&bytes).context("writing the profile")?;
    gz.finish().context("writing the profile")?;
    Ok(())
}

/// The profile [`write_profile`] writes, before gzip: a serialised
/// `perftools.profiles.Profile` message.
pub fn encode_profile(tl: &Timeline, entries: &[ProfileEntry], kind: ProfileKind) -> Vec<u8> {
    let mut b = Builder::new(tl);
    let sample_types = [b.value_type("contentions", "count"), b.value_type("delay", "nanoseconds")];
    let period_type = b.value_type("trace", "count");
    let comment = b.strings.intern_owned(format!("gotv pprof --kind {}", kind.name()));
    let samples: Vec<Sample> = entries.iter().map(|e| b.sample(e)).collect();

    let mut msg = Vec::new();
    // Field numbers of `message Profile` in profile.proto.
    for vt in sample_types {
        put_message(&mut msg, 1, &vt.encode());
    }
    for s in &samples {
        put_message(&mut msg, 2, &s.encode());
    }
    for l in &b.locations {
        put_message(&mut msg, 4, &l.encode());
    }
    for f in &b.functions {
        put_message(&mut msg, 5, &f.encode());
    }
    for s in &b.strings.list {
        put_bytes(&mut msg, 6, s.as_bytes());
    }
    put_message(&mut msg, 11, &period_type.encode());
    put_int(&mut msg, 12, 1);
    put_int(&mut msg, 13, comment);
    msg
}

/// The string table: index 0 is the empty string, as the format requires.
struct StringTable<'a> {
    list: Vec<Cow<'a, str>>,
    index: HashMap<Cow<'a, str>, i64>,
}

impl<'a> StringTable<'a> {
    fn new() -> Self {
        let mut t = StringTable { list: Vec::new(), index: HashMap::new() };
        t.intern("");
        t
    }

    fn intern(&mut self, s: &'a str) -> i64 {
        self.intern_cow(Cow::Borrowed(s))
    }

    fn intern_owned(&mut self, s: String) -> i64 {
        self.intern_cow(Cow::Owned(s))
    }

    fn intern_cow(&mut self, s: Cow<'a, str>) -> i64 {
        if let Some(&i) = self.index.get(&s) {
            return i;
        }
        let i = self.list.len() as i64;
        self.list.push(s.clone());
        self.index.insert(s, i);
        i
    }
}

/// Collects the functions, locations and strings the samples refer to.
struct Builder<'a> {
    tl: &'a Timeline,
    strings: StringTable<'a>,
    functions: Vec<Function>,
    function_ids: HashMap<(StrId, StrId), u64>,
    locations: Vec<Location>,
    location_ids: HashMap<Frame, u64>,
}

impl<'a> Builder<'a> {
    fn new(tl: &'a Timeline) -> Self {
        Builder {
            tl,
            strings: StringTable::new(),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
        }
    }

    fn value_type(&mut self, typ: &'static str, unit: &'static str) -> ValueType {
        ValueType { typ: self.strings.intern(typ), unit: self.strings.intern(unit) }
    }

    fn sample(&mut self, e: &ProfileEntry) -> Sample {
        let mut frames = self.tl.stacks.frames(e.stack);
        frames.truncate(MAX_STACK_DEPTH);
        // Go keys its records by program counters, so a stack of unknown
        // frames (PC 0) is the same record as no stack, and is written so.
        let strings = &self.tl.strings;
        if frames.iter().all(|f| f.line == 0 && strings.get(f.func).is_empty() && strings.get(f.file).is_empty()) {
            frames.clear();
        }
        let location_ids = frames.iter().map(|f| self.location(*f)).collect();
        Sample { location_ids, values: [e.count as i64, e.total_ns] }
    }

    /// The location of a frame, added on first use.
    fn location(&mut self, f: Frame) -> u64 {
        if let Some(&id) = self.location_ids.get(&f) {
            return id;
        }
        let function_id = self.function(f.func, f.file);
        let id = self.locations.len() as u64 + 1;
        self.locations.push(Location { id, function_id, line: i64::from(f.line) });
        self.location_ids.insert(f, id);
        id
    }

    /// The function named `func` in `file`, added on first use.
    fn function(&mut self, func: StrId, file: StrId) -> u64 {
        if let Some(&id) = self.function_ids.get(&(file, func)) {
            return id;
        }
        let tl = self.tl;
        let name = self.strings.intern(tl.strings.get(func));
        let filename = self.strings.intern(tl.strings.get(file));
        let id = self.functions.len() as u64 + 1;
        self.functions.push(Function { id, name, filename });
        self.function_ids.insert((file, func), id);
        id
    }
}

/// `message ValueType`.
#[derive(Clone, Copy)]
struct ValueType {
    typ: i64,
    unit: i64,
}

impl ValueType {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        put_int(&mut b, 1, self.typ);
        put_int(&mut b, 2, self.unit);
        b
    }
}

/// `message Sample`.
struct Sample {
    location_ids: Vec<u64>,
    values: [i64; 2],
}

impl Sample {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        put_packed(&mut b, 1, self.location_ids.iter().copied());
        put_packed(&mut b, 2, self.values.iter().map(|&v| v as u64));
        b
    }
}

/// `message Location` with one `Line`; the address is the ID.
struct Location {
    id: u64,
    function_id: u64,
    line: i64,
}

impl Location {
    fn encode(&self) -> Vec<u8> {
        let mut line = Vec::new();
        put_uint(&mut line, 1, self.function_id);
        put_int(&mut line, 2, self.line);
        let mut b = Vec::new();
        put_uint(&mut b, 1, self.id);
        put_uint(&mut b, 3, self.id);
        put_message(&mut b, 4, &line);
        b
    }
}

/// `message Function`; the system name is the name, as in Go's output.
struct Function {
    id: u64,
    name: i64,
    filename: i64,
}

impl Function {
    fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        put_uint(&mut b, 1, self.id);
        put_int(&mut b, 2, self.name);
        put_int(&mut b, 3, self.name);
        put_int(&mut b, 4, self.filename);
        b
    }
}

/// Wire type of varint fields.
const VARINT: u64 = 0;
/// Wire type of length-delimited fields (bytes, messages, packed lists).
const LEN: u64 = 2;

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

fn put_key(b: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(b, (field << 3) | wire);
}

/// A `uint64` field, left out when zero (the default).
fn put_uint(b: &mut Vec<u8>, field: u64, v: u64) {
    if v != 0 {
        put_key(b, field, VARINT);
        put_varint(b, v);
    }
}

/// An `int64` field (two's complement varint), left out when zero.
fn put_int(b: &mut Vec<u8>, field: u64, v: i64) {
    put_uint(b, field, v as u64);
}

fn put_bytes(b: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(b, field, LEN);
    put_varint(b, bytes.len() as u64);
    b.extend_from_slice(bytes);
}

fn put_message(b: &mut Vec<u8>, field: u64, msg: &[u8]) {
    put_bytes(b, field, msg);
}

/// A packed repeated varint field, left out when empty.
fn put_packed(b: &mut Vec<u8>, field: u64, vs: impl Iterator<Item = u64>) {
    let mut inner = Vec::new();
    for v in vs {
        put_varint(&mut inner, v);
    }
    if !inner.is_empty() {
        put_bytes(b, field, &inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_encode_as_protobuf_does() {
        let mut b = Vec::new();
        put_varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        let mut b = Vec::new();
        put_int(&mut b, 2, -1);
        assert_eq!(b, [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        let mut b = Vec::new();
        put_uint(&mut b, 1, 0);
        assert!(b.is_empty(), "zero is the default and is left out");
        put_packed(&mut b, 1, [1, 150].into_iter());
        assert_eq!(b, [0x0a, 0x03, 0x01, 0x96, 0x01]);
        let mut b = Vec::new();
        put_bytes(&mut b, 6, b"ab");
        assert_eq!(b, [0x32, 0x02, b'a', b'b']);
    }

    #[test]
    fn an_empty_profile_still_names_its_types() {
        let tl = Timeline::default();
        let bytes = encode_profile(&tl, &[], ProfileKind::Net);
        // Two sample types, then the string table starting with "".
        assert_eq!(&bytes[..2], [0x0a, 0x04]);
        assert!(bytes.windows(11).any(|w| w == b"nanoseconds"));
        assert!(bytes.windows(2).any(|w| w == [0x32, 0x00]), "the empty string is entry 0");
    }
}
