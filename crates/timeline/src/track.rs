//! Spans of one goroutine, P or thread, packed in delta-encoded blocks.
//!
//! A span is a start time, a state code, a stack and two small arguments;
//! its end is the next span's start (the last one ends at the track's end).
//! Spans are stored [`BLOCK_SPANS`] to a block: the start as a varint delta
//! from the previous span, one byte holding the state and which of stack,
//! `a` and `b` follow (absent arguments are -1, an absent stack is 0), then
//! those as varints. A typical span takes 4 to 6 bytes. Block
//! headers keep time bounds and the dominant state, so zoomed-out queries
//! never decode a block whose spans all fall inside one pixel.

use crate::stacks::StackId;

/// Spans per block.
pub const BLOCK_SPANS: usize = 64;

/// One span, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Start time.
    pub start_ns: i64,
    /// End time (the next span's start, or the track's end).
    pub end_ns: i64,
    /// State code ([`crate::GState`], [`crate::PState`] or [`crate::MState`]).
    pub state: u8,
    /// Stack at the start of the span.
    pub stack: StackId,
    /// First argument (meaning depends on the track kind and state).
    pub a: i64,
    /// Second argument.
    pub b: i64,
}

impl Span {
    /// Length in ns.
    pub fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }
}

/// Header of a block of spans.
#[derive(Clone, Copy, Debug)]
pub struct BlockHeader {
    /// Start of the first span.
    pub start_ns: i64,
    /// End of the last span.
    pub end_ns: i64,
    /// Offset of the block's bytes.
    byte_start: u32,
    /// Number of spans.
    pub count: u16,
    /// The state covering most of the block's time.
    pub dominant: u8,
    /// The longest span in the block: if it is below a pixel, so is every
    /// span, and the block can be merged without decoding it.
    pub max_span_ns: i64,
}

/// A track: the spans of one resource over time.
#[derive(Clone, Debug, Default)]
pub struct Track {
    blocks: Vec<BlockHeader>,
    bytes: Vec<u8>,
    len: u32,
}

impl Track {
    /// Number of spans.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the track has no spans.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Start of the first span.
    pub fn start_ns(&self) -> Option<i64> {
        self.blocks.first().map(|b| b.start_ns)
    }

    /// End of the last span.
    pub fn end_ns(&self) -> Option<i64> {
        self.blocks.last().map(|b| b.end_ns)
    }

    /// The block headers.
    pub fn blocks(&self) -> &[BlockHeader] {
        &self.blocks
    }

    /// Decodes block `i` into `out` (cleared first).
    pub fn decode_block(&self, i: usize, out: &mut Vec<Span>) {
        out.clear();
        self.for_each_in_block(i, |s| out.push(s));
    }

    /// Calls `f` with every span of block `i`, in order, without allocating.
    pub fn for_each_in_block(&self, i: usize, mut f: impl FnMut(Span)) {
        let Some(h) = self.blocks.get(i) else { return };
        let end = self.blocks.get(i + 1).map_or(self.bytes.len(), |n| n.byte_start as usize);
        let mut bytes = self.bytes.get(h.byte_start as usize..end).unwrap_or_default();
        let mut t = h.start_ns;
        let mut prev: Option<Span> = None;
        for k in 0..h.count as usize {
            let delta = read_uvarint(&mut bytes);
            let flags = read_byte(&mut bytes);
            let stack = if flags & HAS_STACK != 0 { read_uvarint(&mut bytes) as u32 } else { 0 };
            let a = if flags & HAS_A != 0 { unzigzag(read_uvarint(&mut bytes)) } else { -1 };
            let b = if flags & HAS_B != 0 { unzigzag(read_uvarint(&mut bytes)) } else { -1 };
            if k > 0 {
                t += delta as i64;
            }
            if let Some(mut p) = prev.take() {
                p.end_ns = t;
                f(p);
            }
            prev = Some(Span { start_ns: t, end_ns: h.end_ns, state: flags & STATE_MASK, stack: StackId(stack), a, b });
        }
        if let Some(p) = prev {
            f(p);
        }
    }

    /// The span with index `i`.
    pub fn span(&self, i: usize) -> Option<Span> {
        let mut buf = Vec::new();
        self.decode_block(i / BLOCK_SPANS, &mut buf);
        buf.get(i % BLOCK_SPANS).copied()
    }

    /// The index of the span covering `t`, if any.
    pub fn index_at(&self, t: i64) -> Option<usize> {
        let bi = self.blocks.partition_point(|b| b.end_ns <= t);
        let h = self.blocks.get(bi)?;
        if t < h.start_ns {
            return None;
        }
        let mut buf = Vec::new();
        self.decode_block(bi, &mut buf);
        let k = buf.partition_point(|s| s.end_ns <= t);
        (k < buf.len()).then_some(bi * BLOCK_SPANS + k)
    }

    /// The span covering `t`, if any.
    pub fn span_at(&self, t: i64) -> Option<Span> {
        self.index_at(t).and_then(|i| self.span(i))
    }

    /// Calls `f` with every span overlapping `[start_ns, end_ns)`, in order,
    /// with its index.
    pub fn for_each_in(&self, start_ns: i64, end_ns: i64, mut f: impl FnMut(usize, &Span)) {
        let first = self.blocks.partition_point(|b| b.end_ns <= start_ns);
        let mut buf = Vec::with_capacity(BLOCK_SPANS);
        for bi in first..self.blocks.len() {
            let Some(h) = self.blocks.get(bi) else { break };
            if h.start_ns >= end_ns {
                break;
            }
            self.decode_block(bi, &mut buf);
            for (k, s) in buf.iter().enumerate() {
                if s.end_ns > start_ns && s.start_ns < end_ns {
                    f(bi * BLOCK_SPANS + k, s);
                }
            }
        }
    }

    /// Every span, in order.
    pub fn spans(&self) -> Vec<Span> {
        let mut out = Vec::with_capacity(self.len());
        let mut buf = Vec::with_capacity(BLOCK_SPANS);
        for bi in 0..self.blocks.len() {
            self.decode_block(bi, &mut buf);
            out.extend_from_slice(&buf);
        }
        out
    }

    /// Bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.blocks.capacity() * std::mem::size_of::<BlockHeader>()
    }
}

/// Appends spans to a [`Track`] in time order.
///
/// The newest span stays pending (not yet encoded), so its `b` can still be
/// set and its end is known when it is written.
#[derive(Debug, Default)]
pub struct TrackBuilder {
    track: Track,
    pending: Option<Span>,
    /// Start of the last span written.
    written_start_ns: i64,
}

const STATE_MASK: u8 = 0x1f;
const HAS_STACK: u8 = 0x20;
const HAS_A: u8 = 0x40;
const HAS_B: u8 = 0x80;

impl TrackBuilder {
    /// The state of the last span pushed.
    pub fn last_state(&self) -> Option<u8> {
        self.pending.map(|s| s.state)
    }

    /// Start of the last span pushed.
    pub fn last_start_ns(&self) -> i64 {
        self.pending.map_or(0, |s| s.start_ns)
    }

    /// Number of spans pushed.
    pub fn len(&self) -> usize {
        self.track.len() + usize::from(self.pending.is_some())
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sets `b` of the last span pushed.
    pub fn set_last_b(&mut self, b: i64) {
        if let Some(p) = self.pending.as_mut() {
            p.b = b;
        }
    }

    /// Starts a new span at `start_ns` (clamped to not go back in time),
    /// ending the previous one there. States must be below 32.
    pub fn push(&mut self, start_ns: i64, state: u8, stack: StackId, a: i64, b: i64) {
        let start_ns = match self.pending {
            Some(p) => start_ns.max(p.start_ns),
            None => start_ns,
        };
        if let Some(p) = self.pending.take() {
            self.write(p, start_ns);
        }
        self.pending = Some(Span { start_ns, end_ns: start_ns, state: state & STATE_MASK, stack, a, b });
    }

    /// Encodes a finished span.
    fn write(&mut self, s: Span, end_ns: i64) {
        let t = &mut self.track;
        if (t.len as usize).is_multiple_of(BLOCK_SPANS) {
            close_block(t);
            t.blocks.push(BlockHeader {
                start_ns: s.start_ns,
                end_ns,
                byte_start: t.bytes.len() as u32,
                count: 0,
                dominant: s.state,
                max_span_ns: 0,
            });
            write_uvarint(&mut t.bytes, 0);
        } else {
            write_uvarint(&mut t.bytes, (s.start_ns - self.written_start_ns) as u64);
        }
        let mut flags = s.state;
        flags |= if s.stack.0 != 0 { HAS_STACK } else { 0 };
        flags |= if s.a != -1 { HAS_A } else { 0 };
        flags |= if s.b != -1 { HAS_B } else { 0 };
        t.bytes.push(flags);
        if s.stack.0 != 0 {
            write_uvarint(&mut t.bytes, u64::from(s.stack.0));
        }
        if s.a != -1 {
            write_uvarint(&mut t.bytes, zigzag(s.a));
        }
        if s.b != -1 {
            write_uvarint(&mut t.bytes, zigzag(s.b));
        }
        if let Some(h) = t.blocks.last_mut() {
            h.count += 1;
            h.end_ns = end_ns;
        }
        t.len += 1;
        self.written_start_ns = s.start_ns;
    }

    /// Ends the last span at `end_ns` and returns the track.
    pub fn finish(mut self, end_ns: i64) -> Track {
        if let Some(p) = self.pending.take() {
            let end_ns = end_ns.max(p.start_ns);
            self.write(p, end_ns);
        }
        close_block(&mut self.track);
        self.track.bytes.shrink_to_fit();
        self.track.blocks.shrink_to_fit();
        self.track
    }
}

/// Picks the dominant state of the last block, now that all its spans and
/// its end are known.
fn close_block(t: &mut Track) {
    let Some(last) = t.blocks.len().checked_sub(1) else { return };
    let mut ns = [0i64; 32];
    let mut first = None;
    let mut longest = 0;
    t.for_each_in_block(last, |s| {
        first.get_or_insert(s.state);
        longest = longest.max(s.end_ns - s.start_ns);
        if let Some(slot) = ns.get_mut(s.state as usize) {
            *slot += s.end_ns - s.start_ns;
        }
    });
    let mut best = first.unwrap_or(0);
    for (state, &v) in ns.iter().enumerate() {
        if v > ns.get(best as usize).copied().unwrap_or(0) {
            best = state as u8;
        }
    }
    if let Some(h) = t.blocks.get_mut(last) {
        h.dominant = best;
        h.max_span_ns = longest;
    }
}

fn write_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_uvarint(bytes: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some((&b, rest)) = bytes.split_first() {
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift.min(63);
        if b < 0x80 {
            break;
        }
        shift += 7;
    }
    v
}

fn read_byte(bytes: &mut &[u8]) -> u8 {
    match bytes.split_first() {
        Some((&b, rest)) => {
            *bytes = rest;
            b
        }
        None => 0,
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(spans: &[(i64, u8)], end: i64) -> Track {
        let mut b = TrackBuilder::default();
        for &(t, s) in spans {
            b.push(t, s, StackId(t as u32 % 7), -1, t * 3);
        }
        b.finish(end)
    }

    #[test]
    fn round_trips_across_blocks() {
        let spans: Vec<(i64, u8)> = (0..1000).map(|i| (i * i, (i % 5) as u8)).collect();
        let t = build(&spans, 2_000_000);
        assert_eq!(t.len(), 1000);
        assert_eq!(t.blocks().len(), 1000usize.div_ceil(BLOCK_SPANS));
        let all = t.spans();
        for (i, s) in all.iter().enumerate() {
            let (start, state) = spans[i];
            assert_eq!(s.start_ns, start);
            assert_eq!(s.state, state);
            assert_eq!(s.stack, StackId(start as u32 % 7));
            assert_eq!((s.a, s.b), (-1, start * 3));
            let end = spans.get(i + 1).map_or(2_000_000, |n| n.0);
            assert_eq!(s.end_ns, end);
            assert_eq!(t.span(i), Some(*s));
        }
        assert_eq!(t.index_at(300 * 300 + 5), Some(300));
        assert_eq!(t.index_at(-1), None);
        assert_eq!(t.index_at(2_000_000), None);
        let mut seen = Vec::new();
        t.for_each_in(255 * 255, 258 * 258, |i, _| seen.push(i));
        assert_eq!(seen, vec![255, 256, 257]);
    }

    #[test]
    fn dominant_state_is_the_longest() {
        let t = build(&[(0, 1), (10, 2), (100, 1), (110, 3)], 120);
        assert_eq!(t.blocks()[0].dominant, 2);
        assert_eq!(t.end_ns(), Some(120));
    }

    #[test]
    fn time_never_goes_back() {
        let t = build(&[(10, 1), (5, 2)], 20);
        let s = t.spans();
        assert_eq!(s[1].start_ns, 10);
    }
}
