//! Where goroutines came from: (parent, creation stack) pairs, each kept
//! once and named by an [`OriginId`] in the goroutine records.
//!
//! A busy trace starts millions of goroutines from a handful of `go`
//! statements in a handful of spawning goroutines, so the pairs repeat:
//! keeping them out of the record takes it from 40 to 32 bytes (57 MiB of
//! a 1 GB trace with 7.4 M goroutines). Pairs are kept once per recent
//! repeat, not once overall: a small table of the last pairs seen finds
//! the repeats without a map of every pair, so a trace where every
//! goroutine has a parent of its own costs 12 bytes a goroutine here.

use trace_core::GoroutineId;

use crate::stacks::StackId;

/// Who created a goroutine, and where it was when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The goroutine that ran the `go` statement (`NONE` if the goroutine
    /// existed before the trace).
    pub parent: GoroutineId,
    /// Where the parent was when it ran the `go` statement.
    pub creation_stack: StackId,
}

impl Origin {
    /// Unknown: a goroutine that existed before the trace.
    pub const NONE: Origin = Origin { parent: GoroutineId::NONE, creation_stack: StackId::NONE };
}

/// An index into [`Origins`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OriginId(pub u32);

impl OriginId {
    /// Names [`Origin::NONE`] in every table.
    pub const NONE: OriginId = OriginId(u32::MAX);
}

/// Slots of the table of recent pairs: a power of two.
const RECENT: usize = 256;

/// Every origin of a timeline, as two columns.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    parents: Vec<GoroutineId>,
    stacks: Vec<StackId>,
    /// While building: recent pairs, by a hash of the pair.
    recent: Vec<(Origin, OriginId)>,
}

impl Origins {
    /// The origin `id` names ([`Origin::NONE`] if none).
    pub fn get(&self, id: OriginId) -> Origin {
        let i = id.0 as usize;
        match (self.parents.get(i), self.stacks.get(i)) {
            (Some(&parent), Some(&creation_stack)) => Origin { parent, creation_stack },
            _ => Origin::NONE,
        }
    }

    /// Origins kept.
    pub fn len(&self) -> usize {
        self.parents.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.parents.is_empty()
    }

    /// The ID of `o`: the one it had if it was seen lately, else a new one.
    pub fn intern(&mut self, o: Origin) -> OriginId {
        if self.recent.is_empty() {
            self.recent = vec![(Origin::NONE, OriginId::NONE); RECENT];
        }
        let slot = slot_of(o);
        if let Some(&(seen, id)) = self.recent.get(slot)
            && seen == o
            && id != OriginId::NONE
        {
            return id;
        }
        let id = OriginId(self.parents.len() as u32);
        self.parents.push(o.parent);
        self.stacks.push(o.creation_stack);
        if let Some(s) = self.recent.get_mut(slot) {
            *s = (o, id);
        }
        id
    }

    /// Appends `other`'s origins; returns how far its IDs move.
    pub(crate) fn append(&mut self, other: Origins) -> u32 {
        let offset = self.parents.len() as u32;
        self.parents.extend(other.parents);
        self.stacks.extend(other.stacks);
        offset
    }

    /// Done building: drops the table of recent pairs and trims the columns.
    pub(crate) fn seal(&mut self) {
        self.recent = Vec::new();
        self.parents.shrink_to_fit();
        self.stacks.shrink_to_fit();
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.parents.capacity() * std::mem::size_of::<GoroutineId>()
            + self.stacks.capacity() * std::mem::size_of::<StackId>()
            + self.recent.capacity() * std::mem::size_of::<(Origin, OriginId)>()
    }
}

/// The slot of `o` in the table of recent pairs.
fn slot_of(o: Origin) -> usize {
    let h = (o.parent.0 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(o.creation_stack.0);
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize & (RECENT - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(parent: i64, stack: u32) -> Origin {
        Origin { parent: GoroutineId(parent), creation_stack: StackId(stack) }
    }

    #[test]
    fn repeats_share_an_id_and_every_id_gives_back_its_pair() {
        let mut t = Origins::default();
        // Two spawners, each with two go statements.
        let spawners = [o(1, 10), o(1, 11), o(2, 10), o(2, 12)];
        let ids: Vec<OriginId> = (0..10_000).map(|i| t.intern(spawners[i % 4])).collect();
        assert_eq!(t.len(), 4);
        assert_eq!(ids[..4], ids[4..8]);
        // With a pair of its own now and then.
        let mut seen = Vec::new();
        for i in 0..10_000 {
            let pair = if i % 5 == 4 { o(100 + i, 13) } else { spawners[i as usize % 4] };
            seen.push((pair, t.intern(pair)));
        }
        assert!(t.len() >= 4 + 2_000 && t.len() < 4 + 2_100, "{}", t.len());
        for (pair, id) in seen {
            assert_eq!(t.get(id), pair);
        }
        assert_eq!((t.get(OriginId::NONE), t.get(OriginId(u32::MAX - 1))), (Origin::NONE, Origin::NONE));
    }

    #[test]
    fn appended_ids_move_by_the_offset() {
        let (mut a, mut b) = (Origins::default(), Origins::default());
        a.intern(o(1, 1));
        let id = b.intern(o(2, 2));
        let offset = a.append(b);
        a.seal();
        assert_eq!(a.get(OriginId(id.0 + offset)), o(2, 2));
        assert_eq!(a.recent.capacity(), 0);
    }
}
