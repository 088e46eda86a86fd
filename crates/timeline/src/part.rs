//! What one generation contributes to the timeline, collected on its own
//! thread before the generations are stitched together in order.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use trace_core::event::RangeName;
use trace_core::spec::ev;
use trace_core::{Event, EventContext, EventKind, GoState, ProcState, ResolvedFrame, ResourceId, TimeNs};

use crate::chunked::Chunked;
use crate::early::Early;
use crate::finished::FinishQueue;
use crate::finlist::FinishedList;
use crate::pieces::{Pieces, Restated, Second, ShardParts};
use crate::stacks::StackId;
use crate::state::{GState, MState, PState};
use crate::track::TrackBuilder;
use crate::user::UserRecs;

/// Times are clamped to +-2^61 ns (73 years), far beyond any real trace.
pub(crate) const MAX_TIME_NS: i64 = 1 << 61;

/// Goroutines are spread over this many shards by ID, so the stitching
/// of generations can run one shard per thread.
pub(crate) const SHARDS: usize = 64;

/// The shard a goroutine goes to (IDs count up from 1, so this spreads
/// them evenly, and `id / SHARDS` numbers them densely within a shard).
pub(crate) fn shard_of(id: i64) -> usize {
    id.rem_euclid(SHARDS as i64) as usize
}

/// Which tracks a build makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tracks {
    /// Goroutines, Ps and threads.
    All,
    /// Goroutines and Ps; threads are listed with empty tracks.
    NoThreads,
    /// Thread tracks only.
    ThreadsOnly,
}

/// A generation's stack IDs to trace-wide stack numbers, looked up for
/// every event with a stack: a table indexed by ID (Go numbers a
/// generation's stacks from 1 up), and a map for IDs far past the number
/// of stacks (a damaged trace), so no ID can make the table huge.
#[derive(Debug, Default)]
pub(crate) struct StackMap {
    /// By ID; `NONE` where there is none.
    dense: Vec<StackId>,
    sparse: FxHashMap<u64, StackId>,
    len: usize,
}

impl StackMap {
    /// Maps `id` to `stack` (not `NONE`).
    pub fn insert(&mut self, id: u64, stack: StackId) {
        self.len += 1;
        // Within twice the stacks so far (plus some): the table stays
        // about as long as the map would be.
        let limit = 2 * self.len + 1024;
        match usize::try_from(id) {
            Ok(i) if i < limit => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, StackId::NONE);
                }
                if let Some(slot) = self.dense.get_mut(i) {
                    *slot = stack;
                }
            }
            _ => {
                self.sparse.insert(id, stack);
            }
        }
    }

    /// The trace-wide number of stack `id`.
    pub fn get(&self, id: u64) -> Option<StackId> {
        let dense = usize::try_from(id).ok().and_then(|i| self.dense.get(i)).filter(|s| **s != StackId::NONE);
        dense.or_else(|| self.sparse.get(&id)).copied()
    }
}

/// The largest power of two, `2^unit` ns, that one tick of a clock of
/// `ns_per_tick` is, up to 128 ns; 0 if a tick is no such whole number of
/// ns. Go 1.22 and later count `nanotime() / 64` on amd64 (64 ns a tick)
/// and `/ 16` elsewhere, so every time they record is a multiple of that.
pub(crate) fn time_unit(ns_per_tick: f64) -> u8 {
    (1..=7u8).rev().find(|&k| ns_per_tick == f64::from(1u32 << k)).unwrap_or(0)
}

/// Reason string IDs past this are classified at each event, not kept
/// (Go numbers a generation's strings from 1; a few thousand at most).
const MAX_KEPT_REASON: usize = 1 << 16;

pub(crate) use crate::early::{EARLY_EVENTS, Retime};

/// The spans one generation holds for one goroutine, P or thread.
///
/// The first span may restate a state the previous generation already
/// ended in; whether it is kept is decided when the pieces are stitched
/// together in order ([`crate::merge`]).
pub(crate) struct Seg {
    pub id: i64,
    /// Spans; stacks are numbered per generation (see [`GenPart::stacks`]).
    pub track: TrackBuilder,
    /// Whether the first span came from a status event.
    pub head_restate: bool,
}

/// A goroutine's piece of one generation.
pub(crate) struct GSeg {
    pub seg: Seg,
    /// Its creation in this generation, if there.
    pub created: Option<Created>,
    /// Whether the first span's stack is where it blocked (see
    /// [`blocking_stack`]).
    pub head_has_first_stack: bool,
    /// The first such stack after the first span (local, 0 if none).
    pub first_stack: u32,
}

impl GSeg {
    /// Pushes a span (a restatement if `restate`), unless it restates the
    /// state the piece is in already (`false`).
    // Inlined into its one hot caller, `g_created`: 1.7% fewer
    // instructions in a build (callgrind, busy-50mb).
    #[inline(always)]
    pub fn push(&mut self, time: i64, state: GState, stack: u32, (a, b): (i64, i64), restate: bool) -> bool {
        let t = &mut self.seg.track;
        if t.is_empty() {
            self.seg.head_restate = restate;
            self.head_has_first_stack = blocking_stack(state, stack);
        } else {
            if restate
                && let Some(last) = t.last_state().and_then(GState::from_u8)
                && last.category() == state.category()
            {
                return false;
            }
            if self.first_stack == 0 && blocking_stack(state, stack) {
                self.first_stack = stack;
            }
        }
        t.push(time, state as u8, StackId(stack), a, b);
        true
    }
}

/// One shard's goroutines of a part: those finished early, and the pieces
/// (some kept small, see [`Pieces`]).
pub(crate) type ShardPieces = (FinishedList, ShardParts);

/// A goroutine's creation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Created {
    pub time: i64,
    pub parent: i64,
    /// Local stacks.
    pub creation_stack: u32,
    pub start_stack: u32,
}

/// Whether a span in `state` with `stack` names where its goroutine
/// blocked or stopped (the first such stack names the goroutine when its
/// start stack is unknown).
pub(crate) fn blocking_stack(state: GState, stack: u32) -> bool {
    stack != 0 && (state.is_blocked() || matches!(state, GState::Syscall | GState::Preempted | GState::Yielded))
}

/// Whether an exited goroutine's piece can be finished where it was
/// collected: it was created in this generation, so no other generation
/// has a piece of it. (Times the chain's floor moves later are moved at
/// the merge, which stitches such a goroutine again: see
/// [`crate::shard::Shard::add_finished`].)
fn settled(g: &GSeg) -> bool {
    g.created.is_some() && !g.seg.track.is_empty()
}

/// The pieces of Ps or threads, by ID (goroutines have [`Pieces`]).
struct SegMap<T> {
    index: IdIndex,
    items: Chunked<T>,
}

impl<T> Default for SegMap<T> {
    fn default() -> Self {
        SegMap { index: IdIndex::default(), items: Chunked::default() }
    }
}

impl<T> SegMap<T> {
    fn get(&mut self, id: i64, new: impl FnOnce() -> T) -> Option<&mut T> {
        if let Some(i) = self.index.get(id) {
            return self.items.get_mut(i as usize);
        }
        self.items.push(new());
        let i = self.items.len() as u32;
        *self.index.slot(id) = i;
        self.items.get_mut(i as usize - 1)
    }

    /// All items, by reference (in no particular order).
    fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    /// All items (in no particular order).
    fn into_items(self) -> impl Iterator<Item = T> {
        self.items.into_iter()
    }
}

/// Entries per page of an [`IdIndex`].
const ID_PAGE: usize = 256;
/// IDs from here on go to the map (only damaged traces have them).
const MAX_PAGED_ID: i64 = 1 << 28;

/// IDs (which Go hands out counting up) to places, in pages indexed by ID:
/// two loads where a hash map needs a hash and a probe, for the lookup
/// almost every event makes. A place is stored plus one (0 = absent).
#[derive(Default)]
pub(crate) struct IdIndex {
    pages: Vec<Option<Box<[u32; ID_PAGE]>>>,
    overflow: FxHashMap<i64, u32>,
}

impl IdIndex {
    pub(crate) fn get(&self, id: i64) -> Option<u32> {
        let v = if (0..MAX_PAGED_ID).contains(&id) {
            let id = id as usize;
            let page = self.pages.get(id / ID_PAGE)?.as_ref()?;
            *page.get(id % ID_PAGE)?
        } else {
            *self.overflow.get(&id)?
        };
        v.checked_sub(1)
    }

    pub(crate) fn slot(&mut self, id: i64) -> &mut u32 {
        if (0..MAX_PAGED_ID).contains(&id) {
            let (p, k) = (id as usize / ID_PAGE, id as usize % ID_PAGE);
            if p >= self.pages.len() {
                self.pages.resize_with(p + 1, || None);
            }
            if let Some(page) = self.pages.get_mut(p) {
                let page = page.get_or_insert_with(|| Box::new([0; ID_PAGE]));
                if let Some(slot) = page.get_mut(k) {
                    return slot;
                }
            }
        }
        self.overflow.entry(id).or_insert(0)
    }
}

fn new_seg(id: i64, unit: u8) -> Seg {
    Seg { id, track: TrackBuilder::with_unit(unit), head_restate: false }
}

fn new_gseg(id: i64, unit: u8) -> GSeg {
    GSeg { seg: new_seg(id, unit), created: None, head_has_first_stack: false, first_stack: 0 }
}

/// The sizes of a part, from which the next parts reserve their vectors
/// and P pieces ([`GenPart::with_sizes`]); a busy trace's generations are
/// much alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PartSizes {
    pub counts: usize,
    pub metrics: usize,
    pub ranges: usize,
    /// Span bytes of a P piece, on average.
    pub proc_bytes: usize,
}

/// The most span bytes a P piece reserves ahead.
const MAX_PROC_HINT: usize = 64 << 20;

/// Phase of a range event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edge {
    Begin,
    Active,
    End,
}

/// A runtime range event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RangeRec<'a> {
    pub time: i64,
    pub kind: crate::model::RangeKind,
    pub edge: Edge,
    pub scope: i64,
    pub reason: &'a [u8],
}

/// Which metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricKind {
    HeapAlloc,
    HeapGoal,
    Gomaxprocs,
}

/// Everything one generation contributes.
pub(crate) struct GenPart<'a> {
    /// Local stacks, innermost frame first; index 0 is the empty stack
    /// (unused with a [`StackMap`]).
    pub stacks: Vec<Vec<ResolvedFrame<'a>>>,
    /// The trace-wide numbers of this generation's stacks, if known
    /// before collecting.
    premapped: Option<Arc<StackMap>>,
    stack_index: FxHashMap<u64, u32>,
    /// Goroutine pieces by [`shard_of`], each shard's indexed by `id / SHARDS`
    /// (sharded here already, so the merge takes them without moving them).
    goroutines: Vec<Pieces>,
    /// Goroutines finished early (see [`Finished`]).
    finished: FinishQueue,
    procs: SegMap<Seg>,
    threads: SegMap<Seg>,
    /// Which tracks to collect.
    tracks: Tracks,
    /// The thread last noted without spans.
    last_thread: i64,
    /// Goroutine category changes past the first events (theirs are in
    /// [`Early`]), summed per counter bucket: (bucket start, deltas for
    /// runnable, running, syscall, blocked).
    pub counts: Vec<(i64, [i32; 4])>,
    pub metrics: Vec<(i64, MetricKind, u64)>,
    pub ranges: Vec<RangeRec<'a>>,
    pub user: UserRecs<'a>,
    /// CPU samples: (time, g, p, m, local stack).
    pub samples: Vec<(i64, i64, i64, i64, u32)>,
    pub events: u64,
    pub first_time: Option<i64>,
    pub last_time: i64,
    pub end_offset: u64,
    /// The generation's index in the trace.
    pub index: usize,
    /// The time floor applied (see [`GenPart::needs_floor`]).
    floor: Option<i64>,
    /// The first events' times and goroutine-count changes, for the floor.
    early: Early,
    /// Counter bucket width.
    pub bucket_ns: i64,
    /// Span bytes to reserve for each P's piece ([`PartSizes`]).
    proc_bytes: usize,
    /// What each stop or block reason string means, by string ID (see
    /// [`GenPart::reason_state`]).
    reasons: Vec<u8>,
    /// The time unit of its tracks' blocks ([`GenPart::with_time_unit`]).
    unit: u8,
}

impl<'a> Default for GenPart<'a> {
    fn default() -> Self {
        GenPart::new(10_000, 0, None, None)
    }
}

impl<'a> GenPart<'a> {
    /// An empty part for generation `index`. With a `floor`, the `i`-th
    /// event's time is raised to at least `floor + 1 + i` (Go's repair of
    /// times across a generation boundary, see
    /// `trace_core::parallel::Chained`); without one, times stay as the
    /// run reported them and [`GenPart::needs_floor`] tells afterwards
    /// whether the floor would have changed any.
    pub fn new(bucket_ns: i64, index: usize, floor: Option<TimeNs>, premapped: Option<Arc<StackMap>>) -> Self {
        GenPart {
            stacks: Vec::new(),
            premapped,
            stack_index: FxHashMap::default(),
            goroutines: (0..SHARDS).map(|_| Pieces::default()).collect(),
            finished: FinishQueue::default(),
            procs: SegMap::default(),
            threads: SegMap::default(),
            tracks: Tracks::All,
            last_thread: -1,
            proc_bytes: 0,
            counts: Vec::new(),
            metrics: Vec::new(),
            ranges: Vec::new(),
            user: UserRecs::default(),
            samples: Vec::new(),
            events: 0,
            first_time: None,
            last_time: 0,
            end_offset: 0,
            index,
            floor: floor.map(|f| f.0),
            early: Early::default(),
            bucket_ns: bucket_ns.max(1),
            reasons: Vec::new(),
            unit: 0,
        }
    }

    /// Writes its tracks' times in units of `2^unit` ns, the resolution of
    /// the generation's clock (see [`time_unit`]).
    pub fn with_time_unit(mut self, unit: u8) -> Self {
        self.unit = unit;
        self
    }

    /// Collects only some tracks.
    pub fn with_tracks(mut self, tracks: Tracks) -> Self {
        self.tracks = tracks;
        self
    }

    /// Reserves what a part of `sizes` needs up front, and half as much
    /// again (generations differ by that much): grown by doubling, every
    /// part's vectors and P pieces were copied over and over, each copy
    /// into fresh pages. Room reserved and not used is never touched, so
    /// it costs no memory.
    pub fn with_sizes(mut self, sizes: PartSizes) -> Self {
        let ahead = |n: usize| n.saturating_add(n / 2);
        self.counts.reserve(ahead(sizes.counts));
        self.metrics.reserve(ahead(sizes.metrics));
        self.ranges.reserve(ahead(sizes.ranges));
        self.proc_bytes = ahead(sizes.proc_bytes);
        self
    }

    /// What this part holds, for sizing the parts after it.
    pub fn sizes(&self) -> PartSizes {
        // The mean, not the largest: every P reserves it, so what all of
        // them reserve stays within what the part held.
        let (n, total) = self.procs.items().fold((0, 0), |(n, t), s| (n + 1, t + s.track.byte_len()));
        let proc_bytes = total / n.max(1);
        PartSizes {
            counts: self.counts.len(),
            metrics: self.metrics.len(),
            ranges: self.ranges.len(),
            proc_bytes: proc_bytes.min(MAX_PROC_HINT),
        }
    }

    /// Whether a time `floor` (from the chain) raises the time of an event
    /// past those kept ([`Early`]), so the part must be collected again
    /// with it.
    pub fn needs_floor(&self, floor: Option<TimeNs>) -> bool {
        self.floor.is_none() && floor.is_some_and(|f| self.early.needs_floor(f.0))
    }

    /// How to move this part's times for the chain's time `floor`, if it
    /// raises any (and [`GenPart::needs_floor`] is false): only the times
    /// of the first events, those kept, move.
    pub fn take_retime(&mut self, floor: Option<TimeNs>) -> Option<Retime> {
        if self.floor.is_some() {
            return None;
        }
        self.early.take_retime(floor?.0)
    }

    /// The goroutine-count changes of the first events, one by one (the
    /// rest are in [`GenPart::counts`]): time, category left, category
    /// entered. They are bucketed at the merge, after the floor moved them.
    pub fn early_count_changes(&self) -> impl Iterator<Item = (i64, Option<usize>, Option<usize>)> + '_ {
        self.early.count_changes()
    }

    /// The goroutine pieces, by [`shard_of`], each shard's the goroutines
    /// finished early first, then the pieces, then those only restated.
    pub fn take_goroutines(&mut self) -> Vec<ShardPieces> {
        let finished = std::mem::take(&mut self.finished).finish();
        let pieces = std::mem::take(&mut self.goroutines).into_iter().map(Pieces::into_parts);
        finished.into_iter().zip(pieces).collect()
    }

    /// Goroutine `id`'s piece, made if new.
    #[cfg(test)]
    fn gseg(&mut self, id: i64) -> Option<&mut GSeg> {
        let unit = self.unit;
        self.goroutines.get_mut(shard_of(id))?.get(id.div_euclid(SHARDS as i64), || new_gseg(id, unit), None)
    }

    /// Goroutine `id`'s piece, if it has one.
    fn find_gseg(&mut self, id: i64) -> Option<&mut GSeg> {
        self.goroutines.get_mut(shard_of(id))?.find(id.div_euclid(SHARDS as i64))
    }

    /// The P pieces, in order of first appearance.
    pub fn take_procs(&mut self) -> impl Iterator<Item = Seg> + use<> {
        std::mem::take(&mut self.procs).into_items()
    }

    /// The thread pieces, in order of first appearance.
    pub fn take_threads(&mut self) -> impl Iterator<Item = Seg> + use<> {
        std::mem::take(&mut self.threads).into_items()
    }

    /// The number of a generation stack: trace-wide if the part has a
    /// [`StackMap`], else local (interned here; renumbered by the merge).
    // The trace-wide case inlined, the local one not: 1% fewer
    // instructions in a build (callgrind, busy-50mb).
    #[inline]
    fn stack(&mut self, ctx: &EventContext<'_, 'a>, id: trace_core::StackId) -> u32 {
        if id.0 == 0 {
            return 0;
        }
        match &self.premapped {
            Some(m) => m.get(id.0).map_or(0, |s| s.0),
            None => self.local_stack(ctx, id),
        }
    }

    /// [`GenPart::stack`] without a [`StackMap`]: numbered here.
    #[inline(never)]
    fn local_stack(&mut self, ctx: &EventContext<'_, 'a>, id: trace_core::StackId) -> u32 {
        if self.stacks.is_empty() {
            self.stacks.push(Vec::new());
        }
        if let Some(&i) = self.stack_index.get(&id.0) {
            return i;
        }
        let frames = ctx.table.map(|t| t.resolved_frames(id).to_vec()).unwrap_or_default();
        if frames.is_empty() {
            return 0;
        }
        let i = self.stacks.len() as u32;
        self.stacks.push(frames);
        self.stack_index.insert(id.0, i);
        i
    }

    /// Whether stacks are numbered trace-wide already.
    pub fn is_premapped(&self) -> bool {
        self.premapped.is_some()
    }

    /// Classifies a goroutine found waiting by a status event from its stack.
    fn waiting_state(ctx: &EventContext<'_, 'a>, stack: trace_core::StackId) -> GState {
        for f in funcs(ctx, stack) {
            let s = match f {
                b"runtime.chanrecv" | b"runtime.chanrecv1" | b"runtime.chanrecv2" => GState::ChanRecv,
                b"runtime.chansend" | b"runtime.chansend1" => GState::ChanSend,
                b"runtime.selectgo" | b"runtime.block" => GState::Select,
                b"time.Sleep" => GState::Sleep,
                b"internal/poll.runtime_pollWait" | b"runtime.netpollblock" => GState::Network,
                b"sync.runtime_notifyListWait" => GState::Cond,
                _ if f.starts_with(b"sync.") || f.starts_with(b"internal/sync.") => {
                    return GState::refine_sync(funcs(ctx, stack));
                }
                _ => continue,
            };
            return s;
        }
        GState::Blocked
    }

    /// A goroutine state change; a `restate` (status event) of a state
    /// already known is dropped.
    #[allow(clippy::too_many_arguments)]
    fn g(&mut self, id: i64, time: i64, state: GState, stack: u32, a: i64, b: i64, restate: bool) {
        self.g_created(id, time, state, stack, (a, b), restate, None);
    }

    /// [`GenPart::g`], noting the goroutine's creation first when
    /// `created` says it was created now (one lookup for both).
    #[allow(clippy::too_many_arguments)]
    fn g_created(
        &mut self,
        id: i64,
        time: i64,
        state: GState,
        stack: u32,
        (a, b): (i64, i64),
        restate: bool,
        created: Option<Created>,
    ) {
        if restate && created.is_none() && b == -1 && self.restated(id, time, state, stack, a) {
            return;
        }
        // A restated goroutine's second span is kept small (see `Woken`).
        let small = !restate && created.is_none() && b == -1 && crate::pieces::hooks::small();
        let second = small.then_some(Second { time, state, stack, a });
        let (unit, key) = (self.unit, id.div_euclid(SHARDS as i64));
        let Some(pieces) = self.goroutines.get_mut(shard_of(id)) else { return };
        let Some(g) = pieces.get(key, || new_gseg(id, unit), second) else { return };
        if created.is_some() {
            g.created = created;
        }
        if !g.push(time, state, stack, (a, b), restate) || state != GState::Exited {
            return;
        }
        if settled(g) {
            self.finish_early(id);
        } else if crate::pieces::hooks::small() {
            pieces.end(key);
        }
    }

    /// Files a status event as goroutine `id`'s first event of the
    /// generation, if it is (see [`Restated`]).
    #[inline(never)]
    fn restated(&mut self, id: i64, time: i64, state: GState, stack: u32, a: i64) -> bool {
        let r = Restated { id, time, a, stack, state: state as u8, unit: self.unit };
        let key = id.div_euclid(SHARDS as i64);
        state != GState::Exited && self.goroutines.get_mut(shard_of(id)).is_some_and(|p| p.restate(key, r))
    }

    /// Finishes goroutine `id`, which just exited and is [`settled`], if
    /// its stacks are numbered trace-wide (so no other generation has a
    /// piece of it and nothing can still change its spans).
    fn finish_early(&mut self, id: i64) {
        if self.premapped.is_none() || !hooks::finish_early() {
            return;
        }
        let key = id.div_euclid(SHARDS as i64);
        let Some(map) = self.goroutines.get_mut(shard_of(id)) else { return };
        let Some(piece) = map.take(key) else { return };
        hooks::count_finished();
        self.finished.push(piece);
    }

    /// A P state change (`a` is the goroutine).
    fn p(&mut self, id: i64, time: i64, state: PState, a: i64, restate: bool) {
        if id < 0 {
            return;
        }
        let (hint, unit) = (self.proc_bytes, self.unit);
        let new = || {
            let mut s = new_seg(id, unit);
            s.track.reserve(hint);
            s
        };
        if let Some(s) = self.procs.get(id, new) {
            push_simple(s, time, state as u8, a, restate, state == PState::Idle);
        }
    }

    /// A thread state change (`a` is the goroutine).
    fn m(&mut self, id: i64, time: i64, state: MState, a: i64, restate: bool) {
        if id < 0 {
            return;
        }
        let unit = self.unit;
        if self.tracks == Tracks::NoThreads {
            // Only the list of threads is kept: note each one once.
            if id != self.last_thread {
                self.threads.get(id, || new_seg(id, unit));
                self.last_thread = id;
            }
            return;
        }
        if let Some(s) = self.threads.get(id, || new_seg(id, unit)) {
            push_simple(s, time, state as u8, a, restate, state == MState::Idle);
        }
    }

    /// Adds one event (the `ord`-th of the generation, Sync = 0).
    pub fn add(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, ord: u32) {
        // A damaged trace can carry absurd times (a saturated tick
        // conversion, a wrapped one): clamp them once here so no difference
        // of two times downstream can overflow.
        let mut time = e.time.0.clamp(-MAX_TIME_NS, MAX_TIME_NS);
        if let Some(f) = self.floor {
            time = time.max(f.saturating_add(1 + i64::from(ord))).clamp(-MAX_TIME_NS, MAX_TIME_NS);
        }
        self.early.note(ord, time, hooks::early_events());
        self.events += 1;
        self.first_time.get_or_insert(time);
        self.last_time = time;
        if self.tracks == Tracks::ThreadsOnly {
            if e.kind() == EventKind::StateTransition {
                self.thread_transition(e, time);
            }
            return;
        }
        let (g, p, m) = (e.g.0, e.p.0, e.m.0);
        if let Some((from, to)) = e.goroutine_states() {
            self.count(from, to, time);
        }
        match e.kind() {
            EventKind::StateTransition => self.transition(e, ctx, time),
            EventKind::Metric => {
                let kind = match e.typ {
                    ev::HEAP_ALLOC => MetricKind::HeapAlloc,
                    ev::HEAP_GOAL => MetricKind::HeapGoal,
                    _ => MetricKind::Gomaxprocs,
                };
                self.metrics.push((time, kind, e.args[0]));
            }
            EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
                let Some(r) = e.range() else { return };
                let edge = match e.kind() {
                    EventKind::RangeBegin => Edge::Begin,
                    EventKind::RangeActive => Edge::Active,
                    _ => Edge::End,
                };
                use crate::model::RangeKind as K;
                let (kind, reason) = match r.name {
                    RangeName::StopTheWorld(s) => (K::Stw, ctx.string(s)),
                    RangeName::GcMark => (K::GcMark, &b""[..]),
                    RangeName::GcSweep => (K::Sweep, &b""[..]),
                    RangeName::GcMarkAssist => (K::MarkAssist, &b""[..]),
                };
                let scope = match r.scope {
                    ResourceId::Proc(p) if kind == K::Sweep => p.0,
                    ResourceId::Goroutine(g) if kind == K::MarkAssist => g.0,
                    _ => -1,
                };
                self.ranges.push(RangeRec { time, kind, edge, scope, reason });
            }
            EventKind::TaskBegin | EventKind::TaskEnd => {
                let Some(t) = e.task() else { return };
                if e.kind() == EventKind::TaskEnd {
                    self.user.task_end((time, g), t.id.0);
                    return;
                }
                let typ = match t.typ {
                    trace_core::event::StrRef::Table(s) => Some(s),
                    trace_core::event::StrRef::Extra(_) => None,
                };
                self.user.task_begin((time, g), t.id.0, t.parent.0, typ, ctx);
            }
            EventKind::RegionBegin | EventKind::RegionEnd => {
                let Some(r) = e.region() else { return };
                let begin = e.kind() == EventKind::RegionBegin;
                let stack = if begin { self.stack(ctx, e.stack()) } else { 0 };
                self.user.region((time, g), begin, r.task.0, r.typ, stack, ctx);
            }
            EventKind::Log => {
                let Some(l) = e.log() else { return };
                self.user.log((time, g), l.task.0, (l.category, l.message), ctx);
            }
            EventKind::StackSample => {
                let stack = self.stack(ctx, e.stack());
                self.samples.push((time, g, p, m, stack));
            }
            EventKind::Label => self.mark_worker_label(e, ctx),
            _ => {}
        }
    }

    /// A GC mark worker's mode label follows its GoStart: kept as the
    /// running span's `b` (see [`crate::analysis::MarkWorker`]).
    fn mark_worker_label(&mut self, e: &Event, ctx: &EventContext<'_, 'a>) {
        let Some(mode) = e.label().and_then(|l| crate::analysis::MarkWorker::from_label(ctx.string(l))) else { return };
        if let Some(g) = self.find_gseg(e.g.0)
            && g.seg.track.last_state() == Some(GState::Running as u8)
        {
            g.seg.track.set_last_b(mode as i64);
        }
    }

    /// Goroutine counters: category changes.
    fn count(&mut self, from: Option<GoState>, to: Option<GoState>, time: i64) {
        let cat = |s: Option<GoState>| match s {
            Some(GoState::Runnable) => Some(0usize),
            Some(GoState::Running) => Some(1),
            Some(GoState::Syscall) => Some(2),
            Some(GoState::Waiting) => Some(3),
            _ => None,
        };
        let (f, t) = (cat(from), cat(to));
        if f == t {
            return;
        }
        if self.early.is_open() {
            return self.early.log_count(f, t);
        }
        // Most changes fall in the bucket of the one before: skip the division.
        let same = self.counts.last().is_some_and(|&(b, _)| time >= b && time - b < self.bucket_ns);
        let bucket = if same { self.counts.last().map_or(0, |c| c.0) } else { time - time.rem_euclid(self.bucket_ns) };
        if self.counts.last().is_none_or(|&(b, _)| b != bucket) {
            self.counts.push((bucket, [0; 4]));
        }
        if let Some((_, d)) = self.counts.last_mut() {
            if let Some(x) = f.and_then(|i| d.get_mut(i)) {
                *x -= 1;
            }
            if let Some(x) = t.and_then(|i| d.get_mut(i)) {
                *x += 1;
            }
        }
    }

    fn transition(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, time: i64) {
        // Listing threads only, the thread just noted has nothing to add
        // (most events come from the thread of the one before).
        if self.tracks != Tracks::NoThreads || e.m.0 != self.last_thread {
            self.thread_transition(e, time);
        }
        let (g, p) = (e.g.0, e.p.0);
        let arg_g = e.args[0] as i64;
        let none = -1i64;
        match e.typ {
            ev::GO_CREATE | ev::GO_CREATE_BLOCKED | ev::GO_CREATE_SYSCALL => {
                let start =
                    if e.typ == ev::GO_CREATE_SYSCALL { 0 } else { self.stack(ctx, trace_core::StackId(e.args[1])) };
                let creation = self.stack(ctx, e.stack());
                let state = match e.typ {
                    ev::GO_CREATE => GState::Created,
                    ev::GO_CREATE_BLOCKED => GState::Blocked,
                    _ => GState::Syscall,
                };
                let parent = if e.typ == ev::GO_CREATE_SYSCALL { none } else { g };
                let created = Created { time, parent, creation_stack: creation, start_stack: start };
                self.g_created(arg_g, time, state, start, (none, none), false, Some(created));
            }
            ev::GO_START => {
                self.g(arg_g, time, GState::Running, 0, p, none, false);
                self.p(p, time, PState::Running, arg_g, false);
            }
            ev::GO_STOP | ev::GO_BLOCK => {
                let stack = self.stack(ctx, e.stack());
                let mut state = self.reason_state(ctx, e.typ == ev::GO_STOP, e.args[0]);
                if state == GState::Sync {
                    state = GState::refine_sync(funcs(ctx, e.stack()));
                }
                self.g(g, time, state, stack, none, none, false);
                self.p(p, time, PState::Scheduling, none, false);
            }
            ev::GO_DESTROY | ev::GO_DESTROY_SYSCALL => {
                self.g(g, time, GState::Exited, 0, none, none, false);
                if e.typ == ev::GO_DESTROY {
                    self.p(p, time, PState::Scheduling, none, false);
                }
            }
            ev::GO_UNBLOCK | ev::GO_SWITCH | ev::GO_SWITCH_DESTROY => {
                let stack = self.stack(ctx, e.stack());
                self.g(arg_g, time, GState::Runnable, stack, g, none, false);
            }
            ev::GO_SYSCALL_BEGIN => {
                let stack = self.stack(ctx, e.stack());
                self.g(g, time, GState::Syscall, stack, none, none, false);
                self.p(p, time, PState::Syscall, g, false);
            }
            ev::GO_SYSCALL_END => {
                self.g(g, time, GState::Running, 0, p, none, false);
                self.p(p, time, PState::Running, g, false);
            }
            ev::GO_SYSCALL_END_BLOCKED => {
                self.g(g, time, GState::Runnable, 0, none, none, false);
            }
            ev::GO_STATUS | ev::GO_STATUS_STACK => self.go_status(e, ctx, time),
            ev::PROC_START => self.p(arg_g, time, PState::Scheduling, none, false),
            ev::PROC_STOP => self.p(p, time, PState::Idle, none, false),
            ev::PROC_STEAL => self.p(arg_g, time, PState::Idle, none, false),
            ev::PROC_STATUS => {
                let Some((pid, _, to)) = e.state_transition().and_then(|s| s.proc()) else { return };
                let state = if to == Some(ProcState::Running) { PState::Scheduling } else { PState::Idle };
                self.p(pid.0, time, state, none, true);
            }
            _ => {}
        }
    }

    /// The thread's side of a state change: all a part building thread
    /// tracks only makes (without the stacks and reasons of goroutine
    /// spans), and the first thing [`GenPart::transition`] makes.
    fn thread_transition(&mut self, e: &Event, time: i64) {
        let (g, m, arg_g) = (e.g.0, e.m.0, e.args[0] as i64);
        match e.typ {
            ev::GO_CREATE_SYSCALL => self.m(m, time, MState::Syscall, arg_g, false),
            ev::GO_START => self.m(m, time, MState::Running, arg_g, false),
            ev::GO_STOP | ev::GO_BLOCK | ev::GO_DESTROY | ev::GO_DESTROY_SYSCALL | ev::GO_SYSCALL_END_BLOCKED => {
                self.m(m, time, MState::Idle, -1, false);
            }
            ev::GO_SYSCALL_BEGIN => self.m(m, time, MState::Syscall, g, false),
            ev::GO_SYSCALL_END => self.m(m, time, MState::Running, g, false),
            ev::GO_STATUS | ev::GO_STATUS_STACK => {
                let Some((gid, _, to)) = e.state_transition().and_then(|st| st.goroutine()) else { return };
                match to {
                    Some(GoState::Running) => self.m(m, time, MState::Running, gid.0, true),
                    Some(GoState::Syscall) => self.m(m, time, MState::Syscall, gid.0, true),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// The state a stop (`stop`) or block reason string names. A
    /// generation names a handful of reasons in millions of events, so each
    /// string's state is kept by its ID rather than matched again.
    fn reason_state(&mut self, ctx: &EventContext<'_, 'a>, stop: bool, id: u64) -> GState {
        let classify = || {
            let reason = ctx.string(trace_core::StringId(id));
            if stop { GState::from_stop_reason(reason) } else { GState::from_block_reason(reason) }
        };
        // Two slots per ID (a damaged trace may use one string both ways);
        // IDs past the limit are classified each time.
        let Some(i) = usize::try_from(id).ok().filter(|&i| i < MAX_KEPT_REASON).map(|i| 2 * i + usize::from(stop))
        else {
            return classify();
        };
        if let Some(state) = self.reasons.get(i).and_then(|&s| s.checked_sub(1)).and_then(GState::from_u8) {
            return state;
        }
        let state = classify();
        if i >= self.reasons.len() {
            self.reasons.resize(i + 1, 0);
        }
        if let Some(slot) = self.reasons.get_mut(i) {
            *slot = (state as u8).saturating_add(1);
        }
        state
    }

    fn go_status(&mut self, e: &Event, ctx: &EventContext<'_, 'a>, time: i64) {
        let Some(st) = e.state_transition() else { return };
        let Some((gid, _, to)) = st.goroutine() else { return };
        let stack = self.stack(ctx, st.stack);
        let p = e.p.0;
        let state = match to {
            Some(GoState::Runnable) => GState::Runnable,
            Some(GoState::Running) => GState::Running,
            Some(GoState::Syscall) => GState::Syscall,
            Some(GoState::Waiting) => Self::waiting_state(ctx, st.stack),
            _ => GState::Exited,
        };
        let a = if state == GState::Running { p } else { -1 };
        self.g(gid.0, time, state, stack, a, -1, true);
        match state {
            GState::Running => self.p(p, time, PState::Running, gid.0, true),
            GState::Syscall => self.p(p, time, PState::Syscall, gid.0, true),
            _ => {}
        }
    }
}

/// The function names of a generation stack, innermost first.
fn funcs<'c, 'a>(ctx: &'c EventContext<'_, 'a>, id: trace_core::StackId) -> impl Iterator<Item = &'a [u8]> + 'c {
    ctx.table.map(|t| t.resolved_frames(id)).unwrap_or_default().iter().map(|f| f.func)
}

/// Appends a P or thread state change to its piece, dropping restatements
/// of the state it is in and repeated idle spans. The first change of a
/// generation is always kept: whether it repeats the previous
/// generation's state is decided when the pieces are stitched.
fn push_simple(s: &mut Seg, time: i64, state: u8, a: i64, restate: bool, idle: bool) {
    let t = &mut s.track;
    if t.is_empty() {
        s.head_restate = restate;
    } else if t.last_state() == Some(state) && (restate || idle) {
        return;
    }
    t.push(time, state, StackId::NONE, a, -1);
}

/// Switches tests use to reach the early finish on small traces (and to
/// turn it off, for comparison); fixed outside tests.
pub(crate) mod hooks {
    #[cfg(test)]
    use std::cell::Cell;

    #[cfg(test)]
    thread_local! {
        pub(crate) static EARLY_EVENTS: Cell<usize> = const { Cell::new(super::EARLY_EVENTS) };
        pub(crate) static FINISH_EARLY: Cell<bool> = const { Cell::new(true) };
        pub(crate) static FINISHED: Cell<usize> = const { Cell::new(0) };
    }

    /// [`super::EARLY_EVENTS`], or a test's number; when fuzzing, a small
    /// one, so small inputs reach the recollection that only traces of
    /// over a million events a generation reach.
    pub(super) fn early_events() -> usize {
        #[cfg(test)]
        return EARLY_EVENTS.get();
        #[cfg(all(fuzzing, not(test)))]
        return super::EARLY_EVENTS.min(64);
        #[cfg(not(any(test, fuzzing)))]
        super::EARLY_EVENTS
    }

    /// Whether goroutines may be finished early ([`super::Finished`]).
    pub(super) fn finish_early() -> bool {
        #[cfg(test)]
        return FINISH_EARLY.get();
        #[cfg(not(test))]
        true
    }

    /// Counts goroutines finished early, in tests.
    pub(super) fn count_finished() {
        #[cfg(test)]
        FINISHED.set(FINISHED.get() + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_unit_is_a_whole_power_of_two_ns_per_tick() {
        let units: Vec<u8> = [64.0, 16.0, 128.0, 1.0, 2.0, 256.0, 22.07, 0.5, 63.999].map(time_unit).into();
        assert_eq!(units, [6, 4, 7, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn stack_maps_find_dense_and_wild_ids_and_stay_small() {
        let mut m = StackMap::default();
        for id in 1..=100u64 {
            m.insert(id, StackId(id as u32 + 1000));
        }
        m.insert(u64::MAX, StackId(7));
        m.insert(1 << 40, StackId(8));
        assert_eq!(m.get(1), Some(StackId(1001)));
        assert_eq!(m.get(100), Some(StackId(1100)));
        assert_eq!((m.get(0), m.get(101), m.get(5000)), (None, None, None));
        assert_eq!((m.get(u64::MAX), m.get(1 << 40)), (Some(StackId(7)), Some(StackId(8))));
        assert!(m.dense.len() <= 101, "{}", m.dense.len());
        assert_eq!(StackMap::default().get(3), None);
    }

    #[test]
    fn parts_reserve_what_the_last_part_held_and_half_again() {
        let mut first = GenPart::default();
        for t in 0..1_000 {
            first.p(0, t * 10, if t % 2 == 0 { PState::Running } else { PState::Idle }, t, false);
            first.p(1, t * 10, PState::Running, t, false);
        }
        first.ranges.resize_with(300, || RangeRec {
            time: 0,
            kind: crate::model::RangeKind::Sweep,
            edge: Edge::Begin,
            scope: 0,
            reason: b"",
        });
        let sizes = first.sizes();
        let total: usize = first.procs.items().map(|s| s.track.byte_len()).sum();
        assert_eq!((sizes.proc_bytes, sizes.ranges), (total / 2, 300));
        assert!(sizes.proc_bytes > 1_000);
        let mut next = GenPart::default().with_sizes(sizes);
        next.p(3, 5, PState::Running, 1, false);
        let piece = next.procs.items().next().map(|s| s.track.bytes_capacity());
        assert!(piece >= Some(sizes.proc_bytes * 3 / 2), "{piece:?}");
        assert!(next.ranges.capacity() >= 450);
    }

    #[test]
    fn pieces_are_filed_by_shard() {
        let mut part = GenPart::default();
        part.g(5, 10, GState::Running, 0, 1, -1, false);
        part.g(5 + SHARDS as i64, 20, GState::Running, 0, 1, -1, false);
        part.g(6, 20, GState::Running, 0, 1, -1, false);
        let by_shard = part.take_goroutines();
        assert_eq!(by_shard.len(), SHARDS);
        let ids = |s: usize| by_shard[s].1.ids();
        assert_eq!(ids(shard_of(5)), [5, 5 + SHARDS as i64]);
        assert_eq!(ids(shard_of(6)), [6]);
    }

    /// Building only the thread tracks keeps no goroutine pieces. (Each
    /// creation made one, never finished: showing busy-1gb's thread rows
    /// peaked at 3 GB.)
    #[test]
    fn a_part_for_thread_tracks_keeps_no_goroutine_pieces() {
        use trace_core::{GoroutineId, ProcId, ThreadId};
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = EventContext { table: None, extra: &extra };
        let mut part = GenPart::default().with_tracks(Tracks::ThreadsOnly);
        for (ord, id) in (10..20u64).enumerate() {
            let at = TimeNs(100 * id as i64);
            let create = Event {
                time: at,
                g: GoroutineId(1),
                p: ProcId(0),
                m: ThreadId(3),
                typ: ev::GO_CREATE,
                args: [id, 0, 0, 0],
                offset: 0,
            };
            part.add(&create, &ctx, 2 * ord as u32);
            let start = Event { time: TimeNs(at.0 + 50), typ: ev::GO_START, args: [id, 1, 0, 0], ..create };
            part.add(&start, &ctx, 2 * ord as u32 + 1);
        }
        let pieces: usize = part.take_goroutines().iter().map(|(f, p)| f.iter().count() + p.ids().len()).sum();
        assert_eq!(pieces, 0);
        // The events did reach the part: the thread ran each goroutine.
        let spans: usize = part.take_threads().map(|s| s.track.len()).sum();
        assert_eq!(spans, 10);
    }

    /// A status event restating what a thread already shows (a goroutine
    /// still in its system call, or still running, when a generation
    /// starts) adds no span: the call stays one span.
    #[test]
    fn a_thread_drops_restated_syscalls_and_runs() {
        use trace_core::{GoState, GoroutineId, ProcId, ThreadId};
        let extra = trace_core::event::ExtraStrings::default();
        let ctx = EventContext { table: None, extra: &extra };
        for tracks in [Tracks::All, Tracks::ThreadsOnly] {
            let mut part = GenPart::default().with_tracks(tracks);
            let at = |t: i64, typ, args| Event {
                time: TimeNs(t),
                g: GoroutineId(7),
                p: ProcId(0),
                m: ThreadId(3),
                typ,
                args,
                offset: 0,
            };
            // Wire statuses: 2 running, 3 in a syscall; the orderer puts the
            // state before in the high bits.
            let status = |from: GoState, wire: u64| [7, 3, (from as u64) << 32 | wire, 0];
            let events = [
                at(100, ev::GO_START, [7, 1, 0, 0]),
                at(200, ev::GO_SYSCALL_BEGIN, [0; 4]),
                at(300, ev::GO_STATUS, status(GoState::Syscall, 3)),
                at(400, ev::GO_SYSCALL_END, [0; 4]),
                at(500, ev::GO_STATUS, status(GoState::Running, 2)),
                at(600, ev::GO_BLOCK, [0; 4]),
            ];
            for (ord, e) in events.iter().enumerate() {
                part.add(e, &ctx, ord as u32);
            }
            let spans: Vec<(i64, u8, i64)> = part
                .take_threads()
                .flat_map(|s| s.track.finish(700).spans())
                .map(|s| (s.start_ns, s.state, s.a))
                .collect();
            let (run, sys, idle) = (MState::Running as u8, MState::Syscall as u8, MState::Idle as u8);
            assert_eq!(spans, [(100, run, 7), (200, sys, 7), (400, run, 7), (600, idle, -1)], "{tracks:?}");
        }
    }

    /// A goroutine created in the generation is finished on exit, but only
    /// with trace-wide stacks; one created before stays a piece.
    #[test]
    fn goroutines_created_and_exited_in_the_generation_are_finished_there() {
        let run = |premapped: bool| {
            let premapped = premapped.then(|| Arc::new(StackMap::default()));
            let mut part = GenPart { premapped, ..GenPart::default() };
            for (id, at) in [(5, 100), (6, 200)] {
                if let Some(g) = part.gseg(id) {
                    g.created = Some(Created { time: at, parent: 1, creation_stack: 7, start_stack: 0 });
                }
                part.g(id, at, GState::Created, 0, -1, -1, false);
                part.g(id, at + 10, GState::Running, 0, 2, -1, false);
                part.g(id, at + 20, GState::Exited, 0, -1, -1, false);
            }
            // Alive at the end of the generation: stays a piece.
            part.g(9, 300, GState::Running, 0, 1, -1, true);
            // Made before the generation: other parts have pieces of it.
            part.g(11, 310, GState::Running, 0, 1, -1, true);
            part.g(11, 320, GState::Exited, 0, -1, -1, false);
            let by_shard = part.take_goroutines();
            let finished: Vec<i64> = by_shard.iter().flat_map(|(f, _)| f.iter().map(|f| f.id)).collect();
            // (Goroutine 9, only restated, is kept as such.)
            let pieces: Vec<i64> = by_shard.iter().flat_map(|(_, p)| p.ids()).collect();
            let spans = by_shard.iter().flat_map(|(f, _)| f.iter()).map(|f| f.track.spans()).next();
            (finished, pieces, spans.map(|s| s.iter().map(|s| (s.start_ns, s.end_ns)).collect::<Vec<_>>()))
        };
        let (finished, mut pieces, spans) = run(true);
        pieces.sort_unstable();
        assert_eq!((finished, pieces), (vec![5, 6], vec![9, 11]));
        assert_eq!(spans, Some(vec![(100, 110), (110, 120), (120, 120)]));
        assert_eq!(run(false).0, Vec::<i64>::new());
    }
}
