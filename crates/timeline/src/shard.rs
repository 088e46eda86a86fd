//! The goroutines whose IDs fall in one shard, stitched together from
//! their per-generation pieces in generation order.
//!
//! A goroutine that has exited is finished on the spot: Go never reuses a
//! goroutine ID, so its record shrinks to the final [`Goroutine`] (with its
//! block vectors trimmed) instead of waiting, with a growable builder, for
//! the end of the trace. Its track ends where it exited: the `Exited`
//! span is empty.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use trace_core::GoroutineId;

use crate::chunked::Chunked;
use crate::finished::Finished;
use crate::gtrack::GTrack;
use crate::model::Goroutine;
use crate::origins::{Origin, OriginId, Origins};
use crate::paged::{Packing, PagedBytes};
use crate::part::{GSeg, Retime};
use crate::stacks::{StackId, StackTree};
use crate::state::GState;
use crate::strings::{StrId, Strings};
use crate::track::{Track, TrackBuilder};

/// Closed blocks a goroutine still running holds before packing them into
/// the shard's store: only the long-lived ones get there (a block of
/// spans takes a few hundred bytes). At 16 KiB, and with the room the
/// packed bytes took left allocated, the few thousand goroutines alive at
/// a time in a busy 1 GB trace held 118 MB unpacked; now about 25 MB.
const SPILL_BYTES: usize = 4 * 1024;

/// A goroutine still receiving spans.
struct GBuild {
    id: i64,
    track: GTrack,
    parent: i64,
    creation_stack: StackId,
    start_stack: StackId,
    first_stack: StackId,
    created_ns: Option<i64>,
}

impl GBuild {
    fn new(id: i64) -> GBuild {
        GBuild {
            id,
            track: GTrack::default(),
            parent: -1,
            creation_stack: StackId::NONE,
            start_stack: StackId::NONE,
            first_stack: StackId::NONE,
            created_ns: None,
        }
    }

    /// The final record, its last span ending at `end_ns`, its track moved
    /// into `store`.
    fn finish(self, end_ns: i64, ctx: Ctx<'_>, origins: &mut Origins, store: &Arc<PagedBytes>) -> Goroutine {
        let start_fn = start_fn(ctx.stacks, ctx.strings, self.start_stack, self.first_stack);
        let origin = origins.intern(Origin { parent: GoroutineId(self.parent), creation_stack: self.creation_stack });
        let track = self.track.finish_into_store(end_ns, store);
        record(GoroutineId(self.id), origin, start_fn, self.created_ns.is_some(), track, ctx.strings)
    }
}

/// A goroutine's start function: where it started or, if that stack names
/// no function, the first stack it blocked or stopped in (Go names it by
/// the first of its transition stacks whose root has a name).
fn start_fn(stacks: &StackTree, strings: &Strings, start_stack: StackId, first_stack: StackId) -> StrId {
    match stacks.start_function(start_stack, strings) {
        StrId(0) => stacks.start_function(first_stack, strings),
        named => named,
    }
}

/// What naming a goroutine's start function takes.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    strings: &'a Strings,
    stacks: &'a StackTree,
}

/// A goroutine's final record.
fn record(
    id: GoroutineId,
    origin: OriginId,
    start_fn: StrId,
    created: bool,
    track: Track,
    strings: &Strings,
) -> Goroutine {
    let name = strings.get(start_fn);
    let mut g = Goroutine::new(id, origin, start_fn, created, track);
    g.set_system(name.starts_with("runtime.") && name != "runtime.main");
    g
}

/// Finished records in chunks of 2 MiB: large enough that each chunk,
/// freed as the final list is made, goes back to the system at once (with
/// small chunks the allocator's pages emptied only at the very end, so the
/// records were held twice for a moment: 50 MiB more at the peak of a
/// 1 GB trace).
pub(crate) type Done = Chunked<Goroutine, { 64 * 1024 }>;

/// The goroutines of one shard (IDs `k`, `k + SHARDS`, `k + 2 * SHARDS`...).
#[derive(Default)]
pub(crate) struct Shard {
    /// Goroutines not yet exited, by ID: their places in `building`.
    ///
    /// Exited ones are not looked up (Go never reuses an ID), so only the
    /// few thousand alive at a time are here; a table of every ID seen took
    /// 30 MB of a 1 GB trace. A damaged trace naming a goroutine after its
    /// exit gets a second record, joined to the first at the end
    /// ([`join_named_again`]).
    index: FxHashMap<i64, u32>,
    building: Vec<Option<GBuild>>,
    /// Free places in `building`.
    free: Vec<u32>,
    /// Finished goroutines, in chunks: a vector grown ahead was copied
    /// whole whenever the estimate fell short, each time into fresh pages.
    done: Done,
    /// Who created the finished goroutines, and where.
    origins: Origins,
    /// Where the finished goroutines' tracks are kept, compressed.
    store: Arc<PagedBytes>,
}

impl Shard {
    /// An empty shard whose store packs as `packing` says.
    pub fn with_packing(packing: Packing) -> Shard {
        Shard { store: PagedBytes::with_packing(packing), ..Shard::default() }
    }

    /// The builder of goroutine `id`, made if needed.
    fn builder(&mut self, id: i64) -> Option<&mut GBuild> {
        let index = match self.index.get(&id) {
            Some(&i) => i,
            None => self.place(id),
        };
        self.building.get_mut(index as usize).and_then(Option::as_mut)
    }

    /// Puts a new builder for `id` in a free place and returns the place.
    fn place(&mut self, id: i64) -> u32 {
        let b = GBuild::new(id);
        let index = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.building.get_mut(i as usize) {
                    *slot = Some(b);
                }
                i
            }
            None => {
                self.building.push(Some(b));
                self.building.len() as u32 - 1
            }
        };
        self.index.insert(id, index);
        index
    }

    /// Appends a goroutine's piece of the next generation; `map` renumbers
    /// its stacks if they are local, `retime` moves its first times.
    pub fn stitch(
        &mut self,
        piece: GSeg,
        map: Option<&[StackId]>,
        retime: Option<&Retime>,
        strings: &Strings,
        stacks: &StackTree,
    ) {
        let stack = |i: u32| match map {
            _ if i == 0 => StackId::NONE,
            Some(map) => map.get(i as usize).copied().unwrap_or_default(),
            None => StackId(i),
        };
        let GSeg { mut seg, mut created, head_has_first_stack, first_stack } = piece;
        if let Some(map) = map {
            seg.track.map_stacks(map);
        }
        if let (Some(r), Some(c)) = (retime, created.as_mut()) {
            c.time = r.apply(c.time);
        }
        let id = seg.id;
        let Some(g) = self.builder(id) else { return };
        if let Some(c) = created {
            g.parent = c.parent;
            g.creation_stack = stack(c.creation_stack);
            g.start_stack = stack(c.start_stack);
            g.created_ns = Some(c.time);
        }
        let Some(head) = seg.track.first() else { return };
        let state = GState::from_u8(head.state).unwrap_or(GState::Blocked);
        // A status event restating the state the goroutine was already in.
        let drop = seg.head_restate
            && g.track.last_state().and_then(GState::from_u8).is_some_and(|l| l.category() == state.category());
        // Most pieces start with such a restatement at the start of the
        // generation, the very time the repair moves: skip the work when
        // only that dropped span would move.
        let kept_start = || if drop { seg.track.second_start() } else { Some(head.start_ns) };
        let retime = retime.filter(|r| kept_start().is_some_and(|t| t < r.limit_ns));
        if !drop && g.first_stack == StackId::NONE && head_has_first_stack {
            g.first_stack = head.stack;
        }
        if g.first_stack == StackId::NONE && first_stack != 0 {
            g.first_stack = stack(first_stack);
        }
        g.track.append(seg.track, drop, retime);
        let spill = g.track.closed_bytes() >= SPILL_BYTES;
        if g.track.last_state() == Some(GState::Exited as u8) {
            self.retire(id, strings, stacks);
        } else if spill {
            // A goroutine living through many generations: pack what it has.
            let store = self.store.clone();
            if let Some(g) = self.builder(id) {
                g.track.spill(0, || store);
            }
        } else if let Some(g) = self.builder(id) {
            // Most of those still alive wait for a while.
            g.track.seal();
        }
    }

    /// Files a goroutine finished where its generation was collected.
    pub fn add_finished(&mut self, f: Finished, retime: Option<&Retime>, strings: &Strings, stacks: &StackTree) {
        // Stitched like any piece: when a damaged trace named it before,
        // or when the chain's time floor moves its first times (a part
        // finishes its goroutines before the floor is known).
        let moved = retime.is_some_and(|r| f.start_ns < r.limit_ns);
        if moved || self.index.contains_key(&f.id) {
            hooks::count_restitched(moved);
            return self.stitch(f.into_piece(), None, retime, strings, stacks);
        }
        let start_fn = start_fn(stacks, strings, f.start_stack, f.first_stack);
        let origin = self.origins.intern(Origin { parent: GoroutineId(f.parent), creation_stack: f.creation_stack });
        self.done.push(record(GoroutineId(f.id), origin, start_fn, true, f.track, strings));
    }

    /// Finishes exited goroutine `id` now; its track ends at the exit.
    fn retire(&mut self, id: i64, strings: &Strings, stacks: &StackTree) {
        let Some(index) = self.index.remove(&id) else { return };
        let Some(b) = self.building.get_mut(index as usize).and_then(Option::take) else { return };
        self.free.push(index);
        let end = b.track.last_start_ns();
        self.done.push(b.finish(end, Ctx { strings, stacks }, &mut self.origins, &self.store));
    }

    /// Every goroutine of the shard, the last spans ending at `end_ns`,
    /// and their origins.
    pub fn finish(self, end_ns: i64, strings: &Strings, stacks: &StackTree) -> (Done, Origins) {
        let (mut out, mut origins, store) = (self.done, self.origins, self.store);
        let ctx = Ctx { strings, stacks };
        for b in self.building.into_iter().flatten() {
            out.push(b.finish(end_ns, ctx, &mut origins, &store));
        }
        store.seal();
        (out, origins)
    }
}

/// Joins the records of each goroutine a damaged trace named again after
/// it exited into one, in time order; `gs` must be sorted by ID.
pub(crate) fn join_named_again(gs: &mut Vec<Goroutine>, strings: &Strings) {
    if !gs.iter().zip(gs.iter().skip(1)).any(|(a, b)| a.id == b.id) {
        return;
    }
    let mut out: Vec<Goroutine> = Vec::with_capacity(gs.len());
    let mut run: Vec<Goroutine> = Vec::new();
    for g in std::mem::take(gs) {
        if run.last().is_some_and(|l| l.id != g.id) {
            out.extend(join(std::mem::take(&mut run), strings));
        }
        run.push(g);
    }
    out.extend(join(run, strings));
    *gs = out;
}

/// One goroutine's records as one: the spans one after the other, and the
/// facts of the latest creation. Each record is copied once, so a trace
/// naming one goroutine again thousands of times costs linear time.
fn join(mut run: Vec<Goroutine>, strings: &Strings) -> Option<Goroutine> {
    run.sort_by_cached_key(|g| (g.track.start_ns(), g.track.end_ns(), g.track.len()));
    let mut run = run.into_iter();
    let first = run.next()?;
    let Some(second) = run.next() else { return Some(first) };
    let (id, mut origin, mut start_fn, mut created) =
        (first.id, first.origin, first.start_fn(), first.created_in_trace());
    let mut end_ns = 0;
    let mut track = TrackBuilder::reopen(first.track);
    for g in std::iter::once(second).chain(run) {
        if g.created_in_trace() {
            (origin, start_fn, created) = (g.origin, g.start_fn(), true);
        }
        end_ns = g.track.end_ns().unwrap_or(0);
        track.append(TrackBuilder::reopen(g.track), false);
    }
    Some(record(id, origin, start_fn, created, track.finish(end_ns), strings))
}

/// Counts kept for tests.
pub(crate) mod hooks {
    #[cfg(test)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Goroutines finished early whose times the floor moved, stitched
    /// again by the merge (any thread; only ever rises).
    #[cfg(test)]
    pub(crate) static RESTITCHED: AtomicUsize = AtomicUsize::new(0);

    /// Counts one such goroutine, in tests.
    pub(super) fn count_restitched(_moved: bool) {
        #[cfg(test)]
        RESTITCHED.fetch_add(usize::from(_moved), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part::Seg;

    /// A goroutine's spans: start, end and state.
    fn spans_of(g: &Goroutine) -> Vec<(i64, i64, u8)> {
        g.track.spans().iter().map(|s| (s.start_ns, s.end_ns, s.state)).collect()
    }

    fn piece(id: i64, spans: &[(i64, GState)]) -> GSeg {
        let mut track = TrackBuilder::default();
        for &(at, state) in spans {
            track.push(at, state as u8, StackId::NONE, -1, -1);
        }
        GSeg { seg: Seg { id, track, head_restate: false }, created: None, head_has_first_stack: false, first_stack: 0 }
    }

    #[test]
    fn exited_goroutines_are_finished_and_joined_if_named_again() {
        let (strings, stacks) = (Strings::default(), StackTree::default());
        let mut shard = Shard::default();
        shard.stitch(piece(64, &[(10, GState::Running), (20, GState::Exited)]), None, None, &strings, &stacks);
        shard.stitch(piece(128, &[(15, GState::Runnable)]), None, None, &strings, &stacks);
        assert_eq!((shard.done.len(), shard.building.iter().flatten().count()), (1, 1));
        // A damaged trace names goroutine 64 again after its exit.
        shard.stitch(piece(64, &[(30, GState::Running), (40, GState::Sleep)]), None, None, &strings, &stacks);
        let mut gs: Vec<Goroutine> = shard.finish(100, &strings, &stacks).0.into_iter().collect();
        gs.sort_by_key(|g| g.id);
        join_named_again(&mut gs, &strings);
        assert_eq!(gs.iter().map(|g| g.id.0).collect::<Vec<_>>(), [64, 128]);
        let want = [
            (10, 20, GState::Running as u8),
            (20, 30, GState::Exited as u8),
            (30, 40, GState::Running as u8),
            (40, 100, GState::Sleep as u8),
        ];
        assert_eq!(spans_of(&gs[0]), want);
        assert_eq!(gs[0].exited_ns(), None);
        assert_eq!(gs[1].track.end_ns(), Some(100));
    }

    #[test]
    fn a_goroutine_that_waits_after_its_piece_is_kept_sealed() {
        let (strings, stacks) = (Strings::default(), StackTree::default());
        let mut shard = Shard::default();
        let run = [(10, GState::Runnable), (12, GState::Running), (20, GState::ChanRecv)];
        shard.stitch(piece(64, &run), None, None, &strings, &stacks);
        let track = |shard: &mut Shard| shard.builder(64).map(|g| std::mem::take(&mut g.track));
        let sealed = track(&mut shard);
        assert!(matches!(sealed, Some(GTrack::Sealed(_))), "{sealed:?}");
        if let (Some(g), Some(t)) = (shard.builder(64), sealed) {
            g.track = t;
        }
        // Woken in the next generation, it runs and exits.
        shard.stitch(piece(64, &[(30, GState::Runnable), (31, GState::Exited)]), None, None, &strings, &stacks);
        let gs: Vec<Goroutine> = shard.finish(100, &strings, &stacks).0.into_iter().collect();
        let want = [
            (10, 12, GState::Runnable as u8),
            (12, 20, GState::Running as u8),
            (20, 30, GState::ChanRecv as u8),
            (30, 31, GState::Runnable as u8),
            (31, 31, GState::Exited as u8),
        ];
        assert_eq!(spans_of(&gs[0]), want);
    }

    #[test]
    fn a_goroutine_named_again_many_times_joins_in_time_order_with_its_latest_creation() {
        let strings = Strings::default();
        let rec = |at: i64, created: bool, origin: u32| {
            let mut track = TrackBuilder::default();
            track.push(at, if created { GState::Created } else { GState::Running } as u8, StackId::NONE, -1, -1);
            track.push(at + 5, GState::Exited as u8, StackId::NONE, -1, -1);
            Goroutine::new(GoroutineId(9), OriginId(origin), StrId(0), created, track.finish(at + 5))
        };
        // Out of time order, as shards and the sort leave them; the record
        // at 30 is the latest created, the one at 40 was not created.
        let mut gs = vec![rec(20, true, 2), rec(40, false, 4), rec(10, true, 1), rec(30, true, 3)];
        gs.extend((0..3_000).map(|k| rec(1_000 + 10 * k, false, 5)));
        gs.push(Goroutine::new(GoroutineId(10), OriginId(7), StrId(0), false, Track::default()));
        join_named_again(&mut gs, &strings);
        assert_eq!(gs.iter().map(|g| g.id.0).collect::<Vec<_>>(), [9, 10]);
        let g = &gs[0];
        assert_eq!((g.origin, g.created_in_trace(), g.track.len()), (OriginId(3), true, 2 * 3_004));
        let starts: Vec<i64> = g.track.spans().iter().map(|s| s.start_ns).collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!((starts[0], starts[2], starts[4], starts[6]), (10, 20, 30, 40));
        assert_eq!((g.track.end_ns(), g.exited_ns()), (Some(1_000 + 10 * 2_999 + 5), Some(1_000 + 10 * 2_999 + 5)));
    }

    fn finished(id: i64, spans: &[(i64, GState)], store: &Arc<PagedBytes>) -> Finished {
        let mut track = TrackBuilder::default();
        for &(at, state) in spans {
            track.push(at, state as u8, StackId::NONE, -1, -1);
        }
        let end = spans.last().map_or(0, |s| s.0);
        Finished {
            id,
            parent: 1,
            creation_stack: StackId(3),
            start_stack: StackId::NONE,
            first_stack: StackId::NONE,
            start_ns: spans.first().map_or(0, |s| s.0),
            track: track.finish(end).into_store(store),
        }
    }

    #[test]
    fn goroutines_finished_early_are_filed_or_stitched() {
        let (strings, stacks, store) = (Strings::default(), StackTree::default(), PagedBytes::new());
        let mut shard = Shard::default();
        let g = [(10, GState::Created), (12, GState::Running), (20, GState::Exited)];
        shard.add_finished(finished(64, &g, &store), None, &strings, &stacks);
        assert_eq!((shard.done.len(), shard.index.len()), (1, 0));
        // One still alive gets a finished piece (a damaged trace): stitched on.
        shard.stitch(piece(128, &[(5, GState::Runnable)]), None, None, &strings, &stacks);
        shard.add_finished(
            finished(128, &[(30, GState::Running), (40, GState::Exited)], &store),
            None,
            &strings,
            &stacks,
        );
        assert_eq!((shard.done.len(), shard.index.len()), (2, 0));
        let (gs, origins) = shard.finish(100, &strings, &stacks);
        let mut gs: Vec<Goroutine> = gs.into_iter().collect();
        gs.sort_by_key(|g| g.id);
        let first = [(10, 12, GState::Created as u8), (12, 20, GState::Running as u8), (20, 20, GState::Exited as u8)];
        assert_eq!(spans_of(&gs[0]), first);
        let origin = origins.get(gs[0].origin);
        assert_eq!((origin.parent.0, origin.creation_stack, gs[0].created_ns()), (1, StackId(3), Some(10)));
        assert_eq!(gs[1].exited_ns(), Some(40));
        assert_eq!(spans_of(&gs[1]).first(), Some(&(5, 30, GState::Runnable as u8)));
    }
}
