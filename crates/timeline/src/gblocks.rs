//! Items kept per goroutine in packed blocks: the storage the region and
//! log lists share.
//!
//! Each goroutine's items, in the list's order, sit in blocks of up to
//! [`BLOCK`], every field a varint delta from the item before (as
//! [`Packed`] encodes it), and each block keeps the times a view needs to
//! find it by binary search and skip it undecoded.

use std::marker::PhantomData;

use trace_core::GoroutineId;

/// Items per block: small enough that finding one decodes little.
pub const BLOCK: usize = 64;

/// An item that packs against the one before it in its block.
pub(crate) trait Packed: Copy {
    /// What the next item is encoded against.
    type Prev: Copy + Default;
    fn g(&self) -> GoroutineId;
    fn start_ns(&self) -> i64;
    fn end_ns(&self) -> i64;
    /// What a block's first item is encoded against.
    fn prev_at(block_start_ns: i64) -> Self::Prev;
    /// Appends this item encoded against `prev`, which becomes this one.
    fn encode(&self, out: &mut Vec<u8>, prev: &mut Self::Prev);
    /// The item at the front of `bytes` (advanced past it), of goroutine `g`.
    fn decode(bytes: &mut &[u8], prev: &mut Self::Prev, g: GoroutineId) -> Self;
}

/// A block's bounds and where its bytes are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    /// The list index of its first item.
    pub first: u32,
    /// Where its bytes begin.
    pub byte_start: u64,
    /// Its first item's start: none of its items starts earlier.
    pub start_ns: i64,
    /// The latest end of its items.
    pub end_ns: i64,
    /// The latest end of its goroutine's items up to this block (so the
    /// first block a time can fall in is found by binary search).
    pub reach_ns: i64,
}

/// Items of type `T`, by goroutine, in blocks.
#[derive(Clone)]
pub(crate) struct ByGoroutine<T> {
    /// The goroutines that have items, by ID, each with its first block.
    goroutines: Vec<(GoroutineId, u32)>,
    blocks: Vec<Block>,
    bytes: Vec<u8>,
    len: usize,
    item: PhantomData<T>,
}

impl<T> Default for ByGoroutine<T> {
    fn default() -> Self {
        ByGoroutine { goroutines: Vec::new(), blocks: Vec::new(), bytes: Vec::new(), len: 0, item: PhantomData }
    }
}

impl<T: Packed> ByGoroutine<T> {
    /// The list of `items`, which come by goroutine, then in the list's
    /// order.
    pub fn from_sorted(items: impl IntoIterator<Item = T>) -> ByGoroutine<T> {
        let mut list = ByGoroutine::default();
        let mut prev = T::Prev::default();
        let mut in_block = 0;
        for item in items {
            let g = item.g();
            let new_g = list.goroutines.last().is_none_or(|&(last, _)| last != g);
            if new_g {
                list.goroutines.push((g, list.blocks.len() as u32));
            }
            if new_g || in_block == BLOCK {
                let reach_ns = match list.blocks.last() {
                    Some(b) if !new_g => b.reach_ns,
                    _ => i64::MIN,
                };
                let (first, byte_start, start_ns) = (list.len as u32, list.bytes.len() as u64, item.start_ns());
                list.blocks.push(Block { first, byte_start, start_ns, end_ns: i64::MIN, reach_ns });
                prev = T::prev_at(start_ns);
                in_block = 0;
            }
            if let Some(b) = list.blocks.last_mut() {
                b.end_ns = b.end_ns.max(item.end_ns());
                b.reach_ns = b.reach_ns.max(item.end_ns());
            }
            item.encode(&mut list.bytes, &mut prev);
            in_block += 1;
            list.len += 1;
        }
        list.goroutines.shrink_to_fit();
        list.blocks.shrink_to_fit();
        list.bytes.shrink_to_fit();
        list
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.goroutines.capacity() * std::mem::size_of::<(GoroutineId, u32)>()
            + self.blocks.capacity() * std::mem::size_of::<Block>()
            + self.bytes.capacity()
    }

    /// Item `i` (in the list's order).
    pub fn get(&self, i: usize) -> Option<T> {
        let b = self.blocks.partition_point(|b| b.first as usize <= i).checked_sub(1)?;
        let skip = i - self.blocks.get(b)?.first as usize;
        self.blocks_from(b, self.blocks.len()).nth(skip)
    }

    /// Every item, in the list's order.
    pub fn iter(&self) -> Items<'_, T> {
        self.blocks_from(0, self.blocks.len())
    }

    /// Block `b`.
    pub fn block(&self, b: usize) -> Option<&Block> {
        self.blocks.get(b)
    }

    /// The blocks of goroutine `g`, as indices, and the blocks themselves.
    pub fn blocks_of(&self, g: GoroutineId) -> (std::ops::Range<usize>, &[Block]) {
        let Ok(i) = self.goroutines.binary_search_by_key(&g, |&(id, _)| id) else { return (0..0, &[]) };
        let first = self.goroutines.get(i).map_or(0, |&(_, b)| b as usize);
        let end = self.goroutines.get(i + 1).map_or(self.blocks.len(), |&(_, b)| b as usize);
        (first..end, self.blocks.get(first..end).unwrap_or_default())
    }

    /// The items of goroutine `g`, in the list's order.
    pub fn of(&self, g: GoroutineId) -> Items<'_, T> {
        let (r, _) = self.blocks_of(g);
        self.blocks_from(r.start, r.end)
    }

    /// The items of blocks `from..to`, in order.
    pub fn blocks_from(&self, from: usize, to: usize) -> Items<'_, T> {
        Items {
            list: self,
            block: from,
            end_block: to.min(self.blocks.len()),
            bytes: &[],
            left: 0,
            g: GoroutineId(0),
            prev: T::Prev::default(),
        }
    }

    /// The goroutine of block `b`.
    fn goroutine_of(&self, b: usize) -> GoroutineId {
        let i = self.goroutines.partition_point(|&(_, first)| first as usize <= b);
        i.checked_sub(1).and_then(|i| self.goroutines.get(i)).map_or(GoroutineId(0), |&(g, _)| g)
    }
}

/// Items decoded block by block.
#[derive(Clone)]
pub(crate) struct Items<'l, T: Packed> {
    list: &'l ByGoroutine<T>,
    /// The next block to open.
    block: usize,
    end_block: usize,
    /// The open block's bytes left, and its items left.
    bytes: &'l [u8],
    left: usize,
    g: GoroutineId,
    prev: T::Prev,
}

impl<T: Packed> Iterator for Items<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while self.left == 0 {
            if self.block >= self.end_block {
                return None;
            }
            let list = self.list;
            let b = list.blocks.get(self.block)?;
            let next = list.blocks.get(self.block + 1);
            let end_first = next.map_or(list.len, |n| n.first as usize);
            let end_byte = next.map_or(list.bytes.len(), |n| n.byte_start as usize);
            self.bytes = list.bytes.get(b.byte_start as usize..end_byte).unwrap_or_default();
            self.left = end_first.saturating_sub(b.first as usize);
            self.g = list.goroutine_of(self.block);
            self.prev = T::prev_at(b.start_ns);
            self.block += 1;
        }
        self.left -= 1;
        Some(T::decode(&mut self.bytes, &mut self.prev, self.g))
    }
}
