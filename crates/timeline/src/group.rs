//! Summaries of [`GROUP_BLOCKS`] consecutive blocks of a long track.
//!
//! Fully zoomed out, a P's track of a large trace has tens of thousands of
//! blocks per pixel row, each merged from its header; reading every header
//! each frame costs milliseconds. A group holds what merging its blocks one
//! by one would add to a merged run, so a plan can take a whole group at
//! once when all its spans are below a pixel.

use crate::track::BlockHeader;

/// Blocks a group summarises.
pub const GROUP_BLOCKS: usize = 64;
/// Distinct dominant states a group can sum; a group with more is never
/// taken whole (its blocks are read one by one).
const STATES: usize = 4;

/// What merging a group's blocks one by one would give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockGroup {
    /// Start of the first block.
    pub start_ns: i64,
    /// End of the last block.
    pub end_ns: i64,
    /// Index of the first span.
    pub first_index: u32,
    /// Spans in all.
    pub count: u32,
    /// The longest span of any block (as [`BlockHeader::max_span_ns`]).
    pub max_span_ns: i64,
    /// The first block's dominant state.
    pub first_dominant: u8,
    /// Every block holds more than one span (a one-span block is never
    /// merged from its header).
    pub all_multi: bool,
    /// Each block's time summed by its dominant state: `(state, ns)`,
    /// `n_states` of them, or `None` with more than [`STATES`].
    states: Option<[(u8, i64); STATES]>,
    n_states: u8,
}

impl BlockGroup {
    /// Block time by dominant state, if the group has few enough states to
    /// be taken whole.
    pub fn states(&self) -> Option<&[(u8, i64)]> {
        self.states.as_ref().and_then(|s| s.get(..self.n_states as usize))
    }

    fn new(h: &BlockHeader) -> BlockGroup {
        BlockGroup {
            start_ns: h.start_ns,
            end_ns: h.start_ns,
            first_index: h.first_index,
            count: 0,
            max_span_ns: 0,
            first_dominant: h.dominant,
            all_multi: true,
            states: Some([(0, 0); STATES]),
            n_states: 0,
        }
    }

    fn add(&mut self, h: &BlockHeader) {
        self.end_ns = h.end_ns;
        self.count += u32::from(h.count);
        self.max_span_ns = self.max_span_ns.max(h.max_span_ns());
        self.all_multi &= h.count > 1;
        let ns = h.end_ns - h.start_ns;
        let Some(states) = self.states.as_mut() else { return };
        let n = self.n_states as usize;
        if let Some(slot) = states.get_mut(..n).and_then(|s| s.iter_mut().find(|(st, _)| *st == h.dominant)) {
            slot.1 += ns;
        } else if let Some(slot) = states.get_mut(n) {
            *slot = (h.dominant, ns);
            self.n_states += 1;
        } else {
            self.states = None;
        }
    }
}

/// The groups of a track's blocks, in order: group `k` covers blocks
/// `k * GROUP_BLOCKS` onwards.
pub fn groups(blocks: impl Iterator<Item = BlockHeader>) -> Box<[BlockGroup]> {
    let mut out: Vec<BlockGroup> = Vec::new();
    for (i, h) in blocks.enumerate() {
        if i.is_multiple_of(GROUP_BLOCKS) {
            out.push(BlockGroup::new(&h));
        }
        if let Some(g) = out.last_mut() {
            g.add(&h);
        }
    }
    out.into_boxed_slice()
}
