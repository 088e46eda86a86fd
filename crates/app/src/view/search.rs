//! The search box and its results: goroutines by function, spans by frame
//! or state, logs by text. Matches are highlighted on the timeline and the
//! rest dimmed.

use egui::Ui;
use timeline::search::{Found, Query, search};
use timeline::ticks::format_duration;
use timeline::{GState, Timeline};

use super::{SpanRef, TraceViewState, TrackRef, ViewCommand};

/// Results listed at most.
const LIST_LIMIT: usize = 500;

/// What the search box looks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SearchKind {
    /// Goroutines by start function or ID.
    #[default]
    Goroutine,
    /// Spans whose stack has a matching frame.
    Frame,
    /// Spans in a state.
    State,
    /// Logs by category or message.
    Log,
}

impl SearchKind {
    fn label(self) -> &'static str {
        match self {
            SearchKind::Goroutine => "Goroutine",
            SearchKind::Frame => "Stack frame",
            SearchKind::State => "State",
            SearchKind::Log => "Log text",
        }
    }
}

/// Search state of the view.
#[derive(Debug, Default)]
pub struct SearchState {
    /// What to look for.
    pub kind: SearchKind,
    /// The text typed.
    pub text: String,
    /// The state picked (State searches).
    pub state: Option<GState>,
    /// The last results.
    pub found: Option<Found>,
    /// What the results are when a panel set them rather than a search
    /// (e.g. "goroutines of task 3").
    pub why: Option<String>,
}

/// The search controls (in the toolbar).
pub fn search_bar_ui(ui: &mut Ui, tl: &Timeline, state: &mut TraceViewState) {
    let s = &mut state.t.search;
    let label = ui.label("Search");
    let kind = egui::ComboBox::from_id_salt("gotv_search_kind").selected_text(s.kind.label()).show_ui(ui, |ui| {
        for k in [SearchKind::Goroutine, SearchKind::Frame, SearchKind::State, SearchKind::Log] {
            ui.selectable_value(&mut s.kind, k, k.label());
        }
    });
    kind.response.labelled_by(label.id);
    let mut go = false;
    if s.kind == SearchKind::State {
        let current = s.state.map_or("pick a state", |st| st.name());
        let picked = egui::ComboBox::from_id_salt("gotv_search_state").selected_text(current).show_ui(ui, |ui| {
            for st in GState::ALL.iter().filter(|st| **st != GState::Exited) {
                if ui.selectable_value(&mut s.state, Some(*st), st.name()).clicked() {
                    go = true;
                }
            }
        });
        picked.response.labelled_by(label.id);
    } else {
        let edit = ui.add(egui::TextEdit::singleline(&mut s.text).desired_width(120.0).hint_text("search"));
        go |= edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    }
    go |= ui.button("Find").clicked();
    if s.found.is_some() && ui.button("Clear").clicked() {
        s.found = None;
        s.why = None;
        return;
    }
    if go {
        let query = match s.kind {
            SearchKind::Goroutine => Some(Query::Goroutine(s.text.clone())),
            SearchKind::Frame => Some(Query::Frame(s.text.clone())),
            SearchKind::Log => Some(Query::Log(s.text.clone())),
            SearchKind::State => s.state.map(Query::State),
        };
        s.found = query.map(|q| search(tl, &q, LIST_LIMIT));
        s.why = None;
    }
}

/// The results list (in the side panel).
pub fn results_ui(ui: &mut Ui, tl: &Timeline, state: &mut TraceViewState) {
    let Some(found) = &state.t.search.found else { return };
    let mut cmds = Vec::new();
    let why = state.t.search.why.as_deref();
    ui.label(egui::RichText::new(why.unwrap_or("Search results")).strong());
    if !found.logs.is_empty() || (state.t.search.kind == SearchKind::Log && why.is_none()) {
        ui.label(format!("{} log messages", found.logs.len()));
        for &i in found.logs.iter().take(LIST_LIMIT) {
            let Some(l) = tl.logs.get(i) else { continue };
            let text = format!(
                "{}  g{}  {} {}",
                format_duration(l.time_ns - tl.start_ns),
                l.g.0,
                tl.strings.get(l.category),
                tl.strings.get(l.message)
            );
            if ui.link(text).clicked() {
                cmds.push(around(l.time_ns, l.time_ns));
                if let Some(gi) = tl.goroutine_index(l.g) {
                    cmds.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(l.time_ns) });
                }
            }
        }
    } else if found.state.is_some() || !found.stacks.is_empty() {
        ui.label(format!("{} spans in {} goroutines", found.span_count, found.goroutine_count()));
        for h in &found.spans {
            let Some(g) = tl.goroutines.get(h.goroutine) else { continue };
            let text = format!(
                "{}  at {}  for {}",
                tl.goroutine_label(g),
                format_duration(h.start_ns - tl.start_ns),
                format_duration(h.end_ns - h.start_ns)
            );
            if ui.link(text).clicked() {
                cmds.push(around(h.start_ns, h.end_ns));
                cmds.push(ViewCommand::Select(SpanRef { track: TrackRef::Goroutine(h.goroutine), index: h.index }));
            }
        }
    } else {
        ui.label(format!("{} goroutines", found.goroutine_count()));
        let hits = found.goroutines.iter().enumerate().filter(|(_, b)| **b).take(LIST_LIMIT);
        for (gi, _) in hits {
            let Some(g) = tl.goroutines.get(gi) else { continue };
            if ui.link(tl.goroutine_label(g)).clicked() {
                cmds.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: None });
            }
        }
    }
    state.t.commands.extend(cmds);
}

fn around(start_ns: i64, end_ns: i64) -> ViewCommand {
    let pad = ((end_ns - start_ns) / 10).max(1_000_000);
    ViewCommand::ShowRange { start_ns: start_ns - pad, end_ns: end_ns + pad }
}
