//! One shard's goroutine pieces of a generation part, with the goroutines
//! that need no piece yet, or no more, kept small.
//!
//! Go restates every goroutine at each generation boundary (a `GoStatus`
//! event at the start of the new generation), so a server with many idle
//! goroutines (one per connection, a pool of workers waiting for jobs)
//! gives each of them a piece in every generation although nothing happens
//! to them. A piece is a [`GSeg`] of 280 bytes (plus its vectors); such a
//! goroutine is kept instead as a [`Restated`] of 32, and made a piece only
//! if more events come. With 500 000 idle goroutines (`busy -idle`, a
//! 117 MiB trace), the peak was 400 MB higher.
//!
//! A second span after the restatement, most often a wake-up, makes it a
//! [`Woken`] of 56 bytes; the third makes it a piece. A goroutine made
//! before the part that exits in it is laid out as an [`Ended`] (about 80
//! bytes with its spans) and its piece's place reused. When a server
//! closes the channel a million connections wait on, all wake before any
//! runs, then each runs and exits: `shapes -mode conns` peaked at 625 MB
//! with a piece each, 459-478 MB so.

use crate::chunked::Chunked;
use crate::gtrack::SEAL_SPANS;
use crate::part::{GSeg, IdIndex, Seg, blocking_stack};
use crate::stacks::StackId;
use crate::state::GState;
use crate::track::{Track, TrackBuilder};

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

/// A goroutine's second span of a generation, after a restatement: no
/// creation, no `b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Second {
    pub time: i64,
    pub state: GState,
    /// Local or trace-wide stack number.
    pub stack: u32,
    pub a: i64,
}

/// A goroutine only restated, then given a [`Second`] span, most often its
/// wake-up: made a piece at its third event. A channel closed or a
/// condition broadcast to many waiters wakes them all before any runs
/// (`shapes -mode conns`: a million at once), and each was a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Woken {
    /// Its restatement; [`Restated::MOVED`] once made a piece.
    pub first: Restated,
    pub second: Second,
}

impl Woken {
    /// The piece the part would have made of it: two spans.
    pub fn into_piece(self) -> GSeg {
        let mut g = self.first.into_piece();
        let Second { time, state, stack, a } = self.second;
        g.push(time, state, stack, (a, -1), false);
        g
    }
}

/// A goroutine that exited in the generation but was made before it:
/// nothing more comes of it in the part, and other parts have pieces of
/// it, so its piece is kept laid out (one allocation of a few tens of
/// bytes, see [`TrackBuilder::into_laid`]) and its place reused.
#[derive(Debug)]
pub(crate) struct Ended {
    id: i64,
    laid: Box<[u8]>,
    first_stack: u32,
    head_restate: bool,
    head_has_first_stack: bool,
}

impl Ended {
    /// Whether `g` may be laid out: not made in the part, its track short.
    fn fits(g: &GSeg) -> bool {
        g.created.is_none() && g.seg.track.len() <= SEAL_SPANS && !g.seg.track.has_spilled()
    }

    /// `g` ([`Ended::fits`]) laid out; itself if its spans take too many bytes.
    fn new(g: GSeg) -> Result<Ended, Box<GSeg>> {
        let GSeg { seg: Seg { id, track, head_restate }, created, head_has_first_stack, first_stack } = g;
        match Box::new(track).into_laid() {
            Ok(laid) => Ok(Ended { id, laid, first_stack, head_restate, head_has_first_stack }),
            Err(track) => {
                let seg = Seg { id, track: *track, head_restate };
                Err(Box::new(GSeg { seg, created, head_has_first_stack, first_stack }))
            }
        }
    }

    /// The piece again.
    pub fn into_piece(self) -> GSeg {
        let Ended { id, laid, first_stack, head_restate, head_has_first_stack } = self;
        let track = TrackBuilder::reopen(Track::from_laid(laid));
        GSeg { seg: Seg { id, track, head_restate }, created: None, head_has_first_stack, first_stack }
    }
}

/// The tag of an index entry (its top two bits): which list the place is in.
const TAG: u32 = 3 << 30;
/// A place in `pieces`.
const PIECE: u32 = 0;
/// A place in `ended`.
const ENDED: u32 = 1 << 30;
/// A place in `restated`.
const RESTATED: u32 = 2 << 30;
/// A place in `woken`.
const WOKEN: u32 = 3 << 30;
/// Places in any one list stay below this.
const MAX_PLACES: usize = (1 << 30) - 2;

/// One shard's goroutines of a part, by `id / SHARDS`: pieces, and the
/// goroutines kept small (only restated, woken, or ended).
#[derive(Default)]
pub(crate) struct Pieces {
    /// Places plus one, tagged with their list ([`TAG`]).
    index: IdIndex,
    pieces: Chunked<Option<GSeg>>,
    /// Places in `pieces` freed by [`Pieces::take`] and [`Pieces::end`].
    free: Vec<u32>,
    restated: Chunked<Restated>,
    woken: Chunked<Woken>,
    ended: Chunked<Option<Ended>>,
}

impl Pieces {
    /// Files `r` as goroutine `key`'s first event of the generation, unless
    /// it has one already (`false`: then it goes in its piece, as any
    /// event).
    pub fn restate(&mut self, key: i64, r: Restated) -> bool {
        if self.index.get(key).is_some() || self.restated.len() >= MAX_PLACES {
            return false;
        }
        self.restated.push(r);
        *self.index.slot(key) = self.restated.len() as u32 | RESTATED;
        true
    }

    /// Goroutine `key`'s piece, made by `new` if it has none (or from what
    /// it is kept as). But if it is only restated and `second` is given,
    /// `second` is its second span: it is kept as [`Woken`], and `None`
    /// returned.
    #[inline]
    pub fn get(&mut self, key: i64, new: impl FnOnce() -> GSeg, second: Option<Second>) -> Option<&mut GSeg> {
        let i = match self.index.get(key) {
            Some(i) if i & TAG == PIECE => i,
            Some(i) => match second {
                Some(s) if i & TAG == RESTATED => return self.wake(key, i, s),
                _ => self.promote(key, i)?,
            },
            None => self.place(key, new())?,
        };
        self.pieces.get_mut(i as usize)?.as_mut()
    }

    /// Goroutine `key`'s piece, if it has one or is kept small.
    pub fn find(&mut self, key: i64) -> Option<&mut GSeg> {
        let i = match self.index.get(key)? {
            i if i & TAG == PIECE => i,
            i => self.promote(key, i)?,
        };
        self.pieces.get_mut(i as usize)?.as_mut()
    }

    /// Files `piece` as goroutine `key`'s, returning its place.
    fn place(&mut self, key: i64, piece: GSeg) -> Option<u32> {
        // Made in place: a piece is large to move.
        let i = match self.free.pop() {
            Some(i) => {
                *self.pieces.get_mut(i as usize)? = Some(piece);
                i
            }
            None if self.pieces.len() < MAX_PLACES => {
                self.pieces.push(Some(piece));
                self.pieces.len() as u32 - 1
            }
            None => return None,
        };
        *self.index.slot(key) = i + 1;
        Some(i)
    }

    /// Makes goroutine `key`'s restatement (`index` its index entry) and
    /// `second` a [`Woken`]; `None`, as [`Pieces::get`] returns then.
    #[inline(never)]
    fn wake(&mut self, key: i64, index: u32, second: Second) -> Option<&mut GSeg> {
        if self.woken.len() >= MAX_PLACES {
            let i = self.promote(key, index)?;
            return self.pieces.get_mut(i as usize)?.as_mut();
        }
        let r = self.restated.get_mut((index & !TAG) as usize)?;
        let first = *r;
        r.state = Restated::MOVED;
        self.woken.push(Woken { first, second });
        *self.index.slot(key) = self.woken.len() as u32 | WOKEN;
        hooks::count_woken();
        None
    }

    /// Makes what goroutine `key` is kept as (`index` its index entry) a
    /// piece, returning the piece's place.
    #[inline(never)]
    fn promote(&mut self, key: i64, index: u32) -> Option<u32> {
        let i = (index & !TAG) as usize;
        let piece = match index & TAG {
            RESTATED => {
                let r = self.restated.get_mut(i)?;
                let piece = r.into_piece();
                r.state = Restated::MOVED;
                piece
            }
            WOKEN => {
                let w = self.woken.get_mut(i)?;
                let piece = w.into_piece();
                w.first.state = Restated::MOVED;
                piece
            }
            ENDED => self.ended.get_mut(i)?.take()?.into_piece(),
            _ => return Some(index),
        };
        self.place(key, piece)
    }

    /// Removes goroutine `key`'s piece; the ID is new again afterwards.
    pub fn take(&mut self, key: i64) -> Option<GSeg> {
        let i = self.index.get(key).filter(|i| i & TAG == PIECE)?;
        *self.index.slot(key) = 0;
        self.free.push(i);
        self.pieces.get_mut(i as usize)?.take()
    }

    /// Keeps goroutine `key`'s piece, which exited, laid out as an
    /// [`Ended`] (if short), and frees its place.
    pub fn end(&mut self, key: i64) {
        let Some(i) = self.index.get(key).filter(|i| i & TAG == PIECE) else { return };
        if self.ended.len() >= MAX_PLACES {
            return;
        }
        let Some(slot) = self.pieces.get_mut(i as usize) else { return };
        if !slot.as_ref().is_some_and(Ended::fits) {
            return;
        }
        let Some(piece) = slot.take() else { return };
        match Ended::new(piece) {
            Ok(e) => {
                self.ended.push(Some(e));
                *self.index.slot(key) = self.ended.len() as u32 | ENDED;
                self.free.push(i);
                hooks::count_ended();
            }
            Err(piece) => *slot = Some(*piece),
        }
    }

    /// The pieces (with holes where some were taken) and the goroutines
    /// kept small.
    pub fn into_parts(self) -> ShardParts {
        ShardParts { pieces: self.pieces, ended: self.ended, woken: self.woken, restated: self.restated }
    }
}

/// One shard's goroutine pieces of a part, as [`Pieces`] leaves them.
#[derive(Default)]
pub(crate) struct ShardParts {
    pieces: Chunked<Option<GSeg>>,
    ended: Chunked<Option<Ended>>,
    woken: Chunked<Woken>,
    restated: Chunked<Restated>,
}

impl ShardParts {
    /// Every goroutine's piece, made whole one at a time (each list is
    /// freed chunk by chunk as it is read).
    pub fn into_pieces(self) -> impl Iterator<Item = GSeg> {
        let ShardParts { pieces, ended, woken, restated } = self;
        let ended = ended.into_iter().flatten().map(Ended::into_piece);
        let woken = woken.into_iter().filter(|w| w.first.is_kept()).map(Woken::into_piece);
        let restated = restated.into_iter().filter(Restated::is_kept).map(Restated::into_piece);
        pieces.into_iter().flatten().chain(ended).chain(woken).chain(restated)
    }

    /// The goroutines, in the order [`ShardParts::into_pieces`] gives them.
    #[cfg(test)]
    pub fn ids(&self) -> Vec<i64> {
        let pieces = self.pieces.iter().flatten().map(|g| g.seg.id);
        let ended = self.ended.iter().flatten().map(|e| e.id);
        let woken = self.woken.iter().filter(|w| w.first.is_kept()).map(|w| w.first.id);
        let restated = self.restated.iter().filter(|r| r.is_kept()).map(|r| r.id);
        pieces.chain(ended).chain(woken).chain(restated).collect()
    }
}

/// Whether goroutines are kept as [`Woken`] and [`Ended`] (tests compare
/// builds without), and how many were.
pub(crate) mod hooks {
    #[cfg(test)]
    thread_local! {
        pub(crate) static SMALL: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
        pub(crate) static WOKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
        pub(crate) static ENDED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Whether goroutines may be kept as [`super::Woken`] and [`super::Ended`].
    pub(crate) fn small() -> bool {
        #[cfg(test)]
        return SMALL.get();
        #[cfg(not(test))]
        true
    }

    pub(super) fn count_woken() {
        #[cfg(test)]
        WOKEN.set(WOKEN.get() + 1);
    }

    pub(super) fn count_ended() {
        #[cfg(test)]
        ENDED.set(ENDED.get() + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restated(id: i64, time: i64, state: GState) -> Restated {
        Restated { id, time, a: -1, stack: 7, state: state as u8, unit: 0 }
    }

    /// A piece's spans: (start, end, state, stack, a).
    fn spans(g: GSeg) -> Vec<(i64, i64, u8, u32, i64)> {
        let spans = g.seg.track.finish(1000).spans();
        spans.iter().map(|s| (s.start_ns, s.end_ns, s.state, s.stack.0, s.a)).collect()
    }

    #[test]
    fn a_restated_goroutine_becomes_a_piece_at_its_second_event() {
        let mut p = Pieces::default();
        assert!(p.restate(3, restated(192, 10, GState::ChanRecv)));
        assert!(!p.restate(3, restated(192, 11, GState::ChanRecv)), "one restatement per goroutine");
        assert!(p.find(4).is_none());
        let Some(g) = p.get(3, || panic!("made from the restatement"), None) else { panic!("no piece") };
        assert!(g.seg.head_restate && g.head_has_first_stack);
        assert_eq!(g.seg.id, 192);
        let head = g.seg.track.first().map(|h| (h.start_ns, h.state, h.stack, h.a));
        assert_eq!(head, Some((10, GState::ChanRecv as u8, StackId(7), -1)));
        g.seg.track.push(20, GState::Runnable as u8, StackId::NONE, -1, -1);
        // Found again as the same piece.
        assert_eq!(p.find(3).and_then(|g| g.seg.track.second_start()), Some(20));
        assert!(!p.restate(3, restated(192, 30, GState::ChanRecv)));
        let parts = p.into_parts();
        assert_eq!(parts.ids(), [192]);
        assert_eq!(parts.pieces.iter().flatten().count(), 1);
    }

    #[test]
    fn goroutines_only_restated_stay_out_of_the_pieces() {
        let mut p = Pieces::default();
        for key in 0..1000 {
            assert!(p.restate(key, restated(key * 64, key, GState::Sleep)));
        }
        assert!(p.get(5, || panic!("restated"), None).is_some());
        assert!(p.get(2000, || restated(2000 * 64, 1, GState::Running).into_piece(), None).is_some());
        assert!(p.take(7).is_none(), "a restatement is not a piece to take");
        assert!(p.take(2000).is_some());
        let parts = p.into_parts();
        assert_eq!(parts.pieces.iter().flatten().map(|g| g.seg.id).collect::<Vec<_>>(), [5 * 64]);
        assert_eq!(parts.restated.iter().filter(|r| r.is_kept()).count(), 999);
        assert_eq!(parts.ids().len(), 1000);
        assert!(std::mem::size_of::<Restated>() <= 32);
        assert!(std::mem::size_of::<Woken>() <= 56 && std::mem::size_of::<Option<Ended>>() <= 32);
    }

    /// A restated goroutine given a second span stays small; at its third
    /// event it is the piece two pushes would have made.
    #[test]
    fn a_woken_goroutine_becomes_a_piece_at_its_third_event() {
        let mut p = Pieces::default();
        assert!(p.restate(3, restated(192, 10, GState::ChanRecv)));
        let wake = Second { time: 20, state: GState::Runnable, stack: 9, a: 55 };
        assert!(p.get(3, || panic!("restated"), Some(wake)).is_none(), "kept as woken");
        assert!(p.pieces.len() == 0 && p.woken.len() == 1);
        // Woken, it is no longer only restated: a second span promotes it.
        assert!(p.get(3, || panic!("woken"), Some(wake)).is_some());
        assert_eq!(p.pieces.len(), 1);
        let mut by_push = restated(192, 10, GState::ChanRecv).into_piece();
        assert!(by_push.push(20, GState::Runnable, 9, (55, -1), false));
        let Some(g) = p.take(3) else { panic!("no piece") };
        assert_eq!((g.first_stack, by_push.first_stack), (0, 0));
        assert_eq!(spans(g), spans(by_push));
        // One that blocks in its second span names that stack.
        assert!(p.restate(4, restated(256, 10, GState::Running)));
        let block = Second { time: 30, state: GState::Select, stack: 12, a: -1 };
        assert!(p.get(4, || panic!("restated"), Some(block)).is_none());
        let parts = p.into_parts();
        assert_eq!(parts.ids(), [256]);
        let pieces: Vec<GSeg> = parts.into_pieces().collect();
        assert_eq!(pieces.iter().map(|g| (g.first_stack, g.head_has_first_stack)).collect::<Vec<_>>(), [(12, false)]);
        let Some(g) = pieces.into_iter().next() else { panic!("no piece") };
        let want = [(10, 30, GState::Running as u8, 7, -1), (30, 1000, GState::Select as u8, 12, -1)];
        assert_eq!(spans(g), want);
    }

    /// A piece made before the part that exits is laid out, its place
    /// reused; it comes back whole, even for a (damaged) later event.
    #[test]
    fn an_ended_piece_is_laid_out_and_its_place_reused() {
        let mut p = Pieces::default();
        let piece = |id: i64| {
            let mut g = restated(id, 10, GState::ChanRecv).into_piece();
            g.push(20, GState::Runnable, 9, (55, -1), false);
            g.push(30, GState::Running, 0, (2, -1), false);
            g.push(34, GState::Sleep, 11, (-1, -1), false);
            g.push(38, GState::Running, 0, (2, -1), false);
            g.push(40, GState::Exited, 0, (-1, -1), false);
            g
        };
        assert!(p.get(1, || piece(64), None).is_some());
        p.end(1);
        assert_eq!((p.pieces.len(), p.free.len(), p.ended.len()), (1, 1, 1));
        assert!(p.get(2, || piece(128), None).is_some());
        p.end(2);
        assert_eq!((p.pieces.len(), p.ended.len()), (1, 2), "the place was reused");
        // One made in the part is not ended: it is finished instead.
        let mut made = piece(192);
        made.created = Some(crate::part::Created { time: 5, parent: 1, creation_stack: 0, start_stack: 0 });
        assert!(p.get(3, || made, None).is_some());
        p.end(3);
        assert_eq!((p.pieces.len(), p.ended.len()), (1, 2));
        // A later event for goroutine 2 finds its piece again.
        let Some(g) = p.find(2) else { panic!("ended piece lost") };
        assert_eq!(g.seg.track.len(), 6);
        let parts = p.into_parts();
        assert_eq!(parts.ids(), [192, 128, 64]);
        let fields = |g: &GSeg| (g.seg.head_restate, g.head_has_first_stack, g.first_stack);
        let all: Vec<_> = parts.into_pieces().map(|g| (g.seg.id, fields(&g), spans(g))).collect();
        for (id, got_fields, got) in all {
            let want = piece(id);
            assert_eq!(got_fields, fields(&want), "g{id}");
            assert_eq!(got_fields, (true, true, 11), "g{id}");
            assert_eq!(got, spans(want), "g{id}");
        }
    }
}
