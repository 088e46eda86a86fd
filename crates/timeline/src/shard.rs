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

use crate::model::Goroutine;
use crate::paged::PagedBytes;
use crate::part::{GSeg, Retime, SHARDS, blocking_stack};
use crate::stacks::{StackId, StackTree};
use crate::state::GState;
use crate::strings::Strings;
use crate::track::TrackBuilder;

/// Closed blocks a goroutine still running holds before packing them into
/// the shard's store: only the long-lived ones get there (a block of
/// spans takes a few hundred bytes).
const SPILL_BYTES: usize = 16 * 1024;
/// Slot entries with this bit point into `done`, else into `building`.
const DONE: u32 = 1 << 31;
/// IDs up to this go to the dense slot table; larger ones (damaged traces)
/// to a map, so a wild ID cannot make the table huge.
const DENSE_IDS: i64 = 1 << 28;

/// A goroutine still receiving spans.
struct GBuild {
    id: i64,
    track: TrackBuilder,
    parent: i64,
    creation_stack: StackId,
    start_stack: StackId,
    first_stack: StackId,
    /// The start function of a record reopened (its start stack is not
    /// kept), unless a start stack turns up again.
    known_fn: Option<crate::strings::StrId>,
    created_ns: Option<i64>,
}

impl GBuild {
    fn new(id: i64) -> GBuild {
        GBuild {
            id,
            track: TrackBuilder::default(),
            parent: -1,
            creation_stack: StackId::NONE,
            start_stack: StackId::NONE,
            first_stack: StackId::NONE,
            known_fn: None,
            created_ns: None,
        }
    }

    /// The final record, its last span ending at `end_ns`, its track moved
    /// into `store`.
    fn finish(self, end_ns: i64, strings: &Strings, stacks: &StackTree, store: &Arc<PagedBytes>) -> Goroutine {
        let start_fn = match (self.start_stack, self.known_fn) {
            (s, _) if s != StackId::NONE => stacks.start_function(s, strings),
            (_, Some(f)) => f,
            _ => stacks.start_function(self.first_stack, strings),
        };
        let name = strings.get(start_fn);
        let is_system = name.starts_with("runtime.") && name != "runtime.main";
        let mut g = Goroutine::new(
            GoroutineId(self.id),
            GoroutineId(self.parent),
            start_fn,
            self.creation_stack,
            self.created_ns.is_some(),
            self.track.finish(end_ns).into_store(store),
        );
        g.set_system(is_system);
        g
    }

    /// A finished record back as a builder (a damaged trace naming a
    /// goroutine after it exited).
    fn reopen(g: Goroutine) -> GBuild {
        let created_ns = g.created_ns();
        let known_fn = Some(g.start_fn()).filter(|f| f.0 != 0);
        // Found again from the spans, as the pieces found it.
        let first_stack = g
            .track
            .spans()
            .iter()
            .find(|s| blocking_stack(GState::from_u8(s.state).unwrap_or(GState::Blocked), s.stack.0))
            .map_or(StackId::NONE, |s| s.stack);
        GBuild {
            id: g.id.0,
            track: TrackBuilder::reopen(g.track),
            parent: g.parent.0,
            creation_stack: g.creation_stack,
            start_stack: StackId::NONE,
            first_stack,
            known_fn,
            created_ns,
        }
    }
}

/// The goroutines of one shard (IDs `k`, `k + SHARDS`, `k + 2 * SHARDS`...).
#[derive(Default)]
pub(crate) struct Shard {
    /// By `id / SHARDS`: 0 if not seen, else a slot entry + 1.
    slots: Vec<u32>,
    /// Slot entries + 1 of IDs outside the dense table.
    overflow: FxHashMap<i64, u32>,
    building: Vec<Option<GBuild>>,
    /// Free places in `building`.
    free: Vec<u32>,
    done: Vec<Goroutine>,
    /// Where the finished goroutines' tracks are kept, compressed.
    store: Arc<PagedBytes>,
}

impl Shard {
    /// The slot entry + 1 of goroutine `id` (0 if not seen).
    fn slot(&mut self, id: i64) -> &mut u32 {
        if (0..DENSE_IDS).contains(&id) {
            let i = (id / SHARDS as i64) as usize;
            if i >= self.slots.len() {
                self.slots.resize(i + 1, 0);
            }
            if let Some(s) = self.slots.get_mut(i) {
                return s;
            }
        }
        self.overflow.entry(id).or_insert(0)
    }

    /// The builder of goroutine `id`, made (or reopened) if needed.
    fn builder(&mut self, id: i64) -> Option<&mut GBuild> {
        let entry = *self.slot(id);
        let index = match entry.checked_sub(1) {
            Some(e) if e & DONE == 0 => e,
            Some(e) => {
                let g = self.take_done(e & !DONE);
                self.place(id, g)
            }
            None => self.place(id, None),
        };
        self.building.get_mut(index as usize).and_then(Option::as_mut)
    }

    /// Puts a builder for `id` (reopened from `old`, if any) in a free
    /// place and returns the place.
    fn place(&mut self, id: i64, old: Option<Goroutine>) -> u32 {
        let b = match old {
            Some(g) => GBuild::reopen(g),
            None => GBuild::new(id),
        };
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
        *self.slot(id) = index + 1;
        index
    }

    /// Removes finished goroutine `i` from `done`.
    fn take_done(&mut self, i: u32) -> Option<Goroutine> {
        if i as usize >= self.done.len() {
            return None;
        }
        let g = self.done.swap_remove(i as usize);
        // The goroutine moved into place `i` needs its slot updated.
        if let Some(moved) = self.done.get(i as usize).map(|m| m.id.0) {
            *self.slot(moved) = (i | DONE) + 1;
        }
        Some(g)
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
        match retime {
            Some(r) => g.track.append_retimed(seg.track, drop, r.limit_ns, |t| r.apply(t)),
            None => g.track.append(seg.track, drop),
        }
        let spill = g.track.closed_bytes() >= SPILL_BYTES;
        if g.track.last_state() == Some(GState::Exited as u8) {
            self.retire(id, strings, stacks);
        } else if spill {
            // A goroutine living through many generations: pack what it has.
            let store = self.store.clone();
            if let Some(g) = self.builder(id) {
                g.track.spill(0, || store);
            }
        }
    }

    /// Finishes exited goroutine `id` now; its track ends at the exit.
    fn retire(&mut self, id: i64, strings: &Strings, stacks: &StackTree) {
        let Some(index) = self.slot(id).checked_sub(1).filter(|e| e & DONE == 0) else { return };
        let Some(b) = self.building.get_mut(index as usize).and_then(Option::take) else { return };
        self.free.push(index);
        let end = b.track.last_start_ns();
        self.done.push(b.finish(end, strings, stacks, &self.store));
        let entry = (self.done.len() as u32 - 1) | DONE;
        *self.slot(id) = entry + 1;
    }

    /// Grows the finished goroutines' vector ahead (see
    /// [`TrackBuilder::reserve_scaled`]).
    pub fn reserve_scaled(&mut self, scale: f64) {
        crate::track::reserve_scaled(&mut self.done, scale);
    }

    /// Every goroutine of the shard, the last spans ending at `end_ns`.
    pub fn finish(self, end_ns: i64, strings: &Strings, stacks: &StackTree) -> Vec<Goroutine> {
        let mut out = self.done;
        let store = self.store;
        out.extend(self.building.into_iter().flatten().map(|b| b.finish(end_ns, strings, stacks, &store)));
        store.seal();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::part::Seg;

    fn piece(id: i64, spans: &[(i64, GState)]) -> GSeg {
        let mut track = TrackBuilder::default();
        for &(at, state) in spans {
            track.push(at, state as u8, StackId::NONE, -1, -1);
        }
        GSeg { seg: Seg { id, track, head_restate: false }, created: None, head_has_first_stack: false, first_stack: 0 }
    }

    #[test]
    fn exited_goroutines_are_finished_and_reopened_if_named_again() {
        let (strings, stacks) = (Strings::default(), StackTree::default());
        let mut shard = Shard::default();
        shard.stitch(piece(64, &[(10, GState::Running), (20, GState::Exited)]), None, None, &strings, &stacks);
        shard.stitch(piece(128, &[(15, GState::Runnable)]), None, None, &strings, &stacks);
        assert_eq!((shard.done.len(), shard.building.iter().flatten().count()), (1, 1));
        // A damaged trace names goroutine 64 again after its exit.
        shard.stitch(piece(64, &[(30, GState::Running), (40, GState::Sleep)]), None, None, &strings, &stacks);
        let mut gs = shard.finish(100, &strings, &stacks);
        gs.sort_by_key(|g| g.id);
        assert_eq!(gs.iter().map(|g| g.id.0).collect::<Vec<_>>(), [64, 128]);
        let spans: Vec<(i64, i64, u8)> = gs[0].track.spans().iter().map(|s| (s.start_ns, s.end_ns, s.state)).collect();
        let want = [
            (10, 20, GState::Running as u8),
            (20, 30, GState::Exited as u8),
            (30, 40, GState::Running as u8),
            (40, 100, GState::Sleep as u8),
        ];
        assert_eq!(spans, want);
        assert_eq!(gs[0].exited_ns(), None);
        assert_eq!(gs[1].track.end_ns(), Some(100));
    }
}
