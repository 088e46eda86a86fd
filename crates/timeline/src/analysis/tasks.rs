//! User tasks and regions (`runtime/trace.NewTask`, `trace.WithRegion`) by
//! type: how many and how long, as `go tool trace`'s "User-defined tasks"
//! and "User-defined regions" pages count them (regions by type and by
//! where they began, as that page splits them); the tasks or regions of
//! one such row, longest first; where a region row's time goes, by
//! goroutine state; and what happened in one task, in time order.
//!
//! ```no_run
//! use timeline::analysis::{task_types, tasks_of_type};
//! use timeline::{Progress, build};
//!
//! let tl = build(&std::fs::read("trace.out").unwrap(), &Progress::default()).unwrap();
//! for t in task_types(&tl) {
//!     let p99 = t.durations.map(|d| d.p99_ns);
//!     println!("{}: {} tasks, p99 {p99:?} ns", tl.strings.get(t.typ), t.count);
//!     if let Some(longest) = tasks_of_type(&tl, t.typ).first().and_then(|&i| tl.tasks.get(i)) {
//!         println!("  longest: task {}", longest.id);
//!     }
//! }
//! ```

use std::cmp::Reverse;
use std::collections::BTreeMap;

use rayon::prelude::*;
use trace_core::GoroutineId;

use super::DurationStats;
use crate::model::{Region, Task, Timeline};
use crate::stacks::Frame;
use crate::state::GState;
use crate::strings::StrId;

/// How many tasks (or regions) of one type, and how long they took.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeSummary {
    /// The type, as given to `NewTask` or `WithRegion`.
    pub typ: StrId,
    /// For regions, where they began (see [`region_site`]); `None` for
    /// tasks, and for regions begun without a stack.
    pub site: Option<Frame>,
    /// How many, complete or not.
    pub count: usize,
    /// Durations of the complete ones (see [`task_types`] and
    /// [`region_types`] for which those are); `None` if none is.
    pub durations: Option<DurationStats>,
}

/// Where a task lies on the trace's time line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskSpan {
    /// Its start, or the trace's start if it began before the trace.
    pub start_ns: i64,
    /// Its end, or the trace's end if it did not end in the trace.
    pub end_ns: i64,
    /// Whether both its start and its end are in the trace.
    pub complete: bool,
}

impl TaskSpan {
    /// Its length.
    pub fn duration_ns(&self) -> i64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// Where `task` lies (as `go tool trace` takes a task's interval).
pub fn task_span(tl: &Timeline, task: &Task) -> TaskSpan {
    TaskSpan {
        start_ns: task.start_ns.unwrap_or(tl.start_ns),
        end_ns: task.end_ns.unwrap_or(tl.end_ns),
        complete: task.start_ns.is_some() && task.end_ns.is_some(),
    }
}

/// Task types sorted by name: every task counts, only complete ones give a
/// duration (`go tool trace` shows the same counts and histograms).
pub fn task_types(tl: &Timeline) -> Vec<TypeSummary> {
    summarise(tl, tl.tasks.iter().map(|t| (t.typ, task_span(tl, &t))))
}

/// Region types sorted by name, each split by where its regions began
/// ([`region_site`]), as `go tool trace`'s regions page splits them; the
/// rows of one type are sorted by function, file and line. Every region
/// gives a duration: one that began before the trace counts from its
/// start, one still open at the end runs to the end, as `go tool trace`
/// takes them.
pub fn region_types(tl: &Timeline) -> Vec<TypeSummary> {
    let mut by_row: BTreeMap<(StrId, Option<Frame>), (usize, Vec<i64>)> = BTreeMap::new();
    for r in tl.regions.iter() {
        let (count, durations) = by_row.entry((r.typ, region_site(tl, &r))).or_default();
        *count += 1;
        durations.push(r.end_ns.saturating_sub(r.start_ns));
    }
    let mut out: Vec<TypeSummary> = by_row
        .into_iter()
        .map(|((typ, site), (count, durations))| TypeSummary {
            typ,
            site,
            count,
            durations: DurationStats::from_durations(durations),
        })
        .collect();
    let site_key = |t: &TypeSummary| t.site.map(|f| (tl.strings.get(f.func), tl.strings.get(f.file), f.line));
    out.sort_by(|a, b| {
        let by_name = tl.strings.get(a.typ).cmp(tl.strings.get(b.typ)).then(a.typ.cmp(&b.typ));
        by_name.then_with(|| site_key(a).cmp(&site_key(b))).then(a.site.cmp(&b.site))
    });
    out
}

/// Where a region began, as `go tool trace`'s regions page tells apart
/// the regions of one type: the outermost frame of the stack it began in
/// (for a region on a goroutine that `go f()` started, the line of `f`
/// that led to it). `None` if it began before the trace or without a
/// stack.
pub fn region_site(tl: &Timeline, r: &Region) -> Option<Frame> {
    tl.stacks.outermost(r.stack)
}

/// Summaries by type name (types with the same name are one: a name can be
/// interned once only, but the order must not depend on interning).
fn summarise(tl: &Timeline, spans: impl Iterator<Item = (StrId, TaskSpan)>) -> Vec<TypeSummary> {
    let mut by_type: BTreeMap<StrId, (usize, Vec<i64>)> = BTreeMap::new();
    for (typ, span) in spans {
        let (count, durations) = by_type.entry(typ).or_default();
        *count += 1;
        if span.complete {
            durations.push(span.duration_ns());
        }
    }
    let mut out: Vec<TypeSummary> = by_type
        .into_iter()
        .map(|(typ, (count, durations))| TypeSummary {
            typ,
            site: None,
            count,
            durations: DurationStats::from_durations(durations),
        })
        .collect();
    out.sort_by(|a, b| tl.strings.get(a.typ).cmp(tl.strings.get(b.typ)).then(a.typ.cmp(&b.typ)));
    out
}

/// Indices into [`Timeline::tasks`] of the tasks of type `typ`, longest
/// first; ties go to the earlier start, then the lower ID.
pub fn tasks_of_type(tl: &Timeline, typ: StrId) -> Vec<usize> {
    // Keyed once each: `get` by index would decode a block per comparison.
    let mut keyed: Vec<(_, usize)> = (tl.tasks.iter().enumerate())
        .filter(|(_, t)| t.typ == typ)
        .map(|(i, t)| {
            let s = task_span(tl, &t);
            ((Reverse(s.duration_ns()), s.start_ns, t.id), i)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Indices into [`Timeline::regions`] of the regions of type `typ` begun
/// at `site` (a row of [`region_types`]), longest first; ties go to the
/// earlier start, then the lower goroutine ID.
pub fn regions_of_type(tl: &Timeline, typ: StrId, site: Option<Frame>) -> Vec<usize> {
    // Keyed once each: `get` by index would decode a block per comparison.
    let mut keyed: Vec<(_, usize)> = (tl.regions.iter().enumerate())
        .filter(|(_, r)| r.typ == typ && region_site(tl, r) == site)
        .map(|(i, r)| ((Reverse(r.end_ns.saturating_sub(r.start_ns)), r.start_ns, r.g), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// Time the goroutines of the regions of type `typ` begun at `site` (a row
/// of [`region_types`]) spent in each state inside those regions, indexed
/// by state code (as [`Goroutine::state_totals`](crate::Goroutine::state_totals)
/// gives it): where such a region's time goes, like the per-region
/// breakdown of `go tool trace`'s regions page summed over the row. Summed
/// on all threads, saturating (times are never negative, so in any order).
pub fn region_state_totals(tl: &Timeline, typ: StrId, site: Option<Frame>) -> [i64; GState::COUNT] {
    let add = |mut a: [i64; GState::COUNT], b: [i64; GState::COUNT]| {
        for (acc, v) in a.iter_mut().zip(b) {
            *acc = acc.saturating_add(v);
        }
        a
    };
    let of_row: Vec<Region> = tl.regions.iter().filter(|r| r.typ == typ && region_site(tl, r) == site).collect();
    of_row
        .par_iter()
        .filter_map(|r| Some(tl.goroutine(r.g)?.state_totals(r.start_ns, r.end_ns)))
        .reduce(|| [0; GState::COUNT], add)
}

/// What happened in a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEventKind {
    /// The task began.
    Begin,
    /// The task ended.
    End,
    /// A log message: category and text.
    Log(StrId, StrId),
    /// A region of the task began (its type).
    RegionBegin(StrId),
    /// A region of the task ended (its type).
    RegionEnd(StrId),
}

/// One thing that happened in a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskEvent {
    /// When.
    pub time_ns: i64,
    /// On which goroutine (not known for the task's beginning and end).
    pub g: Option<GoroutineId>,
    /// What.
    pub kind: TaskEventKind,
}

/// The beginning, end, logs and regions of task `id` in time order (ties
/// in that order of kinds, then by goroutine), as `go tool trace` lists
/// them on a task's page. Regions cut by the trace's edges begin or end
/// there; a task's own beginning or end outside the trace is left out.
pub fn task_events(tl: &Timeline, id: u64) -> Vec<TaskEvent> {
    let mut out = Vec::new();
    if let Some(t) = tl.tasks.find(id) {
        let ends = [(t.start_ns, TaskEventKind::Begin), (t.end_ns, TaskEventKind::End)];
        out.extend(ends.into_iter().filter_map(|(time, kind)| Some(TaskEvent { time_ns: time?, g: None, kind })));
    }
    for l in tl.logs.iter().filter(|l| l.task == id) {
        out.push(TaskEvent { time_ns: l.time_ns, g: Some(l.g), kind: TaskEventKind::Log(l.category, l.message) });
    }
    for r in tl.regions.iter().filter(|r| r.task == id) {
        out.push(TaskEvent { time_ns: r.start_ns, g: Some(r.g), kind: TaskEventKind::RegionBegin(r.typ) });
        out.push(TaskEvent { time_ns: r.end_ns, g: Some(r.g), kind: TaskEventKind::RegionEnd(r.typ) });
    }
    let rank = |k: &TaskEventKind| match k {
        TaskEventKind::Begin => 0,
        TaskEventKind::RegionBegin(_) => 1,
        TaskEventKind::Log(..) => 2,
        TaskEventKind::RegionEnd(_) => 3,
        TaskEventKind::End => 4,
    };
    out.sort_by_key(|e| (e.time_ns, rank(&e.kind), e.g));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LogEntry;
    use crate::regions::RegionList;
    use crate::stacks::StackId;
    use crate::tasktable::TaskTable;

    fn timeline() -> Timeline {
        let mut tl = Timeline { start_ns: 0, end_ns: 1000, ..Timeline::default() };
        let (a, b) = (tl.strings.intern(b"b-type"), tl.strings.intern(b"a-type"));
        let task = |id, typ, start_ns, end_ns| Task { id, parent: 0, typ, start_ns, end_ns, goroutines: Vec::new() };
        tl.tasks = TaskTable::from_tasks(vec![
            task(1, a, Some(100), Some(400)),
            task(2, a, Some(200), None),
            task(3, a, None, Some(50)),
            task(4, b, Some(10), Some(20)),
            task(5, a, Some(500), Some(800)),
        ]);
        let region = |g, start_ns, end_ns, task| Region {
            g: GoroutineId(g),
            start_ns,
            end_ns,
            task,
            typ: b,
            depth: 0,
            stack: StackId::NONE,
        };
        tl.regions =
            RegionList::from_regions(vec![region(7, 120, 130, 1), region(8, 0, 300, 1), region(9, 600, 1000, 5)]);
        let cat = tl.strings.intern(b"cat");
        let msg = tl.strings.intern(b"msg");
        tl.logs = crate::LogList::from_logs(vec![
            LogEntry { time_ns: 120, g: GoroutineId(7), task: 1, category: cat, message: msg },
            LogEntry { time_ns: 150, g: GoroutineId(7), task: 2, category: cat, message: msg },
        ]);
        tl
    }

    #[test]
    fn types_count_every_task_and_time_the_complete_ones() {
        let tl = timeline();
        let types = task_types(&tl);
        let names: Vec<&str> = types.iter().map(|t| tl.strings.get(t.typ)).collect();
        assert_eq!(names, ["a-type", "b-type"], "sorted by name, not by interning order");
        let b = crate::analysis::found(types.get(1), "b-type");
        assert_eq!(b.count, 4);
        let d = crate::analysis::found(b.durations, "durations");
        // Tasks 1 and 5 (300 ns each); 2 never ended, 3 began before the trace.
        assert_eq!((d.count, d.min_ns, d.max_ns, d.total_ns), (2, 300, 300, 600));
        let regions = region_types(&tl);
        assert_eq!(regions.len(), 1);
        let r = crate::analysis::found(regions.first(), "regions");
        assert_eq!(r.count, 3);
        let d = crate::analysis::found(r.durations, "region durations");
        assert_eq!((d.min_ns, d.max_ns, d.total_ns), (10, 400, 710));
    }

    #[test]
    fn lists_are_longest_first() {
        let tl = timeline();
        let typ = |name: &str| crate::analysis::found(tl.strings.find(name), "type");
        let ids: Vec<u64> =
            tasks_of_type(&tl, typ("b-type")).iter().filter_map(|&i| tl.tasks.get(i)).map(|t| t.id).collect();
        // Task 2 runs from 200 to the trace's end (800 ns); 1 and 5 tie at
        // 300 ns and go by start; 3 runs from the trace's start to 50.
        assert_eq!(ids, [2, 1, 5, 3]);
        let gs: Vec<i64> = regions_of_type(&tl, typ("a-type"), None)
            .iter()
            .filter_map(|&i| tl.regions.get(i))
            .map(|r| r.g.0)
            .collect();
        assert_eq!(gs, [9, 8, 7]);
    }

    /// Regions of one type begun in different places are different rows,
    /// told apart by the outermost frame of their start stacks (as `go
    /// tool trace`'s regions page does), ordered by function, file, line.
    #[test]
    fn region_rows_split_by_where_they_began() {
        let mut tl = timeline();
        let id = |tl: &mut Timeline, s: &str| tl.strings.intern(s.as_bytes());
        let (file, inner, f, g) =
            (id(&mut tl, "x.go"), id(&mut tl, "inner"), id(&mut tl, "main.f"), id(&mut tl, "main.g"));
        let frame = |func, line| Frame { func, file, line };
        let at = |tl: &mut Timeline, outer: Frame| tl.stacks.insert(&[frame(inner, 5), frame(f, 7), outer]);
        let (f10, f12, g3) = (at(&mut tl, frame(f, 10)), at(&mut tl, frame(f, 12)), at(&mut tl, frame(g, 3)));
        // A stack that is only its outermost frame.
        let g3_alone = tl.stacks.insert(&[frame(g, 3)]);
        let stacks = [f12, f10, StackId::NONE, g3, f10, g3_alone];
        tl.regions = stacks
            .iter()
            .enumerate()
            .map(|(i, &stack)| {
                let (g, start_ns) = (GoroutineId(i as i64), 100 * i as i64);
                Region { g, start_ns, end_ns: start_ns + 10 * (i as i64 + 1), task: 0, typ: inner, depth: 0, stack }
            })
            .collect();
        // (line and function of the site, count, total ns) per row.
        type Row<'s> = (Option<(u32, &'s str)>, usize, i64);
        let rows: Vec<Row> = region_types(&tl)
            .iter()
            .map(|r| {
                let site = r.site.map(|s| (s.line, tl.strings.get(s.func)));
                (site, r.count, r.durations.map_or(0, |d| d.total_ns))
            })
            .collect();
        let want = [
            (None, 1, 30),
            (Some((10, "main.f")), 2, 20 + 50),
            (Some((12, "main.f")), 1, 10),
            (Some((3, "main.g")), 2, 40 + 60),
        ];
        assert_eq!(rows, want);
        let listed = |site| -> Vec<i64> {
            regions_of_type(&tl, inner, site).iter().filter_map(|&i| tl.regions.get(i)).map(|r| r.g.0).collect()
        };
        assert_eq!(listed(Some(frame(f, 10))), [4, 1]);
        assert_eq!(listed(Some(frame(g, 3))), [5, 3]);
        assert_eq!(listed(None), [2]);
    }

    #[test]
    fn a_task_lists_its_events_in_time_order() {
        let tl = timeline();
        let kinds: Vec<(i64, TaskEventKind)> = task_events(&tl, 1).iter().map(|e| (e.time_ns, e.kind)).collect();
        let id = |name: &str| crate::analysis::found(tl.strings.find(name), "string");
        let (cat, msg, b) = (id("cat"), id("msg"), id("a-type"));
        assert_eq!(
            kinds,
            [
                (0, TaskEventKind::RegionBegin(b)),
                (100, TaskEventKind::Begin),
                (120, TaskEventKind::RegionBegin(b)),
                (120, TaskEventKind::Log(cat, msg)),
                (130, TaskEventKind::RegionEnd(b)),
                (300, TaskEventKind::RegionEnd(b)),
                (400, TaskEventKind::End),
            ]
        );
        // A task that began before the trace has no beginning.
        assert_eq!(task_events(&tl, 3).first().map(|e| e.kind), Some(TaskEventKind::End));
        assert!(task_events(&tl, 99).is_empty());
    }
}
