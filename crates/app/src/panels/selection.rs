//! Summary of the Shift+drag selection: its length, time per goroutine
//! state, how busy each P was, how much of it the GC took, and buttons to
//! its flame graphs.

use egui::{RichText, Ui};
use timeline::analysis::Stop;
use timeline::ticks::format_duration;
use timeline::{GState, PState, RangeSpan, Timeline};

use super::{Cached, FlameMode, PanelInput, TraceKey, took_label};
use crate::theme::Theme;
use crate::view::ViewCommand;

/// The selection summary's cache (nothing is persisted).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SelectionState {
    #[serde(skip)]
    cache: Cached<(TraceKey, i64, i64), Summary>,
}

impl SelectionState {
    /// Drops results (another trace was opened).
    pub fn forget_results(&mut self) {
        self.cache = Cached::default();
    }
}

/// What the selection holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Time per goroutine state, largest first.
    pub states: Vec<(GState, i64)>,
    /// Per P: its ID, time running a goroutine, time in a system call.
    pub procs: Vec<(i64, i64, i64)>,
    /// Time inside a GC cycle.
    pub gc_ns: i64,
    /// Time stopped by stop-the-world pauses.
    pub stw_ns: i64,
    /// CPU samples taken.
    pub cpu_samples: usize,
}

impl Summary {
    /// The summary of `[start_ns, end_ns)`.
    pub fn compute(tl: &Timeline, start_ns: i64, end_ns: i64, stop: Stop<'_>) -> Option<Summary> {
        let procs = tl
            .procs
            .iter()
            .map(|p| {
                let (mut running, mut syscall) = (0, 0);
                p.track.for_each_in(start_ns, end_ns, |_, s| {
                    let d = s.end_ns.min(end_ns) - s.start_ns.max(start_ns);
                    match PState::from_u8(s.state) {
                        Some(PState::Running) => running += d,
                        Some(PState::Syscall) => syscall += d,
                        _ => {}
                    }
                });
                (p.id.0, running, syscall)
            })
            .collect();
        let first = tl.cpu_samples.partition_point(|s| s.time_ns < start_ns);
        let cpu_samples = tl.cpu_samples.iter().skip(first).take_while(|s| s.time_ns < end_ns).count();
        Some(Summary {
            states: tl.state_totals_in_stoppable(start_ns, end_ns, stop)?,
            procs,
            gc_ns: covered_ns(&tl.gc, start_ns, end_ns),
            stw_ns: covered_ns(&tl.stw, start_ns, end_ns),
            cpu_samples,
        })
    }
}

/// Time inside `[start_ns, end_ns)` covered by at least one of `ranges`
/// (sorted by start).
fn covered_ns(ranges: &[RangeSpan], start_ns: i64, end_ns: i64) -> i64 {
    let mut total = 0;
    let mut reach = start_ns;
    for r in ranges {
        let (s, e) = (r.start_ns.max(reach), r.end_ns.min(end_ns));
        if e > s {
            total += e - s;
            reach = e;
        }
    }
    total
}

/// The selection panel; returns the flame graph to open, if a button asked.
pub fn selection_ui(
    ui: &mut Ui,
    input: &PanelInput<'_>,
    state: &mut SelectionState,
    commands: &mut Vec<ViewCommand>,
) -> Option<FlameMode> {
    let tl = input.tl;
    let Some((s, e)) = input.range.filter(|(s, e)| e > s) else {
        ui.label("No time selection. Shift+drag on the timeline to select a time range.");
        return None;
    };
    let mut open = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("Selection {}", format_duration(e - s))).strong());
        ui.label(format!("from {} to {}", format_duration(s - tl.start_ns), format_duration(e - tl.start_ns)));
        ui.separator();
        if ui.button("Zoom to selection").clicked() {
            commands.push(ViewCommand::ShowRange { start_ns: s, end_ns: e });
        }
        if ui.button("CPU flame graph").clicked() {
            open = Some(FlameMode::Cpu);
        }
        if ui.button("Off-CPU flame graph").clicked() {
            open = Some(FlameMode::OffCpu);
        }
        took_label(ui, state.cache.took());
    });
    let key = (TraceKey::of(tl), s, e);
    // Summing a big trace takes a while: not on every frame of a drag.
    if state.cache.get(&key).is_none() && ui.input(|i| i.pointer.any_down()) {
        ui.weak("Release the mouse to summarise the selection.");
        return open;
    }
    let sum = state.cache.get_or_run(ui, tl, &key, move |tl, stop| Summary::compute(tl, s, e, stop))?;
    ui.separator();
    ui.columns(3, |cols| {
        if let [a, b, c] = cols {
            states_ui(a, input.theme, sum);
            procs_ui(b, input.theme, sum, e - s);
            gc_ui(c, sum, e - s);
        }
    });
    open
}

fn share(part: i64, whole: i64) -> f64 {
    part as f64 * 100.0 / whole.max(1) as f64
}

/// Time per state across all goroutines.
fn states_ui(ui: &mut Ui, theme: &Theme, sum: &Summary) {
    ui.strong("Goroutine time by state");
    let total: i64 = sum.states.iter().map(|(_, ns)| ns).sum();
    let longest = sum.states.iter().map(|(_, ns)| *ns).max().unwrap_or(0).max(1);
    egui::ScrollArea::vertical().id_salt("gotv_sel_states").auto_shrink(false).show(ui, |ui| {
        if sum.states.is_empty() {
            ui.weak("no goroutine activity");
        }
        egui::Grid::new("gotv_sel_states_grid").num_columns(3).striped(true).show(ui, |ui| {
            for &(st, ns) in &sum.states {
                ui.label(st.name());
                share_bar(ui, theme.gstate(st), ns as f32 / longest as f32);
                ui.label(format!("{}  ({:.1}%)", format_duration(ns), share(ns, total)));
                ui.end_row();
            }
        });
    });
}

/// A bar as long as `frac` of its slot, in `color`.
fn share_bar(ui: &mut Ui, color: egui::Color32, frac: f32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(140.0, 12.0), egui::Sense::hover());
    let w = (rect.width() * frac.clamp(0.0, 1.0)).max(1.0);
    ui.painter().rect_filled(egui::Rect::from_min_size(rect.min, egui::vec2(w, rect.height())), 2.0, color);
}

/// How busy each P was.
fn procs_ui(ui: &mut Ui, theme: &Theme, sum: &Summary, len: i64) {
    ui.strong("P utilisation");
    egui::ScrollArea::vertical().id_salt("gotv_sel_procs").auto_shrink(false).show(ui, |ui| {
        for &(id, running, syscall) in &sum.procs {
            let busy = running + syscall;
            let frac = (busy as f64 / len.max(1) as f64).clamp(0.0, 1.0) as f32;
            ui.horizontal(|ui| {
                ui.monospace(format!("P{id:<3}"));
                ui.add(
                    egui::ProgressBar::new(frac)
                        .desired_width(ui.available_width().min(260.0))
                        .fill(theme.busy_bar())
                        .text(format!("{:.1}% busy", frac * 100.0)),
                )
                .on_hover_text(format!(
                    "running {} ({:.1}%), syscall {} ({:.1}%)",
                    format_duration(running),
                    share(running, len),
                    format_duration(syscall),
                    share(syscall, len)
                ));
            });
        }
    });
}

/// GC and STW shares, CPU samples.
fn gc_ui(ui: &mut Ui, sum: &Summary, len: i64) {
    ui.strong("GC");
    egui::Grid::new("gotv_sel_gc").num_columns(2).show(ui, |ui| {
        ui.label("In a GC cycle");
        ui.label(format!("{}  ({:.1}%)", format_duration(sum.gc_ns), share(sum.gc_ns, len)));
        ui.end_row();
        ui.label("Stopped the world");
        ui.label(format!("{}  ({:.1}%)", format_duration(sum.stw_ns), share(sum.stw_ns, len)));
        ui.end_row();
        ui.label("CPU samples");
        ui.label(sum.cpu_samples.to_string());
        ui.end_row();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use timeline::{RangeKind, StrId};

    fn r(s: i64, e: i64) -> RangeSpan {
        RangeSpan { kind: RangeKind::Stw, start_ns: s, end_ns: e, reason: StrId(0), scope: -1 }
    }

    #[test]
    fn coverage_counts_overlaps_once() {
        assert_eq!(covered_ns(&[r(0, 10), r(5, 20), r(30, 40)], 2, 35), 8 + 10 + 5);
        assert_eq!(covered_ns(&[], 0, 100), 0);
        assert_eq!(covered_ns(&[r(50, 60)], 0, 10), 0);
    }

    #[test]
    fn gc_trace_summary() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/gc.trace");
        let tl = timeline::build(&std::fs::read(path).unwrap(), &timeline::Progress::default()).unwrap();
        let sum = Summary::compute(&tl, tl.start_ns, tl.end_ns, Stop::NEVER).unwrap();
        let len = tl.end_ns - tl.start_ns;
        assert!(sum.gc_ns > 0 && sum.gc_ns <= len);
        assert!(sum.stw_ns > 0 && sum.stw_ns <= len);
        assert!(!sum.procs.is_empty());
        assert!(sum.procs.iter().all(|&(_, run, sys)| run + sys <= len && run > 0));
        assert_eq!(sum.states, tl.state_totals_in(tl.start_ns, tl.end_ns));
    }
}
