//! The details side panel and span tooltips.

use egui::{RichText, Ui};
use timeline::ticks::format_duration;
use timeline::{GState, Goroutine, MState, PState, PlanItem, StackId, Timeline, Track};
use trace_core::GoroutineId;

use super::{SpanRef, TraceViewState, TrackRef, ViewCommand};
use crate::panels::{AUTO_COMPUTE_EVENTS, Tab};
use crate::theme::Theme;

/// Frames shown in a tooltip.
const TOOLTIP_FRAMES: usize = 4;

/// The side panel: the selected span and its goroutine, or the time selection.
pub fn details_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, state: &mut TraceViewState) {
    ui.horizontal(|ui| {
        ui.heading("Details");
        if ui.small_button("Close").on_hover_text("Close (Esc)").clicked() {
            state.t.commands.push(ViewCommand::ClearSelection);
        }
    });
    egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| {
        if state.t.search.found.is_some() {
            super::search::results_ui(ui, tl, state);
            ui.separator();
        }
        if state.t.range.is_some() && state.t.drag_from.is_none() {
            range_ui(ui, tl, theme, state);
            ui.separator();
        }
        if let Some(sel) = state.t.selected {
            match sel.track {
                TrackRef::Goroutine(i) => goroutine_ui(ui, tl, theme, state, i, sel.index),
                TrackRef::Proc(i) => {
                    resource_ui(ui, tl, state, sel, tl.procs.get(i).map(|p| (format!("P{}", p.id.0), &p.track)))
                }
                TrackRef::Thread(i) => {
                    resource_ui(ui, tl, state, sel, tl.threads.get(i).map(|t| (format!("M{}", t.id.0), &t.track)))
                }
            }
        }
    });
}

/// The button that opens the Selection panel for a big trace's selection.
pub const SELECTION_SUMMARY_BUTTON: &str = "Time by state…";

/// Duration and per-state summary of the Shift+drag selection.
fn range_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, state: &mut TraceViewState) {
    let Some((s, e)) = state.t.range else { return };
    ui.label(RichText::new("Time selection").strong());
    ui.label(format!(
        "{} to {}  ({})",
        format_duration(s - tl.start_ns),
        format_duration(e - tl.start_ns),
        format_duration(e - s)
    ));
    if state.panels.tab == Tab::Selection {
        // Shown there, larger; not twice.
        ui.weak("Time by state: in the Selection panel below");
    } else if tl.event_count > AUTO_COMPUTE_EVENTS {
        // Summing every goroutine's spans in the range would freeze the
        // window on a big trace; the panel does it on a thread.
        let open = ui.button(SELECTION_SUMMARY_BUTTON).on_hover_text("Open the Selection panel, which sums it");
        if open.clicked() {
            state.panels.tab = Tab::Selection;
        }
    } else {
        let cached = matches!(&state.t.range_summary, Some((r, _)) if *r == (s, e));
        if !cached {
            state.t.range_summary = Some(((s, e), tl.state_totals_in(s, e)));
        }
        if let Some((_, totals)) = &state.t.range_summary {
            states_table(ui, theme, "selection_states", totals);
        }
    }
    if ui.button("Zoom to selection").clicked() {
        state.t.commands.push(ViewCommand::ShowRange { start_ns: s, end_ns: e });
    }
}

/// A table of time per state with shares.
fn states_table(ui: &mut Ui, theme: &Theme, id: &str, totals: &[(GState, i64)]) {
    let sum: i64 = totals.iter().map(|(_, ns)| ns).sum::<i64>().max(1);
    egui::Grid::new(id).striped(true).num_columns(3).show(ui, |ui| {
        for &(s, ns) in totals {
            swatch(ui, theme.gstate(s));
            ui.label(s.name());
            ui.label(format!("{}  ({:.1}%)", format_duration(ns), ns as f64 * 100.0 / sum as f64));
            ui.end_row();
        }
    });
}

fn goroutine_ui(ui: &mut Ui, tl: &Timeline, theme: &Theme, state: &mut TraceViewState, gi: usize, index: usize) {
    let Some(g) = tl.goroutines.get(gi) else { return };
    let origin = tl.origin(g);
    ui.label(RichText::new(tl.goroutine_label(g)).strong().size(15.0));
    egui::Grid::new("goroutine_facts").num_columns(2).show(ui, |ui| {
        ui.label("ID");
        ui.label(format!("{}", g.id.0));
        ui.end_row();
        ui.label("Start function");
        ui.label(tl.strings.get(g.start_fn()));
        ui.end_row();
        ui.label("Parent");
        goroutine_link(ui, tl, state, origin.parent, g.created_ns());
        ui.end_row();
        ui.label("Created");
        ui.label(g.created_ns().map_or("before the trace".into(), |t| format_duration(t - tl.start_ns)));
        ui.end_row();
        ui.label("Exited");
        ui.label(g.exited_ns().map_or("after the trace".into(), |t| format_duration(t - tl.start_ns)));
        ui.end_row();
    });
    if origin.creation_stack != StackId::NONE {
        egui::CollapsingHeader::new("Creation stack").default_open(false).show(ui, |ui| {
            copy_stack_button(ui, tl, &format!("goroutine {} [running]", origin.parent.0), origin.creation_stack);
            stack_ui(ui, tl, origin.creation_stack);
        });
    }
    ui.separator();
    if let Some(span) = g.track.span(index) {
        let st = Goroutine::state(&span);
        ui.horizontal(|ui| {
            swatch(ui, theme.gstate(st));
            ui.label(RichText::new(st.name()).strong());
            ui.label(format!(
                "at {} for {}",
                format_duration(span.start_ns - tl.start_ns),
                format_duration(span.duration_ns())
            ));
        });
        if st == GState::Running && span.a >= 0 {
            ui.label(format!("on P{}", span.a));
        }
        if ui.button("Zoom to span").clicked() {
            state.t.commands.push(ViewCommand::zoom_to(span.start_ns, span.end_ns));
        }
        let title = if st.is_blocked() {
            "Blocking stack"
        } else if st == GState::Runnable && span.a >= 0 {
            "Woken at"
        } else {
            "Stack"
        };
        if span.stack != StackId::NONE {
            ui.horizontal(|ui| {
                ui.label(RichText::new(title).strong());
                // "Woken at" is the waker's stack, taken while it ran.
                let header = if title == "Woken at" {
                    format!("goroutine {} [running]", span.a)
                } else {
                    format!("goroutine {} [{}]", g.id.0, st.name())
                };
                copy_stack_button(ui, tl, &header, span.stack);
            });
            stack_ui(ui, tl, span.stack);
        }
        if let Some((by, wake_stack)) = g.unblocked_by(index) {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Unblocked by").strong());
                let at = g.track.span(index + 1).map(|s| s.start_ns);
                goroutine_link(ui, tl, state, by, at);
            });
            if wake_stack != StackId::NONE {
                egui::CollapsingHeader::new("Unblock stack").default_open(true).show(ui, |ui| {
                    copy_stack_button(ui, tl, &format!("goroutine {} [running]", by.0), wake_stack);
                    stack_ui(ui, tl, wake_stack);
                });
            }
        }
    }
    ui.separator();
    ui.label(RichText::new("Time per state").strong());
    let totals = g.state_totals(i64::MIN, i64::MAX);
    let mut rows: Vec<(GState, i64)> =
        GState::ALL.iter().zip(totals).filter(|&(_, ns)| ns > 0).map(|(&s, ns)| (s, ns)).collect();
    rows.sort_by_key(|&(s, ns)| (std::cmp::Reverse(ns), s));
    states_table(ui, theme, "goroutine_states", &rows);
}

/// A small square of a state's colour.
fn swatch(ui: &mut Ui, color: egui::Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().rect_filled(rect, 2.0, color);
}

/// A clickable `g123 pkg.func` that selects the goroutine.
fn goroutine_link(ui: &mut Ui, tl: &Timeline, state: &mut TraceViewState, id: GoroutineId, at: Option<i64>) {
    match tl.goroutine_index(id) {
        Some(i) => {
            let label = tl.goroutines.get(i).map(|g| tl.goroutine_label(g)).unwrap_or_default();
            if ui.link(label).clicked() {
                state.t.commands.push(ViewCommand::SelectGoroutineAt { goroutine: i, time_ns: at });
            }
        }
        None if id.is_some() => {
            ui.label(format!("g{}", id.0));
        }
        None => {
            ui.label("none");
        }
    }
}

/// "Copy stack": puts the stack on the clipboard as Go prints a goroutine
/// in a traceback, under `header` (`goroutine 21 [chan receive]`).
fn copy_stack_button(ui: &mut Ui, tl: &Timeline, header: &str, stack: StackId) {
    if ui.small_button("Copy stack").on_hover_text("Copy as a Go traceback (function, then file:line)").clicked() {
        ui.ctx().copy_text(format!("{header}:\n{}", tl.stacks.traceback(stack, &tl.strings)));
    }
}

/// Every frame of a stack: function, then file:line.
fn stack_ui(ui: &mut Ui, tl: &Timeline, stack: StackId) {
    for f in tl.stacks.frames(stack) {
        ui.label(RichText::new(tl.strings.get(f.func)).monospace());
        ui.label(RichText::new(format!("    {}:{}", tl.strings.get(f.file), f.line)).monospace().weak());
    }
}

fn resource_ui(ui: &mut Ui, tl: &Timeline, state: &mut TraceViewState, sel: SpanRef, what: Option<(String, &Track)>) {
    let Some((name, track)) = what else { return };
    ui.label(RichText::new(name).strong().size(15.0));
    let Some(span) = track.span(sel.index) else { return };
    let st = match sel.track {
        TrackRef::Proc(_) => PState::from_u8(span.state).map_or("?", |s| s.name()),
        _ => MState::from_u8(span.state).map_or("?", |s| s.name()),
    };
    ui.label(format!(
        "{st} at {} for {}",
        format_duration(span.start_ns - tl.start_ns),
        format_duration(span.duration_ns())
    ));
    if span.a >= 0 {
        ui.horizontal(|ui| {
            ui.label("Goroutine");
            goroutine_link(ui, tl, state, GoroutineId(span.a), Some(span.start_ns));
        });
    }
}

/// What a user log marker says: its category and message, time and task.
pub fn log_tooltip(ui: &mut Ui, tl: &Timeline, log: &timeline::LogEntry) {
    let category = tl.strings.get(log.category);
    ui.strong(if category.is_empty() { "log".to_string() } else { format!("log {category}") });
    ui.label(RichText::new(tl.strings.get(log.message)).monospace());
    ui.label(format!("at {}", format_duration(log.time_ns - tl.start_ns)));
    if log.task != 0 {
        let typ = tl.tasks.find(log.task);
        let typ = typ.map_or(String::new(), |t| format!(" ({})", tl.strings.get(t.typ)));
        ui.label(format!("task {}{typ}", log.task));
    }
}

/// The hover tooltip of a plan item.
pub fn span_tooltip(ui: &mut Ui, tl: &Timeline, tref: TrackRef, track: &Track, item: &PlanItem, t_ns: i64) {
    let state_name = |code: u8| match tref {
        TrackRef::Goroutine(_) => GState::from_u8(code).map_or("?", |s| s.name()),
        TrackRef::Proc(_) => PState::from_u8(code).map_or("?", |s| s.name()),
        TrackRef::Thread(_) => MState::from_u8(code).map_or("?", |s| s.name()),
    };
    if item.is_merged() {
        ui.strong(format!("{} spans, mostly {}", item.count, state_name(item.state)));
        ui.label(format!("{} long; zoom in to see them", format_duration(item.end_ns - item.start_ns)));
        if let TrackRef::Goroutine(gi) = tref {
            regions_ui(ui, tl, gi, t_ns);
        }
        return;
    }
    let Some(span) = track.span(item.first_index as usize) else { return };
    ui.strong(state_name(span.state));
    ui.label(format!(
        "start {}   duration {}",
        format_duration(span.start_ns - tl.start_ns),
        format_duration(span.duration_ns())
    ));
    match tref {
        TrackRef::Goroutine(gi) => {
            if span.stack != StackId::NONE {
                for f in tl.stacks.frames(span.stack).iter().take(TOOLTIP_FRAMES) {
                    ui.label(RichText::new(tl.strings.get(f.func)).monospace());
                }
            }
            if let Some(g) = tl.goroutines.get(gi)
                && let Some((by, _)) = g.unblocked_by(item.first_index as usize)
            {
                let who = tl.goroutine(by).map_or(format!("g{}", by.0), |w| tl.goroutine_label(w));
                ui.label(format!("unblocked by {who}"));
            }
            regions_ui(ui, tl, gi, t_ns);
        }
        _ => {
            if span.a >= 0 {
                let who = tl.goroutine(GoroutineId(span.a)).map_or(format!("g{}", span.a), |w| tl.goroutine_label(w));
                ui.label(who);
            }
        }
    }
}

/// The user regions open on goroutine `gi` at `t_ns`, outermost first.
fn regions_ui(ui: &mut Ui, tl: &Timeline, gi: usize, t_ns: i64) {
    let Some(g) = tl.goroutines.get(gi) else { return };
    for r in tl.regions_at(g.id, t_ns) {
        let task = if r.task == 0 { String::new() } else { format!(" (task {})", r.task) };
        ui.label(format!("in region {}{task}", tl.strings.get(r.typ)));
    }
}
