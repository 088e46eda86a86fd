//! Blocking profiles by stack, as `go tool trace -pprof=net|sync|syscall|sched`
//! computes them: for each stack, how often and for how long goroutines
//! waited there.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::sched::runnable_stack;
use super::{Filter, TimeRange};
use crate::model::{Goroutine, Timeline};
use crate::stacks::StackId;
use crate::state::{Category, GState};

/// Which waits a profile counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// Network I/O waits (`-pprof=net`).
    Net,
    /// Waits on channels, `select` and sync primitives (`-pprof=sync`): the
    /// block reasons that name "chan", "sync" or "select", which includes
    /// `synctest` bubbles.
    Sync,
    /// System calls (`-pprof=syscall`).
    Syscall,
    /// Waits for a P (`-pprof=sched`), by where the goroutine became
    /// runnable (see [`crate::analysis::RunnableWait::stack`]).
    Sched,
}

impl ProfileKind {
    /// All kinds.
    pub const ALL: [ProfileKind; 4] = [ProfileKind::Net, ProfileKind::Sync, ProfileKind::Syscall, ProfileKind::Sched];

    /// The name `go tool trace -pprof` uses.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::Net => "net",
            ProfileKind::Sync => "sync",
            ProfileKind::Syscall => "syscall",
            ProfileKind::Sched => "sched",
        }
    }

    /// Whether a span in state `s` counts.
    pub fn matches(self, s: GState) -> bool {
        match self {
            ProfileKind::Net => s == GState::Network,
            ProfileKind::Sync => matches!(
                s,
                GState::ChanSend
                    | GState::ChanRecv
                    | GState::Select
                    | GState::Mutex
                    | GState::RwMutex
                    | GState::WaitGroup
                    | GState::Cond
                    | GState::Sync
                    | GState::Synctest
            ),
            ProfileKind::Syscall => s == GState::Syscall,
            ProfileKind::Sched => s.category() == Category::Runnable,
        }
    }

    /// Whether the kind is chosen by block reason, which a goroutine
    /// already waiting when the trace starts does not have.
    fn needs_reason(self) -> bool {
        matches!(self, ProfileKind::Net | ProfileKind::Sync)
    }
}

/// The waits at one stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileEntry {
    /// The stack.
    pub stack: StackId,
    /// Total time waited inside the filter's range.
    pub total_ns: i64,
    /// Number of waits.
    pub count: u64,
}

/// The blocking profile of `kind` over the selected goroutines: per stack,
/// the number of waits and their total time inside the filter's range;
/// most time first, ties by stack ID.
///
/// As in Go, a wait counts once it is over (a goroutine still waiting when
/// the trace ends is left out), only for the part inside the range, and only
/// if that part is longer than zero; net and sync waits count only if the
/// trace saw them begin (their reason is unknown otherwise).
pub fn blocking_profile(tl: &Timeline, kind: ProfileKind, filter: &Filter) -> Vec<ProfileEntry> {
    profile(tl, kind, filter, false)
}

/// [`blocking_profile`] as `go tool trace -pprof=KIND` writes it to a file
/// (and as its web UI's profiles show it).
///
/// The tool clips each goroutine's waits to the goroutine's life as its
/// goroutine summary sees it, which starts when the goroutine first runs in
/// the trace. So waits before a goroutine's first run (the wait between its
/// creation and first run, or a wait already under way when the trace
/// starts) are left out, unless the goroutine never runs at all, in which
/// case all its waits count. [`blocking_profile`] counts them, as Go's
/// profile functions do when called without that clipping.
pub fn go_tool_blocking_profile(tl: &Timeline, kind: ProfileKind, filter: &Filter) -> Vec<ProfileEntry> {
    profile(tl, kind, filter, true)
}

/// When `g` first runs (the start of its first running span).
fn first_run_ns(g: &Goroutine) -> Option<i64> {
    let mut first = None;
    for b in 0..g.track.block_count() {
        g.track.for_each_in_block(b, |s| {
            if first.is_none() && Goroutine::state(&s) == GState::Running {
                first = Some(s.start_ns);
            }
        });
        if first.is_some() {
            break;
        }
    }
    first
}

/// Total time and count of waits per stack.
type ByStack = FxHashMap<StackId, (i64, u64)>;

fn profile(tl: &Timeline, kind: ProfileKind, filter: &Filter, from_first_run: bool) -> Vec<ProfileEntry> {
    // Sums per stack on each thread, then added up: integer sums, so the
    // totals do not depend on the split, and the final sort is total.
    let by_stack = tl
        .goroutines
        .par_iter()
        .filter(|g| filter.includes(g.id))
        .fold(ByStack::default, |mut by_stack, g| {
            add_waits(&mut by_stack, tl, g, kind, filter.range, from_first_run);
            by_stack
        })
        .reduce(ByStack::default, merge);
    let mut out: Vec<ProfileEntry> =
        by_stack.into_iter().map(|(stack, (total_ns, count))| ProfileEntry { stack, total_ns, count }).collect();
    out.sort_unstable_by_key(|e| (std::cmp::Reverse(e.total_ns), e.stack));
    out
}

/// Adds the waits of `g` that count for `kind` inside `range` (see
/// [`blocking_profile`] and [`go_tool_blocking_profile`]).
fn add_waits(
    by_stack: &mut ByStack,
    tl: &Timeline,
    g: &Goroutine,
    kind: ProfileKind,
    range: TimeRange,
    from_first_run: bool,
) {
    let last = g.track.len().saturating_sub(1);
    let runs_from = if from_first_run { first_run_ns(g) } else { None };
    super::for_each_clipped(g, range, |i, s, start, end| {
        let state = Goroutine::state(s);
        let unknown_reason = i == 0 && g.created_ns().is_none() && kind.needs_reason();
        let start = runs_from.map_or(start, |t| start.max(t));
        if i == last || end <= start || unknown_reason || !kind.matches(state) {
            return;
        }
        let stack = if kind == ProfileKind::Sched { runnable_stack(tl, g, s) } else { s.stack };
        let e = by_stack.entry(stack).or_default();
        // Saturating, as everywhere a damaged trace's times add up.
        e.0 = e.0.saturating_add(end - start);
        e.1 += 1;
    });
}

/// Adds the smaller map's sums into the larger's.
fn merge(a: ByStack, b: ByStack) -> ByStack {
    let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    for (stack, (total_ns, count)) in small {
        let e = big.entry(stack).or_default();
        e.0 = e.0.saturating_add(total_ns);
        e.1 += count;
    }
    big
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::TimeRange;
    use crate::analysis::testutil::{goroutine, stack};
    use crate::origins::Origin;
    use crate::strings::StrId;
    use trace_core::GoroutineId;

    #[test]
    fn waits_add_up_per_stack() {
        let mut tl = Timeline::default();
        let (recv, sel, sys, wake) = (
            stack(&mut tl, &["main", "recv"]),
            stack(&mut tl, &["main", "sel"]),
            stack(&mut tl, &["main", "read"]),
            stack(&mut tl, &["main", "send"]),
        );
        let spans = [
            (0, GState::ChanRecv, recv, -1, -1), // first span of a goroutine older than the trace
            (5, GState::Runnable, wake, 2, -1),
            (7, GState::Running, StackId::NONE, 0, -1),
            (10, GState::ChanRecv, recv, -1, -1),
            (40, GState::Runnable, wake, 2, -1),
            (45, GState::Running, StackId::NONE, 0, -1),
            (50, GState::Select, sel, -1, -1),
            (60, GState::Preempted, sel, -1, -1),
            (61, GState::Running, StackId::NONE, 0, -1),
            (70, GState::Syscall, sys, -1, -1),
            (90, GState::Running, StackId::NONE, 0, -1),
            (95, GState::ChanRecv, recv, -1, -1), // still waiting at the end
        ];
        tl.goroutines.push(goroutine(1, StrId(0), &spans, 200));
        let p = |k| blocking_profile(&tl, k, &Filter::all());
        assert_eq!(
            p(ProfileKind::Sync),
            [ProfileEntry { stack: recv, total_ns: 30, count: 1 }, ProfileEntry { stack: sel, total_ns: 10, count: 1 },]
        );
        assert_eq!(p(ProfileKind::Syscall), [ProfileEntry { stack: sys, total_ns: 20, count: 1 }]);
        assert_eq!(
            p(ProfileKind::Sched),
            [ProfileEntry { stack: wake, total_ns: 7, count: 2 }, ProfileEntry { stack: sel, total_ns: 1, count: 1 },]
        );
        assert!(p(ProfileKind::Net).is_empty());
        // Clipped to [30, 55): 10 of receive, 5 of select, 5 runnable.
        let p = blocking_profile(&tl, ProfileKind::Sync, &Filter::range(TimeRange::new(30, 55)));
        assert_eq!(
            p,
            [ProfileEntry { stack: recv, total_ns: 10, count: 1 }, ProfileEntry { stack: sel, total_ns: 5, count: 1 }]
        );
    }

    #[test]
    fn go_tool_profiles_skip_waits_before_the_first_run() {
        let mut tl = Timeline::default();
        let (create, recv, wake) =
            (stack(&mut tl, &["main", "go"]), stack(&mut tl, &["main", "recv"]), stack(&mut tl, &["main", "send"]));
        // Created at 0 (waits 10 to run), then a receive; a second goroutine
        // in a syscall when the trace starts and never running.
        let g = goroutine(
            1,
            StrId(0),
            &[
                (0, GState::Created, create, -1, -1),
                (10, GState::Running, StackId::NONE, 0, -1),
                (20, GState::ChanRecv, recv, -1, -1),
                (50, GState::Runnable, wake, 2, -1),
                (53, GState::Running, StackId::NONE, 0, -1),
            ],
            100,
        );
        let origin = tl.origins.intern(Origin { parent: GoroutineId(2), creation_stack: create });
        tl.goroutines.push(Goroutine::new(g.id, origin, g.start_fn(), true, g.track));
        tl.goroutines.push(goroutine(
            2,
            StrId(0),
            &[(0, GState::Syscall, recv, -1, -1), (40, GState::Exited, StackId::NONE, -1, -1)],
            40,
        ));
        let sched = |f: fn(&Timeline, ProfileKind, &Filter) -> Vec<ProfileEntry>| {
            f(&tl, ProfileKind::Sched, &Filter::all()).iter().map(|e| e.total_ns).sum::<i64>()
        };
        assert_eq!(sched(blocking_profile), 13);
        assert_eq!(sched(go_tool_blocking_profile), 3, "the wait to first run is left out");
        assert_eq!(
            go_tool_blocking_profile(&tl, ProfileKind::Sync, &Filter::all()),
            [ProfileEntry { stack: recv, total_ns: 30, count: 1 }]
        );
        // g2 never runs, so its syscall counts whole.
        assert_eq!(
            go_tool_blocking_profile(&tl, ProfileKind::Syscall, &Filter::all()),
            [ProfileEntry { stack: recv, total_ns: 40, count: 1 }]
        );
        // The first run is found outside the filter's range too.
        let later = Filter::range(TimeRange::new(30, 100));
        assert_eq!(
            go_tool_blocking_profile(&tl, ProfileKind::Sync, &later),
            [ProfileEntry { stack: recv, total_ns: 20, count: 1 }]
        );
    }

    #[test]
    fn sync_matches_the_reasons_go_counts() {
        // Go's block reasons (runtime/traceruntime.go); `-pprof=sync` takes
        // those containing "chan", "sync" or "select".
        let reasons = [
            "unspecified",
            "forever",
            "network",
            "select",
            "sync.(*Cond).Wait",
            "sync",
            "chan send",
            "chan receive",
            "GC mark assist wait for work",
            "GC background sweeper wait",
            "system goroutine wait",
            "preempted",
            "wait for debug call",
            "wait until GC ends",
            "sleep",
            "GC weak to strong wait",
            "synctest",
        ];
        for r in reasons {
            let s = GState::from_block_reason(r.as_bytes());
            let go = r.contains("chan") || r.contains("sync") || r.contains("select");
            assert_eq!(ProfileKind::Sync.matches(s), go, "{r}");
            assert_eq!(ProfileKind::Net.matches(s), r == "network", "{r}");
        }
        // "sync" is refined by the stack into the primitive.
        for s in [GState::Mutex, GState::RwMutex, GState::WaitGroup] {
            assert!(ProfileKind::Sync.matches(s));
        }
        assert!(ProfileKind::Sched.matches(GState::Created));
        assert!(!ProfileKind::Sched.matches(GState::Running));
    }
}
