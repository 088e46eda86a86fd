//! ID-keyed tables (strings, stacks) with Go's semantics: ID 0 is always
//! present and empty, duplicate IDs are an error.

/// A table from `u64` IDs to values, dense when the IDs are compact.
#[derive(Clone, Debug)]
pub struct IdTable<T> {
    dense: Vec<Option<T>>,
    sparse: Vec<(u64, T)>,
}

impl<T> Default for IdTable<T> {
    fn default() -> Self {
        IdTable { dense: Vec::new(), sparse: Vec::new() }
    }
}

/// An ID appeared twice while building a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DuplicateId(pub u64);

impl<T> IdTable<T> {
    /// Builds the table from `(id, value)` pairs in input order.
    pub fn build(mut entries: Vec<(u64, T)>) -> Result<Self, DuplicateId> {
        let n = entries.len() as u64;
        let max_id = entries.iter().map(|e| e.0).max().unwrap_or(0);
        if max_id <= n.saturating_mul(2).saturating_add(64) {
            let len = usize::try_from(max_id).map_err(|_| DuplicateId(max_id))? + 1;
            let mut dense: Vec<Option<T>> = Vec::with_capacity(len);
            dense.resize_with(len, || None);
            for (id, v) in entries {
                // id <= max_id < len, so the slot exists.
                let Some(slot) = dense.get_mut(id as usize) else { continue };
                if slot.is_some() || id == 0 {
                    return Err(DuplicateId(id));
                }
                *slot = Some(v);
            }
            return Ok(IdTable { dense, sparse: Vec::new() });
        }
        entries.sort_by_key(|e| e.0);
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(DuplicateId(w[0].0));
        }
        if entries.first().is_some_and(|e| e.0 == 0) {
            return Err(DuplicateId(0));
        }
        Ok(IdTable { dense: Vec::new(), sparse: entries })
    }

    /// Looks up a non-zero ID.
    #[inline]
    pub fn get(&self, id: u64) -> Option<&T> {
        if !self.dense.is_empty() {
            return self.dense.get(usize::try_from(id).ok()?)?.as_ref();
        }
        let i = self.sparse.binary_search_by_key(&id, |e| e.0).ok()?;
        self.sparse.get(i).map(|e| &e.1)
    }

    /// Whether `id` resolves (0 always does).
    #[inline]
    pub fn contains(&self, id: u64) -> bool {
        id == 0 || self.get(id).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        if self.dense.is_empty() { self.sparse.len() } else { self.dense.iter().flatten().count() }
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All entries in ID order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let dense = self.dense.iter().enumerate().filter_map(|(i, v)| v.as_ref().map(|v| (i as u64, v)));
        let sparse = self.sparse.iter().map(|(i, v)| (*i, v));
        dense.chain(sparse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_agree() {
        let Ok(d) = IdTable::build(vec![(1, "a"), (3, "c"), (2, "b")]) else { panic!("dense table") };
        let Ok(s) = IdTable::build(vec![(1, "a"), (1 << 40, "c"), (2, "b")]) else { panic!("sparse table") };
        assert_eq!(d.get(3), Some(&"c"));
        assert_eq!(s.get(1 << 40), Some(&"c"));
        assert_eq!(d.get(4), None);
        assert_eq!(s.get(4), None);
        assert!(d.contains(0) && s.contains(0));
        assert_eq!(d.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn duplicates_are_rejected() {
        assert_eq!(IdTable::build(vec![(1, 1), (1, 2)]).unwrap_err(), DuplicateId(1));
        assert_eq!(IdTable::build(vec![(1 << 40, 1), (1 << 40, 2)]).unwrap_err(), DuplicateId(1 << 40));
    }
}
