//! A generation's first events, kept so that Go's repair of times across
//! a generation boundary can be applied after the part is collected.
//!
//! A part is collected before the chain knows the last time of the
//! generation before it (its *floor*); Go raises the `i`-th event of a
//! generation to at least `floor + 1 + i`. Within a run times strictly
//! increase, so `time - i` never decreases and the events a floor moves are
//! a prefix. [`Early`] keeps the times of the first events and their
//! goroutine-count changes (5 bytes an event), so a
//! floor that moves no event past them is applied by [`Retime`] at the
//! merge instead of collecting the generation again.
//!
//! A server with many idle goroutines starts each generation with a burst
//! of one status event per goroutine, and the generation before may end
//! hundreds of milliseconds after that burst began: with 500 000 idle
//! goroutines, floors moved 341 000 and 737 000 events.

use crate::part::MAX_TIME_NS;

/// Events whose times are kept, at most.
pub(crate) const EARLY_EVENTS: usize = 1 << 20;

/// Go's repair of times across a generation boundary, applied after the
/// fact: the `i`-th event of a generation happened at no earlier than
/// `floor + 1 + i`.
pub(crate) struct Retime {
    floor_ns: i64,
    /// Times from here on do not move.
    pub limit_ns: i64,
    /// The moved events' times, as offsets from `base_ns`, in order.
    base_ns: i64,
    offsets: Vec<u32>,
}

impl Retime {
    /// The repaired time of the event at `t` (for a time between events,
    /// that of the next event).
    pub fn apply(&self, t: i64) -> i64 {
        if t >= self.limit_ns {
            return t;
        }
        let i = self.offsets.partition_point(|&x| i64::from(x) < t - self.base_ns) as i64;
        t.max(self.floor_ns.saturating_add(1 + i)).clamp(-MAX_TIME_NS, MAX_TIME_NS)
    }
}

/// The first events of a part: see the module docs.
pub(crate) struct Early {
    /// The first event's time.
    base_ns: i64,
    /// Each kept event's time less `base_ns`.
    offsets: Vec<u32>,
    /// Each kept event's goroutine-count change: the categories left and
    /// entered, each plus one (0 for none), as the low and high nibbles.
    changes: Vec<u8>,
    /// Whether the event noted last was kept.
    open: bool,
    /// The time of the first event not kept (`i64::MAX` if none).
    end_ns: i64,
    /// The least `time - event number` over the events not kept.
    min_slack: i64,
}

impl Default for Early {
    fn default() -> Self {
        Early {
            base_ns: 0,
            offsets: Vec::new(),
            changes: Vec::new(),
            open: true,
            end_ns: i64::MAX,
            min_slack: i64::MAX,
        }
    }
}

impl Early {
    /// Notes event `ord` (Sync = 0; events come in order) at `time`; keeps
    /// it while fewer than `limit` are kept and its time is within a u32
    /// of the first's. Returns whether it was kept.
    pub fn note(&mut self, ord: u32, time: i64, limit: usize) -> bool {
        if self.open {
            if self.offsets.is_empty() {
                self.base_ns = time;
            }
            let offset = u32::try_from(time.saturating_sub(self.base_ns)).ok();
            if let Some(o) = offset.filter(|_| (ord as usize) < limit && ord as usize == self.offsets.len()) {
                self.offsets.push(o);
                self.changes.push(0);
                return true;
            }
            self.open = false;
            self.end_ns = time;
        }
        self.min_slack = self.min_slack.min(time - i64::from(ord));
        false
    }

    /// Whether the event noted last was kept.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Notes the goroutine-count change of the event noted last (which
    /// was kept): categories `from` and `to` (0 to 3, or none).
    pub fn log_count(&mut self, from: Option<usize>, to: Option<usize>) {
        let cat = |c: Option<usize>| c.map_or(0, |c| (c as u8 & 0x7) + 1);
        if let Some(last) = self.changes.last_mut() {
            *last = cat(from) | cat(to) << 4;
        }
    }

    /// The changes [`Early::log_count`] noted, in order: time, category
    /// left, category entered.
    pub fn count_changes(&self) -> impl Iterator<Item = (i64, Option<usize>, Option<usize>)> + '_ {
        let cat = |c: u8| (c != 0).then(|| usize::from(c - 1));
        let base = self.base_ns;
        self.offsets
            .iter()
            .zip(&self.changes)
            .filter(|(_, c)| **c != 0)
            .map(move |(&o, &c)| (base + i64::from(o), cat(c & 0xf), cat(c >> 4)))
    }

    /// Whether a time `floor` raises the time of an event not kept, so the
    /// part must be collected again with it.
    pub fn needs_floor(&self, floor: i64) -> bool {
        floor.saturating_add(1) > self.min_slack
    }

    /// How to move the kept times for `floor`, if it raises any (and
    /// [`Early::needs_floor`] is false).
    pub fn take_retime(&mut self, floor: i64) -> Option<Retime> {
        let time = |i: usize| self.offsets.get(i).map(|&o| self.base_ns + i64::from(o));
        if time(0).is_none_or(|t| t > floor) {
            return None;
        }
        let moved = |i: usize| time(i).is_some_and(|t| t - i as i64 <= floor);
        let (mut lo, mut hi) = (0, self.offsets.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if moved(mid) { lo = mid + 1 } else { hi = mid }
        }
        let limit_ns = time(lo).unwrap_or(self.end_ns);
        // A copy: the merge reads the count changes against all of them.
        let offsets = self.offsets.get(..lo).unwrap_or_default().to_vec();
        Some(Retime { floor_ns: floor, limit_ns, base_ns: self.base_ns, offsets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_changes_read_back_as_logged() {
        let mut e = Early::default();
        let changes = [(100, None, Some(0)), (101, Some(0), Some(1)), (4_000_000_000, Some(1), Some(3))];
        for (i, &(t, f, to)) in changes.iter().enumerate() {
            e.note(2 * i as u32, t - 1, 10);
            e.note(2 * i as u32 + 1, t, 10);
            e.log_count(f, to);
        }
        assert_eq!(e.count_changes().collect::<Vec<_>>(), changes);
    }

    #[test]
    fn the_window_ends_at_the_limit_or_past_a_u32_of_ns() {
        let mut e = Early::default();
        assert!(e.note(0, 1_000, 3) && e.note(1, 2_000, 3) && e.note(2, 3_000, 3));
        assert!(!e.note(3, 4_000, 3) && !e.is_open());
        assert_eq!((e.end_ns, e.min_slack), (4_000, 3_997));
        let mut far = Early::default();
        assert!(far.note(0, 0, 10) && !far.note(1, 1 << 33, 10));
        assert!(!far.note(2, 1, 10), "a window once ended stays so");
        assert_eq!(far.offsets.len(), 1);
    }

    /// A server's 800 000 idle goroutines restated in a burst the run
    /// spaced 1 ns apart, the generation before ending 5 ms into it: the
    /// floor moves the whole burst, which is kept, so the part is retimed.
    #[test]
    fn a_burst_of_restatements_is_kept_whole() {
        let mut e = Early::default();
        let burst = 800_000;
        for i in 0..burst {
            assert!(e.note(i, 1_000_000 + i64::from(i), EARLY_EVENTS));
        }
        // Then events 1 us apart.
        for i in burst..burst + 2_000_000 {
            e.note(i, 1_000_000 + i64::from(burst) + 1_000 * i64::from(i - burst + 1), EARLY_EVENTS);
        }
        let floor = 6_000_000;
        assert!(!e.needs_floor(floor));
        let r = e.take_retime(floor);
        // Event burst + k is at 1 801 000 + 1 000 k, moved while
        // 1 001 000 + 999 k <= 6 000 000: k up to 5 004.
        assert_eq!(r.as_ref().map(|r| r.offsets.len()), Some(burst as usize + 5_005));
        assert_eq!(r.map(|r| r.apply(1_000_000 + 799_999)), Some(floor + 800_000));
    }

    #[test]
    fn a_floor_moves_the_prefix_of_events_it_reaches() {
        let mut e = Early::default();
        // Events at 100, 101, 102 (a burst the run spaced by 1 ns), then 500.
        for (i, t) in [100, 101, 102, 500, 900].into_iter().enumerate() {
            e.note(i as u32, t, 4);
        }
        assert!(!e.needs_floor(800) && e.needs_floor(896));
        let r = e.take_retime(200);
        let r = r.as_ref().map(|r| (r.limit_ns, [100, 101, 102, 500].map(|t| r.apply(t))));
        assert_eq!(r, Some((500, [201, 202, 203, 500])));
        assert!(Early::default().take_retime(5).is_none());
    }
}
