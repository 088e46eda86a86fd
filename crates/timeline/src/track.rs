//! Spans of one goroutine, P or thread, packed in delta-encoded blocks.
//!
//! A span is a start time, a state code, a stack and two small arguments;
//! its end is the next span's start (the last one ends at the track's end).
//! Spans are stored [`BLOCK_SPANS`] to a block as varints: the start as a
//! delta from the previous span, the stack and arguments zig-zagged. Block
//! headers keep time bounds and the dominant state, so zoomed-out queries
//! never decode a block whose spans all fall inside one pixel.

use crate::stacks::StackId;

/// Spans per block.
pub const BLOCK_SPANS: usize = 256;

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
        let Some(h) = self.blocks.get(i) else { return };
        let end = self.blocks.get(i + 1).map_or(self.bytes.len(), |n| n.byte_start as usize);
        let mut bytes = self.bytes.get(h.byte_start as usize..end).unwrap_or_default();
        let mut t = h.start_ns;
        for k in 0..h.count as usize {
            let delta = read_uvarint(&mut bytes);
            let state = read_byte(&mut bytes);
            let stack = read_uvarint(&mut bytes) as u32;
            let a = unzigzag(read_uvarint(&mut bytes));
            let b = unzigzag(read_uvarint(&mut bytes));
            if k > 0 {
                t += delta as i64;
            }
            if let Some(prev) = out.last_mut() {
                prev.end_ns = t;
            }
            out.push(Span { start_ns: t, end_ns: h.end_ns, state, stack: StackId(stack), a, b });
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
#[derive(Debug, Default)]
pub struct TrackBuilder {
    track: Track,
    last_start_ns: i64,
    last_state: Option<u8>,
    /// Time per state within the open block, to pick its dominant state.
    block_ns: [i64; 32],
}

impl TrackBuilder {
    /// The state of the last span pushed.
    pub fn last_state(&self) -> Option<u8> {
        self.last_state
    }

    /// Start of the last span pushed.
    pub fn last_start_ns(&self) -> i64 {
        self.last_start_ns
    }

    /// Number of spans pushed.
    pub fn len(&self) -> usize {
        self.track.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.track.is_empty()
    }

    /// Starts a new span at `start_ns` (clamped to not go back in time),
    /// ending the previous one there.
    pub fn push(&mut self, start_ns: i64, state: u8, stack: StackId, a: i64, b: i64) {
        let start_ns = if self.last_state.is_some() { start_ns.max(self.last_start_ns) } else { start_ns };
        self.close_last(start_ns);
        let t = &mut self.track;
        let k = t.len as usize % BLOCK_SPANS;
        if k == 0 {
            t.blocks.push(BlockHeader {
                start_ns,
                end_ns: start_ns,
                byte_start: t.bytes.len() as u32,
                count: 0,
                dominant: state,
            });
            self.block_ns = [0; 32];
            write_uvarint(&mut t.bytes, 0);
        } else {
            write_uvarint(&mut t.bytes, (start_ns - self.last_start_ns) as u64);
        }
        t.bytes.push(state);
        write_uvarint(&mut t.bytes, stack.0 as u64);
        write_uvarint(&mut t.bytes, zigzag(a));
        write_uvarint(&mut t.bytes, zigzag(b));
        if let Some(h) = t.blocks.last_mut() {
            h.count += 1;
            h.end_ns = start_ns;
        }
        t.len += 1;
        self.last_start_ns = start_ns;
        self.last_state = Some(state);
    }

    /// Accounts the last span's time up to `end_ns` in its block (once per
    /// span: `push` closes the previous span, `finish` the last).
    fn close_last(&mut self, end_ns: i64) {
        let Some(state) = self.last_state else { return };
        let Some(h) = self.track.blocks.last_mut() else { return };
        h.end_ns = end_ns;
        let ns = |s: u8, acc: &[i64; 32]| acc.get(s as usize).copied().unwrap_or(0);
        if let Some(slot) = self.block_ns.get_mut(state as usize) {
            *slot += end_ns - self.last_start_ns;
        }
        if state != h.dominant && ns(state, &self.block_ns) > ns(h.dominant, &self.block_ns) {
            h.dominant = state;
        }
    }

    /// Ends the last span at `end_ns` and returns the track.
    pub fn finish(mut self, end_ns: i64) -> Track {
        let end_ns = end_ns.max(self.last_start_ns);
        self.close_last(end_ns);
        self.track.bytes.shrink_to_fit();
        self.track.blocks.shrink_to_fit();
        self.track
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
