//! One shard's goroutine pieces of a generation part, with the goroutines
//! that are only restated kept small.
//!
//! Go restates every goroutine at each generation boundary (a `GoStatus`
//! event at the start of the new generation), so a server with many idle
//! goroutines (one per connection, a pool of workers waiting for jobs)
//! gives each of them a piece in every generation although nothing happens
//! to them. A piece is a [`GSeg`] of 280 bytes; such a goroutine is kept
//! instead as a [`Restated`] of 32, and made a piece only if a second event
//! comes. With 500 000 idle goroutines (`busy -idle`, a 117 MiB trace),
//! the peak was 400 MB higher.

use crate::chunked::Chunked;
use crate::part::{GSeg, IdIndex, Seg, blocking_stack};
use crate::stacks::StackId;
use crate::state::GState;
use crate::track::TrackBuilder;

/// A goroutine whose only event in the generation so far restated its
/// state (a status event): the span that event starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Restated {
    /// The goroutine.
    pub id: i64,
    pub time: i64,
    /// The span's `a` (the P, if running).
    pub a: i64,
    /// Local or trace-wide stack number, as the part's pieces have them.
    pub stack: u32,
    /// A [`GState`], or [`Restated::MOVED`].
    pub state: u8,
    /// The time unit of the part's tracks.
    pub unit: u8,
}

impl Restated {
    /// The state of one made a piece since: it is in the list no more.
    const MOVED: u8 = u8::MAX;

    /// The piece the part would have made of it: one span, a restatement.
    pub fn into_piece(self) -> GSeg {
        let mut track = TrackBuilder::with_unit(self.unit);
        track.push(self.time, self.state, StackId(self.stack), self.a, -1);
        let head_has_first_stack = GState::from_u8(self.state).is_some_and(|s| blocking_stack(s, self.stack));
        GSeg {
            seg: Seg { id: self.id, track, head_restate: true },
            created: None,
            head_has_first_stack,
            first_stack: 0,
        }
    }

    /// Whether it is still in the list (not made a piece since).
    pub fn is_kept(&self) -> bool {
        self.state != Restated::MOVED
    }
}

/// Marks a place in `restated` rather than `pieces` in the index.
const RESTATED: u32 = 1 << 31;

/// One shard's goroutines of a part, by `id / SHARDS`: pieces, and the
/// goroutines only restated.
#[derive(Default)]
pub(crate) struct Pieces {
    /// Places plus one; with [`RESTATED`] set, in `restated`.
    index: IdIndex,
    pieces: Chunked<Option<GSeg>>,
    /// Places in `pieces` freed by [`Pieces::take`].
    free: Vec<u32>,
    restated: Chunked<Restated>,
}

impl Pieces {
    /// Files `r` as goroutine `key`'s first event of the generation, unless
    /// it has one already (`false`: then it goes in its piece, as any
    /// event).
    pub fn restate(&mut self, key: i64, r: Restated) -> bool {
        if self.index.get(key).is_some() || self.restated.len() >= (RESTATED - 1) as usize {
            return false;
        }
        self.restated.push(r);
        *self.index.slot(key) = self.restated.len() as u32 | RESTATED;
        true
    }

    /// Goroutine `key`'s piece, made by `new` if it has none (or from its
    /// restatement).
    #[inline]
    pub fn get(&mut self, key: i64, new: impl FnOnce() -> GSeg) -> Option<&mut GSeg> {
        let i = match self.index.get(key) {
            Some(i) if i & RESTATED == 0 => i,
            Some(i) => self.promote(key, i)?,
            None => {
                // Made in place: a piece is large to move.
                let i = match self.free.pop() {
                    Some(i) => {
                        *self.pieces.get_mut(i as usize)? = Some(new());
                        i
                    }
                    None => {
                        self.pieces.push(Some(new()));
                        self.pieces.len() as u32 - 1
                    }
                };
                *self.index.slot(key) = i + 1;
                i
            }
        };
        self.pieces.get_mut(i as usize)?.as_mut()
    }

    /// Goroutine `key`'s piece, if it has one or a restatement.
    pub fn find(&mut self, key: i64) -> Option<&mut GSeg> {
        let i = match self.index.get(key)? {
            i if i & RESTATED == 0 => i,
            i => self.promote(key, i)?,
        };
        self.pieces.get_mut(i as usize)?.as_mut()
    }

    /// Makes goroutine `key`'s restatement (`index` its index entry) a
    /// piece, returning the piece's place.
    #[inline(never)]
    fn promote(&mut self, key: i64, index: u32) -> Option<u32> {
        let r = self.restated.get_mut((index & !RESTATED) as usize)?;
        let piece = r.into_piece();
        r.state = Restated::MOVED;
        *self.index.slot(key) = 0;
        self.get(key, || piece)?;
        self.index.get(key)
    }

    /// Removes goroutine `key`'s piece; the ID is new again afterwards.
    pub fn take(&mut self, key: i64) -> Option<GSeg> {
        let i = self.index.get(key).filter(|i| i & RESTATED == 0)?;
        *self.index.slot(key) = 0;
        self.free.push(i);
        self.pieces.get_mut(i as usize)?.take()
    }

    /// The pieces (with holes where some were taken) and the goroutines
    /// only restated (with those made pieces since marked).
    pub fn into_parts(self) -> (Chunked<Option<GSeg>>, Chunked<Restated>) {
        (self.pieces, self.restated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restated(id: i64, time: i64, state: GState) -> Restated {
        Restated { id, time, a: -1, stack: 7, state: state as u8, unit: 0 }
    }

    #[test]
    fn a_restated_goroutine_becomes_a_piece_at_its_second_event() {
        let mut p = Pieces::default();
        assert!(p.restate(3, restated(192, 10, GState::ChanRecv)));
        assert!(!p.restate(3, restated(192, 11, GState::ChanRecv)), "one restatement per goroutine");
        assert!(p.find(4).is_none());
        let Some(g) = p.get(3, || panic!("made from the restatement")) else { panic!("no piece") };
        assert!(g.seg.head_restate && g.head_has_first_stack);
        assert_eq!(g.seg.id, 192);
        let head = g.seg.track.first().map(|h| (h.start_ns, h.state, h.stack, h.a));
        assert_eq!(head, Some((10, GState::ChanRecv as u8, StackId(7), -1)));
        g.seg.track.push(20, GState::Runnable as u8, StackId::NONE, -1, -1);
        // Found again as the same piece.
        assert_eq!(p.find(3).and_then(|g| g.seg.track.second_start()), Some(20));
        assert!(!p.restate(3, restated(192, 30, GState::ChanRecv)));
        let (pieces, restated) = p.into_parts();
        assert_eq!(pieces.iter().flatten().count(), 1);
        assert_eq!(restated.iter().filter(|r| r.is_kept()).count(), 0);
    }

    #[test]
    fn goroutines_only_restated_stay_out_of_the_pieces() {
        let mut p = Pieces::default();
        for key in 0..1000 {
            assert!(p.restate(key, restated(key * 64, key, GState::Sleep)));
        }
        assert!(p.get(5, || panic!("restated")).is_some());
        assert!(p.get(2000, || restated(2000 * 64, 1, GState::Running).into_piece()).is_some());
        assert!(p.take(7).is_none(), "a restatement is not a piece to take");
        assert!(p.take(2000).is_some());
        let (pieces, restated) = p.into_parts();
        assert_eq!(pieces.iter().flatten().map(|g| g.seg.id).collect::<Vec<_>>(), [5 * 64]);
        assert_eq!(restated.iter().filter(|r| r.is_kept()).count(), 999);
        assert!(std::mem::size_of::<Restated>() <= 32);
    }
}
