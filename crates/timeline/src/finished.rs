//! Goroutines created and exited within one generation, finished where the
//! generation is collected rather than stitched on by the merge.

use std::sync::Arc;

use crate::finlist::FinishedList;
use crate::paged::{Packing, PagedBytes};
use crate::part::{Created, GSeg, SHARDS, Seg, shard_of};
use crate::stacks::StackId;
use crate::track::{Track, TrackBuilder};

/// A goroutine created and exited within one generation, finished where
/// the generation was collected: its record and its track (packed into the
/// part's store once it leaves the [`FinishQueue`]).
///
/// Most goroutines of a busy program live so briefly. As pieces they were
/// most of the memory of a part in flight (232 bytes each plus their
/// unpacked spans, a few hundred thousand per part); finished, they take a
/// fifth of that, and the merge only files them.
pub(crate) struct Finished {
    pub id: i64,
    pub parent: i64,
    /// Trace-wide stacks (only parts with a [`crate::part::StackMap`] finish early).
    pub creation_stack: StackId,
    pub start_stack: StackId,
    /// The first stack where it blocked or stopped (see [`crate::part::blocking_stack`]).
    pub first_stack: StackId,
    /// Its first span's start (its creation): kept here so the merge can
    /// tell whether the time floor moves it without reading the track.
    pub start_ns: i64,
    /// Its spans, the last one the empty `Exited` span.
    pub track: Track,
}

/// A finished goroutine waiting in the [`FinishQueue`], its track
/// finished already: a short one laid out in the queue's bytes, to be
/// appended to the store when it is packed.
struct Queued {
    /// How many goroutines were queued before it, so an unstable sort keeps
    /// equal IDs in order of exit.
    seq: u64,
    id: i64,
    parent: i64,
    creation_stack: StackId,
    start_stack: StackId,
    first_stack: StackId,
    start_ns: i64,
    track: Laid,
}

/// A queued goroutine's track.
enum Laid {
    /// At `start` in [`FinishQueue::laid`], `len` bytes.
    Short { start: usize, len: usize },
    /// Too long to lay out (rare).
    Track(Track),
}

impl Queued {
    /// Takes `piece` (which must hold its creation), finishing its track
    /// at its exit; a short track is laid out at the end of `laid`.
    fn new(piece: GSeg, seq: u64, laid: &mut Vec<u8>) -> Option<Queued> {
        let GSeg { seg, created, head_has_first_stack, first_stack } = piece;
        let c = created?;
        let first_stack = match seg.track.first() {
            Some(head) if head_has_first_stack => head.stack,
            _ => StackId(first_stack),
        };
        let end_ns = seg.track.last_start_ns();
        let start_ns = seg.track.first().map_or(end_ns, |head| head.start_ns);
        let start = laid.len();
        let track = match seg.track.finish_laid_out(end_ns, laid) {
            Ok(len) => Laid::Short { start, len },
            Err(track) => Laid::Track(track),
        };
        Some(Queued {
            seq,
            id: seg.id,
            parent: c.parent,
            creation_stack: StackId(c.creation_stack),
            start_stack: StackId(c.start_stack),
            first_stack,
            start_ns,
            track,
        })
    }

    /// The finished goroutine, its track packed into `store`.
    fn pack(self, laid: &[u8], store: &Arc<PagedBytes>) -> Finished {
        let Queued { id, parent, creation_stack, start_stack, first_stack, start_ns, track, .. } = self;
        let track = match track {
            Laid::Short { start, len } => Track::stored(laid.get(start..start + len).unwrap_or_default(), store),
            Laid::Track(track) => track.into_store(store),
        };
        Finished { id, parent, creation_stack, start_stack, first_stack, start_ns, track }
    }
}

impl Finished {
    /// Back as a piece, to stitch to what a damaged trace said of the same
    /// goroutine before.
    pub fn into_piece(self) -> GSeg {
        let created = Created {
            time: self.start_ns,
            parent: self.parent,
            creation_stack: self.creation_stack.0,
            start_stack: self.start_stack.0,
        };
        GSeg {
            seg: Seg { id: self.id, track: TrackBuilder::reopen(self.track), head_restate: false },
            created: Some(created),
            head_has_first_stack: false,
            first_stack: self.first_stack.0,
        }
    }
}

/// Finished goroutines on their way into the part's store, packed in ID
/// order: goroutines exit in about the order they were made, but not
/// quite (Go hands each P sixteen IDs at a time, and lives differ), and a
/// store keeps only its last few pages unpacked, so a scan of every
/// goroutine by ID over tracks packed in order of exit unpacked pages over
/// and over (a whole-trace scan of busy-1gb took twice as long). Held back
/// up to [`QUEUE`] at a time, sorted, and the lower half packed, they come
/// out in ID order but for the rare one that lives much longer.
pub(crate) struct FinishQueue {
    /// `None` where one was packed, until the packing is done.
    queue: Vec<Option<Queued>>,
    /// (ID, sequence, place in the queue) of those queued, kept to be
    /// reused each time some are packed.
    keys: Vec<(i64, u64, usize)>,
    /// The short tracks queued, laid out (see [`Laid::Short`]).
    laid: Vec<u8>,
    /// Where those still queued go each time some are packed (kept, so
    /// the two buffers trade places rather than being allocated again).
    spare: Vec<u8>,
    queued: u64,
    store: Arc<PagedBytes>,
    /// Packed, by [`shard_of`].
    out: Vec<FinishedList>,
}

/// Goroutines held back before packing. When the entries held their
/// builders (250 bytes each), 16 K of them (4 MB) made busy-1gb's build
/// 0.35 s slower than 8 K; 4 K made a scan of every goroutine 7% slower,
/// as more are packed out of ID order.
const QUEUE: usize = 8 * 1024;

impl Default for FinishQueue {
    fn default() -> Self {
        FinishQueue {
            queue: Vec::new(),
            keys: Vec::new(),
            laid: Vec::new(),
            spare: Vec::new(),
            queued: 0,
            // Records of goroutines with neighbouring IDs repeat each
            // other's bytes in short runs (span flags and stack IDs,
            // the high bytes of their times): 2.27x with the search for
            // repeats, 1.50x without (busy-50mb).
            store: PagedBytes::with_packing(Packing::Matched),
            out: (0..SHARDS).map(|_| FinishedList::default()).collect(),
        }
    }
}

impl FinishQueue {
    /// Queues `piece` (which must hold its creation); when the queue is
    /// full, packs its lower half.
    pub fn push(&mut self, piece: GSeg) {
        let Some(queued) = Queued::new(piece, self.queued, &mut self.laid) else { return };
        if self.queue.capacity() == 0 {
            self.queue.reserve_exact(QUEUE);
        }
        self.queue.push(Some(queued));
        self.queued += 1;
        if self.queue.len() >= QUEUE {
            self.pack(QUEUE / 2);
        }
    }

    /// Packs the `n` least IDs queued (a damaged trace's equal IDs in
    /// order of exit).
    fn pack(&mut self, n: usize) {
        // Keys are put in order, not the entries (64 bytes each, moved at
        // every swap), and only the `n` least of them.
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        keys.extend(self.queue.iter().enumerate().filter_map(|(i, q)| q.as_ref().map(|q| (q.id, q.seq, i))));
        let n = n.min(keys.len());
        if n < keys.len() && n > 0 {
            keys.select_nth_unstable(n - 1);
        }
        if let Some(least) = keys.get_mut(..n) {
            least.sort_unstable();
        }
        for &(id, _, i) in keys.iter().take(n) {
            let Some(q) = self.queue.get_mut(i).and_then(Option::take) else { continue };
            let f = q.pack(&self.laid, &self.store);
            if let Some(list) = self.out.get_mut(shard_of(id)) {
                list.push(f);
            }
        }
        self.keys = keys;
        self.queue.retain(Option::is_some);
        // The bytes of those still queued, moved together.
        let mut kept = std::mem::take(&mut self.spare);
        kept.clear();
        for q in self.queue.iter_mut().flatten() {
            if let Laid::Short { start, len } = &mut q.track {
                let at = kept.len();
                kept.extend_from_slice(self.laid.get(*start..*start + *len).unwrap_or_default());
                *start = at;
            }
        }
        self.spare = std::mem::replace(&mut self.laid, kept);
    }

    /// Packs the rest and returns them all, by shard.
    pub fn finish(mut self) -> Vec<FinishedList> {
        self.pack(usize::MAX);
        self.store.seal();
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GState;

    fn piece(id: i64) -> GSeg {
        piece_at(id, id * 10)
    }

    fn piece_at(id: i64, time: i64) -> GSeg {
        let mut track = TrackBuilder::default();
        // Every 97th goroutine's track too long to lay out in the queue.
        let spans = if id % 97 == 0 { 3_000 } else { 1 };
        for k in 0..spans {
            let state = if k % 2 == 0 { GState::Running } else { GState::Runnable };
            track.push(time + k, state as u8, StackId::NONE, k, -1);
        }
        track.push(time + spans + 5, GState::Exited as u8, StackId::NONE, -1, -1);
        let created = Created { time, parent: -1, creation_stack: 0, start_stack: 0 };
        GSeg {
            seg: Seg { id, track, head_restate: false },
            created: Some(created),
            head_has_first_stack: false,
            first_stack: 0,
        }
    }

    #[test]
    fn goroutines_are_packed_in_id_order_within_the_queue_length() {
        let mut q = FinishQueue::default();
        // Exits out of order: each run of 1 000 IDs backwards.
        let n = 3 * QUEUE as i64;
        let exits: Vec<i64> = (0..n).map(|i| i - i % 1000 + 999 - i % 1000).filter(|&id| id < n).collect();
        for &id in &exits {
            q.push(piece(id));
        }
        let by_shard = q.finish();
        let all: Vec<Finished> = by_shard.iter().flat_map(|c| c.iter()).collect();
        assert_eq!(all.len(), exits.len());
        // Each shard's list is in ID order, and each track reads back.
        for list in &by_shard {
            let ids: Vec<i64> = list.iter().map(|f| f.id).collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        }
        for f in &all {
            let spans = f.track.spans();
            let n = if f.id % 97 == 0 { 3_001 } else { 2 };
            assert_eq!((spans.len(), f.track.start_ns()), (n, Some(f.id * 10)), "g{}", f.id);
            assert!(spans[..n - 1].iter().enumerate().all(|(k, s)| s.a == k as i64), "g{}", f.id);
        }
    }

    #[test]
    fn a_damaged_traces_equal_ids_stay_in_order_of_exit() {
        let mut q = FinishQueue::default();
        // Goroutine 64 finished 300 times (a damaged trace), among others.
        for k in 0..QUEUE as i64 {
            q.push(piece(1_000 + k));
            if k % 50 == 0 {
                q.push(piece_at(64, k));
            }
        }
        let by_shard = q.finish();
        let starts: Vec<i64> =
            by_shard[shard_of(64)].iter().filter(|f| f.id == 64).filter_map(|f| f.track.start_ns()).collect();
        assert_eq!(starts, (0..QUEUE as i64).step_by(50).collect::<Vec<_>>());
    }
}
