//! Runtime ranges packed as varints, for the millions of sweeps and mark
//! assists a long trace holds.
//!
//! A busy 1 GB trace has about 1.9 M of them. As [`RangeSpan`] structs
//! (32 bytes) they took 60 MB, grown by doubling to 64 MiB; packed they
//! take 20.5 MB, about 11 bytes each. They are only ever read in one pass (the
//! MMU), so no index is kept.

use crate::model::{RangeKind, RangeSpan};
use crate::strings::StrId;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Ranges in the order they were pushed, each stored as its kind, its
/// start as a delta from the previous start, its length, reason and scope.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RangeList {
    bytes: Vec<u8>,
    len: usize,
    /// Start of the last range pushed (deltas are taken from it).
    last_start_ns: i64,
}

impl RangeList {
    /// An empty list.
    pub fn new() -> RangeList {
        RangeList::default()
    }

    /// Appends `r`.
    pub fn push(&mut self, r: RangeSpan) {
        self.bytes.push(kind_code(r.kind));
        // Wrapping differences round-trip any pair of times, even the
        // `i64::MIN` of a range whose start was never seen.
        write_uvarint(&mut self.bytes, zigzag(r.start_ns.wrapping_sub(self.last_start_ns)));
        write_uvarint(&mut self.bytes, zigzag(r.end_ns.wrapping_sub(r.start_ns)));
        write_uvarint(&mut self.bytes, u64::from(r.reason.0));
        write_uvarint(&mut self.bytes, zigzag(r.scope));
        self.last_start_ns = r.start_ns;
        self.len += 1;
    }

    /// How many ranges.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ranges, in the order pushed.
    pub fn iter(&self) -> RangeIter<'_> {
        RangeIter { bytes: &self.bytes, left: self.len, last_start_ns: 0 }
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// Trims spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

impl std::fmt::Debug for RangeList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<RangeSpan> for RangeList {
    fn from_iter<I: IntoIterator<Item = RangeSpan>>(iter: I) -> RangeList {
        let mut list = RangeList::new();
        list.extend(iter);
        list
    }
}

impl Extend<RangeSpan> for RangeList {
    fn extend<I: IntoIterator<Item = RangeSpan>>(&mut self, iter: I) {
        for r in iter {
            self.push(r);
        }
    }
}

impl<'a> IntoIterator for &'a RangeList {
    type Item = RangeSpan;
    type IntoIter = RangeIter<'a>;

    fn into_iter(self) -> RangeIter<'a> {
        self.iter()
    }
}

/// The ranges of a [`RangeList`], decoded one by one.
#[derive(Clone, Debug)]
pub struct RangeIter<'a> {
    bytes: &'a [u8],
    left: usize,
    last_start_ns: i64,
}

impl Iterator for RangeIter<'_> {
    type Item = RangeSpan;

    fn next(&mut self) -> Option<RangeSpan> {
        self.left = self.left.checked_sub(1)?;
        let (&code, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        let start_ns = self.last_start_ns.wrapping_add(unzigzag(read_uvarint(&mut self.bytes)));
        let end_ns = start_ns.wrapping_add(unzigzag(read_uvarint(&mut self.bytes)));
        let reason = StrId(u32::try_from(read_uvarint(&mut self.bytes)).unwrap_or(0));
        let scope = unzigzag(read_uvarint(&mut self.bytes));
        self.last_start_ns = start_ns;
        Some(RangeSpan { kind: kind_from_code(code), start_ns, end_ns, reason, scope })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for RangeIter<'_> {}

fn kind_code(kind: RangeKind) -> u8 {
    match kind {
        RangeKind::GcMark => 0,
        RangeKind::Stw => 1,
        RangeKind::Sweep => 2,
        RangeKind::MarkAssist => 3,
    }
}

fn kind_from_code(code: u8) -> RangeKind {
    match code {
        0 => RangeKind::GcMark,
        1 => RangeKind::Stw,
        2 => RangeKind::Sweep,
        _ => RangeKind::MarkAssist,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(kind: RangeKind, start_ns: i64, end_ns: i64, reason: u32, scope: i64) -> RangeSpan {
        RangeSpan { kind, start_ns, end_ns, reason: StrId(reason), scope }
    }

    #[test]
    fn ranges_read_back_as_pushed_whatever_their_values() {
        let ranges = vec![
            r(RangeKind::Sweep, 1_000, 1_500, 0, 3),
            // Starts before the previous one: a negative delta.
            r(RangeKind::MarkAssist, 900, 2_000, 0, 4_000_000),
            r(RangeKind::Stw, i64::MIN, 5, 7, -1),
            r(RangeKind::GcMark, i64::MAX - 1, i64::MAX, u32::MAX, i64::MIN),
            r(RangeKind::Sweep, 0, -10, 1, i64::MAX),
        ];
        let list: RangeList = ranges.iter().copied().collect();
        assert_eq!(list.len(), ranges.len());
        assert_eq!(list.iter().collect::<Vec<_>>(), ranges);
        assert_eq!(list.iter().len(), ranges.len());
        assert_eq!(format!("{list:?}"), format!("{ranges:?}"));
        assert!(RangeList::new().iter().next().is_none());
    }

    #[test]
    fn a_sweep_takes_a_few_bytes_not_a_struct() {
        let list: RangeList = (0..1000)
            .map(|i| r(RangeKind::Sweep, 1_000_000 + i * 20_000, 1_000_000 + i * 20_000 + 3_000, 0, i % 8))
            .collect();
        assert!(list.bytes.len() <= 1000 * 8, "{} bytes", list.bytes.len());
        assert_eq!(list.iter().nth(999).map(|r| r.end_ns), Some(1_000_000 + 999 * 20_000 + 3_000));
    }
}
