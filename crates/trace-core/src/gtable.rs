//! Per-goroutine state (scheduling state, in-flight ranges) indexed
//! directly by goroutine ID.
//!
//! Go hands out goroutine IDs counting up from 1, so a table of small pages
//! indexed by ID finds a goroutine in two loads, where a hash map needs a
//! hash and a probe; this lookup runs for most events. IDs too large for
//! the pages (only in damaged traces) go to a hash map.

use rustc_hash::FxHashMap;

use crate::order::GState;

const PAGE_BITS: u32 = 6;
const PAGE_LEN: usize = 1 << PAGE_BITS;
/// IDs at or above this live in the overflow map (bounds the page index).
const MAX_DIRECT: i64 = 1 << 26;

/// A page's slots. Which of them hold a goroutine is kept beside the
/// page's pointer ([`Entry`]), not in it: 64 `GState`s then fill the
/// allocation exactly (1 536 bytes), where 64 `Option<GState>`s and a count
/// took 2 056 bytes, which the allocator rounds up to 2 560. A generation
/// with a million goroutines keeps 15 600 pages per live `Ordering`.
type Page<V> = [V; PAGE_LEN];

/// A page and, a bit per slot, which slots hold a goroutine (a slot that
/// does not holds `V::default()`). The bits sit by the pointer, so a lookup
/// reads both from one cache line.
#[derive(Clone, Debug)]
struct Entry<V> {
    present: u64,
    page: Option<Box<Page<V>>>,
}

impl<V> Default for Entry<V> {
    fn default() -> Self {
        Entry { present: 0, page: None }
    }
}

impl<V: Default> Entry<V> {
    #[inline]
    fn has(&self, s: usize) -> bool {
        self.present >> s & 1 == 1
    }

    /// Slot `s`, marked present, and whether it was.
    fn claim(&mut self, s: usize) -> Option<(&mut V, bool)> {
        let was = self.has(s);
        self.present |= 1 << s;
        let page = self.page.get_or_insert_with(|| Box::new(std::array::from_fn(|_| V::default())));
        Some((page.get_mut(s)?, was))
    }
}

/// Goroutine ID to `V`, with optional logging of misses (see `Tracked`).
#[derive(Clone, Debug)]
pub(crate) struct GTable<V = GState> {
    pages: Vec<Entry<V>>,
    overflow: FxHashMap<i64, V>,
    misses: Option<Vec<i64>>,
}

impl<V> Default for GTable<V> {
    fn default() -> Self {
        GTable { pages: Vec::new(), overflow: FxHashMap::default(), misses: None }
    }
}

#[inline]
fn split(g: i64) -> Option<(usize, usize)> {
    if (0..MAX_DIRECT).contains(&g) {
        let g = g as usize;
        Some((g >> PAGE_BITS, g & (PAGE_LEN - 1)))
    } else {
        None
    }
}

/// The slot for `g` in `pages`, marked present, and whether it was present
/// before; `None` for IDs beyond the pages.
fn slot_in<V: Default>(pages: &mut Vec<Entry<V>>, g: i64) -> Option<(&mut V, bool)> {
    let (p, s) = split(g)?;
    if pages.len() <= p {
        pages.resize_with(p + 1, Entry::default);
    }
    pages.get_mut(p)?.claim(s)
}

impl<V: Default> GTable<V> {
    pub fn set_logging(&mut self, on: bool) {
        self.misses = if on { Some(Vec::new()) } else { None };
    }

    pub fn take_misses(&mut self) -> Vec<i64> {
        self.misses.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Looks up without logging.
    #[inline]
    pub fn peek(&self, g: &i64) -> Option<&V> {
        match split(*g) {
            Some((p, s)) => {
                let e = self.pages.get(p)?;
                if e.has(s) { e.page.as_ref()?.get(s) } else { None }
            }
            None => self.overflow.get(g),
        }
    }

    #[inline]
    pub fn get(&mut self, g: &i64) -> Option<&V> {
        self.get_mut(g).map(|s| &*s)
    }

    /// Looks up, logging a miss when logging is on. One probe: the pages
    /// and the miss log are separate fields, so both can be borrowed.
    #[inline]
    pub fn get_mut(&mut self, g: &i64) -> Option<&mut V> {
        let GTable { pages, overflow, misses } = self;
        let found = match split(*g) {
            Some((p, s)) => match pages.get_mut(p) {
                Some(e) if e.has(s) => e.page.as_mut().and_then(|page| page.get_mut(s)),
                _ => None,
            },
            None => overflow.get_mut(g),
        };
        if found.is_none()
            && let Some(m) = misses.as_mut()
        {
            m.push(*g);
        }
        found
    }

    #[inline]
    pub fn contains(&mut self, g: &i64) -> bool {
        self.get_mut(g).is_some()
    }

    pub fn insert(&mut self, g: i64, v: V) {
        match slot_in(&mut self.pages, g) {
            Some((slot, _)) => *slot = v,
            None => {
                self.overflow.insert(g, v);
            }
        }
    }

    /// The entry for `g`, created with `V::default()` (and logged as a
    /// miss) if absent.
    pub fn entry_or_default(&mut self, g: i64) -> &mut V {
        let GTable { pages, overflow, misses } = self;
        // An absent slot holds `V::default()` already.
        if let Some((slot, was)) = slot_in(pages, g) {
            if !was && let Some(m) = misses.as_mut() {
                m.push(g);
            }
            return slot;
        }
        // IDs beyond the pages.
        overflow.entry(g).or_insert_with(|| {
            if let Some(m) = misses.as_mut() {
                m.push(g);
            }
            V::default()
        })
    }

    /// Removes without logging; frees a page once it holds no goroutine.
    pub fn discard(&mut self, g: &i64) {
        let Some((p, s)) = split(*g) else {
            self.overflow.remove(g);
            return;
        };
        let Some(e) = self.pages.get_mut(p) else { return };
        if !e.has(s) {
            return;
        }
        e.present &= !(1 << s);
        if e.present == 0 {
            e.page = None;
        } else if let Some(slot) = e.page.as_mut().and_then(|page| page.get_mut(s)) {
            // Absent slots hold the default (and drop what was there).
            *slot = V::default();
        }
    }

    /// All goroutines, in ID order for the paged part.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        let paged = self.pages.iter().enumerate().flat_map(|(p, e)| {
            let bits = e.present;
            e.page.iter().flat_map(move |page| {
                page.iter()
                    .enumerate()
                    .filter(move |&(s, _)| bits >> s & 1 == 1)
                    .map(move |(s, v)| (((p << PAGE_BITS) | s) as i64, v))
            })
        });
        let mut over: Vec<(i64, &V)> = self.overflow.iter().map(|(k, v)| (*k, v)).collect();
        over.sort_unstable_by_key(|e| e.0);
        paged.chain(over)
    }
}

/// A v1 trace's goroutine IDs (unsigned) to a small value, a goroutine
/// not yet seen reading as `V::default()`: the v1 merge and consistency
/// pass look one up for every event, and a hash map of a million of them
/// missed the cache on most.
#[derive(Debug, Default)]
pub(crate) struct GMap<V>(GTable<V>);

impl<V: Default + Copy> GMap<V> {
    #[inline]
    pub fn get(&self, g: u64) -> V {
        // The same bits: IDs from 2^63 up are negative, in the overflow map.
        self.0.peek(&(g as i64)).copied().unwrap_or_default()
    }

    #[inline]
    pub fn insert(&mut self, g: u64, v: V) {
        self.0.insert(g as i64, v);
    }

    /// The value for `g`, made present (as the default) if absent.
    #[inline]
    pub fn entry(&mut self, g: u64) -> &mut V {
        self.0.entry_or_default(g as i64)
    }

    /// Whether `g` was inserted or made present.
    #[inline]
    pub fn contains_key(&self, g: u64) -> bool {
        self.0.peek(&(g as i64)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Seq;

    fn st(status: u64) -> GState {
        GState { status, seq: Seq { generation: 1, seq: 0 } }
    }

    #[test]
    fn behaves_like_a_map() {
        let mut t = GTable::default();
        for g in [1i64, 2, 63, 64, 1000, -1, MAX_DIRECT + 5] {
            t.insert(g, st(g.unsigned_abs() % 5));
        }
        assert_eq!(t.peek(&64).map(|s| s.status), Some(4));
        assert_eq!(t.peek(&-1).map(|s| s.status), Some(1));
        assert!(t.peek(&65).is_none());
        t.discard(&63);
        t.discard(&1000);
        assert!(t.peek(&63).is_none());
        let ids: Vec<i64> = t.iter().map(|e| e.0).collect();
        assert_eq!(ids, vec![1, 2, 64, -1, MAX_DIRECT + 5]);
    }

    #[test]
    fn logs_misses_only_when_asked() {
        let mut t = GTable::default();
        t.insert(7, st(2));
        assert!(t.get(&8).is_none());
        t.set_logging(true);
        assert!(t.get(&9).is_none());
        assert!(t.get_mut(&7).is_some());
        assert!(!t.contains(&10));
        assert_eq!(t.take_misses(), vec![9, 10]);
    }

    #[test]
    fn entry_or_default_creates_and_logs() {
        let mut t: GTable<Vec<u8>> = GTable::default();
        t.set_logging(true);
        for g in [3i64, 3, MAX_DIRECT + 1, MAX_DIRECT + 1, -7] {
            t.entry_or_default(g).push(1);
        }
        assert_eq!(t.take_misses(), vec![3, MAX_DIRECT + 1, -7]);
        assert_eq!(t.peek(&3).map(Vec::len), Some(2));
        assert_eq!(t.peek(&(MAX_DIRECT + 1)).map(Vec::len), Some(2));
        t.discard(&3);
        assert!(t.peek(&3).is_none());
        // The page was freed; a new entry brings it back.
        t.entry_or_default(4).push(9);
        assert_eq!(t.iter().map(|e| e.0).collect::<Vec<_>>(), vec![4, -7, MAX_DIRECT + 1]);
    }

    #[test]
    fn a_slot_discarded_from_a_live_page_comes_back_empty() {
        let mut t: GTable<Vec<u8>> = GTable::default();
        t.set_logging(true);
        t.entry_or_default(5).push(1);
        t.entry_or_default(6).push(2);
        t.discard(&5);
        assert!(t.peek(&5).is_none());
        assert_eq!(t.peek(&6).map(Vec::len), Some(1));
        // The page still holds 6; 5 starts over, and is a miss again.
        assert!(t.entry_or_default(5).is_empty());
        assert_eq!(t.take_misses(), vec![5, 6, 5]);
        assert_eq!(t.iter().map(|e| e.0).collect::<Vec<_>>(), vec![5, 6]);
    }

    #[test]
    fn a_gmap_reads_absent_ids_as_the_default() {
        let mut m: GMap<u8> = GMap::default();
        for g in [0u64, 5, 64, u64::MAX, 1 << 40] {
            m.insert(g, (g % 200) as u8 + 1);
        }
        assert_eq!(m.get(5), 6);
        assert_eq!(m.get(u64::MAX), (u64::MAX % 200) as u8 + 1);
        assert_eq!(m.get(1 << 40), ((1u64 << 40) % 200) as u8 + 1);
        assert_eq!(m.get(6), 0);
        assert_eq!(m.get(u64::MAX - 1), 0);
        assert!(!m.contains_key(7) && m.contains_key(64));
        *m.entry(7) += 3;
        assert!(m.contains_key(7));
        assert_eq!(m.get(7), 3);
    }

    #[test]
    fn a_page_of_states_fills_its_allocation() {
        // 64 states of 24 bytes: an allocator size class exactly.
        assert_eq!(std::mem::size_of::<Page<GState>>(), 1536);
    }
}
