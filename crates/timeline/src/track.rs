//! Spans of one goroutine, P or thread, packed in delta-encoded blocks.
//!
//! A span is a start time, a state code, a stack and two small arguments;
//! its end is the next span's start (the last one ends at the track's end).
//! Spans are stored [`BLOCK_SPANS`] to a block: the start as a varint delta
//! from the previous span with a tag naming an earlier span of the block
//! whose state, stack and arguments it repeats, or else those in full
//! (the `spancode` module). A typical span takes 1 to 6 bytes. Block
//! headers keep time bounds and the dominant state, so zoomed-out queries
//! never decode a block whose spans all fall inside one pixel.
//!
//! A block holds at most [`BLOCK_SPANS`] spans; it can hold fewer where a
//! track was stitched together from pieces built separately (one per
//! generation), so each header records the index of its first span.

use std::sync::Arc;

use crate::group::BlockGroup;
use crate::paged::PagedBytes;
use crate::spancode::{Recent, STATE_MASK, UNUSED_STATE, encode_span};
use crate::stacks::StackId;

/// Most spans a block holds. Headers stay uncompressed in memory, so
/// bigger blocks hold less: on a 1 GB trace, 256 rather than 64 spans a
/// block takes 97 MB off the timeline, for zoomed-in plans that decode
/// more (a block is decoded from its start up to the view's end).
pub const BLOCK_SPANS: usize = 256;

thread_local! {
    /// A short finished track laid out before it is appended to a store.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Closed bytes of a piece that a track which spills already takes
/// straight into its store (see [`TrackBuilder::append`]).
const DIRECT_SPILL_BYTES: usize = 4 * 1024;

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
    /// Index of the block's first span in the track.
    pub first_index: u32,
    /// Number of spans.
    pub count: u16,
    /// The state covering most of the block's time.
    pub dominant: u8,
    /// Its spans' start deltas are written in units of `2^unit` ns (see
    /// [`TrackBuilder::with_unit`]).
    unit: u8,
    /// The longest span in the block, in ns, `u32::MAX` for 4.3 s or more
    /// (see [`BlockHeader::max_span_ns`]).
    max_span: u32,
}

impl BlockHeader {
    /// The longest span in the block, or more (`i64::MAX` when it is at
    /// least 4.3 s): if it is below a pixel, so is every span, and the
    /// block can be merged without decoding it. (32 bits keep the packed
    /// header at 31 bytes.)
    pub fn max_span_ns(&self) -> i64 {
        if self.max_span == u32::MAX { i64::MAX } else { i64::from(self.max_span) }
    }
}

/// A track: the spans of one resource over time.
///
/// Its bytes: the number of blocks, the block headers packed
/// (`HEADER_BYTES` each; the first block's starts at byte and span 0, so
/// its header leaves those out), then the spans' bytes. There is one track
/// per goroutine, and most goroutines live for a few spans, so a thin
/// record matters more than aligned headers.
///
/// A track is built in one allocation; a finished timeline moves its tracks
/// into compressed stores ([`Track::into_store`]): a short track whole, a
/// long one's spans only, its headers staying at hand for the binary
/// searches and zoomed-out plans that read only them.
#[derive(Clone, Debug, Default)]
pub struct Track {
    repr: Repr,
}

/// Two variants, one of them a thin box, keep a track handle at 16 bytes
/// (the box's pointer sits beside the store's, which is never null): most
/// tracks are short goroutines' and paged.
#[derive(Clone, Debug)]
enum Repr {
    /// All the bytes, in a store: at offset `at >> LEN_BITS`, `at & LEN_MASK`
    /// long.
    Paged { store: Arc<PagedBytes>, at: u64 },
    /// The rest.
    Held(Box<Held>),
}

#[derive(Clone, Debug)]
enum Held {
    /// All the bytes, in one allocation.
    Owned(Box<[u8]>),
    /// The block count and headers here, the spans in a store.
    Split(Split),
}

impl Repr {
    fn owned(data: Box<[u8]>) -> Repr {
        Repr::Held(Box::new(Held::Owned(data)))
    }

    fn split(split: Split) -> Repr {
        Repr::Held(Box::new(Held::Split(split)))
    }
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::owned(Box::default())
    }
}

/// A long track whose spans are in a store.
#[derive(Clone, Debug)]
struct Split {
    head: Box<[u8]>,
    /// Summaries of the blocks, for zoomed-out plans.
    groups: Box<[BlockGroup]>,
    store: Arc<PagedBytes>,
    /// Where the span bytes are in the store: one run, or one per spill
    /// when other tracks were appended in between.
    extents: Box<[Extent]>,
    spans_len: usize,
}

/// A run of a track's span bytes in a store: from byte `start` of them on,
/// they are at `at` in the store. Blocks never straddle two runs.
#[derive(Clone, Copy, Debug)]
struct Extent {
    start: u64,
    at: u64,
}

/// Calls `f` with the span bytes `[start, end)` of a track kept in
/// `extents` of `store` (`len` bytes in all).
fn read_extents<R>(
    (store, extents, len): (&PagedBytes, &[Extent], usize),
    start: usize,
    end: usize,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    let end = end.min(len);
    let (start64, end64) = (start as u64, end as u64);
    let first = extents.partition_point(|e| e.start <= start64).saturating_sub(1);
    let run_end = |i: usize| extents.get(i + 1).map_or(len as u64, |n| n.start);
    match extents.get(first) {
        None => f(&[]),
        Some(e) if end64 <= run_end(first) => store.read(e.at + start64.saturating_sub(e.start), end - start, f),
        Some(_) => {
            // Across runs (only reading a whole track does that).
            let mut out = Vec::with_capacity(end.saturating_sub(start));
            let mut pos = start64;
            for (i, e) in extents.iter().enumerate().skip(first) {
                let to = end64.min(run_end(i));
                if pos >= to {
                    break;
                }
                store.read(e.at + pos.saturating_sub(e.start), (to - pos) as usize, |b| out.extend_from_slice(b));
                pos = to;
            }
            f(&out)
        }
    }
}

/// Tracks of up to this many bytes go into a store whole (their headers are
/// most of them, and they are read whole anyway).
const SMALL_TRACK_BYTES: usize = 4096;
/// Bits of a paged track's packed location that hold its length in bytes
/// (at most [`SMALL_TRACK_BYTES`]), and above them its span count: kept
/// beside the offset so that counting spans reads no store (summing every
/// goroutine's span count unpacked the whole store of short goroutines).
const LEN_BITS: u32 = 13;
const LEN_MASK: u64 = (1 << LEN_BITS) - 1;
const COUNT_BITS: u32 = 13;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
/// The offset takes the rest: 38 bits, 256 GiB of one store.
const OFFSET_SHIFT: u32 = LEN_BITS + COUNT_BITS;

/// A paged track's location in one word: offset, span count and length;
/// `None` if one of them does not fit.
fn paged_at(offset: u64, spans: usize, len: usize) -> Option<u64> {
    let (spans, len) = (spans as u64, len as u64);
    (offset >> (64 - OFFSET_SHIFT) == 0 && spans <= COUNT_MASK && len <= LEN_MASK)
        .then_some(offset << OFFSET_SHIFT | spans << LEN_BITS | len)
}

/// Bytes before the headers: the block count, a `u32`.
const PREFIX_BYTES: usize = 4;
/// Bytes of a packed block header.
const HEADER_BYTES: usize = 31;
/// Bytes of the first block's header (no byte offset or first index).
const FIRST_HEADER_BYTES: usize = HEADER_BYTES - 8;

/// Where header `i` starts.
fn header_offset(i: usize) -> usize {
    match i {
        0 => PREFIX_BYTES,
        _ => PREFIX_BYTES + FIRST_HEADER_BYTES + (i - 1) * HEADER_BYTES,
    }
}

impl BlockHeader {
    fn write(&self, out: &mut Vec<u8>, first: bool) {
        out.extend_from_slice(&self.start_ns.to_le_bytes());
        out.extend_from_slice(&self.end_ns.to_le_bytes());
        if !first {
            out.extend_from_slice(&self.byte_start.to_le_bytes());
            out.extend_from_slice(&self.first_index.to_le_bytes());
        }
        out.extend_from_slice(&self.count.to_le_bytes());
        // A state fits five bits: the unit takes the other three.
        out.push(self.dominant & STATE_MASK | self.unit << 5);
        out.extend_from_slice(&self.max_span.to_le_bytes());
    }

    fn read(b: &[u8], first: bool) -> Option<BlockHeader> {
        if first {
            // The same fields but the two that are 0.
            let mut full = [0u8; HEADER_BYTES];
            let (times, rest) = full.split_at_mut(16);
            times.copy_from_slice(b.get(..16)?);
            rest.get_mut(8..)?.copy_from_slice(b.get(16..FIRST_HEADER_BYTES)?);
            return BlockHeader::read(&full, false);
        }
        let b: &[u8; HEADER_BYTES] = b.get(..HEADER_BYTES)?.try_into().ok()?;
        let [
            s0,
            s1,
            s2,
            s3,
            s4,
            s5,
            s6,
            s7,
            e0,
            e1,
            e2,
            e3,
            e4,
            e5,
            e6,
            e7,
            b0,
            b1,
            b2,
            b3,
            f0,
            f1,
            f2,
            f3,
            c0,
            c1,
            d,
            m0,
            m1,
            m2,
            m3,
        ] = *b;
        Some(BlockHeader {
            start_ns: i64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]),
            end_ns: i64::from_le_bytes([e0, e1, e2, e3, e4, e5, e6, e7]),
            byte_start: u32::from_le_bytes([b0, b1, b2, b3]),
            first_index: u32::from_le_bytes([f0, f1, f2, f3]),
            count: u16::from_le_bytes([c0, c1]),
            dominant: d & STATE_MASK,
            unit: d >> 5,
            max_span: u32::from_le_bytes([m0, m1, m2, m3]),
        })
    }
}

/// A track being built: the same layout in growable vectors.
#[derive(Clone, Debug, Default)]
struct Store {
    blocks: Vec<BlockHeader>,
    /// The span bytes, but those spilled already.
    bytes: Vec<u8>,
    len: u32,
    /// Where the first span bytes went, once the track grew long (see
    /// [`TrackBuilder::spill`]); boxed, as most tracks never spill.
    spilled: Option<Box<Spilled>>,
}

/// The leading span bytes of a long track being built, moved to a store.
#[derive(Clone, Debug)]
struct Spilled {
    store: Arc<PagedBytes>,
    extents: Vec<Extent>,
    len: usize,
}

impl Spilled {
    /// Appends the next span bytes.
    fn push(&mut self, bytes: &[u8]) {
        let at = self.store.append(bytes);
        let follows = self.extents.last().is_some_and(|e| e.at + (self.len as u64 - e.start) == at);
        if !follows {
            self.extents.push(Extent { start: self.len as u64, at });
        }
        self.len += bytes.len();
    }
}

impl Store {
    fn len(&self) -> usize {
        self.len as usize
    }

    /// Span bytes moved to the store.
    fn spilled_len(&self) -> usize {
        self.spilled.as_ref().map_or(0, |s| s.len)
    }

    /// Span bytes in all, spilled or not: where the next block starts.
    fn bytes_len(&self) -> usize {
        self.spilled_len() + self.bytes.len()
    }

    fn for_each_in_block(&self, i: usize, f: impl FnMut(Span)) {
        let Some(h) = self.blocks.get(i) else { return };
        let start = h.byte_start as usize;
        let end = self.blocks.get(i + 1).map_or(self.bytes_len(), |n| n.byte_start as usize);
        match &self.spilled {
            // Blocks are spilled whole, so a block is all here or all there.
            Some(s) if start < s.len => {
                read_extents((&s.store, &s.extents, s.len), start, end, |b| decode_spans(b, h, f))
            }
            _ => {
                let base = self.spilled_len();
                let here = self.bytes.get(start.saturating_sub(base)..end.saturating_sub(base));
                decode_spans(here.unwrap_or_default(), h, f);
            }
        }
    }

    /// The block count and the headers packed.
    /// Room is left for the span bytes, which usually follow.
    fn head(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(header_offset(self.blocks.len()) + self.bytes.len());
        self.write_head(&mut data);
        data
    }

    /// Appends the block count and the headers packed to `out`.
    fn write_head(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.blocks.len() as u32).to_le_bytes());
        for (i, h) in self.blocks.iter().enumerate() {
            h.write(out, i == 0);
        }
    }

    /// [`Store::into_track`] then [`Track::into_store`], without the
    /// allocation in between for a short track (most goroutines'):
    /// its bytes are laid out in a buffer each thread keeps.
    fn into_stored_track(self, store: &Arc<PagedBytes>) -> Track {
        SCRATCH.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            match self.lay_out(&mut buf) {
                Ok(_) => Track::stored(&buf, store),
                Err(track) => track.into_store(store),
            }
        })
    }

    /// A short track's bytes appended to `out`, as a [`Track`] holds them
    /// (their length is returned); any other track as a [`Track`].
    fn lay_out(self, out: &mut Vec<u8>) -> Result<usize, Track> {
        let len = header_offset(self.blocks.len()) + self.bytes.len();
        if self.blocks.is_empty() || self.spilled.is_some() || len > SMALL_TRACK_BYTES {
            return Err(self.into_track());
        }
        self.write_head(out);
        out.extend_from_slice(&self.bytes);
        Ok(len)
    }

    fn into_track(self) -> Track {
        if self.blocks.is_empty() {
            return Track::default();
        }
        debug_assert!(self.blocks.first().is_some_and(|h| h.byte_start == 0 && h.first_index == 0));
        let mut data = self.head();
        match self.spilled {
            None => {
                data.extend_from_slice(&self.bytes);
                Track { repr: Repr::owned(data.into_boxed_slice()) }
            }
            Some(mut s) => {
                s.push(&self.bytes);
                let Spilled { store, extents, len } = *s;
                let groups = crate::group::groups(self.blocks.iter().copied());
                let extents = extents.into_boxed_slice();
                let split = Split { head: data.into(), groups, store, extents, spans_len: len };
                Track { repr: Repr::split(split) }
            }
        }
    }

    fn from_track(t: Track) -> Store {
        t.view(|v| Store {
            blocks: (0..v.block_count()).filter_map(|i| v.block(i)).collect(),
            bytes: v.with_span_bytes(0, None, <[u8]>::to_vec),
            len: v.len() as u32,
            spilled: None,
        })
    }
}

/// A track's bytes, borrowed for one call.
struct View<'a> {
    /// From the block count on.
    head: &'a [u8],
    /// Summaries of the blocks (none for short tracks).
    groups: &'a [BlockGroup],
    spans: SpanBytes<'a>,
}

/// Where a track's span bytes are.
enum SpanBytes<'a> {
    Here(&'a [u8]),
    Stored { store: &'a PagedBytes, extents: &'a [Extent], len: usize },
}

/// The block count at the start of a track's bytes.
fn block_count(head: &[u8]) -> usize {
    let count = match head.get(..PREFIX_BYTES).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
        Some(b) => u32::from_le_bytes(b) as usize,
        None => return 0,
    };
    // No more than the bytes hold: damaged bytes would otherwise have a
    // loop over the blocks walk up to four billion absent ones.
    let fits = match head.len().checked_sub(PREFIX_BYTES + FIRST_HEADER_BYTES) {
        Some(rest) => 1 + rest / HEADER_BYTES,
        None => 0,
    };
    count.min(fits)
}

impl<'a> View<'a> {
    /// A view of a track's bytes held in one piece.
    fn whole(data: &'a [u8]) -> View<'a> {
        let spans = data.get(header_offset(block_count(data))..).unwrap_or_default();
        View { head: data, groups: &[], spans: SpanBytes::Here(spans) }
    }

    fn block_count(&self) -> usize {
        block_count(self.head)
    }

    fn block(&self, i: usize) -> Option<BlockHeader> {
        if i >= self.block_count() {
            return None;
        }
        BlockHeader::read(self.head.get(header_offset(i)..)?, i == 0)
    }

    fn len(&self) -> usize {
        let last = self.block_count().checked_sub(1).and_then(|i| self.block(i));
        last.map_or(0, |h| h.first_index as usize + h.count as usize)
    }

    fn spans_len(&self) -> usize {
        match self.spans {
            SpanBytes::Here(b) => b.len(),
            SpanBytes::Stored { len, .. } => len,
        }
    }

    /// Calls `f` with the span bytes from `start` up to `end` (or the end).
    fn with_span_bytes<R>(&self, start: usize, end: Option<usize>, f: impl FnOnce(&[u8]) -> R) -> R {
        let end = end.unwrap_or(self.spans_len());
        match self.spans {
            SpanBytes::Here(b) => f(b.get(start..end).unwrap_or_default()),
            SpanBytes::Stored { store, extents, len } => read_extents((store, extents, len), start, end, f),
        }
    }

    fn for_each_in_block(&self, i: usize, f: impl FnMut(Span)) {
        self.for_each_in_block_until(i, i64::MAX, f);
    }

    fn for_each_in_block_until(&self, i: usize, until_ns: i64, f: impl FnMut(Span)) {
        let Some(h) = self.block(i) else { return };
        let end = self.block(i + 1).map(|n| n.byte_start as usize);
        self.with_span_bytes(h.byte_start as usize, end, |b| decode_spans_until(b, &h, until_ns, f));
    }

    fn decode_block(&self, i: usize, out: &mut Vec<Span>) {
        out.clear();
        self.for_each_in_block(i, |s| out.push(s));
    }

    fn partition_blocks(&self, pred: impl Fn(&BlockHeader) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.block_count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.block(mid).is_some_and(|h| pred(&h)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A track's blocks, read through one lookup of its bytes (see
/// [`Track::with_blocks`]): for loops over many blocks, such as a plan.
pub struct Blocks<'v, 'a> {
    view: &'v View<'a>,
}

impl Blocks<'_, '_> {
    /// Number of blocks.
    pub fn count(&self) -> usize {
        self.view.block_count()
    }

    /// Header of block `i`.
    pub fn get(&self, i: usize) -> Option<BlockHeader> {
        self.view.block(i)
    }

    /// The index of the first block for which `pred` is false (blocks for
    /// which it holds must come first).
    pub fn partition(&self, pred: impl Fn(&BlockHeader) -> bool) -> usize {
        self.view.partition_blocks(pred)
    }

    /// Calls `f` with every span of block `i`, in order.
    pub fn for_each_in_block(&self, i: usize, f: impl FnMut(Span)) {
        self.view.for_each_in_block(i, f);
    }

    /// Calls `f` with the spans of block `i` that start before `until_ns`,
    /// in order: a view ending inside a block decodes only what it shows.
    pub fn for_each_in_block_until(&self, i: usize, until_ns: i64, f: impl FnMut(Span)) {
        self.view.for_each_in_block_until(i, until_ns, f);
    }

    /// Summaries of every [`crate::group::GROUP_BLOCKS`] blocks, in order
    /// (empty for short tracks).
    pub fn groups(&self) -> &[BlockGroup] {
        self.view.groups
    }
}

impl Track {
    /// Calls `f` with the track's blocks, looking its bytes up once (each
    /// of `Track`'s own methods looks them up again).
    pub fn with_blocks<R>(&self, f: impl FnOnce(&Blocks<'_, '_>) -> R) -> R {
        self.view(|view| f(&Blocks { view }))
    }

    /// Calls `f` with a view of the track's bytes (fetched from its store
    /// once, if it is stored whole).
    fn view<R>(&self, f: impl FnOnce(&View<'_>) -> R) -> R {
        match &self.repr {
            Repr::Paged { store, at } => {
                store.read(at >> OFFSET_SHIFT, (at & LEN_MASK) as usize, |data| f(&View::whole(data)))
            }
            Repr::Held(held) => match &**held {
                Held::Owned(data) => f(&View::whole(data)),
                Held::Split(s) => {
                    let spans = SpanBytes::Stored { store: &s.store, extents: &s.extents, len: s.spans_len };
                    f(&View { head: &s.head, groups: &s.groups, spans })
                }
            },
        }
    }

    /// A short track whose bytes [`TrackBuilder::finish_laid_out`] laid
    /// out, appended to `store`.
    pub(crate) fn stored(laid: &[u8], store: &Arc<PagedBytes>) -> Track {
        Track::paged(laid, store).unwrap_or_else(|| Track { repr: Repr::owned(laid.into()) })
    }

    /// A short track laid out as [`TrackBuilder::finish_laid_out`] does,
    /// in its own allocation.
    pub(crate) fn from_laid(laid: Box<[u8]>) -> Track {
        Track { repr: Repr::owned(laid) }
    }

    /// The last span of the short track laid out in `laid`, read in place.
    pub(crate) fn laid_last(laid: &[u8]) -> Option<Span> {
        let v = View::whole(laid);
        let mut last = None;
        v.for_each_in_block(v.block_count().checked_sub(1)?, |s| last = Some(s));
        last
    }

    /// `data` (a whole short track) appended to `store`; `None` if its
    /// location does not fit in a word (kept elsewhere, it is then left
    /// in the store unread: only past 256 GiB of one store).
    fn paged(data: &[u8], store: &Arc<PagedBytes>) -> Option<Track> {
        let spans = View::whole(data).len();
        paged_at(0, spans, data.len())?;
        let at = paged_at(store.append(data), spans, data.len())?;
        Some(Track { repr: Repr::Paged { store: store.clone(), at } })
    }

    /// Where a track wholly in a store is: the store, and the offset, span
    /// count and length in bytes of the track there.
    pub(crate) fn place(&self) -> Option<(&Arc<PagedBytes>, u64, u64, u64)> {
        match &self.repr {
            Repr::Paged { store, at } => {
                Some((store, at >> OFFSET_SHIFT, (at >> LEN_BITS) & COUNT_MASK, at & LEN_MASK))
            }
            Repr::Held(_) => None,
        }
    }

    /// The track [`Track::place`] locates; `None` if that place cannot be
    /// one.
    pub(crate) fn from_place(store: Arc<PagedBytes>, offset: u64, spans: u64, len: u64) -> Option<Track> {
        let at = paged_at(offset, usize::try_from(spans).ok()?, usize::try_from(len).ok()?)?;
        Some(Track { repr: Repr::Paged { store, at } })
    }

    /// The same track with its bytes moved into `store`, where they are
    /// kept compressed: a short track whole, a long one's spans (its
    /// headers stay here). A stored track stays as it is.
    pub fn into_store(self, store: &Arc<PagedBytes>) -> Track {
        let Repr::Held(held) = &self.repr else { return self };
        let Held::Owned(data) = &**held else { return self };
        if data.is_empty() {
            return self;
        }
        if data.len() <= SMALL_TRACK_BYTES {
            return Track::paged(data, store).unwrap_or(self);
        }
        let (head, spans) = data.split_at(header_offset(block_count(data)).min(data.len()));
        let at = store.append(spans);
        let extents = Box::new([Extent { start: 0, at }]);
        let v = View::whole(data);
        let groups = crate::group::groups((0..v.block_count()).filter_map(|i| v.block(i)));
        let split = Split { head: head.into(), groups, store: store.clone(), extents, spans_len: spans.len() };
        Track { repr: Repr::split(split) }
    }

    /// Number of spans.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Paged { at, .. } => ((at >> LEN_BITS) & COUNT_MASK) as usize,
            Repr::Held(_) => self.view(|v| v.len()),
        }
    }

    /// Whether the track has no spans.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        self.view(|v| v.block_count())
    }

    /// Bytes the track's spans and headers take encoded, without reading
    /// them: a measure of the work a pass over its spans is.
    pub fn encoded_len(&self) -> usize {
        match &self.repr {
            Repr::Paged { at, .. } => (at & LEN_MASK) as usize,
            Repr::Held(held) => match &**held {
                Held::Owned(data) => data.len(),
                Held::Split(s) => s.head.len() + s.spans_len,
            },
        }
    }

    /// Header of block `i`.
    pub fn block(&self, i: usize) -> Option<BlockHeader> {
        self.view(|v| v.block(i))
    }

    /// The block headers, in order.
    pub fn blocks(&self) -> impl Iterator<Item = BlockHeader> {
        self.view(|v| (0..v.block_count()).filter_map(|i| v.block(i)).collect::<Vec<_>>()).into_iter()
    }

    /// The index of the first block for which `pred` is false (blocks for
    /// which it holds must come first).
    pub fn partition_blocks(&self, pred: impl Fn(&BlockHeader) -> bool) -> usize {
        self.view(|v| v.partition_blocks(pred))
    }

    /// Start of the first span.
    pub fn start_ns(&self) -> Option<i64> {
        self.block(0).map(|b| b.start_ns)
    }

    /// End of the last span.
    pub fn end_ns(&self) -> Option<i64> {
        self.view(|v| v.block(v.block_count().checked_sub(1)?).map(|b| b.end_ns))
    }

    /// Decodes block `i` into `out` (cleared first).
    pub fn decode_block(&self, i: usize, out: &mut Vec<Span>) {
        self.view(|v| v.decode_block(i, out));
    }

    /// Calls `f` with every span of block `i`, in order, without allocating.
    pub fn for_each_in_block(&self, i: usize, f: impl FnMut(Span)) {
        self.view(|v| v.for_each_in_block(i, f));
    }

    /// The last span.
    pub fn last(&self) -> Option<Span> {
        self.view(|v| {
            let mut last = None;
            v.for_each_in_block(v.block_count().checked_sub(1)?, |s| last = Some(s));
            last
        })
    }

    /// The span with index `i`.
    pub fn span(&self, i: usize) -> Option<Span> {
        self.view(|v| {
            let bi = v.partition_blocks(|b| b.first_index as usize + b.count as usize <= i);
            let h = v.block(bi)?;
            let mut found = None;
            let mut k = h.first_index as usize;
            v.for_each_in_block(bi, |s| {
                if k == i {
                    found = Some(s);
                }
                k += 1;
            });
            found
        })
    }

    /// The index of the span covering `t`, if any.
    pub fn index_at(&self, t: i64) -> Option<usize> {
        self.view(|v| {
            let bi = v.partition_blocks(|b| b.end_ns <= t);
            let h = v.block(bi)?;
            if t < h.start_ns {
                return None;
            }
            let mut buf = Vec::new();
            v.decode_block(bi, &mut buf);
            let k = buf.partition_point(|s| s.end_ns <= t);
            (k < buf.len()).then_some(h.first_index as usize + k)
        })
    }

    /// The span covering `t`, if any.
    pub fn span_at(&self, t: i64) -> Option<Span> {
        self.index_at(t).and_then(|i| self.span(i))
    }

    /// Calls `f` with every span overlapping `[start_ns, end_ns)`, in order,
    /// with its index.
    pub fn for_each_in(&self, start_ns: i64, end_ns: i64, mut f: impl FnMut(usize, &Span)) {
        self.for_each_in_pruned(start_ns, end_ns, &mut (), |_, _| false, |_, i, s| f(i, s));
    }

    /// [`Track::for_each_in`], leaving undecoded each block whose header
    /// `skip` turns down. Both calls get `state`, so a query can prune by
    /// what it has found so far (e.g. a block whose longest span is too
    /// short to matter).
    pub fn for_each_in_pruned<S>(
        &self,
        start_ns: i64,
        end_ns: i64,
        state: &mut S,
        mut skip: impl FnMut(&mut S, &BlockHeader) -> bool,
        mut f: impl FnMut(&mut S, usize, &Span),
    ) {
        self.view(|v| {
            let first = v.partition_blocks(|b| b.end_ns <= start_ns);
            for bi in first..v.block_count() {
                let Some(h) = v.block(bi) else { break };
                if h.start_ns >= end_ns {
                    break;
                }
                if skip(state, &h) {
                    continue;
                }
                // The last block is read only up to the range's end.
                let mut i = h.first_index as usize;
                v.for_each_in_block_until(bi, end_ns, |s| {
                    if s.end_ns > start_ns {
                        f(state, i, &s);
                    }
                    i += 1;
                });
            }
        });
    }

    /// Every span, in order.
    pub fn spans(&self) -> Vec<Span> {
        self.view(|v| {
            // Every span takes a byte at least (a header's count may lie).
            let mut out = Vec::with_capacity(v.len().min(v.spans_len()));
            for bi in 0..v.block_count() {
                v.for_each_in_block(bi, |s| out.push(s));
            }
            out
        })
    }

    /// Compresses what is left uncompressed in the track's store, once
    /// nothing more will be appended to it for a while.
    pub fn seal(&self) {
        match &self.repr {
            Repr::Paged { store, .. } => store.seal(),
            Repr::Held(held) => match &**held {
                Held::Owned(_) => {}
                Held::Split(s) => s.store.seal(),
            },
        }
    }

    /// Heap bytes held (for memory accounting): what the track holds of
    /// its own ([`Track::own_heap_bytes`]) and its share of its store.
    pub fn heap_bytes(&self) -> usize {
        let stored = match &self.repr {
            Repr::Paged { store, at } => store.heap_bytes_for((at & LEN_MASK) as usize),
            Repr::Held(held) => match &**held {
                Held::Owned(_) => 0,
                Held::Split(s) => s.store.heap_bytes_for(s.spans_len),
            },
        };
        self.own_heap_bytes() + stored
    }

    /// Heap bytes held outside a store: a long track's block headers,
    /// summaries and extents, or all the bytes of a track kept whole.
    pub fn own_heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Paged { .. } => 0,
            Repr::Held(held) => {
                std::mem::size_of::<Held>()
                    + match &**held {
                        Held::Owned(data) => data.len(),
                        Held::Split(s) => {
                            s.head.len() + std::mem::size_of_val(&*s.groups) + std::mem::size_of_val(&*s.extents)
                        }
                    }
            }
        }
    }

    /// The store holding the track's span bytes, if they are in one
    /// (tracks share stores: count each store once, not each track's share).
    pub fn store(&self) -> Option<&Arc<PagedBytes>> {
        match &self.repr {
            Repr::Paged { store, .. } => Some(store),
            Repr::Held(held) => match &**held {
                Held::Owned(_) => None,
                Held::Split(s) => Some(&s.store),
            },
        }
    }
}

/// A [`TrackBuilder`] holding one span and nothing written, in 24 bytes
/// instead of 224: all a goroutine idle since before the trace started
/// has until the end ([`TrackBuilder::lone`]). Only a span without `b` (as
/// a status event starts) is kept so; a pending span ends where it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoneSpan {
    start_ns: i64,
    a: i64,
    stack: StackId,
    state: u8,
    unit: u8,
    has_stacks: bool,
}

impl LoneSpan {
    /// The span's state.
    pub fn state(&self) -> u8 {
        self.state
    }

    /// The span's start.
    pub fn start_ns(&self) -> i64 {
        self.start_ns
    }

    /// The builder it was made from.
    pub fn into_builder(self) -> TrackBuilder {
        let LoneSpan { start_ns, a, stack, state, unit, has_stacks } = self;
        let span = Span { start_ns, end_ns: start_ns, state, stack, a, b: -1 };
        TrackBuilder { pending: Some(span), has_stacks, ..TrackBuilder::with_unit(unit) }
    }
}

/// Appends spans to a [`Track`] in time order.
///
/// The newest span stays pending (not yet encoded), so its `b` can still be
/// set and its end is known when it is written.
#[derive(Debug, Default)]
pub struct TrackBuilder {
    track: Store,
    pending: Option<Span>,
    /// Start of the last span written.
    written_start_ns: i64,
    /// The span count of the last block, kept here too: writing a span then
    /// reads nothing from the header (which lives in its own vector, far
    /// from this builder), it only stores to it.
    open_count: u16,
    /// Whether any span pushed has a stack (else [`TrackBuilder::map_stacks`]
    /// has nothing to do).
    has_stacks: bool,
    /// Time per state in the last block, kept as spans are written so
    /// closing the block need not decode it.
    stats: BlockStats,
    /// The last spans' fields, which the next spans may refer to.
    recent: Recent,
    /// The unit of the blocks it opens ([`TrackBuilder::with_unit`]).
    unit: u8,
    /// The unit of the last block, kept here for the same reason as
    /// `open_count`.
    open_unit: u8,
}

/// Time per state of a block's spans, for up to [`BlockStats::SLOTS`]
/// states (few blocks hold more); beyond that, or when the block's
/// earlier spans were not seen, the block is decoded when it closes.
#[derive(Clone, Copy, Debug, Default)]
struct BlockStats {
    /// Slots used, or [`BlockStats::UNKNOWN`].
    n: u8,
    states: [u8; BlockStats::SLOTS],
    ns: [i64; BlockStats::SLOTS],
    max_ns: i64,
}

impl BlockStats {
    /// Six, as a short goroutine's one block often holds five states
    /// (created, running, blocked, runnable, exited): at four, closing
    /// every such block decoded it (1.5% of a build's instructions); at
    /// eight, the longer search costs more than the rarer decoding saves.
    const SLOTS: usize = 6;
    const UNKNOWN: u8 = u8::MAX;

    fn unknown() -> BlockStats {
        BlockStats { n: BlockStats::UNKNOWN, ..BlockStats::default() }
    }

    fn add(&mut self, state: u8, ns: i64) {
        self.max_ns = self.max_ns.max(ns);
        let n = self.n as usize;
        if n > BlockStats::SLOTS {
            return;
        }
        for i in 0..n {
            if self.states.get(i) == Some(&state) {
                if let Some(v) = self.ns.get_mut(i) {
                    *v += ns;
                }
                return;
            }
        }
        match (self.states.get_mut(n), self.ns.get_mut(n)) {
            (Some(s), Some(v)) => {
                *s = state;
                *v = ns;
                self.n += 1;
            }
            _ => self.n = BlockStats::UNKNOWN,
        }
    }

    /// The dominant state (see [`dominant`]) and the longest span, if known.
    fn result(&self) -> Option<(u8, i64)> {
        let n = self.n as usize;
        let mut pairs = [(0u8, 0i64); BlockStats::SLOTS];
        let pairs = pairs.get_mut(..n)?;
        for (i, p) in pairs.iter_mut().enumerate() {
            *p = (self.states.get(i).copied().unwrap_or(0), self.ns.get(i).copied().unwrap_or(0));
        }
        let first = pairs.first().map_or(0, |p| p.0);
        pairs.sort_unstable_by_key(|p| p.0);
        Some((dominant(first, pairs), self.max_ns))
    }
}

/// The state with the most time, scanning states in code order and
/// starting from the first span's state (ties keep the earlier pick).
fn dominant(first: u8, by_state: &[(u8, i64)]) -> u8 {
    let ns_of = |s: u8| by_state.iter().find(|p| p.0 == s).map_or(0, |p| p.1);
    let mut best = first;
    for &(state, ns) in by_state {
        if ns > ns_of(best) {
            best = state;
        }
    }
    best
}

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

    /// An empty builder whose blocks count time in units of `2^unit` ns
    /// (at most 7): when every time is a multiple of that, as a Go 1.22+
    /// trace's are of 64 ns on amd64 (it counts `nanotime() / 64`), each
    /// span's start delta takes `unit` bits less. A start off that grid
    /// (Go's reader moves an event no later than the one before it to 1 ns
    /// past it) takes a byte or two more.
    pub(crate) fn with_unit(unit: u8) -> TrackBuilder {
        TrackBuilder { unit: unit.min(7), ..TrackBuilder::default() }
    }

    /// Starts a new span at `start_ns` (clamped to not go back in time),
    /// ending the previous one there. States must be below 31 (31 is
    /// taken as 30).
    pub fn push(&mut self, start_ns: i64, state: u8, stack: StackId, a: i64, b: i64) {
        let start_ns = match self.pending {
            Some(p) => start_ns.max(p.start_ns),
            None => start_ns,
        };
        if let Some(p) = self.pending.take() {
            self.write(p, start_ns);
        }
        self.has_stacks |= stack != StackId::NONE;
        let state = (state & STATE_MASK).min(UNUSED_STATE - 1);
        self.pending = Some(Span { start_ns, end_ns: start_ns, state, stack, a, b });
    }

    /// A finished track back as a builder, its last span pending again.
    pub(crate) fn reopen(track: Track) -> TrackBuilder {
        let mut track = Store::from_track(track);
        let Some(last) = track.blocks.pop() else { return TrackBuilder::default() };
        let mut spans = Vec::with_capacity(last.count as usize);
        decode_spans(track.bytes.get(last.byte_start as usize..).unwrap_or_default(), &last, |s| spans.push(s));
        track.bytes.truncate(last.byte_start as usize);
        track.len -= u32::from(last.count);
        let mut written_start_ns = 0;
        if let Some(bi) = track.blocks.len().checked_sub(1) {
            track.for_each_in_block(bi, |s| written_start_ns = s.start_ns);
        }
        let open_count = track.blocks.last().map_or(0, |h| h.count);
        let open_unit = track.blocks.last().map_or(last.unit, |h| h.unit);
        let mut b = TrackBuilder {
            track,
            pending: None,
            written_start_ns,
            open_count,
            has_stacks: true,
            stats: BlockStats::unknown(),
            // The spans of the block reopened are not known here.
            recent: Recent::default(),
            unit: last.unit,
            open_unit,
        };
        for s in spans {
            b.push(s.start_ns, s.state, s.stack, s.a, s.b);
        }
        b
    }

    /// Itself as a [`LoneSpan`], if it holds one span and has written
    /// nothing.
    pub(crate) fn lone(&self) -> Option<LoneSpan> {
        let t = &self.track;
        let s = self.pending.filter(|s| t.blocks.is_empty() && t.spilled.is_none() && s.b == -1)?;
        // (A pending span always ends at its start; checked, as nothing else
        // would keep its end.)
        let lone = LoneSpan {
            start_ns: s.start_ns,
            a: s.a,
            stack: s.stack,
            state: s.state,
            unit: self.unit,
            has_stacks: self.has_stacks,
        };
        (s.end_ns == s.start_ns).then_some(lone)
    }

    /// The first span pushed (its end is not meaningful).
    pub fn first(&self) -> Option<Span> {
        debug_assert!(self.track.spilled.is_none(), "pieces never spill");
        let Some(h) = self.track.blocks.first() else { return self.pending };
        let end = self.track.blocks.get(1).map_or(self.track.bytes.len(), |n| n.byte_start as usize);
        let mut first = None;
        let one = BlockHeader { count: 1, ..*h };
        decode_spans(self.track.bytes.get(h.byte_start as usize..end).unwrap_or_default(), &one, |s| first = Some(s));
        first
    }

    /// The start of the second span pushed.
    pub fn second_start(&self) -> Option<i64> {
        debug_assert!(self.track.spilled.is_none(), "pieces never spill");
        let h = self.track.blocks.first()?;
        if h.count >= 2 {
            let mut k = 0;
            let mut second = None;
            let two = BlockHeader { count: 2, ..*h };
            let end = self.track.blocks.get(1).map_or(self.track.bytes.len(), |n| n.byte_start as usize);
            decode_spans(self.track.bytes.get(h.byte_start as usize..end).unwrap_or_default(), &two, |s| {
                if k == 1 {
                    second = Some(s.start_ns);
                }
                k += 1;
            });
            return second;
        }
        self.track.blocks.get(1).map(|b| b.start_ns).or(self.pending.map(|p| p.start_ns))
    }

    /// Replaces every span's stack `s` with `map[s]` (stacks past the end
    /// of `map` become none). Used to turn stacks numbered per generation
    /// into the trace-wide numbering once that is known.
    pub fn map_stacks(&mut self, map: &[StackId]) {
        debug_assert!(self.track.spilled.is_none(), "pieces never spill");
        if !self.has_stacks {
            return;
        }
        let get = |s: StackId| if s == StackId::NONE { s } else { map.get(s.0 as usize).copied().unwrap_or_default() };
        if let Some(p) = self.pending.as_mut() {
            p.stack = get(p.stack);
        }
        let old = std::mem::take(&mut self.track.bytes);
        let mut bytes = Vec::with_capacity(old.len() + old.len() / 8);
        let n = self.track.blocks.len();
        for bi in 0..n {
            let next = self.track.blocks.get(bi + 1).map(|h| h.byte_start as usize);
            let Some(h) = self.track.blocks.get_mut(bi) else { break };
            let src = old.get(h.byte_start as usize..next.unwrap_or(old.len())).unwrap_or_default();
            h.byte_start = bytes.len() as u32;
            // Stacks that differed may map to the same one: encoded afresh,
            // the last block's references are those `write` goes on from.
            self.recent.reset();
            let mut prev = None;
            let unit = u32::from(h.unit);
            decode_spans(src, h, |s| {
                encode_span(&mut bytes, &mut self.recent, prev, unit, &Span { stack: get(s.stack), ..s });
                prev = Some(s.start_ns);
            });
        }
        self.track.bytes = bytes;
    }

    /// Appends the spans of `other`, which must start no earlier than the
    /// last span pushed here, leaving out its first span if `skip_first`.
    ///
    /// Whole blocks are copied, not re-encoded, except `other`'s first
    /// block (its first span may go, and it ties the two time lines
    /// together); an empty builder simply becomes `other`.
    pub fn append(&mut self, other: TrackBuilder, skip_first: bool) {
        if self.is_empty() && !skip_first {
            *self = other;
            return;
        }
        self.extend(other, skip_first, 1, |s| s);
    }

    /// [`TrackBuilder::append`] with [`TrackBuilder::retime`] applied to
    /// `other` on the way, in one pass: retiming first would copy all of
    /// `other` (a P's piece of a generation runs to megabytes) only for
    /// appending to copy it again.
    pub fn append_retimed(
        &mut self,
        other: TrackBuilder,
        skip_first: bool,
        limit_ns: i64,
        retime: impl Fn(i64) -> i64,
    ) {
        debug_assert!(other.track.spilled.is_none(), "pieces never spill");
        let n = other.track.blocks.partition_point(|h| h.start_ns < limit_ns);
        if n == 0 && other.pending.is_none_or(|p| p.start_ns >= limit_ns) {
            return self.append(other, skip_first);
        }
        // Pushing clamps each start to the one before, as retiming does:
        // `max` chains the same either way, so the spans are the same.
        self.extend(other, skip_first, n.max(1), |s| {
            if s.start_ns < limit_ns { Span { start_ns: retime(s.start_ns), ..s } } else { s }
        });
    }

    /// Moves every span starting before `limit_ns` to `retime(start)`;
    /// `retime` must keep starts in order. Blocks starting at or after
    /// `limit_ns` are kept as they are.
    pub fn retime(&mut self, limit_ns: i64, retime: impl Fn(i64) -> i64) {
        let old = std::mem::take(self);
        self.append_retimed(old, false, limit_ns, retime);
    }

    /// Appends `other`: its first `replay` blocks and its pending span span
    /// by span through `map` (leaving out its very first span if `skip`),
    /// the other blocks copied whole.
    fn extend(&mut self, other: TrackBuilder, mut skip: bool, replay: usize, map: impl Fn(Span) -> Span) {
        let TrackBuilder { track: body, pending, written_start_ns, has_stacks, stats, recent, unit, .. } = other;
        debug_assert!(body.spilled.is_none(), "pieces never spill");
        self.has_stacks |= has_stacks;
        let mut push = |me: &mut TrackBuilder, s: Span| {
            if skip {
                skip = false;
            } else {
                let s = map(s);
                me.push(s.start_ns, s.state, s.stack, s.a, s.b);
            }
        };
        let replay = replay.min(body.blocks.len());
        for bi in 0..replay {
            body.for_each_in_block(bi, |s| push(self, s));
        }
        if let Some(next) = body.blocks.get(replay) {
            if self.pending.is_none_or(|p| p.start_ns <= next.start_ns) {
                if let Some(p) = self.pending.take() {
                    self.write(p, next.start_ns);
                }
                close_block(&mut self.track, &self.stats);
                // The last block is now `other`'s, and so are its stats and
                // its last spans' fields, which the next spans may repeat.
                self.stats = stats;
                self.recent = recent;
                let base = next.byte_start as usize;
                let t = &mut self.track;
                let byte_shift = t.bytes_len() as i64 - base as i64;
                let first_shift = i64::from(t.len) - i64::from(next.first_index);
                for h in body.blocks.get(replay..).unwrap_or_default() {
                    t.blocks.push(BlockHeader {
                        byte_start: (i64::from(h.byte_start) + byte_shift) as u32,
                        first_index: (i64::from(h.first_index) + first_shift) as u32,
                        ..*h
                    });
                }
                let rest = body.bytes.get(base..).unwrap_or_default();
                let last_start = body.blocks.last().map_or(base, |h| h.byte_start as usize).max(base);
                match t.spilled.as_deref_mut() {
                    // A track that spills already (a P's, a long-lived
                    // goroutine's) takes a piece's closed blocks straight
                    // into its store: copied into its own bytes first, they
                    // made it grow to megabytes each generation, and faulted
                    // in fresh pages every time, only to be drained.
                    Some(spilled) if last_start - base >= DIRECT_SPILL_BYTES => {
                        let (closed, open) = rest.split_at((last_start - base).min(rest.len()));
                        if !t.bytes.is_empty() {
                            spilled.push(&t.bytes);
                        }
                        spilled.push(closed);
                        t.bytes.clear();
                        t.bytes.extend_from_slice(open);
                    }
                    _ => t.bytes.extend_from_slice(rest),
                }
                t.len += body.len - next.first_index;
                self.written_start_ns = written_start_ns;
                self.open_count = t.blocks.last().map_or(0, |h| h.count);
                self.open_unit = t.blocks.last().map_or(0, |h| h.unit);
                self.unit = unit;
            } else {
                // Time would go back: replay (push clamps it).
                for bi in replay..body.blocks.len() {
                    body.for_each_in_block(bi, |s| push(self, s));
                }
            }
        }
        if let Some(p) = pending {
            push(self, p);
        }
    }

    /// Encodes a finished span.
    fn write(&mut self, s: Span, end_ns: i64) {
        let t = &mut self.track;
        if t.blocks.is_empty() || self.open_count as usize >= BLOCK_SPANS {
            close_block(t, &self.stats);
            self.stats = BlockStats::default();
            self.open_count = 0;
            if t.blocks.is_empty() {
                // Most tracks (short goroutines) stay one small block:
                // start small and exact rather than at the default growth.
                t.blocks.reserve_exact(1);
                t.bytes.reserve(32);
            }
            t.blocks.push(BlockHeader {
                start_ns: s.start_ns,
                end_ns,
                byte_start: t.bytes_len() as u32,
                first_index: t.len,
                count: 0,
                dominant: s.state,
                unit: self.unit,
                max_span: 0,
            });
            self.open_unit = self.unit;
            self.recent.reset();
            encode_span(&mut t.bytes, &mut self.recent, None, 0, &s);
        } else {
            let prev = Some(self.written_start_ns);
            encode_span(&mut t.bytes, &mut self.recent, prev, u32::from(self.open_unit), &s);
        }
        self.stats.add(s.state, end_ns - s.start_ns);
        self.open_count += 1;
        if let Some(h) = t.blocks.last_mut() {
            h.count = self.open_count;
            h.end_ns = end_ns;
        }
        t.len += 1;
        self.written_start_ns = s.start_ns;
    }

    /// About to outgrow its storage, grows it once to `scale` times what it
    /// holds: a track that grows steadily through the trace (a P's block
    /// headers; its span bytes once it spills go to its store) is copied
    /// once or twice instead of at every doubling, each copy faulting in
    /// fresh pages. [`TrackBuilder::finish`] trims it.
    pub fn reserve_scaled(&mut self, scale: f64) {
        // A track that spills keeps a block or so of bytes at a time.
        if self.track.spilled.is_none() {
            reserve_scaled(&mut self.track.bytes, scale);
        }
        reserve_scaled(&mut self.track.blocks, scale);
    }

    /// Reserves room for `bytes` more span bytes (and their block headers).
    pub(crate) fn reserve(&mut self, bytes: usize) {
        if bytes > 0 {
            self.track.bytes.reserve(bytes);
            self.track.blocks.reserve(bytes / (BLOCK_SPANS * 4));
        }
    }

    /// Room for span bytes, in tests.
    #[cfg(test)]
    pub(crate) fn bytes_capacity(&self) -> usize {
        self.track.bytes.capacity()
    }

    /// Span bytes written, spilled or not.
    pub(crate) fn byte_len(&self) -> usize {
        self.track.bytes_len()
    }

    /// Whether some of its bytes went to a store ([`TrackBuilder::spill`]).
    pub(crate) fn has_spilled(&self) -> bool {
        self.track.spilled.is_some()
    }

    /// Bytes of the closed blocks not yet spilled.
    pub fn closed_bytes(&self) -> usize {
        let t = &self.track;
        t.blocks.last().map_or(0, |open| (open.byte_start as usize).saturating_sub(t.spilled_len()))
    }

    /// Once the bytes of its closed blocks pass `min_bytes`, moves them to
    /// a store (`store` gives it the first time; later spills go to the
    /// same one). A P's track, or a goroutine's that lives all through the
    /// trace, grows until the end; this keeps it compressed as it grows
    /// instead of holding it all until [`TrackBuilder::finish`]. Only for
    /// tracks that pieces are appended to, never for pieces themselves.
    pub fn spill(&mut self, min_bytes: usize, store: impl FnOnce() -> Arc<PagedBytes>) {
        let closed = self.closed_bytes();
        if closed < min_bytes.max(1) {
            return;
        }
        let t = &mut self.track;
        let Some(moving) = t.bytes.get(..closed) else { return };
        match &mut t.spilled {
            Some(s) => s.push(moving),
            None => {
                let mut s = Spilled { store: store(), extents: Vec::new(), len: 0 };
                s.push(moving);
                t.spilled = Some(Box::new(s));
            }
        }
        t.bytes.drain(..closed);
        // What is left is the open block; the room the spilled bytes took
        // would stay resident, up to megabytes per P.
        t.bytes.shrink_to(2 * t.bytes.len() + 64);
    }

    /// Ends the last span at `end_ns` and returns the track.
    pub fn finish(mut self, end_ns: i64) -> Track {
        self.close(end_ns);
        self.track.into_track()
    }

    /// [`TrackBuilder::finish`] then [`Track::into_store`], in one step.
    pub(crate) fn finish_into_store(mut self, end_ns: i64, store: &Arc<PagedBytes>) -> Track {
        self.close(end_ns);
        self.track.into_stored_track(store)
    }

    /// [`TrackBuilder::finish`], but a short track (see [`Store::lay_out`])
    /// is laid out at the end of `out`, for [`Track::stored`] to take later:
    /// a goroutine's builder can then be freed as soon as it exits.
    pub(crate) fn finish_laid_out(mut self, end_ns: i64, out: &mut Vec<u8>) -> Result<usize, Track> {
        self.close(end_ns);
        self.track.lay_out(out)
    }

    /// Its spans laid out in one allocation (see [`Track::from_laid`]),
    /// the last ending where it starts; itself if too long for that.
    pub(crate) fn into_laid(mut self: Box<Self>) -> Result<Box<[u8]>, Box<TrackBuilder>> {
        if self.track.spilled.is_some() {
            return Err(self);
        }
        self.close(self.last_start_ns());
        let mut out = Vec::with_capacity(header_offset(self.track.blocks.len()) + self.track.bytes.len());
        match self.track.lay_out(&mut out) {
            Ok(_) => Ok(out.into_boxed_slice()),
            Err(t) => Err(Box::new(TrackBuilder::reopen(t))),
        }
    }

    /// Ends the last span at `end_ns` and closes the last block.
    fn close(&mut self, end_ns: i64) {
        if let Some(p) = self.pending.take() {
            let end_ns = end_ns.max(p.start_ns);
            self.write(p, end_ns);
        }
        close_block(&mut self.track, &self.stats);
    }
}

/// If `v` has less than a quarter of its length free, reserves room for
/// `scale` times its length.
pub(crate) fn reserve_scaled<T>(v: &mut Vec<T>, scale: f64) {
    let (len, cap) = (v.len(), v.capacity());
    if cap - len < len / 4 {
        let want = (len as f64 * scale) as usize;
        v.reserve_exact(want.saturating_sub(len));
    }
}

/// Sets the dominant state and longest span of the last block, now that
/// all its spans and its end are known: from `stats` if they cover it,
/// else by decoding the block.
fn close_block(t: &mut Store, stats: &BlockStats) {
    let Some(last) = t.blocks.len().checked_sub(1) else { return };
    let (best, longest) = match stats.result() {
        Some(r) => r,
        None => {
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
            let by_state: Vec<(u8, i64)> =
                ns.iter().enumerate().filter(|p| *p.1 != 0).map(|(s, &v)| (s as u8, v)).collect();
            (dominant(first.unwrap_or(0), &by_state), longest)
        }
    };
    if let Some(h) = t.blocks.get_mut(last) {
        h.dominant = best;
        h.max_span = u32::try_from(longest.max(0)).unwrap_or(u32::MAX);
    }
}

/// Decodes the spans of block `h` from its bytes.
fn decode_spans(bytes: &[u8], h: &BlockHeader, f: impl FnMut(Span)) {
    decode_spans_until(bytes, h, i64::MAX, f);
}

/// [`decode_spans`], stopping at the first span that starts at or after
/// `until_ns` (which is not passed to `f`).
fn decode_spans_until(bytes: &[u8], h: &BlockHeader, until_ns: i64, f: impl FnMut(Span)) {
    let block = (h.start_ns, h.end_ns, h.count as usize, u32::from(h.unit));
    crate::spancode::decode_spans_until(bytes, block, until_ns, f);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_scaled_grows_once_when_nearly_full() {
        let mut v: Vec<u8> = Vec::with_capacity(100);
        v.extend(0..50);
        reserve_scaled(&mut v, 10.0);
        assert_eq!(v.capacity(), 100, "half free: left alone");
        v.extend(0..45);
        reserve_scaled(&mut v, 10.0);
        assert!(v.capacity() >= 950, "nearly full: room for ten times its length, got {}", v.capacity());
        let mut b = TrackBuilder::default();
        for i in 0..1000 {
            b.push(i * 10, (i % 3) as u8, StackId::NONE, -1, -1);
        }
        let before = b.track.bytes.capacity();
        b.reserve_scaled(4.0);
        b.reserve_scaled(4.0);
        assert!(b.track.bytes.capacity() >= before.min(b.track.bytes.len() * 4));
        let t = b.finish(10_000);
        assert_eq!(t.len(), 1000);
        assert_eq!(t.spans().last().map(|s| (s.start_ns, s.end_ns)), Some((9990, 10_000)));
    }

    #[test]
    fn headers_stay_small() {
        assert_eq!(std::mem::size_of::<BlockHeader>(), 32);
        // One per goroutine: see `Repr`.
        assert_eq!(std::mem::size_of::<Track>(), 16);
    }

    #[test]
    fn long_spans_saturate_the_header_upwards() {
        let mut b = TrackBuilder::default();
        b.push(0, 1, StackId::NONE, -1, -1);
        b.push(5_000_000_000, 2, StackId::NONE, -1, -1);
        let t = b.finish(5_000_000_100);
        assert_eq!(t.block(0).map(|h| h.max_span_ns()), Some(i64::MAX));
    }

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
        assert_eq!(t.block_count(), 1000usize.div_ceil(BLOCK_SPANS));
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
        // Any range, block edges included, gives the spans overlapping it.
        let edges: Vec<i64> = (0..4).map(|b| spans[b * BLOCK_SPANS].0).collect();
        let mut times: Vec<i64> = vec![-1, 0, 1, 1_999_999, 2_000_000, 2_000_001];
        times.extend(edges.iter().flat_map(|&e| [e - 1, e, e + 1]));
        for &a in &times {
            for &b in &times {
                let mut got = Vec::new();
                t.for_each_in(a, b, |i, s| got.push((i, *s)));
                let want: Vec<(usize, Span)> =
                    all.iter().copied().enumerate().filter(|(_, s)| s.end_ns > a && s.start_ns < b).collect();
                assert_eq!(got, want, "{a}..{b}");
            }
        }
    }

    #[test]
    fn dominant_state_is_the_longest() {
        let t = build(&[(0, 1), (10, 2), (100, 1), (110, 3)], 120);
        assert_eq!(t.block(0).map(|h| h.dominant), Some(2));
        assert_eq!(t.end_ns(), Some(120));
    }

    #[test]
    fn time_never_goes_back() {
        let t = build(&[(10, 1), (5, 2)], 20);
        let s = t.spans();
        assert_eq!(s[1].start_ns, 10);
    }

    /// A deterministic pseudo-random sequence of spans: (start, state, stack).
    fn random_spans(n: usize, seed: u64) -> Vec<(i64, u8, u32)> {
        let mut x = seed;
        let mut t = 1_000;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                t += (x % 5_000) as i64;
                (t, (x >> 20) as u8 % 7, (x >> 40) as u32 % 5)
            })
            .collect()
    }

    fn push_all(b: &mut TrackBuilder, spans: &[(i64, u8, u32)]) {
        for &(t, state, stack) in spans {
            b.push(t, state, StackId(stack), t % 3 - 1, -1);
        }
    }

    #[test]
    fn a_block_read_until_a_time_gives_the_spans_starting_before_it() {
        let spans = random_spans(3 * BLOCK_SPANS + 17, 9);
        let mut b = TrackBuilder::default();
        push_all(&mut b, &spans);
        let owned = b.finish(spans.last().map_or(0, |s| s.0 + 10));
        let stored = owned.clone().into_store(&PagedBytes::new());
        for t in [&owned, &stored] {
            t.with_blocks(|blocks| {
                assert!(blocks.count() >= 3);
                for i in 0..blocks.count() {
                    let mut whole = Vec::new();
                    blocks.for_each_in_block(i, |s| whole.push(s));
                    let times = whole.iter().map(|s| s.start_ns);
                    let cuts = [i64::MIN, whole[0].start_ns, whole[whole.len() / 2].start_ns + 1, i64::MAX];
                    for until in times.clone().step_by(37).chain(cuts) {
                        let mut got = Vec::new();
                        blocks.for_each_in_block_until(i, until, |s| got.push(s));
                        let want: Vec<Span> = whole.iter().copied().filter(|s| s.start_ns < until).collect();
                        assert_eq!(got, want, "block {i} until {until}");
                    }
                }
            });
        }
    }

    #[test]
    fn stored_tracks_read_as_they_were_built() {
        let store = PagedBytes::new();
        let mut pairs = Vec::new();
        for (seed, n) in [(1, 0), (2, 1), (3, 3), (4, 64), (5, 65), (6, 300), (7, 5_000), (8, 2)] {
            let spans = random_spans(n, seed);
            let mut b = TrackBuilder::default();
            push_all(&mut b, &spans);
            let end = spans.last().map_or(0, |s| s.0 + 10);
            let owned = b.finish(end);
            let stored = owned.clone().into_store(&store);
            pairs.push((owned, stored));
        }
        // The long track spans pages; short ones are stored whole.
        let held = |t: &Track| match &t.repr {
            Repr::Held(h) => Some(matches!(**h, Held::Split(_))),
            Repr::Paged { .. } => None,
        };
        assert_eq!(held(&pairs[6].1), Some(true), "split");
        assert_eq!(held(&pairs[2].1), None, "paged");
        assert_eq!(held(&pairs[0].1), Some(false), "an empty track stays as it is");
        let same = |owned: &Track, stored: &Track| {
            assert_eq!(stored.spans(), owned.spans());
            assert_eq!(stored.len(), owned.len());
            assert_eq!(
                format!("{:?}", stored.blocks().collect::<Vec<_>>()),
                format!("{:?}", owned.blocks().collect::<Vec<_>>())
            );
            assert_eq!(
                (stored.start_ns(), stored.end_ns(), stored.last()),
                (owned.start_ns(), owned.end_ns(), owned.last())
            );
            let end = owned.end_ns().unwrap_or(0);
            for k in 0..40 {
                let t = end * k / 37 - 5;
                assert_eq!(stored.index_at(t), owned.index_at(t), "index_at({t})");
                assert_eq!(stored.span(k as usize * 131), owned.span(k as usize * 131));
                let mut a = Vec::new();
                let mut b = Vec::new();
                stored.for_each_in(t, t + 20_000, |i, s| a.push((i, *s)));
                owned.for_each_in(t, t + 20_000, |i, s| b.push((i, *s)));
                assert_eq!(a, b, "for_each_in from {t}");
            }
            check_headers(stored);
        };
        for (owned, stored) in &pairs {
            same(owned, stored);
        }
        // The same once the last page is compressed too.
        store.seal();
        for (owned, stored) in &pairs {
            same(owned, stored);
        }
        // A stored track can be built on again.
        let (owned, stored) = &pairs[6];
        let mut again = TrackBuilder::reopen(stored.clone());
        let mut want = TrackBuilder::reopen(owned.clone());
        let t = owned.end_ns().unwrap_or(0) + 100;
        again.push(t, 3, StackId(2), 1, -1);
        want.push(t, 3, StackId(2), 1, -1);
        assert_eq!(again.finish(t + 50).spans(), want.finish(t + 50).spans());
    }

    /// A track located over bytes that are not one (a wrong offset) reads
    /// no more block headers than those bytes hold, rather than walking the
    /// billions its first word may claim.
    #[test]
    fn a_track_over_wrong_bytes_reads_only_the_headers_they_hold() {
        let store = PagedBytes::new();
        let mut junk = vec![0xffu8; 4];
        junk.extend((0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
        let at = store.append(&junk);
        let Some(track) = Track::from_place(store, at, 7, junk.len() as u64) else { panic!("fits") };
        let most = 1 + (junk.len() - PREFIX_BYTES - FIRST_HEADER_BYTES) / HEADER_BYTES;
        assert!(track.block_count() <= most, "{} blocks in {} bytes", track.block_count(), junk.len());
        let _ = track.spans();
        let _ = track.blocks().count();
    }

    #[test]
    fn a_paged_tracks_span_count_reads_no_store() {
        let store = PagedBytes::new();
        let mut queue = Vec::new();
        let mut tracks = Vec::new();
        for (n, seed) in [(1, 1), (2, 2), (5, 3), (40, 4), (300, 5), (2_000, 6)] {
            let (mut a, mut b) = (TrackBuilder::default(), TrackBuilder::default());
            push_all(&mut a, &random_spans(n, seed));
            push_all(&mut b, &random_spans(n, seed));
            tracks.push((n, a.finish_into_store(1 << 40, &store)));
            queue.clear();
            if let Ok(len) = b.finish_laid_out(1 << 40, &mut queue) {
                tracks.push((n, Track::stored(&queue[..len], &store)));
            }
        }
        store.seal();
        assert!(tracks.iter().filter(|(_, t)| matches!(t.repr, Repr::Paged { .. })).count() >= 8);
        let before = crate::paged::READS.get();
        let counted: Vec<usize> = tracks.iter().map(|(_, t)| t.len()).collect();
        assert_eq!(crate::paged::READS.get(), before, "len() read a store");
        let want: Vec<usize> = tracks.iter().map(|(n, _)| *n).collect();
        assert_eq!(counted, want);
        let decoded: Vec<usize> = tracks.iter().map(|(_, t)| t.spans().len()).collect();
        assert_eq!(decoded, want);
    }

    #[test]
    fn a_location_that_does_not_fit_in_a_word_is_refused() {
        assert!(paged_at(0, SMALL_TRACK_BYTES, SMALL_TRACK_BYTES).is_some());
        assert!(paged_at((1 << 38) - 1, 1, 1).is_some());
        assert_eq!(paged_at(1 << 38, 1, 1), None);
        assert_eq!(paged_at(0, 1 << 13, 1), None);
        assert_eq!(paged_at(0, 1, 1 << 13), None);
        let at = paged_at(12_345, 678, 910).unwrap_or_default();
        assert_eq!((at >> OFFSET_SHIFT, (at >> LEN_BITS) & COUNT_MASK, at & LEN_MASK), (12_345, 678, 910));
    }

    #[test]
    fn finishing_into_a_store_equals_finishing_then_storing() {
        let (direct, two_steps) = (PagedBytes::new(), PagedBytes::new());
        // Short tracks (most goroutines') and long ones, which keep their
        // headers at hand.
        for (n, seed) in [(1, 1), (3, 2), (40, 3), (600, 4), (5_000, 5)] {
            let spans = random_spans(n, seed);
            let (mut a, mut b) = (TrackBuilder::default(), TrackBuilder::default());
            push_all(&mut a, &spans);
            push_all(&mut b, &spans);
            let end = spans.last().map_or(0, |s| s.0 + 7);
            let (got, want) = (a.finish_into_store(end, &direct), b.finish(end).into_store(&two_steps));
            assert_eq!(got.spans(), want.spans(), "{n} spans");
            assert_eq!(matches!(got.repr, Repr::Paged { .. }), matches!(want.repr, Repr::Paged { .. }), "{n} spans");
            assert_eq!(got.own_heap_bytes(), want.own_heap_bytes(), "{n} spans");
        }
        assert_eq!(direct.heap_bytes(), two_steps.heap_bytes());
        assert_eq!(TrackBuilder::default().finish_into_store(9, &direct).len(), 0);
    }

    #[test]
    fn spilling_while_building_changes_nothing() {
        let spans = random_spans(20_000, 9);
        let mut plain = TrackBuilder::default();
        let mut spilling = TrackBuilder::default();
        let shared = PagedBytes::new();
        let (mut at, mut direct) = (0, 0);
        for k in 0.. {
            // Pieces of different sizes, appended as the merge appends them
            // to a P's track: the big ones, once the track spills, go
            // straight to the store, all but their last block.
            let Some(chunk) = spans.get(at..(at + [700, 3000, 150][k % 3]).min(spans.len())) else { break };
            if chunk.is_empty() {
                break;
            }
            at += chunk.len();
            let spilled_before = spilling.track.spilled_len();
            for b in [&mut plain, &mut spilling] {
                let mut piece = TrackBuilder::default();
                push_all(&mut piece, chunk);
                b.append(piece, k % 4 == 1);
            }
            if spilling.track.spilled_len() > spilled_before {
                direct += 1;
                assert!(spilling.closed_bytes() == 0 && spilling.track.blocks.last().is_some_and(|h| h.count > 0));
            }
            spilling.spill(if k % 2 == 0 { 1 } else { 3000 }, || shared.clone());
            // Other tracks written to the same store in between.
            shared.append(&[k as u8; 100]);
            assert_eq!(spilling.len(), plain.len());
        }
        assert!(direct >= 5, "{direct} pieces went straight to the store");
        assert!(spilling.track.spilled.as_ref().is_some_and(|s| s.extents.len() > 5));
        assert!(spilling.track.bytes.len() < plain.track.bytes.len() / 10);
        let end = spans.last().map_or(0, |s| s.0 + 10);
        let (plain, spilled) = (plain.finish(end), spilling.finish(end));
        assert!(matches!(&spilled.repr, Repr::Held(h) if matches!(**h, Held::Split(_))));
        assert_eq!(spilled.spans(), plain.spans());
        assert_eq!(
            format!("{:?}", spilled.blocks().collect::<Vec<_>>()),
            format!("{:?}", plain.blocks().collect::<Vec<_>>())
        );
        check_headers(&spilled);
        // The same read back once its pages are all compressed, and after
        // a round trip through a builder.
        spilled.seal();
        assert_eq!(spilled.spans(), plain.spans());
        let mut again = TrackBuilder::reopen(spilled.clone());
        again.push(end + 5, 1, StackId(1), -1, -1);
        let mut want = TrackBuilder::reopen(plain.clone());
        want.push(end + 5, 1, StackId(1), -1, -1);
        assert_eq!(again.finish(end + 9).spans(), want.finish(end + 9).spans());
    }

    /// Every header's dominant state and longest span, recomputed from its
    /// decoded spans.
    fn check_headers(t: &Track) {
        for (bi, h) in t.blocks().enumerate() {
            let mut ns = [0i64; 32];
            let mut first = None;
            let mut longest = 0;
            t.for_each_in_block(bi, |s| {
                first.get_or_insert(s.state);
                longest = longest.max(s.duration_ns());
                ns[s.state as usize] += s.duration_ns();
            });
            let by_state: Vec<(u8, i64)> = (0..32u8).map(|s| (s, ns[s as usize])).collect();
            assert_eq!(h.dominant, dominant(first.unwrap_or(0), &by_state), "block {bi}");
            assert_eq!(h.max_span_ns(), longest, "block {bi}");
        }
    }

    #[test]
    fn appended_pieces_equal_one_track() {
        for seed in 1..20u64 {
            let spans = random_spans(700, seed);
            let mut whole = TrackBuilder::default();
            push_all(&mut whole, &spans);
            let whole = whole.finish(10_000_000);
            // Split at uneven points, build pieces apart, append in order.
            let cuts = [0, 1, 3, 64, 65, 200, 333, 334, 640, 700];
            let mut stitched = TrackBuilder::default();
            for w in cuts.windows(2) {
                let mut piece = TrackBuilder::default();
                push_all(&mut piece, &spans[w[0]..w[1]]);
                stitched.append(piece, false);
            }
            let stitched = stitched.finish(10_000_000);
            assert_eq!(stitched.spans(), whole.spans(), "seed {seed}");
            assert_eq!(stitched.len(), 700);
            check_headers(&stitched);
            check_headers(&whole);
            for i in [0, 1, 63, 64, 65, 334, 699] {
                assert_eq!(stitched.span(i), whole.span(i), "seed {seed} span {i}");
            }
            let t = spans[400].0;
            assert_eq!(stitched.index_at(t), Some(400));
        }
    }

    #[test]
    fn second_start_finds_the_second_span_wherever_it_is() {
        let mut b = TrackBuilder::default();
        assert_eq!(b.second_start(), None);
        b.push(10, 1, StackId::NONE, -1, -1);
        assert_eq!(b.second_start(), None);
        b.push(20, 2, StackId::NONE, -1, -1);
        assert_eq!(b.second_start(), Some(20), "pending");
        b.push(30, 1, StackId::NONE, -1, -1);
        assert_eq!(b.second_start(), Some(20), "in the first block");
        let spans = random_spans(200, 9);
        let mut c = TrackBuilder::default();
        push_all(&mut c, &spans);
        assert_eq!(c.second_start(), Some(spans[1].0));
    }

    #[test]
    fn append_can_leave_out_the_first_span() {
        let spans = random_spans(300, 7);
        let mut a = TrackBuilder::default();
        push_all(&mut a, &spans[..100]);
        let mut b = TrackBuilder::default();
        push_all(&mut b, &spans[100..]);
        a.append(b, true);
        let got = a.finish(10_000_000).spans();
        let mut want = TrackBuilder::default();
        push_all(&mut want, &spans[..100]);
        push_all(&mut want, &spans[101..]);
        assert_eq!(got, want.finish(10_000_000).spans());
    }

    /// Spans on a 64 ns grid, one in 40 a few ns off it (moved past a
    /// tick, as Go does).
    fn grid_spans(n: usize, seed: u64, from: i64) -> Vec<(i64, u8, u32)> {
        let mut t = from;
        random_spans(n, seed)
            .into_iter()
            .enumerate()
            .map(|(i, (dt, state, stack))| {
                t += (dt % 5_000) / 64 * 64 + 64;
                (t + i64::from(i % 40 == 7) * 3, state, stack)
            })
            .collect()
    }

    fn starts(t: &Track) -> Vec<(i64, u8, u32)> {
        t.spans().iter().map(|s| (s.start_ns, s.state, s.stack.0)).collect()
    }

    #[test]
    fn blocks_keep_their_time_unit_through_appends_reopens_and_stack_maps() {
        let first = grid_spans(700, 3, 0);
        let second = grid_spans(700, 4, first.last().map_or(0, |s| s.0));
        let third = grid_spans(300, 5, second.last().map_or(0, |s| s.0));
        let all: Vec<_> = first.iter().chain(&second).chain(&third).copied().collect();
        let end = all.last().map_or(0, |s| s.0 + 100);
        for (u1, u2) in [(0, 6), (6, 0), (6, 6), (4, 7)] {
            // Blocks of both units in one track, and spans written after
            // another's blocks were taken over.
            let mut b = TrackBuilder::with_unit(u1);
            push_all(&mut b, &first);
            let mut piece = TrackBuilder::with_unit(u2);
            push_all(&mut piece, &second);
            b.append(piece, false);
            push_all(&mut b, &third);
            let track = b.finish(end);
            check_headers(&track);
            assert_eq!(starts(&track), all, "units {u1} {u2}");
            assert!(track.blocks().any(|h| h.unit == u1) && track.blocks().any(|h| h.unit == u2), "{u1} {u2}");
            // Through a store and back, then reopened with more spans.
            let stored = track.into_store(&PagedBytes::new());
            assert_eq!(starts(&stored), all, "stored, units {u1} {u2}");
            let mut again = TrackBuilder::reopen(stored);
            let more = grid_spans(50, 6, end);
            push_all(&mut again, &more);
            let again = again.finish(end + 1_000_000);
            let want: Vec<_> = all.iter().chain(&more).copied().collect();
            assert_eq!(starts(&again), want, "reopened, units {u1} {u2}");
        }
        // Reopened where the block before the last is not full (a piece's
        // blocks taken over whole after a partial one): the spans go on in
        // that block, in its unit.
        let (a, p) = (grid_spans(100, 7, 0), grid_spans(300, 8, 1 << 20));
        let mut b = TrackBuilder::with_unit(6);
        push_all(&mut b, &a);
        let mut piece = TrackBuilder::with_unit(6);
        push_all(&mut piece, &p);
        b.append(piece, false);
        let t = b.finish(end);
        assert_eq!(t.blocks().map(|h| h.count).collect::<Vec<_>>(), [256, 100, 44]);
        let want: Vec<_> = a.iter().chain(&p).copied().collect();
        assert_eq!(starts(&TrackBuilder::reopen(t).finish(end)), want);
        // Stacks renumbered: each block encoded afresh in its own unit.
        let mut b = TrackBuilder::with_unit(6);
        push_all(&mut b, &first);
        b.map_stacks(&[StackId(0), StackId(10), StackId(11), StackId(12), StackId(13)]);
        let want: Vec<_> = first.iter().map(|&(t, st, sk)| (t, st, if sk == 0 { 0 } else { sk + 9 })).collect();
        assert_eq!(starts(&b.finish(end)), want);
        // A trace on the grid takes fewer bytes in units.
        let len = |unit| {
            let mut b = TrackBuilder::with_unit(unit);
            push_all(&mut b, &all);
            b.byte_len()
        };
        assert!(len(6) < len(0) * 9 / 10, "{} {}", len(6), len(0));
    }

    #[test]
    fn appending_retimed_moves_the_early_spans_of_the_piece_only() {
        let squeeze = |limit: i64| move |t: i64| limit - (limit - t) / 10;
        for seed in 1..6u64 {
            let base_spans = random_spans(300, seed);
            let end = base_spans.last().map_or(0, |s| s.0);
            // The piece starts where the base ends and crosses several blocks.
            let piece_spans: Vec<_> =
                random_spans(700, seed + 100).into_iter().map(|(t, s, k)| (t + end, s, k)).collect();
            for cut in [0, 1, 2, 255, 256, 257, 600, 699, 700] {
                let limit = piece_spans.get(cut).or(piece_spans.last()).map_or(0, |s| s.0 + i64::from(cut == 700));
                for skip in [false, true] {
                    let mut got = TrackBuilder::default();
                    push_all(&mut got, &base_spans);
                    let mut piece = TrackBuilder::default();
                    push_all(&mut piece, &piece_spans);
                    got.append_retimed(piece, skip, limit, squeeze(limit));
                    let got = got.finish(10_000_000);
                    check_headers(&got);
                    // What it should be: the base, then the piece's starts
                    // before `limit` squeezed, never earlier than the last.
                    let mut want = base_spans.clone();
                    for &(t, state, stack) in piece_spans.iter().skip(usize::from(skip)) {
                        let moved = if t < limit { squeeze(limit)(t) } else { t };
                        want.push((moved.max(want.last().map_or(i64::MIN, |w| w.0)), state, stack));
                    }
                    let got: Vec<_> = got.spans().iter().map(|s| (s.start_ns, s.state, s.stack.0)).collect();
                    assert_eq!(got, want, "seed {seed} cut {cut} skip {skip}");
                }
            }
        }
    }

    #[test]
    fn retime_moves_only_early_starts() {
        let spans = random_spans(500, 3);
        let limit = spans[150].0;
        let mut b = TrackBuilder::default();
        push_all(&mut b, &spans);
        // Squeeze everything before `limit` towards it, keeping order.
        b.retime(limit, |t| limit - (limit - t) / 10);
        let t = b.finish(10_000_000);
        check_headers(&t);
        for (s, &(start, state, _)) in t.spans().iter().zip(&spans) {
            let want = if start < limit { limit - (limit - start) / 10 } else { start };
            assert_eq!((s.start_ns, s.state), (want, state));
        }
    }

    #[test]
    fn map_stacks_renumbers_every_span() {
        let spans = random_spans(300, 11);
        let mut b = TrackBuilder::default();
        push_all(&mut b, &spans);
        let map: Vec<StackId> = (0..5).map(|i| StackId(1000 + i * 300)).collect();
        b.map_stacks(&map);
        let t = b.finish(10_000_000);
        for (s, &(_, _, stack)) in t.spans().iter().zip(&spans) {
            let want = if stack == 0 { StackId::NONE } else { map[stack as usize] };
            assert_eq!(s.stack, want);
        }
    }

    #[test]
    fn reopen_then_push_equals_pushing_all() {
        let spans = random_spans(400, 5);
        for cut in [1, 64, 100, 128, 399] {
            let mut a = TrackBuilder::default();
            push_all(&mut a, &spans[..cut]);
            let mut b = TrackBuilder::reopen(a.finish(0));
            push_all(&mut b, &spans[cut..]);
            let got = b.finish(10_000_000);
            check_headers(&got);
            let mut want = TrackBuilder::default();
            push_all(&mut want, &spans);
            assert_eq!(got.spans(), want.finish(10_000_000).spans(), "cut {cut}");
        }
    }
}
