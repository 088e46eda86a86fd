//! The goroutine table: every goroutine with its lifetime and time per kind
//! of state, sortable and filterable, or grouped by start function with
//! percentiles and a histogram per group. Clicking a goroutine selects it on
//! the timeline.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui::Ui;
use rayon::iter::{IntoParallelIterator, IntoParallelRefIterator, ParallelIterator};
use rayon::slice::ParallelSliceMut;
use timeline::analysis::{FunctionGroup, GoroutineRow, GoroutineTable, LogHist, RowTime, Stop};
use timeline::ticks::format_duration;
use timeline::{GState, Goroutine, Timeline};
use trace_core::GoroutineId;

use super::exact::ExactPercentiles;
use super::job::{Job, JobProgress, JobState};
use super::table::{self, Cell, Col, Sort};
use super::{Cached, PanelInput, TraceKey, show_around, took_label};
use crate::theme::Theme;
use crate::view::ViewCommand;

/// How often the table's thread reports progress and checks whether it
/// should stop (each step spreads its goroutines over rayon's threads).
const STEP_BUDGET: Duration = Duration::from_millis(50);
/// Names of the bins of [`LogHist::decades`].
const DECADE_NAMES: [&str; 8] = ["< 1µs", "1-10µs", "10-100µs", "100µs-1ms", "1-10ms", "10-100ms", "100ms-1s", ">= 1s"];
/// Goroutine rows from which a new sort, or a new filter, runs on a thread
/// of its own (the rows shown stay until it is done): 7.4 M rows take about
/// half a second to sort, and up to 0.2 s to filter, which would freeze the
/// window (the filter at every keystroke).
const ON_THREAD_ROWS: usize = 1_000_000;
/// Most rows "Copy CSV" copies.
const CSV_MAX_ROWS: usize = 200_000;

const G_COLS: [Col; 8] = [
    Col::num("ID", 80.0, "Goroutine ID"),
    Col::text("Start function", 0.0, "The function the goroutine started in"),
    Col::num("Lifetime", 90.0, "From creation (or the start of the trace) to exit (or the end of the trace)"),
    Col::num("Running", 90.0, "Time on a P"),
    Col::num("Runnable", 90.0, "Scheduling latency: time waiting for a P"),
    Col::num("Blocked", 90.0, "Time blocked, all reasons together"),
    Col::text("Blocked most on", 190.0, "The reason it was blocked longest (hover a row for all)"),
    Col::num("Syscall", 90.0, "Time in system calls"),
];

const GROUP_COLS: [Col; 12] = [
    Col::text("Start function", 0.0, "Goroutines grouped by the function they started in"),
    Col::num("Count", 84.0, "Goroutines"),
    Col::num("Running", 85.0, "Total time on a P"),
    Col::num("Runnable", 85.0, "Total time waiting for a P"),
    Col::num("Run p50", 75.0, "Median runnable wait (within ~6% until the exact one is computed)"),
    Col::num("Run p95", 75.0, "95th percentile runnable wait (within ~6% until the exact one is computed)"),
    Col::num("Run p99", 75.0, "99th percentile runnable wait (within ~6% until the exact one is computed)"),
    Col::num("Blocked", 85.0, "Total time blocked"),
    Col::num("Blk p50", 75.0, "Median blocked span (within ~6% until the exact one is computed)"),
    Col::num("Blk p95", 75.0, "95th percentile blocked span (within ~6% until the exact one is computed)"),
    Col::num("Blk p99", 75.0, "99th percentile blocked span (within ~6% until the exact one is computed)"),
    Col::text("Histogram", 110.0, "Spans per decade: <1µs, 1-10µs, ... >=1s"),
];

/// Which spans the group histogram counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HistOf {
    /// Blocked spans.
    #[default]
    Blocked,
    /// Runnable waits.
    Runnable,
}

/// Settings and caches of the goroutine table.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GoroutinesState {
    /// Function substring or goroutine ID.
    pub filter: String,
    /// One row per start function instead of per goroutine.
    pub grouped: bool,
    /// Sort of the goroutine rows.
    pub sort: Sort,
    /// Sort of the group rows.
    pub group_sort: Sort,
    /// What the group histograms count.
    pub hist: HistOf,
    /// The table's numbers (on a big trace computed on a thread of its own).
    #[serde(skip)]
    table: Cached<TraceKey, Arc<GoroutineTable>>,
    /// Exact percentiles of the start-function rows, once computed.
    #[serde(skip)]
    exact: Cached<TraceKey, Arc<ExactPercentiles>>,
    /// Held by a test to keep the exact percentiles computing while it
    /// looks at the panel; the thread waits for it before it starts.
    #[serde(skip)]
    pub(super) exact_gate: Option<Arc<Mutex<()>>>,
    /// The order shown; while `sorting`, the one from before.
    #[serde(skip)]
    order: Option<(OrderKey, Arc<Vec<u32>>)>,
    /// A new order of many goroutine rows, being sorted on its own thread.
    #[serde(skip)]
    pub(super) sorting: Option<(OrderKey, Job<Vec<u32>>)>,
    /// Rows from which a new order is sorted, and a new filter applied, on
    /// a thread of its own ([`ON_THREAD_ROWS`]; tests lower it).
    #[serde(skip)]
    pub(super) thread_rows: usize,
    /// The rows shown; while `filtering`, the ones from before.
    #[serde(skip)]
    visible: Option<(VisibleKey, Shown)>,
    /// The filter of many goroutine rows, being applied on its own thread.
    #[serde(skip)]
    pub(super) filtering: Option<(VisibleKey, Job<Vec<u32>>)>,
    #[serde(skip)]
    selected: Option<u32>,
    #[serde(skip)]
    note: Option<String>,
}

impl Default for GoroutinesState {
    fn default() -> Self {
        GoroutinesState {
            filter: String::new(),
            grouped: false,
            sort: Sort { col: 5, descending: true },
            group_sort: Sort { col: 7, descending: true },
            hist: HistOf::Blocked,
            table: Cached::default(),
            exact: Cached::default(),
            exact_gate: None,
            order: None,
            sorting: None,
            thread_rows: ON_THREAD_ROWS,
            visible: None,
            filtering: None,
            selected: None,
            note: None,
        }
    }
}

impl GoroutinesState {
    /// Drops results (another trace was opened).
    pub fn forget_results(&mut self) {
        self.table = Cached::default();
        self.exact = Cached::default();
        self.order = None;
        self.sorting = None;
        self.visible = None;
        self.filtering = None;
        self.selected = None;
        self.note = None;
    }

    /// The rows shown, in order (none before the first sort).
    fn shown(&self) -> &[u32] {
        match &self.visible {
            Some((_, Shown::Matched(rows))) => rows,
            Some((_, Shown::All)) => self.order.as_ref().map_or(&[], |(_, o)| o.as_slice()),
            None => &[],
        }
    }
}

/// The rows a filter lets through.
#[derive(Debug)]
enum Shown {
    /// All of the order (no filter), which is not copied: it can be millions
    /// of rows.
    All,
    /// These entries of the order, in its order.
    Matched(Vec<u32>),
}

/// What a sorted order was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OrderKey {
    trace: TraceKey,
    grouped: bool,
    sort: Sort,
    /// Groups sorted by exact percentiles.
    exact: bool,
}

/// What a filtered order was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct VisibleKey {
    order: OrderKey,
    filter: String,
}

/// The whole table, step by step, reporting progress (`None` if cancelled).
fn compute_table(tl: &Timeline, p: &JobProgress) -> Option<GoroutineTable> {
    let mut table = GoroutineTable::default();
    while !table.is_done(tl) {
        if p.is_cancelled() {
            return None;
        }
        table.step(tl, STEP_BUDGET);
        p.set_done(table.done_count());
    }
    Some(table)
}

/// The goroutine table panel.
pub fn goroutines_ui(
    ui: &mut Ui,
    input: &PanelInput<'_>,
    state: &mut GoroutinesState,
    commands: &mut Vec<ViewCommand>,
) {
    let tl = input.tl;
    let key = TraceKey::of(tl);
    let total = Some((tl.goroutines.len(), "Computing goroutine statistics"));
    if state.table.get_or_run_counted(ui, tl, &key, total, |tl, p| compute_table(tl, p).map(Arc::new)).is_none() {
        return;
    }
    sort_on_thread(ui.ctx(), tl, state, key);
    update_order(tl, state, key);
    toolbar_ui(ui, tl, state, key);
    update_order(tl, state, key);
    filter_on_thread(ui.ctx(), tl, state);
    if state.grouped {
        groups_table_ui(ui, input, state);
    } else {
        goroutine_table_ui(ui, input, state, commands);
    }
}

/// Filter, grouping, histogram choice and "Copy CSV".
fn toolbar_ui(ui: &mut Ui, tl: &Arc<Timeline>, state: &mut GoroutinesState, key: TraceKey) {
    ui.horizontal(|ui| {
        ui.label("Filter");
        ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .desired_width(220.0)
                .hint_text("function or goroutine ID")
                .id_salt("gotv_goroutine_filter"),
        );
        if !state.filter.is_empty() && ui.small_button("Clear").clicked() {
            state.filter.clear();
        }
        ui.checkbox(&mut state.grouped, "Group by start function");
        if state.grouped {
            ui.label("Histogram of");
            ui.selectable_value(&mut state.hist, HistOf::Blocked, "blocked");
            ui.selectable_value(&mut state.hist, HistOf::Runnable, "runnable");
            exact_ui(ui, tl, state, key);
        }
        if ui.button("Copy CSV").on_hover_text("Copy the rows shown, in this order, as CSV").clicked() {
            let (csv, rows) = csv(tl, state);
            ui.ctx().copy_text(csv);
            state.note = Some(format!("copied {rows} rows"));
        }
        let shown = state.shown().len();
        let total = state.order.as_ref().map_or(0, |(_, v)| v.len());
        let what = if state.grouped { "start functions" } else { "goroutines" };
        let count = |n: usize| crate::status::format_count(n as u64);
        ui.label(format!("{} of {} {what}", count(shown), count(total)));
        if let Some(n) = &state.note {
            ui.weak(n.as_str());
        }
        if state.sorting.is_some() {
            ui.weak("sorting…");
        }
        if state.filtering.is_some() {
            ui.weak("filtering…");
        }
        took_label(ui, state.table.took());
    });
}

/// The exact percentiles of the start-function rows: computed on a thread
/// on a big trace, the histograms' ones shown meanwhile.
fn exact_ui(ui: &mut Ui, tl: &Arc<Timeline>, state: &mut GoroutinesState, key: TraceKey) {
    if state.exact.is_running(&key) {
        ui.weak("exact percentiles:");
    }
    let gate = state.exact_gate.clone();
    let compute = move |tl: &Timeline, stop: Stop<'_>| {
        let _held = gate.as_ref().map(|g| g.lock());
        ExactPercentiles::compute(tl, stop).map(Arc::new)
    };
    if state.exact.get_or_run(ui, tl, &key, compute).is_some() {
        ui.weak("percentiles exact").on_hover_text("p50, p95 and p99 of every span, not of the histograms");
    }
}

/// Whether the goroutine rows are sorted and filtered on a thread of their
/// own.
fn on_thread(state: &GoroutinesState, stats: &GoroutineTable) -> bool {
    !state.grouped && stats.len() >= state.thread_rows
}

/// On a table of many goroutines, sorts the rows in a new order on a
/// thread of its own; the order shown stays until the new one is ready.
fn sort_on_thread(ctx: &egui::Context, tl: &Arc<Timeline>, state: &mut GoroutinesState, trace: TraceKey) {
    let Some(stats) = state.table.get(&trace) else { return };
    let okey = OrderKey { trace, grouped: false, sort: state.sort, exact: false };
    if !on_thread(state, stats) || state.order.as_ref().is_some_and(|(k, _)| *k == okey) {
        state.sorting = None;
        return;
    }
    let (shared, table, sort) = (Arc::clone(tl), Arc::clone(stats), okey.sort);
    let work = move || sort_rows(&shared, &table, sort);
    if let Some(order) = poll_or_start(ctx, &mut state.sorting, &okey, work, || sort_rows(tl, stats, sort)) {
        // The rows shown stay until they are filtered in the new order.
        state.order = Some((okey, Arc::new(order)));
    }
}

/// The result of the job for `key` in `slot`, once it is done (`None`
/// while it runs); if `slot` holds no job for `key`, starts `work` on a
/// thread of its own for it. If the thread is gone (it panicked), the
/// result comes from `here`, on this thread after all.
fn poll_or_start<K: Clone + PartialEq, T: Send + 'static>(
    ctx: &egui::Context,
    slot: &mut Option<(K, Job<T>)>,
    key: &K,
    work: impl FnOnce() -> T + Send + 'static,
    here: impl FnOnce() -> T,
) -> Option<T> {
    match slot {
        Some((k, job)) if k == key => {
            let out = match job.poll() {
                JobState::Running => return None,
                JobState::Done(out) => out,
                JobState::Failed => here(),
            };
            *slot = None;
            Some(out)
        }
        _ => {
            *slot = Some((key.clone(), Job::start(ctx, move |_| Some(work()))));
            None
        }
    }
}

/// Recomputes the sorted and the filtered orders if their inputs changed
/// (a sort or a filter of many rows is left to [`sort_on_thread`] and
/// [`filter_on_thread`]).
fn update_order(tl: &Timeline, state: &mut GoroutinesState, trace: TraceKey) {
    let Some(stats) = state.table.get(&trace) else { return };
    let sort = if state.grouped { state.group_sort } else { state.sort };
    let exact = state.exact.get(&trace).filter(|_| state.grouped);
    let okey = OrderKey { trace, grouped: state.grouped, sort, exact: exact.is_some() };
    if state.order.as_ref().is_none_or(|(k, _)| *k != okey) {
        if !on_thread(state, stats) {
            let order = if state.grouped {
                sort_groups(tl, stats, exact.map(|e| &**e), sort)
            } else {
                sort_rows(tl, stats, sort)
            };
            state.order = Some((okey.clone(), Arc::new(order)));
            state.visible = None;
        } else if state.order.as_ref().is_some_and(|(k, _)| k.trace != trace || k.grouped) {
            // The order shown is of other rows: show none until sorted.
            state.order = None;
            state.visible = None;
        }
    }
    let Some((shown, order)) = &state.order else { return };
    let vkey = VisibleKey { order: shown.clone(), filter: state.filter.clone() };
    if state.visible.as_ref().is_some_and(|(k, _)| *k == vkey) {
        return;
    }
    if state.filter.trim().is_empty() {
        state.visible = Some((vkey, Shown::All));
    } else if !on_thread(state, stats) {
        let rows = filter(tl, stats, state.grouped, &state.filter, order);
        state.visible = Some((vkey, Shown::Matched(rows)));
    }
}

/// On a table of many goroutines, applies a new filter on a thread of its
/// own; the rows shown stay until it is done, and typing on starts it
/// again (the stale run stops unheeded).
fn filter_on_thread(ctx: &egui::Context, tl: &Arc<Timeline>, state: &mut GoroutinesState) {
    let (Some(stats), Some((okey, order))) = (state.table.get(&TraceKey::of(tl)), &state.order) else { return };
    let vkey = VisibleKey { order: okey.clone(), filter: state.filter.clone() };
    if !on_thread(state, stats) || state.visible.as_ref().is_some_and(|(k, _)| *k == vkey) {
        state.filtering = None;
        return;
    }
    let (shared, table, all, text) = (Arc::clone(tl), Arc::clone(stats), Arc::clone(order), vkey.filter.clone());
    let work = move || filter(&shared, &table, false, &text, &all);
    let here = || filter(tl, stats, false, &vkey.filter, order);
    if let Some(rows) = poll_or_start(ctx, &mut state.filtering, &vkey, work, here) {
        state.visible = Some((vkey, Shown::Matched(rows)));
    }
}

/// Ranks of the groups by function name.
fn name_ranks(tl: &Timeline, groups: &[FunctionGroup]) -> Vec<u32> {
    let mut by_name: Vec<u32> = (0..groups.len() as u32).collect();
    by_name.sort_by_key(|&i| groups.get(i as usize).map(|g| tl.strings.get(g.start_fn)));
    let mut rank = vec![0u32; groups.len()];
    for (r, &i) in by_name.iter().enumerate() {
        if let Some(slot) = rank.get_mut(i as usize) {
            *slot = r as u32;
        }
    }
    rank
}

/// Sorts the goroutine rows (ties: goroutine ID).
fn sort_rows(tl: &Timeline, stats: &GoroutineTable, sort: Sort) -> Vec<u32> {
    let rank = name_ranks(tl, &stats.groups);
    let time = match sort.col {
        2 => Some(RowTime::Lifetime),
        3 => Some(RowTime::Running),
        4 => Some(RowTime::Runnable),
        5 => Some(RowTime::Blocked),
        6 => Some(RowTime::TopBlock),
        7 => Some(RowTime::Syscall),
        _ => None,
    };
    let key = |gi: usize| -> i64 {
        match (time, sort.col) {
            (Some(t), _) => stats.time(gi, t).unwrap_or(0),
            (None, 1) => stats.group_of(tl, gi).and_then(|g| rank.get(g as usize)).map_or(0, |&r| i64::from(r)),
            (None, _) => gi as i64,
        }
    };
    order_by_key(stats.len(), sort.descending, key)
}

/// The indices `0..n` ordered by `key` (never negative), ascending or
/// descending; ties by index, ascending.
///
/// A key and its index are sorted as one `u64`, the key (inverted when
/// descending) in the high half: 8 bytes a row rather than 16 for an
/// `(i64, u32)` pair, 59 MB rather than 118 for a 1 GB trace's 7.4 M
/// goroutines. Keys of 32 bits or more (times over 4.29 s) all take the
/// highest half, so they sort together at one end; that run alone is then
/// sorted by full key.
fn order_by_key(n: usize, descending: bool, key: impl Fn(usize) -> i64 + Sync) -> Vec<u32> {
    const SAT: u64 = u32::MAX as u64;
    let high = |k: i64| {
        let k = u64::try_from(k).unwrap_or(0).min(SAT);
        if descending { SAT - k } else { k }
    };
    let mut packed: Vec<u64> = (0..n).into_par_iter().map(|i| (high(key(i)) << 32) | i as u64).collect();
    // On all cores: 7.4 M rows take about half a second on one.
    packed.par_sort_unstable();
    let saturated = if descending {
        0..packed.partition_point(|&p| p >> 32 == 0)
    } else {
        packed.partition_point(|&p| p >> 32 < SAT)..packed.len()
    };
    if let Some(run) = packed.get_mut(saturated) {
        run.sort_by_cached_key(|&p| {
            let k = key(p as u32 as usize).max(0);
            (if descending { -k } else { k }, p as u32)
        });
    }
    packed.into_iter().map(|p| p as u32).collect()
}

/// Sorts the groups (ties: function name).
fn sort_groups(tl: &Timeline, stats: &GoroutineTable, exact: Option<&ExactPercentiles>, sort: Sort) -> Vec<u32> {
    let rank = name_ranks(tl, &stats.groups);
    let pct = |g: &FunctionGroup, which: HistOf, k: usize| percentiles(g, which, exact)[k].unwrap_or(-1);
    let key = |i: usize, g: &FunctionGroup| -> i64 {
        match sort.col {
            1 => g.count as i64,
            2 => g.running_ns,
            3 => g.runnable_ns,
            4 => pct(g, HistOf::Runnable, 0),
            5 => pct(g, HistOf::Runnable, 1),
            6 => pct(g, HistOf::Runnable, 2),
            7 => g.blocked_ns,
            8 => pct(g, HistOf::Blocked, 0),
            9 => pct(g, HistOf::Blocked, 1),
            10 => pct(g, HistOf::Blocked, 2),
            11 => g.blocked.count as i64,
            _ => i64::from(rank.get(i).copied().unwrap_or(0)),
        }
    };
    let mut keyed: Vec<(i64, u32, u32)> = stats
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (key(i, g), rank.get(i).copied().unwrap_or(0), i as u32))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        let o = a.0.cmp(&b.0);
        (if sort.descending { o.reverse() } else { o }).then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

/// The entries of `order` that match `text`: a start-function substring
/// (case-insensitive) or a goroutine ID (`21` or `g21`).
///
/// It runs on the UI thread at each keystroke, so it never reads the rows
/// in `order`'s order (a sorted order visits them at random): the
/// goroutine an ID names is looked up by ID, the goroutines are read once
/// in their own order (on all threads) to mark those whose start function
/// matches, and only those marks are looked up in `order`'s order. On
/// busy-1gb sorted by time blocked: an ID,
/// or text no function has, now takes under a millisecond; `launch` (2 062
/// rows) 47-85 ms instead of 104-175; `main` (every row) 184-191 ms
/// instead of 232-272 (measured beside a build, so high).
fn filter(tl: &Timeline, stats: &GoroutineTable, grouped: bool, text: &str, order: &[u32]) -> Vec<u32> {
    let needle = text.trim().to_lowercase();
    if needle.is_empty() {
        return order.to_vec();
    }
    let group_match: Vec<bool> =
        stats.groups.iter().map(|g| tl.strings.get(g.start_fn).to_lowercase().contains(&needle)).collect();
    let group_ok = |gr: u32| group_match.get(gr as usize).copied().unwrap_or(false);
    if grouped {
        return order.iter().copied().filter(|&i| group_ok(i)).collect();
    }
    // Only goroutines with a row yet (the table fills in steps).
    let named = needle
        .trim_start_matches('g')
        .parse::<i64>()
        .ok()
        .and_then(|id| tl.goroutine_index(GoroutineId(id)))
        .map(|gi| gi as u32)
        .filter(|&gi| (gi as usize) < stats.len());
    if !group_match.contains(&true) {
        return named.filter(|gi| order.contains(gi)).into_iter().collect();
    }
    // A row's group is its goroutine's start function, so the marks come
    // from the goroutines' records.
    let mut fn_match = vec![false; tl.strings.len()];
    for (g, _) in stats.groups.iter().zip(&group_match).filter(|(_, m)| **m) {
        if let Some(m) = fn_match.get_mut(g.start_fn.0 as usize) {
            *m = true;
        }
    }
    let with_rows = tl.goroutines.get(..stats.len()).unwrap_or_default();
    let marked: Vec<bool> =
        with_rows.par_iter().map(|g| fn_match.get(g.start_fn().0 as usize).copied().unwrap_or(false)).collect();
    // On this thread: collected from all threads, 7.4 M matches took
    // longer than the marks saved.
    order.iter().copied().filter(|&gi| marked.get(gi as usize).copied().unwrap_or(false) || Some(gi) == named).collect()
}

/// The virtualised table of goroutines.
fn goroutine_table_ui(
    ui: &mut Ui,
    input: &PanelInput<'_>,
    state: &mut GoroutinesState,
    commands: &mut Vec<ViewCommand>,
) {
    let (tl, theme) = (input.tl, input.theme);
    let spans = table::layout(&G_COLS, ui.min_rect().left(), ui.available_width() - 16.0);
    if table::header_ui(ui, theme, &G_COLS, &spans, &mut state.sort) {
        update_order(tl, state, TraceKey::of(tl));
    }
    let (Some(stats), true) = (state.table.get(&TraceKey::of(tl)), state.visible.is_some()) else {
        return;
    };
    let visible = state.shown();
    let mut clicked = None;
    ui.scope(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        egui::ScrollArea::vertical().id_salt("gotv_goroutine_rows").auto_shrink(false).show_rows(
            ui,
            table::ROW_H,
            visible.len(),
            |ui, range| {
                for k in range {
                    let Some(r) = visible.get(k).and_then(|&gi| stats.row(tl, gi as usize)) else { continue };
                    let cells = goroutine_cells(tl, &r);
                    let sel = state.selected == Some(r.gi);
                    let resp = table::row_ui(ui, theme, &G_COLS, &spans, &cells, k % 2 == 1, sel);
                    let resp = resp.on_hover_ui_at_pointer(|ui| goroutine_tooltip(ui, tl, theme, &r));
                    if resp.clicked() {
                        clicked = Some(r);
                    }
                }
            },
        );
    });
    if let Some(r) = clicked {
        state.selected = Some(r.gi);
        select_goroutine(tl, &r, commands);
    }
}

/// The cells of a goroutine row.
fn goroutine_cells(tl: &Timeline, r: &GoroutineRow) -> Vec<Cell> {
    let g = tl.goroutines.get(r.gi as usize);
    let dur = |ns: i64| Cell::Text(if ns > 0 { format_duration(ns) } else { "-".into() });
    vec![
        Cell::Text(g.map_or(String::new(), |g| format!("g{}", g.id.0))),
        Cell::Text(g.map_or("", |g| tl.strings.get(g.start_fn())).to_string()),
        dur(r.lifetime_ns()),
        dur(r.running_ns),
        dur(r.runnable_ns),
        dur(r.blocked_ns),
        Cell::Text(r.top_block.map_or(String::new(), |(s, ns)| format!("{} {}", s.name(), format_duration(ns)))),
        dur(r.syscall_ns),
    ]
}

/// Every state the goroutine spent time in, largest first.
fn goroutine_tooltip(ui: &mut Ui, tl: &Timeline, theme: &Theme, r: &GoroutineRow) {
    let Some(g) = tl.goroutines.get(r.gi as usize) else { return };
    ui.strong(tl.goroutine_label(g));
    ui.label(format!(
        "lives {} to {}",
        format_duration(r.start_ns - tl.start_ns),
        format_duration(r.end_ns - tl.start_ns)
    ));
    super::state_times_ui(ui, theme, g.state_totals(i64::MIN, i64::MAX));
    ui.weak("Click to select it on the timeline");
}

/// Selects the goroutine at its longest blocked span (else its first span)
/// and shows its lifetime.
fn select_goroutine(tl: &Timeline, r: &GoroutineRow, commands: &mut Vec<ViewCommand>) {
    let Some(g) = tl.goroutines.get(r.gi as usize) else { return };
    let time_ns = longest_blocked_span(g).or(g.track.start_ns());
    show_around(commands, r.start_ns, r.end_ns);
    commands.push(ViewCommand::SelectGoroutineAt { goroutine: r.gi as usize, time_ns });
}

/// The middle of the goroutine's longest blocked span, if it blocked.
fn longest_blocked_span(g: &Goroutine) -> Option<i64> {
    let mut best: Option<(i64, i64)> = None;
    for bi in 0..g.track.block_count() {
        g.track.for_each_in_block(bi, |s| {
            let d = s.end_ns - s.start_ns;
            if Goroutine::state(&s).is_blocked() && best.is_none_or(|(bd, _)| d > bd) {
                best = Some((d, s.start_ns + d / 2));
            }
        });
    }
    best.map(|(_, t)| t)
}

/// The p50, p95 and p99 of a group's `which` spans: exact if computed,
/// else from its histogram.
fn percentiles(g: &FunctionGroup, which: HistOf, exact: Option<&ExactPercentiles>) -> [Option<i64>; 3] {
    if let Some(p) = exact.and_then(|e| e.get(g.start_fn, which)) {
        return p.map(Some);
    }
    let h = match which {
        HistOf::Runnable => &g.runnable,
        HistOf::Blocked => &g.blocked,
    };
    [50, 95, 99].map(|p| h.percentile(p))
}

/// The table of start functions.
fn groups_table_ui(ui: &mut Ui, input: &PanelInput<'_>, state: &mut GoroutinesState) {
    let (tl, theme) = (input.tl, input.theme);
    let mut cols = GROUP_COLS;
    if let Some(c) = cols.last_mut() {
        c.title = match state.hist {
            HistOf::Blocked => "Blocked hist.",
            HistOf::Runnable => "Runnable hist.",
        };
    }
    let spans = table::layout(&cols, ui.min_rect().left(), ui.available_width() - 16.0);
    if table::header_ui(ui, theme, &cols, &spans, &mut state.group_sort) {
        update_order(tl, state, TraceKey::of(tl));
    }
    let (Some(stats), true) = (state.table.get(&TraceKey::of(tl)), state.visible.is_some()) else {
        return;
    };
    let visible = state.shown();
    let exact = state.exact.get(&TraceKey::of(tl)).map(|e| &**e);
    let mut clicked = None;
    ui.scope(|ui| {
        ui.spacing_mut().item_spacing.y = 0.0;
        egui::ScrollArea::vertical().id_salt("gotv_group_rows").auto_shrink(false).show_rows(
            ui,
            table::ROW_H,
            visible.len(),
            |ui, range| {
                for k in range {
                    let Some(g) = visible.get(k).and_then(|&i| stats.groups.get(i as usize)) else { continue };
                    let cells = group_cells(tl, theme, g, state.hist, exact);
                    let resp = table::row_ui(ui, theme, &cols, &spans, &cells, k % 2 == 1, false);
                    let resp = resp.on_hover_ui_at_pointer(|ui| group_tooltip(ui, tl, g));
                    if resp.clicked() {
                        clicked = Some(g.start_fn);
                    }
                }
            },
        );
    });
    if let Some(f) = clicked {
        state.filter = tl.strings.get(f).to_string();
        state.grouped = false;
    }
}

/// The cells of a group row.
fn group_cells(
    tl: &Timeline,
    theme: &Theme,
    g: &FunctionGroup,
    hist: HistOf,
    exact: Option<&ExactPercentiles>,
) -> Vec<Cell> {
    let dur = |ns: i64| Cell::Text(if ns > 0 { format_duration(ns) } else { "-".into() });
    let pcts = |which| percentiles(g, which, exact).map(|p| Cell::Text(p.map_or("-".into(), format_duration)));
    let (h, color) = match hist {
        HistOf::Blocked => (&g.blocked, theme.gstate(GState::ChanRecv)),
        HistOf::Runnable => (&g.runnable, theme.gstate(GState::Runnable)),
    };
    let [r50, r95, r99] = pcts(HistOf::Runnable);
    let [b50, b95, b99] = pcts(HistOf::Blocked);
    vec![
        Cell::Text(tl.strings.get(g.start_fn).to_string()),
        Cell::Text(crate::status::format_count(g.count)),
        dur(g.running_ns),
        spans_total(&g.runnable),
        r50,
        r95,
        r99,
        spans_total(&g.blocked),
        b50,
        b95,
        b99,
        Cell::Hist(h.decades(), color),
    ]
}

/// The total of a histogram's spans ("-" if there are none).
fn spans_total(h: &LogHist) -> Cell {
    Cell::Text(if h.count > 0 { format_duration(h.total_ns) } else { "-".into() })
}

/// Span counts per decade, for blocked and runnable spans.
fn group_tooltip(ui: &mut Ui, tl: &Timeline, g: &FunctionGroup) {
    ui.strong(format!("{} ({} goroutines)", tl.strings.get(g.start_fn), g.count));
    let (b, r) = (g.blocked.decades(), g.runnable.decades());
    egui::Grid::new("gotv_group_tip").num_columns(3).striped(true).show(ui, |ui| {
        ui.strong("span length");
        ui.strong("blocked");
        ui.strong("runnable");
        ui.end_row();
        for ((name, b), r) in DECADE_NAMES.iter().zip(b).zip(r) {
            ui.label(*name);
            ui.label(b.to_string());
            ui.label(r.to_string());
            ui.end_row();
        }
    });
    for (what, h) in [("blocked", &g.blocked), ("runnable", &g.runnable)] {
        if h.count > 0 {
            ui.label(format!(
                "{what}: {} spans, {} to {}, mean {}",
                h.count,
                format_duration(h.min_ns),
                format_duration(h.max_ns),
                format_duration(h.total_ns / h.count as i64)
            ));
        }
    }
    ui.weak("Click to list these goroutines");
}

/// The rows shown, as CSV (at most [`CSV_MAX_ROWS`]); and how many rows.
fn csv(tl: &Timeline, state: &GoroutinesState) -> (String, usize) {
    let (Some(stats), true) = (state.table.get(&TraceKey::of(tl)), state.visible.is_some()) else {
        return (String::new(), 0);
    };
    let visible = state.shown();
    let visible = visible.get(..CSV_MAX_ROWS.min(visible.len())).unwrap_or_default();
    let mut out = String::new();
    if state.grouped {
        out.push_str("start_function,count,running_ns,runnable_ns,runnable_p50_ns,runnable_p95_ns,runnable_p99_ns,");
        out.push_str("blocked_ns,blocked_p50_ns,blocked_p95_ns,blocked_p99_ns\n");
        let exact = state.exact.get(&TraceKey::of(tl)).map(|e| &**e);
        for g in visible.iter().filter_map(|&i| stats.groups.get(i as usize)) {
            let p = |which| percentiles(g, which, exact).map(|p| p.map_or(String::new(), |v| v.to_string()));
            let ([r50, r95, r99], [b50, b95, b99]) = (p(HistOf::Runnable), p(HistOf::Blocked));
            out.push_str(&format!(
                "{},{},{},{},{r50},{r95},{r99},{},{b50},{b95},{b99}\n",
                table::csv_field(tl.strings.get(g.start_fn)),
                g.count,
                g.running_ns,
                g.runnable_ns,
                g.blocked_ns,
            ));
        }
    } else {
        out.push_str("id,start_function,start_offset_ns,end_offset_ns,lifetime_ns,running_ns,runnable_ns,");
        out.push_str("blocked_ns,blocked_most_on,blocked_most_ns,syscall_ns\n");
        for r in visible.iter().filter_map(|&i| stats.row(tl, i as usize)) {
            let Some(g) = tl.goroutines.get(r.gi as usize) else { continue };
            let (reason, reason_ns) = r.top_block.map_or(("", 0), |(s, ns)| (s.name(), ns));
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{}\n",
                g.id.0,
                table::csv_field(tl.strings.get(g.start_fn())),
                r.start_ns - tl.start_ns,
                r.end_ns - tl.start_ns,
                r.lifetime_ns(),
                r.running_ns,
                r.runnable_ns,
                r.blocked_ns,
                table::csv_field(reason),
                reason_ns,
                r.syscall_ns,
            ));
        }
    }
    (out, visible.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Timeline {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27").join(name);
        timeline::build(&std::fs::read(path).unwrap(), &timeline::Progress::default()).unwrap()
    }

    #[test]
    fn rows_match_the_timeline_and_sort_and_filter() {
        let tl = load("chan.trace");
        let stats = GoroutineTable::compute(&tl);
        assert_eq!(stats.len(), tl.goroutines.len());
        // Per-state totals agree with the timeline's own.
        for r in stats.rows(&tl) {
            let t = tl.goroutines[r.gi as usize].state_totals(i64::MIN, i64::MAX);
            let blocked: i64 = GState::ALL.iter().zip(t).filter(|(s, _)| s.is_blocked()).map(|(_, v)| v).sum();
            assert_eq!(r.blocked_ns, blocked);
            assert_eq!(r.running_ns, t[GState::Running as usize]);
        }
        let by_blocked = sort_rows(&tl, &stats, Sort { col: 5, descending: true });
        let blocked: Vec<i64> = by_blocked.iter().map(|&i| stats.row(&tl, i as usize).unwrap().blocked_ns).collect();
        assert!(blocked.windows(2).all(|w| w[0] >= w[1]));
        let hits = filter(&tl, &stats, false, "BlockedReceiver", &by_blocked);
        assert_eq!(hits.len(), 1);
        let r = stats.row(&tl, hits[0] as usize).unwrap();
        assert_eq!(r.top_block.map(|(s, _)| s), Some(GState::ChanRecv));
        assert!((50_000_000..70_000_000).contains(&r.blocked_ns), "{}", r.blocked_ns);
        let id = tl.goroutines[r.gi as usize].id.0;
        assert_eq!(filter(&tl, &stats, false, &format!("g{id}"), &by_blocked), vec![r.gi]);
        // Equal to the plain definition, read row by row in the order shown,
        // for needles that name functions, IDs, both and neither.
        let plain = |text: &str| -> Vec<u32> {
            let needle = text.trim().to_lowercase();
            let id = needle.trim_start_matches('g').parse::<i64>().ok();
            by_blocked
                .iter()
                .copied()
                .filter(|&gi| {
                    let f = tl.strings.get(stats.groups[stats.row(&tl, gi as usize).unwrap().group as usize].start_fn);
                    needle.is_empty()
                        || f.to_lowercase().contains(&needle)
                        || id == Some(tl.goroutines[gi as usize].id.0)
                })
                .collect()
        };
        for text in ["", "main", " MAIN.Producer ", "g1", "1", "21", "g22", "9999", "nothing", "runtime", "2"] {
            let want = plain(text);
            assert!(!want.is_empty() || ["9999", "nothing"].contains(&text), "{text:?} matches nothing");
            assert_eq!(filter(&tl, &stats, false, text, &by_blocked), want, "{text:?}");
        }
        // Groups: one per start function, counts add up.
        let total: u64 = stats.groups.iter().map(|g| g.count).sum();
        assert_eq!(total as usize, tl.goroutines.len());
        let groups = sort_groups(&tl, &stats, None, Sort { col: 0, descending: false });
        let names: Vec<&str> = groups.iter().map(|&i| tl.strings.get(stats.groups[i as usize].start_fn)).collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
    }

    /// The packed sort equals a plain sort of (key, index) pairs, with keys
    /// below, at and above 32 bits, ties among each, in both directions.
    #[test]
    fn order_by_key_equals_a_plain_sort() {
        let big = i64::from(u32::MAX);
        let keys: Vec<i64> = (0..2_000i64)
            .map(|i| match i % 7 {
                0 => big + (i * 7_919) % 13,
                1 => big - 1 - i % 3,
                2 => i64::MAX - i % 2,
                3 => big,
                _ => (i * 104_729) % 1_000,
            })
            .collect();
        for descending in [false, true] {
            let got = order_by_key(keys.len(), descending, |i| keys[i]);
            let mut want: Vec<(i64, u32)> = keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
            want.sort_by(|a, b| {
                let o = a.0.cmp(&b.0);
                (if descending { o.reverse() } else { o }).then(a.1.cmp(&b.1))
            });
            let want: Vec<u32> = want.into_iter().map(|(_, i)| i).collect();
            assert_eq!(got, want, "descending: {descending}");
        }
    }

    #[test]
    fn csv_has_a_line_per_visible_row() {
        let tl = load("chan.trace");
        let mut state = GoroutinesState { filter: "blockedReceiver".into(), ..Default::default() };
        let key = TraceKey::of(&tl);
        state.table.get_or_compute(&key, || Arc::new(GoroutineTable::compute(&tl)));
        update_order(&tl, &mut state, key);
        let (text, n) = csv(&tl, &state);
        assert_eq!(n, 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id,start_function,"));
        assert!(lines[1].contains(",main.blockedReceiver,"), "{}", lines[1]);
        assert!(lines[1].contains(",chan receive,"), "{}", lines[1]);
        state.grouped = true;
        update_order(&tl, &mut state, key);
        let (text, n) = csv(&tl, &state);
        assert_eq!(n, 1);
        assert!(text.lines().nth(1).unwrap().starts_with("main.blockedReceiver,1,"));
    }
}
