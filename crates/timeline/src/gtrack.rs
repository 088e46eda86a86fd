//! The track of a goroutine still alive in a shard, small while it holds
//! one span.
//!
//! A server's idle goroutines (one per connection, workers waiting for
//! jobs) exist before the trace starts and are only restated in each
//! generation: their track is one span, from their first restatement to
//! the end. A [`TrackBuilder`] takes 224 bytes; such a track is kept
//! as a [`LoneSpan`] of 24, and the builder is boxed for the goroutines
//! that do more. With 500 000 idle goroutines (`busy -idle`, a 117 MiB
//! trace), the peak was 100 MB higher.
//!
//! A goroutine that did a little and then waits (the same server's
//! goroutines, created in the trace: a few spans, then blocked for good)
//! would keep its builder to the end. After each generation it is packed
//! instead ([`GTrack::seal`]): its spans laid out as a short [`Track`]
//! holds them, in one allocation of about 40 bytes against some 300,
//! opened again only if a later piece adds spans.

use std::sync::Arc;

use crate::paged::PagedBytes;
use crate::part::Retime;
use crate::track::{LoneSpan, Track, TrackBuilder};

/// A goroutine's track being built.
#[derive(Debug)]
pub(crate) enum GTrack {
    /// Nothing yet, or one span.
    Lone(Option<LoneSpan>),
    /// A few spans, laid out as a short [`Track`] until more come (see
    /// [`GTrack::seal`]); the last ends where it starts, as a pending
    /// span does.
    Sealed(Box<[u8]>),
    /// More, or being added to.
    Built(Box<TrackBuilder>),
}

/// The most spans a track is sealed with: opening it again decodes and
/// re-encodes them all.
pub(crate) const SEAL_SPANS: usize = 32;

impl Default for GTrack {
    fn default() -> Self {
        GTrack::Lone(None)
    }
}

impl GTrack {
    /// The state of the last span.
    pub fn last_state(&self) -> Option<u8> {
        match self {
            GTrack::Lone(l) => l.map(|l| l.state()),
            GTrack::Sealed(t) => Track::laid_last(t).map(|s| s.state),
            GTrack::Built(b) => b.last_state(),
        }
    }

    /// The start of the last span (0 if none).
    pub fn last_start_ns(&self) -> i64 {
        match self {
            GTrack::Lone(l) => l.map_or(0, |l| l.start_ns()),
            GTrack::Sealed(t) => Track::laid_last(t).map_or(0, |s| s.start_ns),
            GTrack::Built(b) => b.last_start_ns(),
        }
    }

    /// Appends a piece as [`TrackBuilder::append`] does (leaving out its
    /// first span if `skip_first`), retiming its first spans with
    /// `retime` ([`TrackBuilder::append_retimed`]).
    pub fn append(&mut self, piece: TrackBuilder, skip_first: bool, retime: Option<&Retime>) {
        let adds = piece.len() > usize::from(skip_first);
        let add = |b: &mut TrackBuilder| match retime {
            Some(r) => b.append_retimed(piece, skip_first, r.limit_ns, |t| r.apply(t)),
            None => b.append(piece, skip_first),
        };
        match self {
            GTrack::Built(b) => add(b),
            // An idle goroutine restated: nothing to add, leave it packed.
            GTrack::Sealed(_) if !adds => {}
            GTrack::Sealed(_) => {
                let GTrack::Sealed(t) = std::mem::take(self) else { return };
                let mut b = TrackBuilder::reopen(Track::from_laid(t));
                add(&mut b);
                *self = GTrack::Built(Box::new(b));
            }
            GTrack::Lone(lone) => {
                let mut b = lone.map_or_else(TrackBuilder::default, LoneSpan::into_builder);
                add(&mut b);
                *self = match b.lone() {
                    Some(l) => GTrack::Lone(Some(l)),
                    None => GTrack::Built(Box::new(b)),
                };
            }
        }
    }

    /// Bytes of closed blocks not yet spilled (see
    /// [`TrackBuilder::closed_bytes`]).
    pub fn closed_bytes(&self) -> usize {
        match self {
            GTrack::Lone(_) | GTrack::Sealed(_) => 0,
            GTrack::Built(b) => b.closed_bytes(),
        }
    }

    /// Packs a builder of a few spans, none spilled, until a piece adds
    /// more: a shard calls it on each goroutine still alive after a
    /// generation is stitched, most of which wait.
    pub fn seal(&mut self) {
        if !matches!(self, GTrack::Built(b) if b.len() <= SEAL_SPANS && !b.has_spilled()) {
            return;
        }
        let GTrack::Built(b) = std::mem::take(self) else { return };
        *self = match b.into_laid() {
            Ok(laid) => GTrack::Sealed(laid),
            Err(b) => GTrack::Built(b),
        };
    }

    /// [`TrackBuilder::spill`].
    pub fn spill(&mut self, min_bytes: usize, store: impl FnOnce() -> Arc<PagedBytes>) {
        if let GTrack::Built(b) = self {
            b.spill(min_bytes, store);
        }
    }

    /// [`TrackBuilder::finish_into_store`].
    pub fn finish_into_store(self, end_ns: i64, store: &Arc<PagedBytes>) -> Track {
        let b = match self {
            GTrack::Lone(l) => l.map_or_else(TrackBuilder::default, LoneSpan::into_builder),
            GTrack::Sealed(t) => TrackBuilder::reopen(Track::from_laid(t)),
            GTrack::Built(b) => *b,
        };
        b.finish_into_store(end_ns, store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stacks::StackId;
    use crate::state::GState;

    fn piece(spans: &[(i64, GState)]) -> TrackBuilder {
        let mut b = TrackBuilder::with_unit(3);
        for &(at, state) in spans {
            b.push(at, state as u8, StackId(9), 4, -1);
        }
        b
    }

    /// The same pieces appended to a [`GTrack`] and to a builder.
    fn both(pieces: &[(&[(i64, GState)], bool)]) -> (GTrack, TrackBuilder) {
        let (mut g, mut b) = (GTrack::default(), TrackBuilder::default());
        for &(spans, skip) in pieces {
            g.append(piece(spans), skip, None);
            b.append(piece(spans), skip);
        }
        (g, b)
    }

    fn spans(t: Track) -> Vec<(i64, i64, u8, StackId, i64, i64)> {
        t.spans().iter().map(|s| (s.start_ns, s.end_ns, s.state, s.stack, s.a, s.b)).collect()
    }

    /// Asserts that `g` and `b` finish at `end_ns` with the same spans;
    /// returns how many.
    fn same_spans(g: GTrack, b: TrackBuilder, end_ns: i64) -> usize {
        let store = PagedBytes::new();
        let want = spans(b.finish(end_ns));
        assert_eq!(spans(g.finish_into_store(end_ns, &store)), want);
        want.len()
    }

    #[test]
    fn an_idle_goroutine_stays_one_span_restated_or_not() {
        let chan = GState::ChanRecv;
        let (g, b) = both(&[(&[(8, chan)], false), (&[(800, chan)], true), (&[(1600, chan)], true)]);
        assert!(matches!(g, GTrack::Lone(Some(_))), "{g:?}");
        assert_eq!((g.last_state(), g.last_start_ns()), (Some(chan as u8), 8));
        assert_eq!(g.closed_bytes(), 0);
        assert_eq!(same_spans(g, b, 2000), 1);
    }

    #[test]
    fn a_goroutine_that_does_more_gets_a_builder_with_the_same_spans() {
        let run = [(16, GState::Running), (24, GState::Sleep), (40, GState::Runnable)];
        let (mut g, b) = both(&[(&[(8, GState::ChanRecv)], false), (&run, false), (&[(800, GState::Runnable)], true)]);
        assert!(matches!(g, GTrack::Built(_)));
        assert_eq!((g.last_state(), g.last_start_ns()), (Some(GState::Runnable as u8), 40));
        g.spill(0, PagedBytes::new);
        assert_eq!(same_spans(g, b, 900), 4);
    }

    #[test]
    fn a_few_spans_seal_and_open_again_only_for_more() {
        let run = [(16, GState::Running), (24, GState::Sleep), (40, GState::ChanRecv)];
        let (mut g, mut b) = both(&[(&[(8, GState::Runnable)], false), (&run, false)]);
        let unsealed = (g.last_state(), g.last_start_ns());
        g.seal();
        let GTrack::Sealed(laid) = &g else { panic!("not sealed: {g:?}") };
        assert!(laid.len() < 64, "{} bytes", laid.len());
        assert_eq!((g.last_state(), g.last_start_ns()), unsealed);
        // Restated in the next generation: nothing to add, still sealed.
        g.append(piece(&[(800, GState::ChanRecv)]), true, None);
        b.append(piece(&[(800, GState::ChanRecv)]), true);
        assert!(matches!(g, GTrack::Sealed(_)));
        // Woken: opened again, and the spans are as if never sealed.
        let more = [(900, GState::Runnable), (950, GState::Running)];
        g.append(piece(&more), false, None);
        b.append(piece(&more), false);
        assert!(matches!(g, GTrack::Built(_)));
        assert_eq!(same_spans(g, b, 1000), 6);
    }

    #[test]
    fn long_or_spilled_tracks_are_not_sealed() {
        let long: Vec<(i64, GState)> =
            (0..=SEAL_SPANS as i64).map(|i| (i * 8, [GState::Running, GState::Sleep][i as usize % 2])).collect();
        let (mut g, b) = both(&[(&long, false)]);
        g.seal();
        assert!(matches!(g, GTrack::Built(_)), "{} spans", long.len());
        let mut spilled = TrackBuilder::with_unit(3);
        for i in 0..300 {
            spilled.push(i * 8, [GState::Running, GState::Sleep][i as usize % 2] as u8, StackId(9), 4, -1);
        }
        spilled.spill(0, PagedBytes::new);
        let mut g2 = GTrack::Built(Box::new(spilled));
        g2.seal();
        assert!(matches!(g2, GTrack::Built(_)));
        assert_eq!(same_spans(g, b, 9000), long.len());
    }

    #[test]
    fn a_span_with_b_is_not_kept_lone() {
        let mut worker = TrackBuilder::with_unit(3);
        worker.push(8, GState::Running as u8, StackId(9), 2, 1);
        assert!(worker.lone().is_none());
        let mut g = GTrack::default();
        g.append(worker, false, None);
        assert!(matches!(g, GTrack::Built(_)));
        let store = PagedBytes::new();
        assert_eq!(spans(g.finish_into_store(20, &store)), [(8, 20, GState::Running as u8, StackId(9), 2, 1)]);
    }

    #[test]
    fn nothing_appended_finishes_empty() {
        let store = PagedBytes::new();
        assert_eq!((GTrack::default().last_state(), GTrack::default().last_start_ns()), (None, 0));
        assert!(GTrack::default().finish_into_store(10, &store).is_empty());
    }
}
