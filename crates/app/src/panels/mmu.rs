//! Minimum mutator utilisation: the MMU curve over window sizes (log
//! scale) for the GC work chosen, and the worst windows of one size, each a
//! jump to the timeline.

use std::sync::Arc;

use egui::{Ui, vec2};
use egui_plot::{GridInput, GridMark, HoverPosition, Line, Plot, VLine};
use timeline::Timeline;
use timeline::analysis::{self, MmuCurve, Stop, UtilFlags, UtilWindow};
use timeline::ticks::format_duration;

use super::{Cached, PanelInput, TraceKey, link_row, show_around, took_label};
use crate::view::ViewCommand;

/// Worst windows listed.
const WORST: usize = 10;
/// The window chosen when none is (or the saved one does not fit the trace).
const DEFAULT_WINDOW_NS: i64 = 1_000_000;

/// Settings and results of the MMU panel.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MmuState {
    /// Count stop-the-world pauses.
    pub stw: bool,
    /// Count background mark workers.
    pub background: bool,
    /// Count mark assists.
    pub assist: bool,
    /// Count sweeping.
    pub sweep: bool,
    /// One utilisation series per P.
    pub per_proc: bool,
    /// Window of the worst-window list (0: `DEFAULT_WINDOW_NS`).
    pub window_ns: i64,
    #[serde(skip)]
    curve: Cached<(TraceKey, u8), MmuData>,
    #[serde(skip)]
    worst: Cached<(TraceKey, u8, i64), Vec<UtilWindow>>,
}

impl Default for MmuState {
    fn default() -> Self {
        MmuState {
            stw: true,
            background: true,
            assist: true,
            sweep: true,
            per_proc: false,
            window_ns: 0,
            curve: Cached::default(),
            worst: Cached::default(),
        }
    }
}

impl MmuState {
    /// Drops results (another trace was opened).
    pub fn forget_results(&mut self) {
        self.curve = Cached::default();
        self.worst = Cached::default();
    }

    /// The flags chosen, and a small number naming them for cache keys.
    fn flags(&self) -> (UtilFlags, u8) {
        let all = [
            (self.stw, UtilFlags::STW),
            (self.background, UtilFlags::BACKGROUND),
            (self.assist, UtilFlags::ASSIST),
            (self.sweep, UtilFlags::SWEEP),
            (self.per_proc, UtilFlags::PER_PROC),
        ];
        let mut flags = UtilFlags::NONE;
        let mut code = 0u8;
        for (bit, (on, f)) in all.into_iter().enumerate() {
            if on {
                flags = flags | f;
                code |= 1 << bit;
            }
        }
        (flags, code)
    }
}

/// The prepared curve and its points.
#[derive(Debug)]
struct MmuData {
    curve: Option<Arc<MmuCurve>>,
    /// `(window_ns, mmu)` for the default windows.
    points: Vec<(i64, f64)>,
}

impl MmuData {
    fn compute(tl: &Timeline, flags: UtilFlags, stop: Stop<'_>) -> Option<MmuData> {
        let util = analysis::mutator_utilization_stoppable(tl, flags, stop)?;
        if util.is_empty() {
            return Some(MmuData { curve: None, points: Vec::new() });
        }
        let curve = Arc::new(MmuCurve::new(util));
        let points = analysis::mmu_curve(&curve, &analysis::default_windows(tl.end_ns - tl.start_ns));
        stop.unless_raised(MmuData { curve: Some(curve), points })
    }
}

/// The MMU panel.
pub fn mmu_ui(ui: &mut Ui, input: &PanelInput<'_>, state: &mut MmuState, commands: &mut Vec<ViewCommand>) {
    let tl = input.tl;
    ui.horizontal(|ui| {
        ui.strong("Minimum mutator utilisation");
        ui.separator();
        ui.label("Count");
        ui.checkbox(&mut state.stw, "STW").on_hover_text("GC stop-the-world pauses");
        ui.checkbox(&mut state.background, "Background workers").on_hover_text("Dedicated and fractional mark workers");
        ui.checkbox(&mut state.assist, "Mark assists");
        ui.checkbox(&mut state.sweep, "Sweeping");
        ui.separator();
        ui.checkbox(&mut state.per_proc, "Per P").on_hover_text("The worst P instead of all Ps together");
        took_label(ui, state.curve.took());
    });
    let (flags, code) = state.flags();
    let trace = TraceKey::of(tl);
    let Some(data) = state.curve.get_or_run(ui, tl, &(trace, code), move |tl, stop| MmuData::compute(tl, flags, stop))
    else {
        return;
    };
    let Some(curve) = data.curve.as_ref() else {
        ui.label("This trace has no GOMAXPROCS samples, so its utilisation is unknown.");
        return;
    };
    let windows: Vec<i64> = data.points.iter().map(|p| p.0).collect();
    let window = choose_window(&windows, state.window_ns);
    let size = ui.available_size();
    let mut picked = None;
    ui.horizontal_top(|ui| {
        ui.allocate_ui(vec2(size.x * 0.6, size.y), |ui| {
            picked = plot_ui(ui, input, &data.points, window);
        });
        ui.separator();
        ui.vertical(|ui| {
            if let Some(w) = window_choice_ui(ui, &windows, window) {
                picked = Some(w);
            }
            // On its own thread: a walk over every window of a big trace.
            let curve = Arc::clone(curve);
            let key = (trace, code, window);
            let worst = state
                .worst
                .get_or_run(ui, input.tl, &key, move |_, stop| curve.worst_windows_stoppable(window, WORST, stop));
            if let Some(worst) = worst {
                worst_ui(ui, tl, window, worst, commands);
            }
        });
    });
    if let Some(w) = picked {
        state.window_ns = w;
    }
}

/// The window to list: the saved one if it is among `windows`, else the
/// default (or the nearest to it).
fn choose_window(windows: &[i64], saved: i64) -> i64 {
    if windows.contains(&saved) {
        return saved;
    }
    nearest_window(windows, (DEFAULT_WINDOW_NS as f64).log10()).unwrap_or(DEFAULT_WINDOW_NS)
}

/// The window whose log10 is nearest `log_ns`.
fn nearest_window(windows: &[i64], log_ns: f64) -> Option<i64> {
    windows.iter().copied().min_by(|a, b| {
        let da = ((*a as f64).log10() - log_ns).abs();
        let db = ((*b as f64).log10() - log_ns).abs();
        da.total_cmp(&db)
    })
}

/// Grid lines at 1, 2 and 5 times each power of ten, x being log10(ns).
fn decade_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let mut out = Vec::new();
    let (first, last) = (lo.floor() as i64, hi.ceil() as i64);
    for k in first..=last.min(first + 40) {
        for (m, step) in [(1.0f64, 1.0), (2.0, 0.1), (5.0, 0.1)] {
            let v = k as f64 + m.log10();
            if v >= lo && v <= hi {
                out.push(GridMark { value: v, step_size: step });
            }
        }
    }
    out
}

/// The curve on a log-x plot with the chosen window marked; a click picks
/// the nearest window.
fn plot_ui(ui: &mut Ui, input: &PanelInput<'_>, points: &[(i64, f64)], window: i64) -> Option<i64> {
    let pts: Vec<[f64; 2]> = points.iter().map(|&(w, u)| [(w as f64).log10(), u]).collect();
    let fmt_x = |x: f64| format_duration(10f64.powf(x).round() as i64);
    let resp = Plot::new("gotv_mmu_plot")
        .height(ui.available_height())
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_y(0.0)
        .include_y(1.0)
        .x_grid_spacer(decade_marks)
        .x_axis_formatter(move |m, _| fmt_x(m.value))
        .y_axis_formatter(|m, _| format!("{:.0}%", m.value * 100.0))
        .x_axis_label("window")
        .label_formatter(move |pos| {
            let p = match pos {
                HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => position,
            };
            Some(format!("window {}\nMMU {:.1}%", fmt_x(p.x), p.y * 100.0))
        })
        .show(ui, |plot| {
            plot.line(Line::new("MMU", pts).color(input.theme.mmu_line()).width(2.0));
            plot.vline(VLine::new("worst windows", (window as f64).log10()).color(input.theme.mmu_marker()));
            plot.pointer_coordinate()
        });
    let windows: Vec<i64> = points.iter().map(|p| p.0).collect();
    resp.response.clicked().then_some(resp.inner).flatten().and_then(|p| nearest_window(&windows, p.x))
}

/// The window chooser; returns a window picked.
fn window_choice_ui(ui: &mut Ui, windows: &[i64], window: i64) -> Option<i64> {
    let mut picked = None;
    ui.horizontal(|ui| {
        ui.strong("Worst windows of");
        egui::ComboBox::from_id_salt("gotv_mmu_window").selected_text(format_duration(window)).show_ui(ui, |ui| {
            for &w in windows {
                if ui.selectable_label(w == window, format_duration(w)).clicked() {
                    picked = Some(w);
                }
            }
        });
    });
    picked
}

/// The worst windows of `window`, each a jump to the timeline.
fn worst_ui(ui: &mut Ui, tl: &Timeline, window: i64, worst: &[UtilWindow], commands: &mut Vec<ViewCommand>) {
    if let Some(w) = worst.first() {
        ui.label(format!("MMU at {}: {:.1}%", format_duration(window), w.util * 100.0));
    }
    egui::ScrollArea::vertical().id_salt("gotv_mmu_worst").auto_shrink(false).show(ui, |ui| {
        if worst.is_empty() {
            ui.weak("none");
        }
        for w in worst {
            let text = format!("{:.1}% utilisation  at {}", w.util * 100.0, format_duration(w.time_ns - tl.start_ns));
            if link_row(ui, text).on_hover_text("Click to show this window on the timeline").clicked() {
                show_around(commands, w.time_ns, w.time_ns + window);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_snap_to_the_list() {
        let ws = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
        assert_eq!(choose_window(&ws, 100_000), 100_000);
        assert_eq!(choose_window(&ws, 0), 1_000_000);
        assert_eq!(choose_window(&ws[..2], 0), 10_000);
        assert_eq!(nearest_window(&ws, 4.4), Some(10_000));
        assert_eq!(nearest_window(&[], 4.4), None);
    }

    #[test]
    fn flags_name_the_toggles() {
        let s = MmuState::default();
        let (f, code) = s.flags();
        assert_eq!(f, UtilFlags::ALL_GC);
        assert_eq!(code, 0b1111);
        let s = MmuState { stw: false, per_proc: true, ..MmuState::default() };
        let (f, code) = s.flags();
        assert!(f.contains(UtilFlags::PER_PROC) && !f.contains(UtilFlags::STW));
        assert_eq!(code, 0b11110);
    }

    #[test]
    fn decade_grid() {
        let marks = decade_marks(GridInput { bounds: (2.9, 4.1), base_step_size: 0.01 });
        let v: Vec<f64> = marks.iter().map(|m| (m.value * 1000.0).round() / 1000.0).collect();
        assert_eq!(v, [3.0, 3.301, 3.699, 4.0]);
    }
}
