//! The trace view: time axis, counter plots, GC/STW rows and P, M and
//! goroutine tracks, painted from `timeline`'s plans.
//!
//! Panels never change each other's state directly: they queue a
//! [`ViewCommand`] and [`apply_commands`] runs them after the frame.

mod canvas;
mod details;
mod help;
mod keys;
mod plan_cache;
mod plots;
mod rows;
mod search;
mod toolbar;
mod wake;

use std::sync::Arc;

use timeline::Timeline;

use crate::theme::Theme;

pub use details::SELECTION_SUMMARY_BUTTON;
pub use rows::{Row, RowList, Section};
pub use search::SearchKind;

/// Which track a span is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackRef {
    /// A goroutine, by index in `Timeline::goroutines`.
    Goroutine(usize),
    /// A P, by index in `Timeline::procs`.
    Proc(usize),
    /// A thread, by index in `Timeline::threads`.
    Thread(usize),
}

impl TrackRef {
    /// The track it names, if there is one.
    pub fn track(self, tl: &Timeline) -> Option<&timeline::Track> {
        match self {
            TrackRef::Goroutine(i) => tl.goroutines.get(i).map(|g| &g.track),
            TrackRef::Proc(i) => tl.procs.get(i).map(|p| &p.track),
            TrackRef::Thread(i) => tl.threads.get(i).map(|t| &t.track),
        }
    }
}

/// One span of one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanRef {
    /// The track.
    pub track: TrackRef,
    /// The span's index in the track.
    pub index: usize,
}

/// A change requested during a frame, applied after it.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewCommand {
    /// Show this absolute time window (and remember the old one for Back).
    ShowRange {
        /// Left edge.
        start_ns: i64,
        /// Right edge.
        end_ns: i64,
    },
    /// Show the whole trace.
    Fit,
    /// Previous window.
    Back,
    /// Next window (after Back).
    Forward,
    /// Select a span and open its details.
    Select(SpanRef),
    /// Select the goroutine's span at a time (or its first span) and scroll to it.
    SelectGoroutineAt {
        /// Index in `Timeline::goroutines`.
        goroutine: usize,
        /// Time of interest.
        time_ns: Option<i64>,
    },
    /// Highlight these goroutines (dimming the others) as a search would,
    /// with `why` as the title of the list.
    Highlight {
        /// The goroutines.
        goroutines: Vec<trace_core::GoroutineId>,
        /// What they are, e.g. "goroutines of task 3".
        why: String,
    },
    /// Close the details panel.
    ClearSelection,
    /// Select the span `by` places after the selected one on its track
    /// (before, if negative), and bring it into view.
    StepSpan {
        /// How many spans on.
        by: i64,
    },
    /// Scroll the track list so this row is visible.
    ScrollToRow(usize),
    /// Open or close a section.
    ToggleSection(Section),
}

/// View state of one open trace. Persisted fields survive restarts.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TraceViewState {
    /// Show the P rows.
    pub show_procs: bool,
    /// Show the thread (M) rows.
    pub show_threads: bool,
    /// Show the goroutine rows.
    pub show_goroutines: bool,
    /// Show runtime-internal goroutines.
    pub show_system_goroutines: bool,
    /// Show the heap and goroutine plots.
    pub show_plots: bool,
    /// The analysis panels.
    pub panels: crate::panels::PanelsState,
    /// Everything that only lives while the trace is open.
    #[serde(skip)]
    pub t: Transient,
}

impl Default for TraceViewState {
    fn default() -> Self {
        TraceViewState {
            show_procs: true,
            show_threads: false,
            show_goroutines: true,
            show_system_goroutines: true,
            show_plots: true,
            panels: crate::panels::PanelsState::default(),
            t: Transient::default(),
        }
    }
}

/// Time per goroutine state in a time selection, with the selection.
pub type RangeSummary = ((i64, i64), Vec<(timeline::GState, i64)>);

/// Per-trace view state that is not persisted.
#[derive(Debug, Default)]
pub struct Transient {
    /// Visible window (absolute ns); `None` = the whole trace.
    pub window: Option<(i64, i64)>,
    /// Windows to go back to.
    pub back: Vec<(i64, i64)>,
    /// Windows to go forward to.
    pub forward: Vec<(i64, i64)>,
    /// The selected span.
    pub selected: Option<SpanRef>,
    /// A Shift+drag time selection (absolute ns, ordered).
    pub range: Option<(i64, i64)>,
    /// Where a drag started: (time, was Shift held).
    pub drag_from: Option<(i64, bool)>,
    /// Per-state totals of the time selection, cached with its range.
    pub range_summary: Option<RangeSummary>,
    /// The shortcuts overlay is open.
    pub show_help: bool,
    /// The colour legend is open.
    pub show_legend: bool,
    /// "Go to time" text field.
    pub goto_time: String,
    /// "Go to goroutine" text field.
    pub goto_goroutine: String,
    /// Feedback for the go-to fields.
    pub goto_error: Option<String>,
    /// A row to scroll to on the next frame.
    pub scroll_to_row: Option<usize>,
    /// Commands queued this frame.
    pub commands: Vec<ViewCommand>,
    /// Where the last frame put things on screen.
    pub geometry: Option<Geometry>,
    /// The search box and its results.
    pub search: search::SearchState,
    /// Plans of the visible rows, reused while panning.
    pub plan_cache: plan_cache::PlanCache,
    /// The row list and what it was built from.
    pub rows: Option<(rows::RowKey, std::sync::Arc<rows::RowList>)>,
}

/// Screen geometry of the last frame, to map times and rows to positions
/// (used by UI tests to click where a person would).
#[derive(Clone, Copy)]
pub struct Geometry {
    frame: canvas::Frame,
    rows_top: f32,
}

impl std::fmt::Debug for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geometry").field("time_x0", &self.frame.time_x0).field("rows_top", &self.rows_top).finish()
    }
}

impl TraceViewState {
    /// The visible window in absolute ns.
    pub fn window(&self, tl: &Timeline) -> (i64, i64) {
        let full = full_window(tl);
        match self.t.window {
            Some((s, e)) if e > s => (s, e),
            _ => full,
        }
    }
}

impl TraceViewState {
    /// The screen point of time `t_ns` on a row, as painted last frame.
    pub fn screen_pos(&mut self, tl: &Timeline, row: Row, t_ns: i64) -> Option<egui::Pos2> {
        let g = self.t.geometry?;
        let ri = rows::rows(tl, self).index_of(row)?;
        Some(egui::pos2(g.frame.x(t_ns), g.rows_top + (ri as f32 + 0.5) * canvas::ROW_H))
    }
}

/// A goroutine (and time) to select when a trace opens, from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Goroutine ID.
    pub goroutine: i64,
    /// Offset from the trace start.
    pub at_ns: Option<i64>,
}

impl Selection {
    /// Parses `--goroutine` (`21` or `g21`) and `--at` (`30ms`...).
    pub fn parse(goroutine: Option<&str>, at: Option<&str>) -> Result<Option<Selection>, String> {
        let Some(g) = goroutine else {
            return if at.is_some() { Err("--at needs --goroutine".into()) } else { Ok(None) };
        };
        let id = g.trim().trim_start_matches('g').parse::<i64>().map_err(|_| format!("not a goroutine ID: {g:?}"))?;
        let at_ns = match at {
            Some(t) => Some(toolbar::parse_time_ns(t).ok_or_else(|| format!("not a time: {t:?} (try 30ms)"))?),
            None => None,
        };
        Ok(Some(Selection { goroutine: id, at_ns }))
    }

    /// Queues the selection (and a view around it) for the next frame.
    pub fn queue(&self, tl: &Timeline, state: &mut TraceViewState) {
        let Some(gi) = tl.goroutine_index(trace_core::GoroutineId(self.goroutine)) else { return };
        let time_ns = self.at_ns.map(|t| tl.start_ns + t);
        state.t.commands.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns });
    }
}

/// The whole trace, with a little room at the ends.
fn full_window(tl: &Timeline) -> (i64, i64) {
    let len = (tl.end_ns - tl.start_ns).max(1000);
    let pad = len / 100;
    (tl.start_ns - pad, tl.end_ns + pad)
}

/// Paints the whole trace view into `ui`.
pub fn trace_view_ui(ui: &mut egui::Ui, tl: &Arc<Timeline>, theme: &Theme, state: &mut TraceViewState) {
    toolbar::toolbar_ui(ui, tl, state);
    let goroutine = match state.t.selected {
        Some(SpanRef { track: TrackRef::Goroutine(g), .. }) => Some(g),
        _ => None,
    };
    let input = crate::panels::PanelInput { tl, theme, range: state.t.range, window: state.window(tl), goroutine };
    crate::panels::panels_ui(ui, &input, &mut state.panels, &mut state.t.commands);
    // The panel opens for a time selection once the drag is over, so the
    // canvas does not move under the pointer mid-drag.
    let range_done = state.t.range.is_some() && state.t.drag_from.is_none();
    if state.t.selected.is_some() || range_done || state.t.search.found.is_some() {
        egui::Panel::right("gotv_details").resizable(true).default_size(420.0).show(ui, |ui| {
            details::details_ui(ui, tl, theme, state);
        });
    }
    egui::CentralPanel::default().show(ui, |ui| {
        canvas::canvas_ui(ui, tl, theme, state);
    });
    help::shortcuts_ui(ui.ctx(), &mut state.t.show_help);
    help::legend_ui(ui.ctx(), theme, &mut state.t.show_legend);
    keyboard(ui, state);
    apply_commands(tl, state);
}

/// Keyboard shortcuts that work anywhere in the view.
fn keyboard(ui: &egui::Ui, state: &mut TraceViewState) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    ui.input(|i| {
        let cmds = &mut state.t.commands;
        if i.key_pressed(egui::Key::Home) {
            cmds.push(ViewCommand::Fit);
        }
        if i.modifiers.alt && i.key_pressed(egui::Key::ArrowLeft) {
            cmds.push(ViewCommand::Back);
        }
        if i.modifiers.alt && i.key_pressed(egui::Key::ArrowRight) {
            cmds.push(ViewCommand::Forward);
        }
        if i.modifiers.is_none() && state.t.selected.is_some() {
            if i.key_pressed(egui::Key::ArrowLeft) {
                cmds.push(ViewCommand::StepSpan { by: -1 });
            }
            if i.key_pressed(egui::Key::ArrowRight) {
                cmds.push(ViewCommand::StepSpan { by: 1 });
            }
        }
        if i.key_pressed(egui::Key::Questionmark) {
            state.t.show_help = !state.t.show_help;
        }
        if i.key_pressed(egui::Key::Escape) {
            if state.t.show_help {
                state.t.show_help = false;
            } else {
                cmds.push(ViewCommand::ClearSelection);
            }
        }
    });
}

/// Selects the span `by` places from the selected one (stopping at the
/// track's ends) and pans, or zooms out, until it is in view.
fn step_span(tl: &Timeline, state: &mut TraceViewState, by: i64) {
    let Some(sel) = state.t.selected else { return };
    let Some(track) = sel.track.track(tl) else { return };
    let last = track.len().saturating_sub(1) as i64;
    let index = (sel.index as i64).saturating_add(by).clamp(0, last) as usize;
    let Some(span) = track.span(index) else { return };
    state.t.selected = Some(SpanRef { track: sel.track, index });
    let (s, e) = state.window(tl);
    if span.start_ns >= s && span.end_ns <= e {
        return;
    }
    let width = e - s;
    state.t.window = Some(if span.duration_ns() < width * 8 / 10 {
        // Centred, at the same zoom.
        let mid = span.start_ns + span.duration_ns() / 2;
        (mid - width / 2, mid - width / 2 + width)
    } else {
        padded(span.start_ns, span.end_ns)
    });
}

/// The window that shows `start_ns..end_ns` with a twentieth of its length
/// (at least 50 ns) to spare on each side.
fn padded(start_ns: i64, end_ns: i64) -> (i64, i64) {
    let pad = ((end_ns - start_ns) / 20).max(50);
    (start_ns - pad, end_ns + pad)
}

impl ViewCommand {
    /// Show `start_ns..end_ns` with a little room on each side.
    pub fn zoom_to(start_ns: i64, end_ns: i64) -> ViewCommand {
        let (start_ns, end_ns) = padded(start_ns, end_ns);
        ViewCommand::ShowRange { start_ns, end_ns }
    }
}

/// Applies the commands queued this frame.
pub fn apply_commands(tl: &Timeline, state: &mut TraceViewState) {
    let cmds = std::mem::take(&mut state.t.commands);
    for cmd in cmds {
        apply(tl, state, cmd);
    }
}

fn apply(tl: &Timeline, state: &mut TraceViewState, cmd: ViewCommand) {
    let t = &mut state.t;
    let current = match t.window {
        Some((s, e)) if e > s => (s, e),
        _ => full_window(tl),
    };
    match cmd {
        ViewCommand::ShowRange { start_ns, end_ns } => {
            let (s, e) = if end_ns > start_ns { (start_ns, end_ns) } else { (start_ns, start_ns + 1000) };
            if (s, e) != current {
                t.back.push(current);
                t.forward.clear();
            }
            t.window = Some((s, e));
        }
        ViewCommand::Fit => {
            let full = full_window(tl);
            if current != full {
                t.back.push(current);
                t.forward.clear();
            }
            t.window = Some(full);
        }
        ViewCommand::Back => {
            if let Some(w) = t.back.pop() {
                t.forward.push(current);
                t.window = Some(w);
            }
        }
        ViewCommand::Forward => {
            if let Some(w) = t.forward.pop() {
                t.back.push(current);
                t.window = Some(w);
            }
        }
        ViewCommand::Select(s) => t.selected = Some(s),
        ViewCommand::StepSpan { by } => step_span(tl, state, by),
        ViewCommand::SelectGoroutineAt { goroutine, time_ns } => {
            let Some(g) = tl.goroutines.get(goroutine) else { return };
            let index = time_ns.and_then(|tm| g.track.index_at(tm)).unwrap_or(0);
            t.selected = Some(SpanRef { track: TrackRef::Goroutine(goroutine), index });
            state.show_goroutines = true;
            if g.is_system() {
                state.show_system_goroutines = true;
            }
            let rows = rows::rows(tl, state);
            if let Some(r) = rows.index_of(Row::Goroutine(goroutine)) {
                state.t.scroll_to_row = Some(r);
            }
        }
        ViewCommand::Highlight { goroutines, why } => {
            let mut marked = vec![false; tl.goroutines.len()];
            for gi in goroutines.iter().filter_map(|&g| tl.goroutine_index(g)) {
                if let Some(m) = marked.get_mut(gi) {
                    *m = true;
                }
            }
            t.search.found = Some(timeline::search::Found { goroutines: marked, ..Default::default() });
            t.search.why = Some(why);
        }
        ViewCommand::ClearSelection => {
            t.selected = None;
            t.range = None;
            t.search.found = None;
            t.search.why = None;
        }
        ViewCommand::ScrollToRow(r) => t.scroll_to_row = Some(r),
        ViewCommand::ToggleSection(s) => match s {
            Section::Procs => state.show_procs = !state.show_procs,
            Section::Threads => state.show_threads = !state.show_threads,
            Section::Goroutines => state.show_goroutines = !state.show_goroutines,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl() -> Timeline {
        Timeline { start_ns: 1_000, end_ns: 101_000, ..Timeline::default() }
    }

    #[test]
    fn selection_parses() {
        assert_eq!(
            Selection::parse(Some("g21"), Some("30ms")),
            Ok(Some(Selection { goroutine: 21, at_ns: Some(30_000_000) }))
        );
        assert_eq!(Selection::parse(Some("7"), None), Ok(Some(Selection { goroutine: 7, at_ns: None })));
        assert_eq!(Selection::parse(None, None), Ok(None));
        assert!(Selection::parse(None, Some("1s")).is_err());
        assert!(Selection::parse(Some("x"), None).is_err());
    }

    #[test]
    fn history_goes_back_and_forward() {
        let tl = tl();
        let mut s = TraceViewState::default();
        let full = s.window(&tl);
        s.t.commands.push(ViewCommand::ShowRange { start_ns: 2_000, end_ns: 3_000 });
        s.t.commands.push(ViewCommand::ShowRange { start_ns: 2_500, end_ns: 2_600 });
        apply_commands(&tl, &mut s);
        assert_eq!(s.window(&tl), (2_500, 2_600));
        s.t.commands.push(ViewCommand::Back);
        apply_commands(&tl, &mut s);
        assert_eq!(s.window(&tl), (2_000, 3_000));
        s.t.commands.push(ViewCommand::Back);
        apply_commands(&tl, &mut s);
        assert_eq!(s.window(&tl), full);
        s.t.commands.push(ViewCommand::Forward);
        apply_commands(&tl, &mut s);
        assert_eq!(s.window(&tl), (2_000, 3_000));
        s.t.commands.push(ViewCommand::Fit);
        apply_commands(&tl, &mut s);
        assert_eq!(s.window(&tl), full);
    }
}

#[cfg(test)]
mod ui_tests;
