//! Analysis panels under the timeline: the goroutine table, the
//! scheduling-gap finder, flame graphs, MMU, the selection summary and user
//! tasks and regions. Each reads `timeline::analysis` and asks the view to
//! jump through [`ViewCommand`]s.
//!
//! Results are cached per trace (see [`TraceKey`]). Analyses that walk every
//! span run at once on small traces; on big ones they wait for a "Compute"
//! click ([`compute_gate`]), except the goroutine table, which starts at
//! once with a progress bar. On big traces they run on a thread of their
//! own ([`Cached::get_or_run`]), so the window keeps painting, and stop
//! early (timeline's stoppable queries) when their result is no longer
//! wanted.

mod exact;
mod flame;
mod gaps;
mod goroutines;
mod job;
mod mmu;
mod selection;
mod table;
mod tasks;

#[cfg(test)]
mod ui_tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use timeline::Timeline;

use crate::theme::Theme;
use crate::view::ViewCommand;
use job::{Job, JobProgress, JobState};
use timeline::analysis::Stop;

pub use flame::{FlameMode, FlameState};
pub use gaps::GapsState;
pub use goroutines::GoroutinesState;
pub use mmu::MmuState;
pub use selection::SelectionState;
pub use tasks::TasksState;

/// Which panel is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    /// No panel.
    #[default]
    Closed,
    /// The goroutine table.
    Goroutines,
    /// Scheduling gaps: runnable waits, idle Ps, STW pauses.
    Gaps,
    /// CPU and off-CPU flame graphs.
    Flame,
    /// Minimum mutator utilisation.
    Mmu,
    /// Summary of the Shift+drag selection.
    Selection,
    /// User tasks and regions by type.
    Tasks,
}

impl Tab {
    /// The tabs in button order, with their labels.
    pub const ALL: [(Tab, &'static str); 6] = [
        (Tab::Goroutines, "Goroutines"),
        (Tab::Gaps, "Gaps"),
        (Tab::Flame, "Flame graph"),
        (Tab::Mmu, "MMU"),
        (Tab::Selection, "Selection"),
        (Tab::Tasks, "Tasks"),
    ];
}

/// Persisted panel state (settings of each panel; results are not saved).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PanelsState {
    /// The open tab.
    pub tab: Tab,
    /// The goroutine table.
    pub goroutines: GoroutinesState,
    /// The gap finder.
    pub gaps: GapsState,
    /// The flame graph.
    pub flame: FlameState,
    /// The MMU plot.
    pub mmu: MmuState,
    /// The selection summary.
    pub selection: SelectionState,
    /// User tasks and regions.
    pub tasks: TasksState,
    /// The trace the results are for.
    #[serde(skip)]
    trace: Option<TraceKey>,
}

impl PanelsState {
    /// Drops every computed result (another trace was opened).
    pub fn forget_results(&mut self) {
        self.goroutines.forget_results();
        self.gaps.forget_results();
        self.flame.forget_results();
        self.mmu.forget_results();
        self.selection.forget_results();
        self.tasks.forget_results();
    }
}

/// What the panels may read from the view this frame.
pub struct PanelInput<'a> {
    /// The trace (shared, so an analysis can run on a thread of its own).
    pub tl: &'a Arc<Timeline>,
    /// Colours.
    pub theme: &'a Theme,
    /// The Shift+drag time selection, if any (absolute ns).
    pub range: Option<(i64, i64)>,
    /// The visible window (absolute ns).
    pub window: (i64, i64),
    /// The goroutine whose span is selected in the view, if any (index
    /// into `Timeline::goroutines`).
    pub goroutine: Option<usize>,
}

/// Identifies the trace a cached result was computed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceKey {
    events: u64,
    goroutines: usize,
    start_ns: i64,
    end_ns: i64,
    bytes: u64,
}

impl TraceKey {
    /// The key of `tl`.
    pub fn of(tl: &Timeline) -> TraceKey {
        TraceKey {
            events: tl.event_count,
            goroutines: tl.goroutines.len(),
            start_ns: tl.start_ns,
            end_ns: tl.end_ns,
            bytes: tl.file_bytes,
        }
    }
}

/// Traces with more events than this compute span-walking analyses only
/// when asked (about 100 ms of work on a 2-core machine).
pub const AUTO_COMPUTE_EVENTS: u64 = 1_000_000;

/// Shows the panel tabs and the open panel; jumps go to `commands`.
pub fn panels_ui(ui: &mut egui::Ui, input: &PanelInput<'_>, state: &mut PanelsState, commands: &mut Vec<ViewCommand>) {
    let key = TraceKey::of(input.tl);
    if state.trace != Some(key) {
        state.forget_results();
        state.trace = Some(key);
    }
    tabs_ui(ui, state);
    if state.tab == Tab::Closed {
        return;
    }
    egui::Panel::bottom("gotv_panels").resizable(true).default_size(340.0).min_size(120.0).show(ui, |ui| {
        // The panel keeps the size of its contents: fill it, so it keeps its own.
        ui.set_min_height(ui.available_height());
        ui.add_space(2.0);
        match state.tab {
            Tab::Closed => {}
            Tab::Goroutines => goroutines::goroutines_ui(ui, input, &mut state.goroutines, commands),
            Tab::Gaps => gaps::gaps_ui(ui, input, &mut state.gaps, commands),
            Tab::Flame => flame::flame_ui(ui, input, &mut state.flame),
            Tab::Mmu => mmu::mmu_ui(ui, input, &mut state.mmu, commands),
            Tab::Tasks => tasks::tasks_ui(ui, input, &mut state.tasks, commands),
            Tab::Selection => {
                if let Some(open) = selection::selection_ui(ui, input, &mut state.selection, commands) {
                    state.flame.mode = open;
                    state.flame.in_selection = true;
                    state.tab = Tab::Flame;
                }
            }
        }
    });
}

/// The row of tab buttons; clicking the open tab closes it.
fn tabs_ui(ui: &mut egui::Ui, state: &mut PanelsState) {
    ui.horizontal(|ui| {
        ui.label("Analysis:");
        for (tab, label) in Tab::ALL {
            if ui.selectable_label(state.tab == tab, label).clicked() {
                state.tab = if state.tab == tab { Tab::Closed } else { tab };
            }
        }
        if state.tab != Tab::Closed && ui.small_button("Close panel").clicked() {
            state.tab = Tab::Closed;
        }
    });
}

/// Whether an analysis of `tl` may run now: always on small traces; on big
/// ones once the user clicked "Compute" (remembered in `requested`).
pub fn compute_gate(ui: &mut egui::Ui, tl: &Timeline, requested: &mut bool, what: &str) -> bool {
    if *requested || tl.event_count <= AUTO_COMPUTE_EVENTS {
        return true;
    }
    ui.horizontal(|ui| {
        ui.label(format!(
            "This trace has {} events; {what} walks all of them and may take a few seconds.",
            tl.event_count
        ));
        if ui.button("Compute").clicked() {
            *requested = true;
        }
    });
    false
}

/// A value computed on its own thread, with the time it took there (not
/// counting how long the window took to notice).
type TimedJob<V> = Job<(V, Duration)>;

/// A cached result and the key it was computed for.
#[derive(Debug)]
pub struct Cached<K, V> {
    key: Option<K>,
    value: Option<V>,
    took: Duration,
    /// The value being computed on its own thread for this key, since then.
    job: Option<(K, Instant, TimedJob<V>)>,
}

impl<K, V> Default for Cached<K, V> {
    fn default() -> Self {
        Cached { key: None, value: None, took: Duration::ZERO, job: None }
    }
}

impl<K: PartialEq + Clone, V: Send + 'static> Cached<K, V> {
    /// The value for `key`: on a small trace computed at once, on a big one
    /// ([`AUTO_COMPUTE_EVENTS`]) on a thread of its own, so the window
    /// stays responsive; until it is done this shows "Computing…" and
    /// returns `None` (the thread repaints when it finishes).
    pub fn get_or_run(
        &mut self,
        ui: &mut egui::Ui,
        tl: &Arc<Timeline>,
        key: &K,
        compute: impl FnOnce(&Timeline, Stop<'_>) -> Option<V> + Send + 'static,
    ) -> Option<&V> {
        self.get_or_run_counted(ui, tl, key, None, move |tl, p| compute(tl, p.stop()))
    }

    /// [`Cached::get_or_run`] for a computation that reports how many of
    /// `total.0` items it has done (shown as a progress bar labelled
    /// `total.1`) and stops, returning `None`, once its job is dropped.
    pub fn get_or_run_counted(
        &mut self,
        ui: &mut egui::Ui,
        tl: &Arc<Timeline>,
        key: &K,
        total: Option<(usize, &str)>,
        compute: impl FnOnce(&Timeline, &JobProgress) -> Option<V> + Send + 'static,
    ) -> Option<&V> {
        if self.key.as_ref() != Some(key) {
            self.value = None;
            self.key = Some(key.clone());
        }
        if self.value.is_some() {
            return self.value.as_ref();
        }
        if tl.event_count <= AUTO_COMPUTE_EVENTS {
            let started = Instant::now();
            self.value = compute(tl, &JobProgress::default());
            self.took = started.elapsed();
            return self.value.as_ref();
        }
        // A finished job: its value, if it is for this key.
        if let Some((k, _, job)) = &self.job {
            match job.poll() {
                JobState::Running => {}
                JobState::Done((v, took)) => {
                    if k == key {
                        self.took = took;
                        self.value = Some(v);
                    }
                    self.job = None;
                }
                JobState::Failed if k == key => {
                    ui.colored_label(ui.visuals().error_fg_color, "This could not be computed (see the terminal).");
                    return None;
                }
                JobState::Failed => self.job = None,
            }
        }
        if self.value.is_none() {
            // One thread per panel: one for an older key (a selection being
            // dragged) is told to stop, and the new key waits until it has.
            if let Some((k, _, job)) = &self.job
                && k != key
            {
                job.cancel();
            }
            if self.job.is_none() {
                let shared = Arc::clone(tl);
                let job = Job::start(ui.ctx(), move |p| {
                    let started = Instant::now();
                    compute(&shared, p).map(|v| (v, started.elapsed()))
                });
                self.job = Some((key.clone(), Instant::now(), job));
            }
            if let Some((_, since, job)) = &self.job {
                match total {
                    Some((n, what)) => {
                        let done = job.done();
                        let frac = done as f32 / n.max(1) as f32;
                        ui.add(egui::ProgressBar::new(frac).text(format!("{what}: {done} of {n}")));
                    }
                    None => {
                        ui.weak(format!("Computing… ({:.1} s)", since.elapsed().as_secs_f64()));
                    }
                }
            }
            ui.ctx().request_repaint_after(Duration::from_millis(250));
            return None;
        }
        self.value.as_ref()
    }
}

impl<K: PartialEq + Clone, V> Cached<K, V> {
    /// The value for `key`, computing it (and timing it) if the cache holds
    /// another key.
    pub fn get_or_compute(&mut self, key: &K, compute: impl FnOnce() -> V) -> &V {
        if self.key.as_ref() != Some(key) {
            self.value = None;
            self.key = Some(key.clone());
        }
        let took = &mut self.took;
        self.value.get_or_insert_with(|| {
            let started = Instant::now();
            let v = compute();
            *took = started.elapsed();
            v
        })
    }

    /// Whether a thread is computing the value for `key`.
    pub fn is_running(&self, key: &K) -> bool {
        self.job.as_ref().is_some_and(|(k, _, _)| k == key) && self.get(key).is_none()
    }

    /// The value, if it was computed for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        if self.key.as_ref() == Some(key) { self.value.as_ref() } else { None }
    }

    /// How long the last computation took.
    pub fn took(&self) -> Duration {
        self.took
    }
}

/// Queues a jump to `[start_ns, end_ns)` with some room on both sides.
pub fn show_around(commands: &mut Vec<ViewCommand>, start_ns: i64, end_ns: i64) {
    let pad = ((end_ns - start_ns) / 2).max(10_000);
    commands.push(ViewCommand::ShowRange { start_ns: start_ns - pad, end_ns: end_ns + pad });
}

/// "Whole trace" / "Selection" toggle; the latter only with a selection.
pub fn scope_ui(ui: &mut egui::Ui, range: Option<(i64, i64)>, in_selection: &mut bool) {
    ui.label("Scope");
    ui.selectable_value(in_selection, false, "Whole trace");
    let sel = ui.add_enabled(range.is_some(), egui::Button::selectable(*in_selection && range.is_some(), "Selection"));
    let sel = sel.on_disabled_hover_text("Shift+drag on the timeline to select a time range");
    if sel.clicked() {
        *in_selection = true;
    }
}

/// A clickable full-width row that shows `text`; returns its response.
/// The text is the row's accessible label too.
pub fn link_row(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Button::new(text).frame(false).truncate())
}

/// Time per goroutine state (indexed by state code, as
/// `Goroutine::state_totals` gives it), largest first, states with no time
/// left out.
pub fn state_times_ui(ui: &mut egui::Ui, theme: &Theme, totals: [i64; timeline::GState::COUNT]) {
    use timeline::GState;
    let mut by_state: Vec<(GState, i64)> =
        GState::ALL.iter().zip(totals).filter(|(_, ns)| *ns > 0).map(|(s, ns)| (*s, ns)).collect();
    by_state.sort_by_key(|&(s, ns)| (std::cmp::Reverse(ns), s));
    egui::Grid::new("gotv_state_times").num_columns(2).show(ui, |ui| {
        for (s, ns) in by_state {
            ui.colored_label(theme.gstate(s), s.name());
            ui.label(timeline::ticks::format_duration(ns));
            ui.end_row();
        }
    });
}

/// "took 1.2 s", for the foot of a panel whose analysis was slow.
pub fn took_label(ui: &mut egui::Ui, took: Duration) {
    if took >= Duration::from_millis(50) {
        ui.weak(format!("computed in {}", timeline::ticks::format_duration(took.as_nanos() as i64)));
    }
}

#[cfg(test)]
mod cached_tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Runs `get_or_run` for `key` in one frame; whether it had a value.
    fn frame(
        ctx: &egui::Context,
        cache: &mut Cached<u32, u32>,
        tl: &Arc<Timeline>,
        key: u32,
        compute: impl FnOnce(&Timeline, Stop<'_>) -> Option<u32> + Send + 'static,
    ) -> Option<u32> {
        // run_ui may run the closure more than once (FnMut): hand the
        // computation over only the first time.
        let (mut got, mut compute) = (None, Some(compute));
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            if let Some(c) = compute.take() {
                got = cache.get_or_run(ui, tl, &key, c).copied();
            }
        });
        // No GPU: the font atlas is not uploaded.
        out.textures_delta.clear();
        got
    }

    /// On a big trace the value comes from a thread, and a panel runs one
    /// thread at a time: a new key stops the older key's thread and waits
    /// for it to give up.
    #[test]
    fn big_traces_compute_on_one_thread_per_panel() {
        let ctx = egui::Context::default();
        let tl = Arc::new(Timeline { event_count: AUTO_COMPUTE_EVENTS + 1, ..Timeline::default() });
        let mut cache = Cached::default();
        let started = Arc::new(AtomicUsize::new(0));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let saw_stop = Arc::new(AtomicUsize::new(0));
        // Key 1's work would never end unless stopped.
        let counting = |n: u32, endless: bool| {
            let (started, running, most, saw_stop) =
                (Arc::clone(&started), Arc::clone(&running), Arc::clone(&most), Arc::clone(&saw_stop));
            move |_: &Timeline, stop: Stop<'_>| {
                started.fetch_add(1, Ordering::SeqCst);
                most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                while endless && !stop.is_raised() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                if stop.is_raised() {
                    saw_stop.fetch_add(1, Ordering::SeqCst);
                    return None;
                }
                Some(n)
            }
        };
        assert_eq!(frame(&ctx, &mut cache, &tl, 1, counting(10, true)), None);
        std::thread::sleep(Duration::from_millis(20));
        // The selection moved: key 1's thread is stopped, then key 2 runs.
        let mut got = None;
        for _ in 0..2000 {
            got = frame(&ctx, &mut cache, &tl, 2, counting(20, false));
            if got.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(got, Some(20), "key 1's value is not shown for key 2");
        assert_eq!(saw_stop.load(Ordering::SeqCst), 1, "key 1's thread was not stopped");
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(most.load(Ordering::SeqCst), 1, "one thread at a time");
        // Cached: asking again computes nothing.
        assert_eq!(frame(&ctx, &mut cache, &tl, 2, counting(99, false)), Some(20));
        assert_eq!(started.load(Ordering::SeqCst), 2);
    }

    /// A small trace's value is computed at once, in the frame.
    #[test]
    fn small_traces_compute_in_the_frame() {
        let ctx = egui::Context::default();
        let tl = Arc::new(Timeline::default());
        let mut cache = Cached::default();
        assert_eq!(frame(&ctx, &mut cache, &tl, 1, |_, _| Some(7)), Some(7));
    }
}
