//! User log messages (`runtime/trace.Log`), stored compactly.
//!
//! A service that logs a line per request has millions: as 32-byte
//! [`LogEntry`]s plus a 4-byte index by goroutine they took about as many
//! bytes as the trace. Here each goroutine's logs, in time order, sit in
//! blocks of up to [`BLOCK`], every field a varint delta from the log
//! before (about 8 bytes a log), and each block keeps its first time so a
//! view finds its logs without decoding the ones before.
//!
//! A log's index ([`LogList::get`]) is its place in this order: by
//! goroutine, then time.
//!
//! ```
//! use timeline::{LogEntry, LogList, StrId};
//! use trace_core::GoroutineId;
//!
//! let log = |g, time_ns| LogEntry { time_ns, g: GoroutineId(g), task: 0, category: StrId(0), message: StrId(1) };
//! let list = LogList::from_logs(vec![log(7, 50), log(3, 10), log(7, 20)]);
//! assert_eq!(list.get(1).map(|l| (l.g.0, l.time_ns)), Some((7, 20)));
//! let times: Vec<i64> = list.of_in(GoroutineId(7), 0, 30).map(|l| l.time_ns).collect();
//! assert_eq!(times, [20]);
//! ```

use trace_core::GoroutineId;

use crate::gblocks::{ByGoroutine, Items, Packed};
use crate::model::LogEntry;
use crate::plan::View;
use crate::strings::StrId;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Logs per block: small enough that finding one decodes little.
pub use crate::gblocks::BLOCK;

/// All user logs of a trace, by goroutine, then time (logs at the same
/// time in the order the trace has them).
#[derive(Clone, Default)]
pub struct LogList {
    list: ByGoroutine<LogEntry>,
}

impl std::fmt::Debug for LogList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<LogEntry> for LogList {
    fn from_iter<I: IntoIterator<Item = LogEntry>>(logs: I) -> LogList {
        LogList::from_logs(logs.into_iter().collect())
    }
}

/// The fields a log is encoded against: the log before it in its block.
#[derive(Clone, Copy, Default)]
pub(crate) struct Prev {
    time_ns: i64,
    task: u64,
    category: u32,
}

impl crate::sorted_runs::RunOrder for LogEntry {
    type Key = (GoroutineId, i64);
    fn key(&self) -> (GoroutineId, i64) {
        (self.g, self.time_ns)
    }
}

impl Packed for LogEntry {
    type Prev = Prev;
    fn g(&self) -> GoroutineId {
        self.g
    }
    fn start_ns(&self) -> i64 {
        self.time_ns
    }
    fn end_ns(&self) -> i64 {
        self.time_ns
    }
    fn prev_at(block_start_ns: i64) -> Prev {
        Prev { time_ns: block_start_ns, ..Prev::default() }
    }
    fn encode(&self, out: &mut Vec<u8>, prev: &mut Prev) {
        write_uvarint(out, zigzag(self.time_ns.wrapping_sub(prev.time_ns)));
        write_uvarint(out, zigzag(self.task.wrapping_sub(prev.task) as i64));
        write_uvarint(out, zigzag(i64::from(self.category.0) - i64::from(prev.category)));
        write_uvarint(out, u64::from(self.message.0));
        *prev = Prev { time_ns: self.time_ns, task: self.task, category: self.category.0 };
    }
    fn decode(bytes: &mut &[u8], prev: &mut Prev, g: GoroutineId) -> LogEntry {
        let time_ns = prev.time_ns.wrapping_add(unzigzag(read_uvarint(bytes)));
        let task = prev.task.wrapping_add(unzigzag(read_uvarint(bytes)) as u64);
        let category = (i64::from(prev.category) + unzigzag(read_uvarint(bytes))) as u32;
        let message = StrId(read_uvarint(bytes) as u32);
        *prev = Prev { time_ns, task, category };
        LogEntry { time_ns, g, task, category: StrId(category), message }
    }
}

impl LogList {
    /// The list of `logs` (in the trace's order: those of a goroutine at
    /// the same time keep it).
    pub fn from_logs(mut logs: Vec<LogEntry>) -> LogList {
        // By time too, not only by goroutine: a damaged trace's logs need
        // not come in time order.
        logs.sort_by_key(|l| (l.g, l.time_ns));
        LogList::from_sorted(logs)
    }

    /// The list of `logs`, which come sorted by goroutine, each goroutine's
    /// in time order.
    pub(crate) fn from_sorted(logs: impl IntoIterator<Item = LogEntry>) -> LogList {
        LogList { list: ByGoroutine::from_sorted(logs) }
    }

    /// Number of logs.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.list.heap_bytes()
    }

    /// Log `i` (in the list's order).
    pub fn get(&self, i: usize) -> Option<LogEntry> {
        self.list.get(i)
    }

    /// Every log, in the list's order.
    pub fn iter(&self) -> Logs<'_> {
        Logs(self.list.iter())
    }

    /// The logs of goroutine `g`, in time order.
    pub fn of(&self, g: GoroutineId) -> Logs<'_> {
        Logs(self.list.of(g))
    }

    /// The logs of goroutine `g` in `[start_ns, end_ns]`, in time order;
    /// blocks before the first that can hold one are not decoded.
    pub fn of_in(&self, g: GoroutineId, start_ns: i64, end_ns: i64) -> impl Iterator<Item = LogEntry> + Clone + '_ {
        let (blocks, ahead) = self.list.blocks_of(g);
        // The last block starting before `start_ns` may hold the first.
        let first = blocks.start + ahead.partition_point(|b| b.start_ns < start_ns).saturating_sub(1);
        self.list
            .blocks_from(first, blocks.end)
            .skip_while(move |l| l.time_ns < start_ns)
            .take_while(move |l| l.time_ns <= end_ns)
    }

    /// Times at which to draw goroutine `g`'s log markers in `view`: its
    /// first log in view, then each next one at least `gap_px` after the
    /// last drawn (a marker hides the logs under it; hovering names the
    /// nearest). A block whose logs all fall within the gap is skipped
    /// undecoded, so a goroutine with millions of logs plans, zoomed out,
    /// in about as many steps as markers are drawn.
    pub fn plan(&self, g: GoroutineId, view: &View, gap_px: f32) -> Vec<i64> {
        let mut marks: Vec<i64> = Vec::new();
        if view.end_ns < view.start_ns {
            return marks;
        }
        let gap_ns = f64::from(gap_px) * view.ns_per_px();
        let (blocks, ahead) = self.list.blocks_of(g);
        let mut b = blocks.start + ahead.partition_point(|b| b.start_ns < view.start_ns).saturating_sub(1);
        let far = |from: i64, to: i64| (to.wrapping_sub(from)) as f64 >= gap_ns;
        while let Some(block) = self.list.block(b).filter(|_| b < blocks.end) {
            if block.start_ns > view.end_ns {
                break;
            }
            // Every log of this block comes no later than the next block's
            // first: if that is still under the last marker, so are they.
            let next = self.list.block(b + 1).filter(|_| b + 1 < blocks.end);
            if let (Some(&last), Some(next)) = (marks.last(), next)
                && !far(last, next.start_ns)
            {
                b += 1;
                continue;
            }
            for l in self.list.blocks_from(b, b + 1) {
                if l.time_ns > view.end_ns {
                    break;
                }
                if l.time_ns >= view.start_ns && marks.last().is_none_or(|&last| far(last, l.time_ns)) {
                    marks.push(l.time_ns);
                }
            }
            b += 1;
        }
        marks
    }
}

/// Logs decoded block by block ([`LogList::iter`], [`LogList::of`]).
#[derive(Clone)]
pub struct Logs<'l>(Items<'l, LogEntry>);

impl Iterator for Logs<'_> {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        self.0.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs on four goroutines, some at the same time, some out of time
    /// order (a damaged trace), with extreme values.
    fn logs() -> Vec<LogEntry> {
        let mut out = Vec::new();
        for i in 0..1_000u64 {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            out.push(LogEntry {
                time_ns: if i == 500 { i64::MIN } else { (i as i64 / 3) * 1_000 + (h % 7) as i64 },
                g: GoroutineId([1, 5, 9, i64::MAX][(h >> 20) as usize % 4]),
                task: if i % 100 == 0 { u64::MAX } else { (h >> 30) % 4 },
                category: StrId(((h >> 40) % 3) as u32),
                message: StrId(if i == 7 { u32::MAX } else { i as u32 }),
            });
        }
        out
    }

    /// What the list should hold: the logs sorted stably by goroutine and
    /// time.
    fn sorted(mut logs: Vec<LogEntry>) -> Vec<LogEntry> {
        logs.sort_by_key(|l| (l.g, l.time_ns));
        logs
    }

    #[test]
    fn every_log_comes_back_by_index_and_by_goroutine() {
        let want = sorted(logs());
        let list = LogList::from_logs(logs());
        assert_eq!(list.len(), want.len());
        assert_eq!(list.iter().collect::<Vec<_>>(), want);
        for (i, l) in want.iter().enumerate() {
            assert_eq!(list.get(i).as_ref(), Some(l), "log {i}");
        }
        assert_eq!(list.get(want.len()), None);
        for g in [1, 5, 9, i64::MAX, 2] {
            let of: Vec<LogEntry> = list.of(GoroutineId(g)).collect();
            let scan: Vec<LogEntry> = want.iter().copied().filter(|l| l.g.0 == g).collect();
            assert_eq!(of, scan, "goroutine {g}");
        }
    }

    /// A time window finds what a scan finds, at block edges too.
    #[test]
    fn a_window_finds_what_a_scan_finds() {
        let want = sorted(logs());
        let list = LogList::from_logs(logs());
        for g in [1, 5, 9, i64::MAX] {
            for (start_ns, end_ns) in [(0, 0), (0, 1_000), (5_000, 90_000), (100_999, 101_006), (i64::MIN, i64::MAX)] {
                let got: Vec<LogEntry> = list.of_in(GoroutineId(g), start_ns, end_ns).collect();
                let scan: Vec<LogEntry> =
                    want.iter().copied().filter(|l| l.g.0 == g && (start_ns..=end_ns).contains(&l.time_ns)).collect();
                assert_eq!(got, scan, "goroutine {g} in [{start_ns}, {end_ns}]");
            }
        }
        assert_eq!(list.of_in(GoroutineId(2), i64::MIN, i64::MAX).count(), 0);
    }

    /// The markers planned are those a scan of every log in view draws,
    /// at every zoom.
    #[test]
    fn the_plan_marks_what_a_scan_marks() {
        let mut logs = logs();
        // And one goroutine with a long, dense run of logs.
        logs.extend((0..20_000).map(|i| LogEntry {
            time_ns: i * 37 + (i % 5) * 3,
            g: GoroutineId(5),
            task: 0,
            category: StrId(0),
            message: StrId(0),
        }));
        let list = LogList::from_logs(logs.clone());
        let want = sorted(logs);
        for g in [1, 5, 9, i64::MAX, 2] {
            for (start_ns, end_ns, width_px) in
                [(0, 1_000_000, 1_000.0), (0, 400_000, 300.0), (3_000, 9_000, 1_200.0), (-50, 50, 10.0), (0, 0, 5.0)]
            {
                let view = View { start_ns, end_ns, width_px };
                let gap_ns = 7.0 * view.ns_per_px();
                let mut scan: Vec<i64> = Vec::new();
                for l in want.iter().filter(|l| l.g.0 == g && (start_ns..=end_ns).contains(&l.time_ns)) {
                    if scan.last().is_none_or(|&last| (l.time_ns - last) as f64 >= gap_ns) {
                        scan.push(l.time_ns);
                    }
                }
                assert_eq!(list.plan(GoroutineId(g), &view, 7.0), scan, "goroutine {g} in {view:?}");
            }
        }
    }

    /// Logs a service writes take a few bytes each, not 36.
    #[test]
    fn a_log_takes_a_few_bytes() {
        let logs: Vec<LogEntry> = (0..100_000)
            .map(|i| LogEntry {
                time_ns: 1_000_000_000 + i * 6_400,
                g: GoroutineId(100 + i % 10),
                task: 0,
                category: StrId(3),
                message: StrId(1_000 + i as u32),
            })
            .collect();
        let list = LogList::from_logs(logs);
        let per_log = list.heap_bytes() as f64 / list.len() as f64;
        assert!(per_log <= 10.0, "{per_log} bytes a log");
    }
}
