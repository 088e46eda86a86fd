//! The scheduling-gap finder: the longest runnable waits, the intervals in
//! which goroutines waited while a P sat idle, and the longest
//! stop-the-world pauses. Every row jumps to its place on the timeline.

use egui::Ui;
use timeline::analysis::{self, Filter, GapOrder, IdleGap, RunnableWait, Stop, TimeRange};
use timeline::ticks::format_duration;
use timeline::{RangeSpan, Timeline};

use super::{Cached, PanelInput, TraceKey, compute_gate, link_row, scope_ui, show_around, took_label};
use crate::view::ViewCommand;

/// Rows per list.
const LIMIT: usize = 100;
/// Goroutines named per idle gap.
const GAP_GOROUTINES: usize = 5;
/// Frames of the wake-up stack shown in a tooltip.
const TIP_FRAMES: usize = 6;

/// How idle-P gaps are ranked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GapRank {
    /// Longest first.
    #[default]
    Duration,
    /// Most goroutine-time waiting first.
    Waiting,
}

/// Settings and results of the gap finder.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GapsState {
    /// How idle-P gaps are ranked.
    pub rank: GapRank,
    /// Only look inside the Shift+drag selection (when there is one).
    pub in_selection: bool,
    #[serde(skip)]
    requested: bool,
    #[serde(skip)]
    cache: Cached<GapsKey, Gaps>,
}

impl GapsState {
    /// Drops results (another trace was opened).
    pub fn forget_results(&mut self) {
        self.requested = false;
        self.cache = Cached::default();
    }
}

/// What the lists were computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GapsKey {
    trace: TraceKey,
    range: Option<(i64, i64)>,
    rank: GapRank,
}

/// The three lists.
#[derive(Debug)]
struct Gaps {
    waits: Vec<RunnableWait>,
    idle: Vec<IdleGap>,
    stw: Vec<RangeSpan>,
}

impl Gaps {
    fn compute(tl: &Timeline, range: Option<(i64, i64)>, rank: GapRank, stop: Stop<'_>) -> Option<Gaps> {
        let r = range.map_or(TimeRange::ALL, |(s, e)| TimeRange::new(s, e));
        let order = match rank {
            GapRank::Duration => GapOrder::Duration,
            GapRank::Waiting => GapOrder::Waiting,
        };
        Some(Gaps {
            waits: analysis::longest_runnable_waits_stoppable(tl, &Filter::range(r), LIMIT, stop)?,
            idle: analysis::idle_proc_gaps_stoppable(tl, r, order, LIMIT, GAP_GOROUTINES, stop)?,
            stw: analysis::longest_stw(tl, r, LIMIT),
        })
    }
}

/// The gap finder panel.
pub fn gaps_ui(ui: &mut Ui, input: &PanelInput<'_>, state: &mut GapsState, commands: &mut Vec<ViewCommand>) {
    let tl = input.tl;
    ui.horizontal(|ui| {
        scope_ui(ui, input.range, &mut state.in_selection);
        ui.separator();
        ui.label("Idle-P gaps by");
        ui.selectable_value(&mut state.rank, GapRank::Duration, "length");
        ui.selectable_value(&mut state.rank, GapRank::Waiting, "goroutine time waiting");
        took_label(ui, state.cache.took());
    });
    if !compute_gate(ui, tl, &mut state.requested, "the gap finder") {
        return;
    }
    let range = input.range.filter(|_| state.in_selection);
    let rank = state.rank;
    let key = GapsKey { trace: TraceKey::of(tl), range, rank };
    let Some(gaps) = state.cache.get_or_run(ui, tl, &key, move |tl, stop| Gaps::compute(tl, range, rank, stop)) else {
        return;
    };
    ui.columns(3, |cols| {
        if let [a, b, c] = cols {
            waits_ui(a, tl, &gaps.waits, commands);
            idle_ui(b, tl, &gaps.idle, commands);
            stw_ui(c, tl, &gaps.stw, commands);
        }
    });
}

/// A titled, scrolling list.
fn list_ui(ui: &mut Ui, title: &str, id: &str, n: usize, add: impl FnOnce(&mut Ui)) {
    ui.strong(format!("{title} ({n})"));
    egui::ScrollArea::vertical().id_salt(id).auto_shrink(false).show(ui, |ui| {
        if n == 0 {
            ui.weak("none");
        }
        add(ui);
    });
}

fn offset(tl: &Timeline, t: i64) -> String {
    format_duration(t - tl.start_ns)
}

/// The longest single waits for a P.
fn waits_ui(ui: &mut Ui, tl: &Timeline, waits: &[RunnableWait], commands: &mut Vec<ViewCommand>) {
    list_ui(ui, "Longest runnable waits", "gotv_gap_waits", waits.len(), |ui| {
        for w in waits {
            let g = tl.goroutine(w.g);
            let who = g.map_or(format!("g{}", w.g.0), |g| tl.goroutine_label(g));
            let text = format!(
                "{}  {who}  {} at {}",
                format_duration(w.duration_ns()),
                w.state.name(),
                offset(tl, w.start_ns)
            );
            let resp = link_row(ui, text).on_hover_ui(|ui| wait_tooltip(ui, tl, w));
            if resp.clicked() {
                show_around(commands, w.start_ns, w.end_ns);
                if let Some(gi) = tl.goroutine_index(w.g) {
                    commands.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(w.start_ns) });
                }
            }
        }
    });
}

fn wait_tooltip(ui: &mut Ui, tl: &Timeline, w: &RunnableWait) {
    ui.label(format!("{} from {} to {}", w.state.name(), offset(tl, w.start_ns), offset(tl, w.end_ns)));
    if let Some(by) = w.woken_by {
        let label = tl.goroutine(by).map_or(format!("g{}", by.0), |g| tl.goroutine_label(g));
        ui.label(format!("woken by {label}"));
    }
    let frames = tl.stacks.frames(w.stack);
    if !frames.is_empty() {
        ui.weak("became runnable at:");
        for f in frames.iter().take(TIP_FRAMES) {
            ui.monospace(tl.strings.get(f.func));
        }
    }
    ui.weak("Click to show it on the timeline");
}

/// Intervals with runnable goroutines while a P was idle.
fn idle_ui(ui: &mut Ui, tl: &Timeline, gaps: &[IdleGap], commands: &mut Vec<ViewCommand>) {
    list_ui(ui, "Runnable while a P was idle", "gotv_gap_idle", gaps.len(), |ui| {
        for gap in gaps {
            let text = format!(
                "{}  at {}  {} waiting, {} idle P",
                format_duration(gap.duration_ns()),
                offset(tl, gap.start_ns),
                gap.goroutine_count,
                gap.max_idle_procs
            );
            let resp = link_row(ui, text).on_hover_ui(|ui| {
                ui.label(format!("goroutine time waiting: {}", format_duration(gap.waiting_ns)));
                ui.label(format!("most runnable at once: {}", gap.max_runnable));
                for id in &gap.goroutines {
                    let label = tl.goroutine(*id).map_or(format!("g{}", id.0), |g| tl.goroutine_label(g));
                    ui.monospace(label);
                }
                if gap.goroutine_count > gap.goroutines.len() {
                    ui.weak(format!("and {} more", gap.goroutine_count - gap.goroutines.len()));
                }
            });
            if resp.clicked() {
                show_around(commands, gap.start_ns, gap.end_ns);
                let at = offset(tl, gap.start_ns);
                let why = if gap.goroutine_count > gap.goroutines.len() {
                    format!(
                        "First {} of {} goroutines waiting in the gap at {at}",
                        gap.goroutines.len(),
                        gap.goroutine_count
                    )
                } else {
                    format!("Goroutines waiting in the gap at {at}")
                };
                commands.push(ViewCommand::Highlight { goroutines: gap.goroutines.clone(), why });
            }
        }
    });
}

/// The longest stop-the-world pauses.
fn stw_ui(ui: &mut Ui, tl: &Timeline, stw: &[RangeSpan], commands: &mut Vec<ViewCommand>) {
    list_ui(ui, "Longest stop-the-world pauses", "gotv_gap_stw", stw.len(), |ui| {
        for r in stw {
            let text = format!(
                "{}  at {}  {}",
                format_duration(r.duration_ns()),
                offset(tl, r.start_ns),
                tl.strings.get(r.reason)
            );
            if link_row(ui, text).clicked() {
                show_around(commands, r.start_ns, r.end_ns);
            }
        }
    });
}
