//! A growable list kept in fixed-size chunks: it never moves what it holds
//! and never holds more than one chunk of spare room.
//!
//! A generation's goroutine pieces are filed in one of these per shard.
//! In a `Vec` they were a quarter of the memory of every part in flight:
//! room reserved from the last part's count (parts differ by 2x) or left by
//! doubling, and while growing, the old and the new vector at once. Here
//! the spare room is at most one chunk per list, and consuming the list
//! frees each chunk as soon as it is read. A shard's finished goroutine
//! records are kept the same way, in larger chunks
//! ([`crate::shard::Done`]).

/// Items per chunk by default: small enough that the spare room of 64 shards stays
/// a few MB even for the largest pieces.
const CHUNK: usize = 256;

/// A list of `T` in chunks of `N` (by default [`CHUNK`]).
#[derive(Debug)]
pub(crate) struct Chunked<T, const N: usize = CHUNK> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T, const N: usize> Default for Chunked<T, N> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T, const N: usize> Chunked<T, N> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < N => last.push(item),
            _ => {
                let mut chunk = Vec::with_capacity(N);
                chunk.push(item);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Item `i`.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / N)?.get_mut(i % N)
    }

    /// Items in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

impl<T, const N: usize> IntoIterator for Chunked<T, N> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;

    /// Items in order; each chunk is freed once read.
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_index_across_chunks() {
        let mut c: Chunked<usize> = Chunked::default();
        let n = 3 * CHUNK + 7;
        for i in 0..n {
            c.push(i);
        }
        assert_eq!(c.len(), n);
        assert_eq!(c.get_mut(CHUNK).copied(), Some(CHUNK));
        assert_eq!(c.get_mut(n - 1).copied(), Some(n - 1));
        assert_eq!(c.get_mut(n), None);
        if let Some(x) = c.get_mut(2 * CHUNK + 1) {
            *x = 0;
        }
        assert_eq!(c.iter().filter(|&&x| x == 0).count(), 2);
        let all: Vec<usize> = c.into_iter().collect();
        assert_eq!(all.len(), n);
        assert_eq!(all.get(CHUNK + 3), Some(&(CHUNK + 3)));
    }

    #[test]
    fn spare_room_is_at_most_one_chunk() {
        let mut c: Chunked<usize> = Chunked::default();
        for i in 0..5 * CHUNK + 1 {
            c.push(i);
        }
        let room: usize = c.chunks.iter().map(|v| v.capacity()).sum();
        assert_eq!(c.chunks.len(), 6);
        assert!(room - c.len() < CHUNK, "{room} room for {}", c.len());
    }

    #[test]
    fn a_chunk_size_of_its_own() {
        let mut c: Chunked<u8, 4> = Chunked::default();
        for i in 0..9 {
            c.push(i);
        }
        assert_eq!((c.chunks.len(), c.get_mut(4).copied()), (3, Some(4)));
        assert_eq!(c.into_iter().collect::<Vec<_>>(), (0..9).collect::<Vec<_>>());
    }
}
