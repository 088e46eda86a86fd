//! Bytes written once and read back in small pieces, kept compressed.
//!
//! Finished tracks are only read a block at a time (the blocks a view
//! shows, or one query's pass), yet held for as long as the trace is open.
//! Their varint spans use few byte values often (small deltas, the same
//! states and references), and zstd packs them to about half. So finished
//! tracks are appended to a [`PagedBytes`], which compresses every
//! [`PAGE_BYTES`] of them into a page and keeps the few pages read last
//! decompressed. How a store packs is its [`Packing`]: most of what zstd
//! gains on spans is the Huffman coding of their bytes, not repeats, so
//! most stores skip zstd's search for repeats, the larger part of its time.
//!
//! Offsets are logical: the `n`th byte appended is at offset `n`, wherever
//! page boundaries fall.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes compressed together: small enough that reading one block
/// decompresses little (about 20 us), large enough to compress well.
pub const PAGE_BYTES: usize = 32 * 1024;
/// Decompressed pages kept per store, most recently read first.
const CACHED_PAGES: usize = 8;
/// Decompressed pages each thread keeps of those it read last, of any
/// store (see [`RECENT`]).
const RECENT_PAGES: usize = 4;
/// zstd's fastest regular level, for [`Packing::Matched`]: higher levels
/// gain little for much more build time.
const MATCHED_LEVEL: i32 = 1;
/// A negative level, for [`Packing::Entropy`]: zstd then looks for a
/// repeat only every thousand bytes or so (and Huffman-codes its literals
/// only when asked to).
const ENTROPY_LEVEL: i32 = -1000;
/// First byte of a page stored as is (compression failed or did not pay).
const RAW: u8 = 0;
/// First byte of a zstd page.
const ZSTD: u8 = 1;

/// How a store compresses its pages.
///
/// Measured on busy-50mb's pages with zstd's command-line tool
/// (`docs/performance.md`, session 22): with repeats searched for, they
/// pack 1.93x; Huffman-coded with hardly a search, 1.52x in less than half
/// the time. Short goroutines' records gain most from repeats: their span
/// flags and stack IDs, and the high bytes of their times, repeat their
/// neighbours' in runs of a few bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Packing {
    /// Huffman-coded bytes with hardly a search for repeats: spans.
    #[default]
    Entropy,
    /// zstd level 1, repeats and all: records that repeat their
    /// neighbours' bytes.
    Matched,
}

/// Append-only bytes in compressed pages; see the module docs.
///
/// Appending and reading both take `&self`, so tracks can hold the store
/// while more tracks are being appended to it.
#[derive(Debug)]
pub struct PagedBytes {
    /// Unique among the stores of this process, so a thread's [`RECENT`]
    /// pages cannot be taken for another store's.
    id: u64,
    packing: Packing,
    inner: Mutex<Inner>,
}

impl Default for PagedBytes {
    fn default() -> Self {
        PagedBytes::packed(Packing::default())
    }
}

/// Where a compressed page lies: slab, offset and length.
#[derive(Clone, Copy, Debug)]
struct PageAt {
    slab: u32,
    offset: u32,
    len: u32,
}

/// Compressed pages are packed one after another into slabs of this size
/// rather than each allocated on its own: a store then holds a few large
/// allocations, which do not pin the allocator's small pages the way tens
/// of thousands of 10 KB ones interleaved with the build's scratch did.
const SLAB_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
struct Inner {
    /// Compressed pages, tagged [`RAW`] or [`ZSTD`], by where they lie.
    pages: Vec<PageAt>,
    /// Full slabs of compressed pages.
    slabs: Vec<Arc<Vec<u8>>>,
    /// The slab being filled (slab number `slabs.len()`).
    slab: Vec<u8>,
    /// The logical offset of each page's first byte.
    starts: Vec<u64>,
    /// Bytes appended after the last page.
    open: Vec<u8>,
    /// Decompressed pages by index, most recently used first.
    cache: Vec<(usize, Arc<Vec<u8>>)>,
    /// Compressed bytes held.
    packed_bytes: usize,
    /// Logical length of the last page.
    last_len: usize,
}

impl Inner {
    /// Logical offset of the open bytes.
    fn open_start(&self) -> u64 {
        match (self.starts.last(), self.pages.last()) {
            (Some(&s), Some(_)) => s + self.page_len(self.pages.len() - 1) as u64,
            _ => 0,
        }
    }

    /// Logical length of page `i`.
    fn page_len(&self, i: usize) -> usize {
        let next = self.starts.get(i + 1).copied();
        match (self.starts.get(i), next) {
            (Some(&s), Some(n)) => (n - s) as usize,
            (Some(_), None) => self.last_len,
            _ => 0,
        }
    }
}

impl PagedBytes {
    /// An empty store that packs as [`Packing::default`].
    pub fn new() -> Arc<PagedBytes> {
        Arc::new(PagedBytes::default())
    }

    /// An empty store that packs as `packing` says.
    pub fn with_packing(packing: Packing) -> Arc<PagedBytes> {
        Arc::new(PagedBytes::packed(packing))
    }

    fn packed(packing: Packing) -> PagedBytes {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        PagedBytes { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), packing, inner: Mutex::default() }
    }

    /// How it packs its pages.
    pub fn packing(&self) -> Packing {
        self.packing
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves whole pages behind: the
        // data is still sound, so carry on with it.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `bytes` and returns the offset of their first byte.
    ///
    /// A piece of at most a page never straddles two pages (the open page
    /// is closed early instead), so reading it back copies nothing.
    pub fn append(&self, mut bytes: &[u8]) -> u64 {
        let mut me = self.lock();
        if !me.open.is_empty() && bytes.len() <= PAGE_BYTES && me.open.len() + bytes.len() > PAGE_BYTES {
            seal(&mut me, self.packing);
        }
        let at = me.open_start() + me.open.len() as u64;
        while !bytes.is_empty() {
            let room = PAGE_BYTES.saturating_sub(me.open.len()).max(1);
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            if me.open.capacity() == 0 {
                me.open.reserve_exact(PAGE_BYTES);
            }
            me.open.extend_from_slice(now);
            bytes = rest;
            if me.open.len() >= PAGE_BYTES {
                seal(&mut me, self.packing);
            }
        }
        at
    }

    /// Compresses the bytes not yet in a page (call when done appending;
    /// more may be appended after).
    pub fn seal(&self) {
        let mut me = self.lock();
        seal(&mut me, self.packing);
        me.open = Vec::new();
        // The slab being filled becomes a full one (trimmed of the room it
        // reserved), so readers share it instead of copying from it.
        if !me.slab.is_empty() {
            let mut last = std::mem::take(&mut me.slab);
            last.shrink_to_fit();
            me.slabs.push(Arc::new(last));
        }
    }

    /// Logical length.
    pub fn len(&self) -> u64 {
        let me = self.lock();
        me.open_start() + me.open.len() as u64
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the `len` bytes at offset `at` (fewer if the store
    /// ends first).
    pub fn read<R>(&self, at: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        #[cfg(test)]
        READS.set(READS.get() + 1);
        let end = at.saturating_add(len as u64);
        if let Some((start, page)) = recent_page(self.id, at, end) {
            let from = (at - start) as usize;
            return f(page.get(from..from + len).unwrap_or_default());
        }
        match self.page(|me| me.starts.partition_point(|&s| s <= at).saturating_sub(1)) {
            // The usual case: it lies inside one page.
            Some((start, page)) if end <= start + page.len() as u64 => {
                remember(self.id, start, &page);
                let from = at.saturating_sub(start) as usize;
                f(page.get(from..from + len).unwrap_or_default())
            }
            _ => f(&self.copy(at, end)),
        }
    }

    /// The bytes of `[at, end)`, gathered from every page they touch.
    fn copy(&self, at: u64, end: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(end.saturating_sub(at) as usize);
        let mut i = self.lock().starts.partition_point(|&s| s <= at).saturating_sub(1);
        while let Some((start, page)) = self.page(|_| i) {
            let page_end = start + page.len() as u64;
            if start >= end {
                break;
            }
            if page_end > at {
                let from = at.max(start) - start;
                let to = end.min(page_end) - start;
                out.extend_from_slice(page.get(from as usize..to as usize).unwrap_or_default());
            }
            i += 1;
        }
        if (out.len() as u64) < end - at {
            // The rest is in the open bytes.
            let me = self.lock();
            let open_start = me.open_start();
            let from = (at + out.len() as u64).saturating_sub(open_start) as usize;
            let to = (end.saturating_sub(open_start) as usize).min(me.open.len());
            out.extend_from_slice(me.open.get(from..to).unwrap_or_default());
        }
        out
    }

    /// The page `index` picks, decompressed, with its logical start; `None`
    /// past the last page. `index` runs under the same lock as the cache
    /// lookup, so a read of a cached page locks once.
    fn page(&self, index: impl FnOnce(&Inner) -> usize) -> Option<(u64, Arc<Vec<u8>>)> {
        let (i, packed) = {
            let mut me = self.lock();
            let i = index(&me);
            let start = *me.starts.get(i)?;
            if let Some(k) = me.cache.iter().position(|(p, _)| *p == i) {
                if let Some(recent) = me.cache.get_mut(..=k) {
                    recent.rotate_right(1);
                }
                return me.cache.first().map(|(_, page)| (start, page.clone()));
            }
            (i, (start, me.packed(i)?, me.page_len(i)))
        };
        // Decompress without the lock: other readers need not wait.
        let (start, packed, len) = packed;
        let page = Arc::new(match &packed {
            Packed::Shared(slab, at) => {
                unpack(slab.get(at.offset as usize..(at.offset + at.len) as usize).unwrap_or_default(), len)
            }
            Packed::Copied(bytes) => unpack(bytes, len),
        });
        let mut me = self.lock();
        me.cache.insert(0, (i, page.clone()));
        me.cache.truncate(CACHED_PAGES);
        Some((start, page))
    }

    /// Heap bytes held: the compressed pages, the open bytes and the
    /// cached pages.
    pub fn heap_bytes(&self) -> usize {
        heap_bytes(&self.lock())
    }

    /// The heap bytes `len` logical bytes take, on average (for counting
    /// one track's share).
    pub fn heap_bytes_for(&self, len: usize) -> usize {
        // One lock for both numbers, so they agree.
        let me = self.lock();
        let total = me.open_start() + me.open.len() as u64;
        if total == 0 { 0 } else { (len as u128 * heap_bytes(&me) as u128 / u128::from(total)) as usize }
    }
}

/// Heap bytes a store's insides hold.
fn heap_bytes(me: &Inner) -> usize {
    let slabs = me.slabs.iter().map(|s| s.capacity()).sum::<usize>() + me.slab.capacity();
    slabs + me.open.capacity() + me.cache.iter().map(|(_, p)| p.len()).sum::<usize>()
}

/// A compressed page's bytes, to decompress without the lock.
enum Packed {
    /// In a full slab.
    Shared(Arc<Vec<u8>>, PageAt),
    /// Copied from the slab being filled.
    Copied(Vec<u8>),
}

impl Inner {
    /// Compressed page `i`.
    fn packed(&self, i: usize) -> Option<Packed> {
        let at = *self.pages.get(i)?;
        match self.slabs.get(at.slab as usize) {
            Some(slab) => Some(Packed::Shared(slab.clone(), at)),
            None => {
                let bytes = self.slab.get(at.offset as usize..(at.offset + at.len) as usize)?;
                Some(Packed::Copied(bytes.to_vec()))
            }
        }
    }

    /// Appends a compressed page, its tag then its body, to the slabs.
    fn push_page(&mut self, tag: u8, body: &[u8]) {
        let len = 1 + body.len();
        if !self.slab.is_empty() && self.slab.len() + len > SLAB_BYTES {
            let full = std::mem::take(&mut self.slab);
            self.slabs.push(Arc::new(full));
        }
        if self.slab.capacity() == 0 {
            self.slab.reserve_exact(SLAB_BYTES.max(len));
        }
        let at = PageAt { slab: self.slabs.len() as u32, offset: self.slab.len() as u32, len: len as u32 };
        self.slab.push(tag);
        self.slab.extend_from_slice(body);
        self.pages.push(at);
    }
}

/// Turns the open bytes into a page.
fn seal(me: &mut Inner, packing: Packing) {
    if me.open.is_empty() {
        return;
    }
    let start = me.open_start();
    let open = std::mem::take(&mut me.open);
    with_packed(&open, packing, |tag, body| {
        me.packed_bytes += 1 + body.len();
        me.push_page(tag, body);
    });
    me.last_len = open.len();
    me.open = open;
    me.starts.push(start);
    me.open.clear();
}

thread_local! {
    /// zstd contexts are costly to make, so each thread keeps one of each
    /// [`Packing`].
    static MATCHED_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static ENTROPY_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    /// The page being packed.
    static PAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// The pages this thread read last, as (store id, logical start, page),
    /// most recent first. Reading one of them takes no lock: two threads
    /// reading the tracks of neighbouring goroutines otherwise queue for
    /// their store's lock and pass its cache's counts back and forth, and
    /// were no faster together than one alone. Sealed pages never change,
    /// so an entry stays true for as long as it is kept.
    static RECENT: RefCell<Vec<RecentPage>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
thread_local! {
    /// Reads made on this thread, so tests can tell what reads a store.
    pub(crate) static READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A page in [`RECENT`]: its store's id, its logical start, its bytes.
type RecentPage = (u64, u64, Arc<Vec<u8>>);

/// The one of this thread's [`RECENT`] pages of store `id` that holds
/// `[at, end)`, with its logical start.
fn recent_page(id: u64, at: u64, end: u64) -> Option<(u64, Arc<Vec<u8>>)> {
    RECENT
        .try_with(|recent| {
            let recent = recent.try_borrow().ok()?;
            let (_, start, page) =
                recent.iter().find(|(i, start, page)| *i == id && *start <= at && end <= start + page.len() as u64)?;
            Some((*start, page.clone()))
        })
        .ok()
        .flatten()
}

/// Adds page `start` of store `id` to this thread's [`RECENT`] pages.
fn remember(id: u64, start: u64, page: &Arc<Vec<u8>>) {
    let _ = RECENT.try_with(|recent| {
        let Ok(mut recent) = recent.try_borrow_mut() else { return };
        recent.retain(|(i, s, _)| (*i, *s) != (id, start));
        recent.insert(0, (id, start, page.clone()));
        recent.truncate(RECENT_PAGES);
    });
}

/// Calls `f` with the page for `bytes`, as its tag and body: zstd if that
/// works and is smaller, else as is. The body is compressed into a buffer
/// each thread keeps, so packing allocates nothing and `f` copies the page
/// once, into its slab.
fn with_packed<R>(bytes: &[u8], packing: Packing, f: impl FnOnce(u8, &[u8]) -> R) -> R {
    PAGE.with(|body| {
        let mut body = body.borrow_mut();
        body.clear();
        body.reserve(zstd::zstd_safe::compress_bound(bytes.len()));
        let compressor = match packing {
            Packing::Entropy => &ENTROPY_COMPRESSOR,
            Packing::Matched => &MATCHED_COMPRESSOR,
        };
        let packed = compressor.with(|c| {
            let mut c = c.borrow_mut();
            if c.is_none() {
                *c = new_compressor(packing);
            }
            // Writes the body from the buffer's start.
            c.as_mut().is_some_and(|c| c.compress_to_buffer(bytes, &mut *body).is_ok())
        });
        if packed && body.len() < bytes.len() { f(ZSTD, &body) } else { f(RAW, bytes) }
    })
}

/// A zstd context for `packing`.
fn new_compressor(packing: Packing) -> Option<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::{CParameter, ParamSwitch};
    match packing {
        Packing::Matched => zstd::bulk::Compressor::new(MATCHED_LEVEL).ok(),
        Packing::Entropy => {
            let mut c = zstd::bulk::Compressor::new(ENTROPY_LEVEL).ok()?;
            // Negative levels store literals as they are unless told; a
            // zstd that cannot be told packs as the matched store does.
            match c.set_parameter(CParameter::LiteralCompressionMode(ParamSwitch::Enable)) {
                Ok(()) => Some(c),
                Err(_) => new_compressor(Packing::Matched),
            }
        }
    }
}

/// The `len` bytes a page holds (empty if it cannot be read, which only
/// a bug could cause: the pages never leave this process).
fn unpack(page: &[u8], len: usize) -> Vec<u8> {
    match page.split_first() {
        Some((&RAW, body)) => body.to_vec(),
        Some((&ZSTD, body)) => DECOMPRESSOR.with(|d| {
            let mut d = d.borrow_mut();
            if d.is_none() {
                *d = zstd::bulk::Decompressor::new().ok();
            }
            d.as_mut().and_then(|d| d.decompress(body, len).ok()).unwrap_or_default()
        }),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that compress somewhat, like spans.
    fn sample(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if i % 3 == 0 { (x >> 60) as u8 } else { (i % 7) as u8 }
            })
            .collect()
    }

    #[test]
    fn reads_back_what_was_appended_wherever_pages_fall() {
        for packing in [Packing::Entropy, Packing::Matched] {
            reads_back_with(packing);
        }
    }

    fn reads_back_with(packing: Packing) {
        let store = PagedBytes::with_packing(packing);
        let mut all = Vec::new();
        let mut pieces = Vec::new();
        for (k, n) in [10, 3000, PAGE_BYTES, 5, PAGE_BYTES * 3 + 17, 1, 40_000, 0, 700].into_iter().enumerate() {
            let bytes = sample(n, k as u64);
            let at = store.append(&bytes);
            pieces.push((at, bytes.clone()));
            all.extend_from_slice(&bytes);
        }
        assert_eq!(store.len(), all.len() as u64);
        let check = |store: &PagedBytes| {
            for (at, bytes) in &pieces {
                assert_eq!(store.read(*at, bytes.len(), <[u8]>::to_vec), *bytes, "piece at {at}");
            }
            // Arbitrary ranges, some across page boundaries.
            for (at, len) in [(0, 1), (PAGE_BYTES as u64 - 3, 10), (1000, 70_000), (all.len() as u64 - 5, 5)] {
                let want = &all[at as usize..at as usize + len];
                assert_eq!(store.read(at, len, <[u8]>::to_vec), want, "range {at}+{len}");
            }
        };
        check(&store);
        store.seal();
        check(&store);
        // Packed smaller than the bytes (the sample repeats a lot).
        let packed = store.lock().packed_bytes;
        assert!(packed < all.len() / 2, "{packing:?}: {packed} of {}", all.len());
    }

    /// Bytes packed by a sealed store of `packing`.
    fn packed_size(packing: Packing, bytes: &[u8]) -> usize {
        let store = PagedBytes::with_packing(packing);
        store.append(bytes);
        store.seal();
        assert_eq!(store.read(0, bytes.len(), <[u8]>::to_vec), bytes);
        store.lock().packed_bytes
    }

    /// Random bytes of 16 values, with no repeats to find: only a Huffman
    /// coding of the bytes packs them (to about half).
    #[test]
    fn entropy_packing_codes_bytes_without_repeats() {
        let mut x = 7u64;
        let nibbles: Vec<u8> = (0..PAGE_BYTES * 4)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 60) as u8
            })
            .collect();
        let packed = packed_size(Packing::Entropy, &nibbles);
        assert!(packed < nibbles.len() * 6 / 10, "{packed} of {}", nibbles.len());
    }

    /// Random picks of 64 random 8-byte words: every word repeats one
    /// seen before, but no byte value is much more common than another.
    /// zstd's search for repeats finds most of them; Huffman coding alone
    /// gains nothing, and the entropy packing's sparse search little.
    #[test]
    fn only_matched_packing_searches_for_repeats() {
        let mut x = 11u64;
        let mut next = || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            x
        };
        let words: Vec<u64> = (0..64).map(|_| next()).collect();
        let bytes: Vec<u8> = (0..PAGE_BYTES / 2).flat_map(|_| words[(next() >> 58) as usize].to_le_bytes()).collect();
        let (matched, entropy) = (packed_size(Packing::Matched, &bytes), packed_size(Packing::Entropy, &bytes));
        assert!(matched < bytes.len() / 2, "matched: {matched} of {}", bytes.len());
        assert!(entropy > bytes.len() * 8 / 10, "entropy: {entropy} of {}", bytes.len());
    }

    /// A thread's recent pages are its own store's: two stores with their
    /// bytes at the same offsets read back their own, interleaved, nested
    /// in each other's reads, and on other threads.
    #[test]
    fn recent_pages_never_answer_for_another_store() {
        let stores: Vec<_> = (0..3u64).map(|_| PagedBytes::new()).collect();
        let data: Vec<Vec<u8>> = (0..3u64).map(|k| sample(PAGE_BYTES * 3, 100 + k)).collect();
        for (store, bytes) in stores.iter().zip(&data) {
            for piece in bytes.chunks(1000) {
                store.append(piece);
            }
            store.seal();
        }
        let check = |round: usize| {
            for at in (0..PAGE_BYTES as u64 * 3 - 100).step_by(7_919) {
                for (k, (store, bytes)) in stores.iter().zip(&data).enumerate() {
                    let want = &bytes[at as usize..at as usize + 100];
                    let got = store.read(at, 100, |a| {
                        // A read of the next store inside this one's.
                        let (other, other_bytes) = (&stores[(k + 1) % 3], &data[(k + 1) % 3]);
                        assert_eq!(other.read(at, 100, <[u8]>::to_vec), other_bytes[at as usize..at as usize + 100]);
                        a.to_vec()
                    });
                    assert_eq!(got, want, "round {round}, store {k}, at {at}");
                }
            }
        };
        check(0);
        check(1);
        std::thread::scope(|s| {
            for round in 2..4 {
                s.spawn(move || check(round));
            }
        });
        // Recent pages are kept, a few per thread.
        let kept = RECENT.with(|r| r.borrow().len());
        assert!((1..=RECENT_PAGES).contains(&kept), "{kept}");
    }

    #[test]
    fn pages_fill_several_slabs_and_read_back_before_and_after_sealing() {
        // Bytes that do not compress: every page is stored as is, so 2 MB
        // fill several slabs.
        let mut x = 7u64;
        let all: Vec<u8> = (0..2_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let store = PagedBytes::new();
        let pieces: Vec<(u64, usize)> = all.chunks(50_000).map(|c| (store.append(c), c.len())).collect();
        let check = |store: &PagedBytes| {
            for &(at, len) in &pieces {
                let want = &all[at as usize..at as usize + len];
                assert_eq!(store.read(at, len, <[u8]>::to_vec), want, "piece at {at}");
            }
        };
        // Pages in the slab being filled are copied out, the others shared.
        check(&store);
        assert!(store.lock().slabs.len() >= 3, "{} full slabs", store.lock().slabs.len());
        store.seal();
        assert!(store.lock().slab.is_empty());
        check(&store);
        // More after sealing starts a new slab.
        let at = store.append(b"after");
        store.seal();
        assert_eq!(store.read(at, 5, <[u8]>::to_vec), b"after");
        check(&store);
    }

    #[test]
    fn a_small_piece_never_straddles_pages() {
        let store = PagedBytes::new();
        let mut last = 0;
        for k in 0..200 {
            let bytes = sample(1000, k);
            let at = store.append(&bytes);
            let first = store.lock().starts.partition_point(|&s| s <= at);
            let store_pages = store.lock().starts.clone();
            // The page after the one holding `at` starts after the piece ends.
            if let Some(&next) = store_pages.get(first) {
                assert!(next >= at + 1000, "piece at {at} crosses page start {next}");
            }
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn reads_past_the_end_give_what_there_is() {
        let store = PagedBytes::new();
        store.append(&[1, 2, 3]);
        assert_eq!(store.read(1, 10, <[u8]>::to_vec), vec![2, 3]);
        assert_eq!(store.read(50, 10, <[u8]>::to_vec), Vec::<u8>::new());
        store.seal();
        assert_eq!(store.read(1, 10, <[u8]>::to_vec), vec![2, 3]);
        assert_eq!(store.read(50, 10, <[u8]>::to_vec), Vec::<u8>::new());
    }

    #[test]
    fn appends_after_sealing_carry_on() {
        let store = PagedBytes::new();
        let a = sample(100, 1);
        let b = sample(PAGE_BYTES + 100, 2);
        let at_a = store.append(&a);
        store.seal();
        let at_b = store.append(&b);
        assert_eq!(at_b, 100);
        assert_eq!(store.read(at_a, a.len(), <[u8]>::to_vec), a);
        assert_eq!(store.read(at_b, b.len(), <[u8]>::to_vec), b);
        store.seal();
        assert_eq!(store.read(at_b, b.len(), <[u8]>::to_vec), b);
    }
}
