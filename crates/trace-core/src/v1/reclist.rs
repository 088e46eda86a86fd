//! The merged events of a v1 trace, packed: a [`Rec`] takes 24 bytes, a
//! packed one about 4.
//!
//! A v1 trace is merged as a whole before its first event is converted, so
//! the merged list is the parser's peak: 51 M events of a 200 MB trace were
//! 1.14 GiB as `Rec`s. Packed, a record is a type byte (which also says
//! whether its P is the last record's, and its goroutine that P's last), its
//! time as a delta from the record before, its P if it changed, its file
//! offset as a delta from its P's last one (a P's events follow each other
//! in the file), and its goroutine if it changed. Records sit in chunks of
//! [`CHUNK_RECS`], each packed from a fresh state so that it reads alone;
//! the passes after the merge read the list front to back and write a new
//! one, freeing each chunk as they go.

use super::parse::{GC_P, Rec, TIMER_P};
use crate::wire::uvarint;

/// Records per chunk.
const CHUNK_RECS: u32 = 4096;

/// Per-P state slots: Ps 0..256 each have one, the fake Ps one each, any
/// other P shares the last (which only costs bytes).
const SLOTS: usize = 256 + (GC_P - TIMER_P) as usize + 2;

/// A type byte's flag: the P is the last record's.
const SAME_P: u8 = 0x40;
/// A type byte's flag: the goroutine is the last one of this record's P.
const SAME_G: u8 = 0x80;
/// The type field's escape: the type follows in a byte of its own.
const TYPE_ESCAPE: u8 = 0x3f;

fn slot(p: i32) -> usize {
    match p {
        0..256 => p as usize,
        TIMER_P..=GC_P => 256 + (p - TIMER_P) as usize,
        _ => SLOTS - 1,
    }
}

/// The state a chunk's records are packed against; encoder and decoder
/// keep it alike.
#[derive(Clone)]
struct State {
    ts: i64,
    p: i32,
    offset: [u64; SLOTS],
    g: [u32; SLOTS],
}

impl State {
    fn new() -> State {
        State { ts: 0, p: 0, offset: [0; SLOTS], g: [0; SLOTS] }
    }

    fn encode(&mut self, r: &Rec, out: &mut Vec<u8>) {
        let s = slot(r.p);
        let typ = r.typ();
        let same_p = r.p == self.p;
        let last_g = self.g.get(s).copied().unwrap_or(0);
        let same_g = same_p && r.g == last_g;
        let mut head = typ.min(TYPE_ESCAPE);
        if same_p {
            head |= SAME_P;
        }
        if same_g {
            head |= SAME_G;
        }
        out.push(head);
        if typ >= TYPE_ESCAPE {
            out.push(typ);
        }
        put_uvarint(out, zigzag(r.ts.wrapping_sub(self.ts)));
        if !same_p {
            put_uvarint(out, zigzag(i64::from(r.p)));
        }
        let last_off = self.offset.get(s).copied().unwrap_or(0);
        put_uvarint(out, zigzag(r.offset().wrapping_sub(last_off) as i64));
        if !same_g {
            put_uvarint(out, u64::from(r.g));
        }
        self.ts = r.ts;
        self.p = r.p;
        if let Some(o) = self.offset.get_mut(s) {
            *o = r.offset();
        }
        if let Some(g) = self.g.get_mut(s) {
            *g = r.g;
        }
    }

    /// The record at `*pos` of `bytes`, moving `*pos` past it; `None` if
    /// the bytes end first (never for bytes [`State::encode`] wrote).
    #[inline]
    fn decode(&mut self, bytes: &[u8], pos: &mut usize) -> Option<Rec> {
        let head = next_byte(bytes, pos)?;
        let typ = match head & TYPE_ESCAPE {
            TYPE_ESCAPE => next_byte(bytes, pos)?,
            t => t,
        };
        let mut next_var = || read_uvarint(bytes, pos);
        let ts = self.ts.wrapping_add(unzigzag(next_var()?));
        let p = if head & SAME_P != 0 { self.p } else { unzigzag(next_var()?) as i32 };
        let s = slot(p);
        let offset = self.offset.get(s).copied().unwrap_or(0).wrapping_add(unzigzag(next_var()?) as u64);
        let g = if head & SAME_G != 0 { self.g.get(s).copied().unwrap_or(0) } else { next_var()? as u32 };
        self.ts = ts;
        self.p = p;
        if let Some(o) = self.offset.get_mut(s) {
            *o = offset;
        }
        if let Some(last) = self.g.get_mut(s) {
            *last = g;
        }
        Some(Rec::from_parts(ts, offset, typ, g, p))
    }
}

/// The varint at `*pos`, moving `*pos` past it.
#[inline]
fn read_uvarint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let b = *bytes.get(*pos)?;
    if b < 0x80 {
        // Most are one byte.
        *pos += 1;
        return Some(u64::from(b));
    }
    let (v, n) = uvarint(bytes.get(*pos..)?)?;
    *pos += n;
    Some(v)
}

#[inline]
fn next_byte(bytes: &[u8], pos: &mut usize) -> Option<u8> {
    let b = *bytes.get(*pos)?;
    *pos += 1;
    Some(b)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One chunk of packed records.
struct Chunk {
    bytes: Box<[u8]>,
    len: u32,
}

/// Merged records, packed (see the module docs). Built with
/// [`RecBuilder`], read front to back.
#[derive(Default)]
pub(crate) struct RecList {
    chunks: Vec<Chunk>,
    len: usize,
}

impl std::fmt::Debug for RecList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecList").field("len", &self.len).field("bytes", &self.byte_len()).finish()
    }
}

/// Packs records, in order, into a [`RecList`].
pub(crate) struct RecBuilder {
    list: RecList,
    open: Vec<u8>,
    open_len: u32,
    state: State,
}

impl Default for RecBuilder {
    fn default() -> Self {
        RecBuilder { list: RecList::default(), open: Vec::new(), open_len: 0, state: State::new() }
    }
}

impl RecBuilder {
    /// Appends a record.
    // By reference and inlined: passed by value, a record just built was
    // copied with wide loads its narrower stores could not forward to, a
    // stall an event in the merge (perf, busy-v1-200mb).
    #[inline]
    pub fn push(&mut self, r: &Rec) {
        if self.open_len == CHUNK_RECS {
            self.seal();
        }
        self.state.encode(r, &mut self.open);
        self.open_len += 1;
        self.list.len += 1;
    }

    fn seal(&mut self) {
        if self.open_len > 0 {
            let bytes = std::mem::take(&mut self.open).into_boxed_slice();
            self.list.chunks.push(Chunk { bytes, len: self.open_len });
            // Chunks come out much alike: start the next one as large.
            self.open.reserve(self.list.chunks.last().map_or(0, |c| c.bytes.len()));
        }
        self.open_len = 0;
        self.state = State::new();
    }

    /// The list of every record pushed.
    pub fn finish(mut self) -> RecList {
        self.seal();
        self.list
    }
}

impl FromIterator<Rec> for RecList {
    fn from_iter<I: IntoIterator<Item = Rec>>(iter: I) -> Self {
        let mut b = RecBuilder::default();
        for r in iter {
            b.push(&r);
        }
        b.finish()
    }
}

impl RecList {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the packed records take.
    pub fn byte_len(&self) -> usize {
        self.chunks.iter().map(|c| c.bytes.len()).sum()
    }

    /// The first record.
    pub fn first(&self) -> Option<Rec> {
        self.iter().next()
    }

    /// The records in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { chunks: self.chunks.iter(), bytes: &[], pos: 0, left: 0, state: State::new() }
    }

    /// Keeps the first `n` records.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len {
            *self = std::mem::take(self).into_iter().take(n).collect();
        }
    }

    /// Whether the records' times never go back.
    #[cfg(test)]
    pub fn is_sorted_by_time(&self) -> bool {
        let mut last = i64::MIN;
        self.iter().all(|r| std::mem::replace(&mut last, r.ts) <= r.ts)
    }
}

/// The records of a [`RecList`], by reference.
pub(crate) struct Iter<'a> {
    chunks: std::slice::Iter<'a, Chunk>,
    bytes: &'a [u8],
    pos: usize,
    left: u32,
    state: State,
}

impl Iterator for Iter<'_> {
    type Item = Rec;

    fn next(&mut self) -> Option<Rec> {
        while self.left == 0 {
            let c = self.chunks.next()?;
            (self.bytes, self.pos, self.left) = (&c.bytes, 0, c.len);
            self.state = State::new();
        }
        self.left -= 1;
        self.state.decode(self.bytes, &mut self.pos)
    }
}

/// The records of a [`RecList`], by value, each chunk freed once read.
pub(crate) struct IntoIter {
    chunks: std::vec::IntoIter<Chunk>,
    bytes: Box<[u8]>,
    pos: usize,
    left: u32,
    state: State,
}

impl std::fmt::Debug for IntoIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntoIter").field("chunks_left", &self.chunks.len()).finish()
    }
}

impl Iterator for IntoIter {
    type Item = Rec;

    fn next(&mut self) -> Option<Rec> {
        while self.left == 0 {
            let c = self.chunks.next()?;
            (self.bytes, self.pos, self.left) = (c.bytes, 0, c.len);
            self.state = State::new();
        }
        self.left -= 1;
        self.state.decode(&self.bytes, &mut self.pos)
    }
}

impl IntoIterator for RecList {
    type Item = Rec;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter { chunks: self.chunks.into_iter(), bytes: Box::default(), pos: 0, left: 0, state: State::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::parse::{NETPOLL_P, SYSCALL_P};
    use proptest::prelude::*;

    fn rec(ts: i64, offset: u64, typ: u8, g: u32, p: i32) -> Rec {
        Rec::from_parts(ts, offset, typ, g, p)
    }

    fn key(r: &Rec) -> (i64, u64, u8, u32, i32) {
        (r.ts, r.offset(), r.typ(), r.g, r.p)
    }

    fn any_p() -> impl Strategy<Value = i32> {
        prop_oneof![0..8i32, Just(TIMER_P), Just(NETPOLL_P), Just(SYSCALL_P), Just(GC_P), any::<i32>()]
    }

    fn any_rec() -> impl Strategy<Value = Rec> {
        (any::<i64>(), 0..(1u64 << 56), 0..=255u8, prop_oneof![0..4u32, any::<u32>()], any_p())
            .prop_map(|(ts, off, typ, g, p)| rec(ts, off, typ, g, p))
    }

    proptest! {
        /// Every record reads back as it was pushed, across chunks, by
        /// reference and by value, and truncating keeps a prefix.
        #[test]
        fn records_read_back(recs in prop::collection::vec(any_rec(), 0..3 * CHUNK_RECS as usize), cut in 0usize..20_000) {
            let want: Vec<_> = recs.iter().map(key).collect();
            let list: RecList = recs.iter().copied().collect();
            prop_assert_eq!(list.len(), recs.len());
            let by_ref: Vec<_> = list.iter().map(|r| key(&r)).collect();
            prop_assert_eq!(&by_ref, &want);
            let mut cut_list: RecList = recs.iter().copied().collect();
            cut_list.truncate(cut);
            let n = cut.min(recs.len());
            prop_assert_eq!(cut_list.len(), n);
            let by_val: Vec<_> = cut_list.into_iter().map(|r| key(&r)).collect();
            prop_assert_eq!(&by_val[..], &want[..n]);
        }
    }

    /// A busy P's records, times a little apart and offsets a few bytes
    /// apart on each of 4 Ps, take about 4 bytes each.
    #[test]
    fn records_pack_small() {
        let mut offsets = [1_000_000u64, 5_000_000, 9_000_000, 13_000_000];
        let recs: Vec<Rec> = (0..100_000u64)
            .map(|i| {
                let p = ((i / 7) % 4) as usize;
                offsets[p] += 3 + i % 5;
                rec(
                    1_000_000_000 + i as i64 * 40,
                    offsets[p],
                    14 + (i % 9) as u8,
                    1000 + p as u32 + (i / 50) as u32 % 3,
                    p as i32,
                )
            })
            .collect();
        let list: RecList = recs.iter().copied().collect();
        let per = list.byte_len() as f64 / recs.len() as f64;
        assert!(per <= 4.5, "{per:.2} bytes per record");
    }
}
