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

#[derive(Clone, Debug)]
struct Page<V> {
    slots: [Option<V>; PAGE_LEN],
    live: u32,
}

impl<V> Page<V> {
    fn new_boxed() -> Box<Self> {
        Box::new(Page { slots: std::array::from_fn(|_| None), live: 0 })
    }
}

/// Goroutine ID to `V`, with optional logging of misses (see `Tracked`).
#[derive(Clone, Debug)]
pub(crate) struct GTable<V = GState> {
    pages: Vec<Option<Box<Page<V>>>>,
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

impl<V> GTable<V> {
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
            Some((p, s)) => self.pages.get(p)?.as_ref()?.slots.get(s)?.as_ref(),
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
                Some(Some(page)) => page.slots.get_mut(s).and_then(Option::as_mut),
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
        let Some((p, s)) = split(g) else {
            self.overflow.insert(g, v);
            return;
        };
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let Some(entry) = self.pages.get_mut(p) else { return };
        let page = entry.get_or_insert_with(Page::new_boxed);
        if let Some(slot) = page.slots.get_mut(s) {
            if slot.is_none() {
                page.live += 1;
            }
            *slot = Some(v);
        }
    }

    /// The entry for `g`, created with `V::default()` (and logged as a
    /// miss) if absent.
    pub fn entry_or_default(&mut self, g: i64) -> &mut V
    where
        V: Default,
    {
        let GTable { pages, overflow, misses } = self;
        if let Some((p, s)) = split(g) {
            if pages.len() <= p {
                pages.resize_with(p + 1, || None);
            }
            if let Some(entry) = pages.get_mut(p) {
                let page = entry.get_or_insert_with(Page::new_boxed);
                if page.slots.get(s).is_some_and(Option::is_none) {
                    page.live += 1;
                    if let Some(m) = misses.as_mut() {
                        m.push(g);
                    }
                }
                if let Some(slot) = page.slots.get_mut(s) {
                    return slot.get_or_insert_with(V::default);
                }
            }
        }
        // IDs beyond the pages (s < PAGE_LEN, so paged IDs never get here).
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
        let Some(entry) = self.pages.get_mut(p) else { return };
        let Some(page) = entry.as_mut() else { return };
        if let Some(slot) = page.slots.get_mut(s)
            && slot.take().is_some()
        {
            page.live -= 1;
            if page.live == 0 {
                *entry = None;
            }
        }
    }

    /// All goroutines, in ID order for the paged part.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &V)> {
        let paged = self.pages.iter().enumerate().flat_map(|(p, page)| {
            page.iter().flat_map(move |page| {
                page.slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(s, v)| v.as_ref().map(|v| (((p << PAGE_BITS) | s) as i64, v)))
            })
        });
        let mut over: Vec<(i64, &V)> = self.overflow.iter().map(|(k, v)| (*k, v)).collect();
        over.sort_unstable_by_key(|e| e.0);
        paged.chain(over)
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
}
