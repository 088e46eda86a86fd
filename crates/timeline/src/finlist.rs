//! A part's finished goroutines for one shard, packed until the merge
//! files them.
//!
//! A [`Finished`] is 56 bytes; a generation of a program that starts a
//! goroutine per request holds a million of them until its part is merged
//! (a trace of 2 M goroutines peaked at 250 MB for 50 MB of file, most of
//! it parts waiting). They come in about ID order, their parents and
//! stacks repeat, and their tracks sit one after the other in the part's
//! store, so each is packed as varint deltas from the one before: about
//! 12 bytes, 2 or 3 of them the start time.

use std::sync::Arc;

use crate::finished::Finished;
use crate::paged::PagedBytes;
use crate::stacks::StackId;
use crate::track::Track;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// The first byte of a record whose track is in [`FinishedList::others`]
/// (not in the list's store, or not wholly in a store).
const OTHER_TRACK: u8 = 1;

/// Finished goroutines in the order pushed, packed.
#[derive(Debug, Default)]
pub(crate) struct FinishedList {
    bytes: Vec<u8>,
    /// The store the tracks packed inline are in (the first one met).
    store: Option<Arc<PagedBytes>>,
    /// The tracks of records marked [`OTHER_TRACK`], in order.
    others: Vec<Track>,
    last: Last,
}

/// What a record is encoded against: the fields of the one before.
#[derive(Clone, Copy, Debug, Default)]
struct Last {
    id: i64,
    parent: i64,
    stacks: [u32; 3],
    offset: u64,
    start_ns: i64,
}

fn put_delta(out: &mut Vec<u8>, v: i64, last: i64) {
    write_uvarint(out, zigzag(v.wrapping_sub(last)));
}

fn delta(bytes: &mut &[u8], last: i64) -> i64 {
    last.wrapping_add(unzigzag(read_uvarint(bytes)))
}

impl FinishedList {
    /// Appends `f`.
    pub fn push(&mut self, f: Finished) {
        let Finished { id, parent, creation_stack, start_stack, first_stack, start_ns, track } = f;
        let last = self.last;
        let place = track.place().filter(|(store, ..)| self.store.as_ref().is_none_or(|s| Arc::ptr_eq(s, store)));
        let out = &mut self.bytes;
        out.push(if place.is_some() { 0 } else { OTHER_TRACK });
        put_delta(out, id, last.id);
        put_delta(out, parent, last.parent);
        let stacks = [creation_stack.0, start_stack.0, first_stack.0];
        for (s, l) in stacks.iter().zip(last.stacks) {
            put_delta(out, i64::from(*s), i64::from(l));
        }
        put_delta(out, start_ns, last.start_ns);
        let mut offset = last.offset;
        match place {
            Some((store, at, spans, len)) => {
                put_delta(out, at as i64, last.offset as i64);
                write_uvarint(out, spans);
                write_uvarint(out, len);
                offset = at;
                if self.store.is_none() {
                    self.store = Some(store.clone());
                }
            }
            None => self.others.push(track),
        }
        self.last = Last { id, parent, stacks, offset, start_ns };
    }

    /// The goroutines, in the order pushed.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = Finished> + '_ {
        let (mut bytes, mut others, mut last) = (self.bytes.as_slice(), self.others.iter(), Last::default());
        std::iter::from_fn(move || decode(&mut bytes, &mut last, self.store.as_ref(), || others.next().cloned()))
    }
}

impl IntoIterator for FinishedList {
    type Item = Finished;
    type IntoIter = IntoIter;

    /// The goroutines, in the order pushed.
    fn into_iter(self) -> IntoIter {
        IntoIter { bytes: self.bytes, at: 0, store: self.store, others: self.others.into_iter(), last: Last::default() }
    }
}

/// The goroutines of a [`FinishedList`], decoded as they are read.
pub(crate) struct IntoIter {
    bytes: Vec<u8>,
    at: usize,
    store: Option<Arc<PagedBytes>>,
    others: std::vec::IntoIter<Track>,
    last: Last,
}

impl Iterator for IntoIter {
    type Item = Finished;

    fn next(&mut self) -> Option<Finished> {
        let mut rest = self.bytes.get(self.at..)?;
        let before = rest.len();
        let f = decode(&mut rest, &mut self.last, self.store.as_ref(), || self.others.next());
        self.at += before - rest.len();
        f
    }
}

/// The record at the front of `bytes` (advanced past it), after `last`
/// (then it); `other` gives the next of the tracks kept aside.
fn decode(
    bytes: &mut &[u8],
    last: &mut Last,
    store: Option<&Arc<PagedBytes>>,
    other: impl FnOnce() -> Option<Track>,
) -> Option<Finished> {
    let (&kind, rest) = bytes.split_first()?;
    *bytes = rest;
    let id = delta(bytes, last.id);
    let parent = delta(bytes, last.parent);
    let mut stacks = [0u32; 3];
    for (s, l) in stacks.iter_mut().zip(last.stacks) {
        *s = delta(bytes, i64::from(l)) as u32;
    }
    let start_ns = delta(bytes, last.start_ns);
    let mut offset = last.offset;
    let track = if kind == OTHER_TRACK {
        other().unwrap_or_default()
    } else {
        offset = delta(bytes, last.offset as i64) as u64;
        let (spans, len) = (read_uvarint(bytes), read_uvarint(bytes));
        store.and_then(|s| Track::from_place(s.clone(), offset, spans, len)).unwrap_or_default()
    };
    *last = Last { id, parent, stacks, offset, start_ns };
    let [creation_stack, start_stack, first_stack] = stacks.map(StackId);
    Some(Finished { id, parent, creation_stack, start_stack, first_stack, start_ns, track })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GState;
    use crate::track::TrackBuilder;
    use proptest::prelude::*;

    /// A finished track of `n` spans starting at `t`, its bytes in `store`
    /// (or held, if `store` is `None`).
    fn track(t: i64, n: usize, store: Option<&Arc<PagedBytes>>) -> Track {
        let mut b = TrackBuilder::default();
        for k in 0..n as i64 {
            b.push(t + 10 * k, GState::Running as u8, StackId(k as u32), k, -1);
        }
        b.push(t + 10 * n as i64, GState::Exited as u8, StackId::NONE, -1, -1);
        let end = t + 10 * n as i64;
        match store {
            Some(store) => {
                let mut laid = Vec::new();
                match b.finish_laid_out(end, &mut laid) {
                    Ok(len) => Track::stored(laid.get(..len).unwrap_or_default(), store),
                    Err(track) => track.into_store(store),
                }
            }
            None => b.finish(end),
        }
    }

    fn same(a: &Finished, b: &Finished) -> bool {
        let place = |f: &Finished| f.track.place().map(|(s, o, n, l)| (Arc::as_ptr(s), o, n, l));
        (a.id, a.parent, a.creation_stack, a.start_stack, a.first_stack, a.start_ns)
            == (b.id, b.parent, b.creation_stack, b.start_stack, b.first_stack, b.start_ns)
            && a.track.spans() == b.track.spans()
            && place(a) == place(b)
    }

    proptest! {
        /// Any goroutines, their tracks in the list's store, in another
        /// store, held or long, read back the same by reference and by
        /// value.
        #[test]
        fn goroutines_read_back_as_pushed(
            gs in prop::collection::vec(
                (any::<i64>(), any::<i64>(), any::<[u32; 3]>(), 0u8..4, 1usize..40),
                0..60,
            ),
            small in any::<bool>(),
        ) {
            let (mine, other) = (PagedBytes::new(), PagedBytes::new());
            let want: Vec<Finished> = gs
                .iter()
                .enumerate()
                .map(|(i, &(id, parent, [c, s, f], kind, n))| {
                    // Small deltas or any values.
                    let (id, parent) = if small { (i as i64 * 3, i as i64 % 4) } else { (id, parent) };
                    let track = match kind {
                        0 => track(id.wrapping_mul(7) % 1_000_000, n, Some(&mine)),
                        1 => track(5, n, Some(&other)),
                        2 => track(5, n, None),
                        _ => track(5, n * 200, Some(&mine)),
                    };
                    let start_ns = track.start_ns().unwrap_or(0);
                    let [creation_stack, start_stack, first_stack] = [c, s, f].map(StackId);
                    Finished { id, parent, creation_stack, start_stack, first_stack, start_ns, track }
                })
                .collect();
            let mut list = FinishedList::default();
            for f in &want {
                list.push(Finished { track: f.track.clone(), ..*f });
            }
            let by_ref: Vec<Finished> = list.iter().collect();
            let by_value: Vec<Finished> = list.into_iter().collect();
            prop_assert_eq!(by_ref.len(), want.len());
            prop_assert_eq!(by_value.len(), want.len());
            for ((w, r), v) in want.iter().zip(&by_ref).zip(&by_value) {
                prop_assert!(same(w, r) && same(w, v), "g{} differs", w.id);
            }
        }
    }

    /// Goroutines as a busy part finishes them (IDs a shard apart, a
    /// handful of parents and stacks, tracks one after another) take
    /// under a fifth of a [`Finished`].
    #[test]
    fn a_finished_goroutine_packs_small() {
        let store = PagedBytes::new();
        let mut list = FinishedList::default();
        let n = 10_000;
        for i in 0..n {
            let track = track(i * 1_000, 3, Some(&store));
            let s = StackId(7 + (i % 3) as u32);
            list.push(Finished {
                id: 64 * i,
                parent: 1,
                creation_stack: s,
                start_stack: s,
                first_stack: StackId(9),
                start_ns: i * 1_000,
                track,
            });
        }
        let per_goroutine = list.bytes.len() / n as usize;
        assert!(per_goroutine * 5 <= std::mem::size_of::<Finished>(), "{per_goroutine} bytes a goroutine");
        assert!(list.others.is_empty());
    }
}
