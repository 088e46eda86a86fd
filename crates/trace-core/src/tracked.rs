//! A hash map that can remember which keys were looked up and missing.
//!
//! Speculative decoding of a generation starts from a *predicted* state;
//! every lookup that misses is logged so the prediction can later be
//! checked against the state the previous generation really ended with.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// A map whose misses can be logged.
#[derive(Clone, Debug)]
pub(crate) struct Tracked<K, V> {
    map: FxHashMap<K, V>,
    misses: Option<Vec<K>>,
}

impl<K, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Tracked { map: FxHashMap::default(), misses: None }
    }
}

impl<K: Copy + Eq + Hash, V> Tracked<K, V> {
    /// Starts or stops logging misses.
    pub fn set_logging(&mut self, on: bool) {
        self.misses = if on { Some(Vec::new()) } else { None };
    }

    /// Takes the logged misses.
    pub fn take_misses(&mut self) -> Vec<K> {
        self.misses.as_mut().map(std::mem::take).unwrap_or_default()
    }

    #[inline]
    fn note(&mut self, k: K) {
        if let Some(m) = self.misses.as_mut() {
            m.push(k);
        }
    }

    #[inline]
    pub fn get(&mut self, k: &K) -> Option<&V> {
        if self.misses.is_some() && !self.map.contains_key(k) {
            self.note(*k);
            return None;
        }
        self.map.get(k)
    }

    #[inline]
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if self.misses.is_some() && !self.map.contains_key(k) {
            self.note(*k);
            return None;
        }
        self.map.get_mut(k)
    }

    #[inline]
    pub fn contains(&mut self, k: &K) -> bool {
        let found = self.map.contains_key(k);
        if !found {
            self.note(*k);
        }
        found
    }

    pub fn insert(&mut self, k: K, v: V) {
        self.map.insert(k, v);
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let v = self.map.remove(k);
        if v.is_none() {
            self.note(*k);
        }
        v
    }

    /// Removes without logging (used where absence carries no meaning).
    pub fn discard(&mut self, k: &K) {
        self.map.remove(k);
    }

    pub fn entry_or_default(&mut self, k: K) -> &mut V
    where
        V: Default,
    {
        if self.misses.is_some() && !self.map.contains_key(&k) {
            self.note(k);
        }
        self.map.entry(k).or_default()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Looks up without logging.
    pub fn peek(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }
}
