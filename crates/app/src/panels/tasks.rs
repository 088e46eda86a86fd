//! User tasks and regions (`runtime/trace.NewTask`, `trace.WithRegion`,
//! `trace.Log`): their types with counts and duration percentiles, as
//! `go tool trace`'s "User-defined tasks" and "User-defined regions" pages
//! show them (a region type once per place its regions began, as that
//! page splits it); a type's tasks or regions longest first, each a jump
//! to the timeline; and a chosen task's events in time order.

use egui::Ui;
use timeline::analysis::{self, TaskEvent, TaskEventKind, TypeSummary};
use timeline::ticks::format_duration;
use timeline::{Frame, StrId, Timeline};

use super::table::{self, Cell, Col, Sort};
use super::{Cached, PanelInput, TraceKey, link_row, show_around};
use crate::view::ViewCommand;

/// Tasks or regions listed for a type.
const LIMIT: usize = 500;
/// Events of a task shown in its row's tooltip.
const TIP_EVENTS: usize = 12;

/// Which type is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chosen {
    /// A task type.
    Task(StrId),
    /// A region type, begun at a place (see [`analysis::region_site`]).
    Region(StrId, Option<Frame>),
}

/// Settings and results of the tasks panel.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TasksState {
    /// How the type tables are sorted.
    pub sort: Sort,
    /// The chosen type, by name: it stays chosen in the next trace of the
    /// same program, and after a restart.
    pub chosen: Option<ChosenName>,
    /// The task whose events are listed.
    #[serde(skip)]
    open_task: Option<u64>,
    #[serde(skip)]
    types: Cached<TraceKey, Types>,
    #[serde(skip)]
    list: Cached<(TraceKey, Chosen), Listed>,
}

/// A chosen type as saved: task or region, its name, and for a region
/// where it began.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChosenName {
    /// A region type (else a task type).
    pub region: bool,
    /// The type's name.
    pub name: String,
    /// For a region type, where its regions began, as [`site_text`] writes
    /// it ("" when unknown).
    #[serde(default)]
    pub site: String,
}

impl ChosenName {
    fn of(tl: &Timeline, c: Chosen) -> ChosenName {
        match c {
            Chosen::Task(t) => ChosenName { region: false, name: tl.strings.get(t).to_string(), site: String::new() },
            Chosen::Region(t, site) => {
                ChosenName { region: true, name: tl.strings.get(t).to_string(), site: site_text(tl, site) }
            }
        }
    }

    /// The row in `tl` of that kind and name (for a region, the one begun
    /// at the same place, else the type's first).
    fn find(&self, tl: &Timeline, types: &Types) -> Option<Chosen> {
        let id = tl.strings.find(&self.name)?;
        if !self.region {
            return types.tasks.iter().any(|t| t.typ == id).then_some(Chosen::Task(id));
        }
        let mut rows = types.regions.iter().filter(|t| t.typ == id);
        let first = rows.clone().next()?;
        let row = rows.find(|t| site_text(tl, t.site) == self.site).unwrap_or(first);
        Some(Chosen::Region(id, row.site))
    }
}

/// Where regions began, as the rows show it: the function without its
/// package's path, then the file's name and the line ("" when unknown).
fn site_text(tl: &Timeline, site: Option<Frame>) -> String {
    let Some(f) = site else { return String::new() };
    let (func, file) = (after_slash(tl.strings.get(f.func)), after_slash(tl.strings.get(f.file)));
    format!("{func} ({file}:{})", f.line)
}

/// What follows the last `/` of `s` (all of it if none).
fn after_slash(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// The tasks or regions of the chosen type.
#[derive(Debug)]
struct Listed {
    /// Indices into the timeline's tasks or regions, longest first.
    order: Vec<usize>,
    /// For regions: time inside them per goroutine state.
    states: Option<[i64; timeline::GState::COUNT]>,
}

impl Default for TasksState {
    fn default() -> Self {
        TasksState {
            sort: Sort { col: 0, descending: false },
            chosen: None,
            open_task: None,
            types: Cached::default(),
            list: Cached::default(),
        }
    }
}

impl TasksState {
    /// Drops results and the open task (another trace was opened).
    pub fn forget_results(&mut self) {
        self.open_task = None;
        self.types = Cached::default();
        self.list = Cached::default();
    }
}

/// The task and region types of a trace.
#[derive(Debug)]
struct Types {
    tasks: Vec<TypeSummary>,
    regions: Vec<TypeSummary>,
}

/// Columns of the task types table.
const TYPE_COLS: [Col; 6] = [
    Col::text("Type", 0.0, "The name given to trace.NewTask"),
    Col::num("Count", 84.0, "How many, complete or not"),
    Col::num("p50", 76.0, "Median duration (tasks: complete ones only)"),
    Col::num("p95", 76.0, "95th percentile duration"),
    Col::num("p99", 76.0, "99th percentile duration"),
    Col::num("Max", 76.0, "Longest"),
];

/// Columns of the region types table: as [`TYPE_COLS`], and a type is a
/// row per place its regions began.
const REGION_COLS: [Col; 6] = {
    let mut cols = TYPE_COLS;
    cols[0] = Col::text(
        "Type · began in",
        0.0,
        "The name given to trace.WithRegion or trace.StartRegion, and where those regions began: the \
         outermost frame of the stack they began in (as go tool trace's regions page splits a type)",
    );
    cols
};

/// Shows the panel; jumps go to `commands`.
pub fn tasks_ui(ui: &mut Ui, input: &PanelInput<'_>, state: &mut TasksState, commands: &mut Vec<ViewCommand>) {
    let tl = input.tl;
    let key = TraceKey::of(tl);
    if tl.tasks.is_empty() && tl.regions.is_empty() {
        ui.label("This trace has no user tasks or regions.");
        ui.weak(
            "Annotate code with runtime/trace: trace.NewTask for a request or job, trace.WithRegion or \
             trace.StartRegion for a step of it, trace.Log for events. gotv then shows them here and \
             draws regions on their goroutines.",
        );
        return;
    }
    let types = state
        .types
        .get_or_compute(&key, || Types { tasks: analysis::task_types(tl), regions: analysis::region_types(tl) });
    let was = state.chosen.as_ref().and_then(|c| c.find(tl, types));
    let mut chosen = was;
    let mut sort = state.sort;
    ui.columns(2, |cols| {
        if let [left, right] = cols {
            egui::ScrollArea::vertical().id_salt("gotv_task_types").auto_shrink(false).show(left, |ui| {
                let task = |t: &TypeSummary| Chosen::Task(t.typ);
                let region = |t: &TypeSummary| Chosen::Region(t.typ, t.site);
                types_table_ui(ui, input, ("Tasks by type", &TYPE_COLS), &types.tasks, task, &mut chosen, &mut sort);
                ui.add_space(8.0);
                types_table_ui(
                    ui,
                    input,
                    ("Regions by type and where they began", &REGION_COLS),
                    &types.regions,
                    region,
                    &mut chosen,
                    &mut sort,
                );
            });
            if let Some(c) = chosen {
                // A big trace's region type can have millions of regions,
                // each read for its states: off the UI thread there.
                let listed = state.list.get_or_run(right, tl, &(key, c), move |tl, _| {
                    Some(match c {
                        Chosen::Task(t) => Listed { order: analysis::tasks_of_type(tl, t), states: None },
                        Chosen::Region(t, site) => Listed {
                            order: analysis::regions_of_type(tl, t, site),
                            states: Some(analysis::region_state_totals(tl, t, site)),
                        },
                    })
                });
                match (c, listed) {
                    (Chosen::Task(t), Some(l)) => {
                        tasks_list_ui(right, tl, t, &l.order, &mut state.open_task, commands);
                    }
                    (Chosen::Region(t, site), Some(l)) => regions_list_ui(right, input, (t, site), l, commands),
                    (_, None) => {}
                }
            } else {
                right.weak("Click a type to list its tasks or regions, longest first.");
            }
        }
    });
    if chosen != was {
        state.open_task = None;
        state.chosen = chosen.map(|c| ChosenName::of(tl, c));
    }
    state.sort = sort;
}

/// A table of types (titled `title`, with columns `cols`); clicking a row
/// chooses it.
fn types_table_ui(
    ui: &mut Ui,
    input: &PanelInput<'_>,
    (title, cols): (&str, &[Col; 6]),
    types: &[TypeSummary],
    make: impl Fn(&TypeSummary) -> Chosen,
    chosen: &mut Option<Chosen>,
    sort: &mut Sort,
) {
    let (tl, theme) = (input.tl, input.theme);
    ui.strong(format!("{title} ({})", types.len()));
    if types.is_empty() {
        ui.weak("none");
        return;
    }
    // Two tables in one place: their headers need their own IDs.
    ui.push_id(title, |ui| {
        let spans = table::layout(cols, ui.min_rect().left(), ui.available_width());
        table::header_ui(ui, theme, cols, &spans, sort);
        ui.spacing_mut().item_spacing.y = 0.0;
        for (k, t) in sorted(tl, types, *sort).into_iter().enumerate() {
            let cells = type_cells(tl, t);
            let sel = *chosen == Some(make(t));
            let mut resp = table::row_ui(ui, theme, cols, &spans, &cells, k % 2 == 1, sel);
            if let Some(f) = t.site {
                // The row shows the site shortened; the whole of it here.
                resp = resp.on_hover_ui(|ui| {
                    ui.strong(type_name(tl, t.typ));
                    ui.label(format!("begun in {}", tl.strings.get(f.func)));
                    ui.label(format!("{}:{}", tl.strings.get(f.file), f.line));
                });
            }
            if resp.clicked() {
                *chosen = Some(make(t));
            }
        }
    });
}

/// `types` in the table's order (ties by name, as listed).
fn sorted<'t>(tl: &Timeline, types: &'t [TypeSummary], sort: Sort) -> Vec<&'t TypeSummary> {
    let mut out: Vec<&TypeSummary> = types.iter().collect();
    let num = |t: &TypeSummary| -> i64 {
        let d = t.durations;
        match sort.col {
            1 => t.count as i64,
            2 => d.map_or(-1, |d| d.p50_ns),
            3 => d.map_or(-1, |d| d.p95_ns),
            4 => d.map_or(-1, |d| d.p99_ns),
            _ => d.map_or(-1, |d| d.max_ns),
        }
    };
    if sort.col == 0 {
        // Stable: the rows of one type stay in the order they were given.
        out.sort_by(|a, b| tl.strings.get(a.typ).cmp(tl.strings.get(b.typ)));
    } else {
        out.sort_by_key(|t| num(t));
    }
    if sort.descending {
        out.reverse();
    }
    out
}

/// A type's name as shown (an empty one said so).
fn type_name(tl: &Timeline, typ: StrId) -> String {
    let name = tl.strings.get(typ);
    if name.is_empty() { "(no type)".to_string() } else { name.to_string() }
}

fn type_cells(tl: &Timeline, t: &TypeSummary) -> Vec<Cell> {
    let d = t.durations;
    let dur =
        |f: fn(&analysis::DurationStats) -> i64| Cell::Text(d.as_ref().map_or("-".into(), |d| format_duration(f(d))));
    let site = site_text(tl, t.site);
    let name = if site.is_empty() { type_name(tl, t.typ) } else { format!("{} · {site}", type_name(tl, t.typ)) };
    vec![
        Cell::Text(name),
        Cell::Text(crate::status::format_count(t.count as u64)),
        dur(|d| d.p50_ns),
        dur(|d| d.p95_ns),
        dur(|d| d.p99_ns),
        dur(|d| d.max_ns),
    ]
}

fn offset(tl: &Timeline, t: i64) -> String {
    format_duration(t - tl.start_ns)
}

/// The tasks of one type, longest first; a click jumps to the task and
/// lists its events below.
fn tasks_list_ui(
    ui: &mut Ui,
    tl: &Timeline,
    typ: StrId,
    list: &[usize],
    open: &mut Option<u64>,
    commands: &mut Vec<ViewCommand>,
) {
    ui.strong(format!("Tasks \"{}\", longest first ({})", type_name(tl, typ), list.len()));
    let list_h = if open.is_some() { ui.available_height() * 0.5 } else { ui.available_height() };
    egui::ScrollArea::vertical().id_salt("gotv_task_list").max_height(list_h).auto_shrink(false).show(ui, |ui| {
        for task in list.iter().take(LIMIT).filter_map(|&i| tl.tasks.get(i)) {
            let span = analysis::task_span(tl, &task);
            let mut text =
                format!("{}  task {}  at {}", format_duration(span.duration_ns()), task.id, offset(tl, span.start_ns));
            if !span.complete {
                text += "  (incomplete)";
            }
            let n = task.goroutines.len();
            text += &format!("  {n} goroutine{}", if n == 1 { "" } else { "s" });
            let resp = link_row(ui, text).on_hover_ui(|ui| {
                for e in analysis::task_events(tl, task.id).iter().take(TIP_EVENTS) {
                    ui.monospace(event_text(tl, span.start_ns, e));
                }
                ui.weak("Click to show it on the timeline and list its events");
            });
            if resp.clicked() {
                *open = Some(task.id);
                show_around(commands, span.start_ns, span.end_ns);
                let first = task.goroutines.first().and_then(|&g| tl.goroutine_index(g));
                if let Some(gi) = first {
                    commands.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(span.start_ns) });
                }
                let why = format!("Goroutines of task {} ({})", task.id, type_name(tl, task.typ));
                commands.push(ViewCommand::Highlight { goroutines: task.goroutines.clone(), why });
            }
        }
        if list.len() > LIMIT {
            ui.weak(format!("and {} shorter ones", list.len() - LIMIT));
        }
    });
    if let Some(id) = *open {
        task_events_ui(ui, tl, id, commands);
    }
}

/// The events of task `id`, each a jump to its goroutine at its time.
fn task_events_ui(ui: &mut Ui, tl: &Timeline, id: u64, commands: &mut Vec<ViewCommand>) {
    let Some(task) = tl.tasks.find(id) else { return };
    let span = analysis::task_span(tl, &task);
    ui.separator();
    let parent = if task.parent != 0 { format!(", child of task {}", task.parent) } else { String::new() };
    ui.strong(format!("Task {id} ({}){parent}: events, time since its start", type_name(tl, task.typ)));
    let events = analysis::task_events(tl, id);
    egui::ScrollArea::vertical().id_salt("gotv_task_events").auto_shrink(false).show(ui, |ui| {
        for e in &events {
            let resp = link_row(ui, egui::RichText::new(event_text(tl, span.start_ns, e)).monospace());
            if resp.clicked() {
                show_around(commands, e.time_ns, e.time_ns);
                if let Some(gi) = e.g.and_then(|g| tl.goroutine_index(g)) {
                    commands.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(e.time_ns) });
                }
            }
        }
    });
}

/// One event of a task, as a line: time since `start_ns`, goroutine, what.
fn event_text(tl: &Timeline, start_ns: i64, e: &TaskEvent) -> String {
    let since = e.time_ns - start_ns;
    let when = if since < 0 { format!("-{}", format_duration(-since)) } else { format!("+{}", format_duration(since)) };
    let who = e.g.map_or(String::new(), |g| format!("g{}", g.0));
    let what = match e.kind {
        TaskEventKind::Begin => "task begins".to_string(),
        TaskEventKind::End => "task ends".to_string(),
        TaskEventKind::Log(cat, msg) => {
            let cat = tl.strings.get(cat);
            if cat.is_empty() {
                format!("log {}", tl.strings.get(msg))
            } else {
                format!("log {cat}: {}", tl.strings.get(msg))
            }
        }
        TaskEventKind::RegionBegin(t) => format!("region {} begins", type_name(tl, t)),
        TaskEventKind::RegionEnd(t) => format!("region {} ends", type_name(tl, t)),
    };
    format!("{when:>12}  {who:>7}  {what}")
}

/// The regions of one type begun at one place, longest first; a click
/// jumps to the region on its goroutine.
fn regions_list_ui(
    ui: &mut Ui,
    input: &PanelInput<'_>,
    (typ, site): (StrId, Option<Frame>),
    listed: &Listed,
    commands: &mut Vec<ViewCommand>,
) {
    let (tl, theme) = (input.tl, input.theme);
    let list = &listed.order;
    if let Some(states) = listed.states {
        egui::CollapsingHeader::new(format!("Time inside \"{}\" regions, by state", type_name(tl, typ)))
            .default_open(true)
            .show(ui, |ui| super::state_times_ui(ui, theme, states));
    }
    ui.strong(format!("Regions \"{}\", longest first ({})", type_name(tl, typ), list.len()));
    if let Some(f) = site {
        let (func, file) = (tl.strings.get(f.func), tl.strings.get(f.file));
        ui.weak(format!("begun in {func}\n    {file}:{}", f.line));
    }
    egui::ScrollArea::vertical().id_salt("gotv_region_list").auto_shrink(false).show(ui, |ui| {
        for r in list.iter().take(LIMIT).filter_map(|&i| tl.regions.get(i)) {
            let who = tl.goroutine(r.g).map_or(format!("g{}", r.g.0), |g| tl.goroutine_label(g));
            let task = if r.task != 0 { format!("  task {}", r.task) } else { String::new() };
            let text = format!(
                "{}  {who}  at {}{task}",
                format_duration(r.end_ns.saturating_sub(r.start_ns)),
                offset(tl, r.start_ns)
            );
            let resp = link_row(ui, text).on_hover_ui(|ui| {
                ui.strong(format!("{} on {who}", type_name(tl, r.typ)));
                ui.label(format!("from {} to {}", offset(tl, r.start_ns), offset(tl, r.end_ns)));
                if let Some(g) = tl.goroutine(r.g) {
                    ui.weak("time inside it:");
                    super::state_times_ui(ui, theme, g.state_totals(r.start_ns, r.end_ns));
                }
                ui.weak("Click to show it on the timeline");
            });
            if resp.clicked() {
                show_around(commands, r.start_ns, r.end_ns);
                if let Some(gi) = tl.goroutine_index(r.g) {
                    commands.push(ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(r.start_ns) });
                }
            }
        }
        if list.len() > LIMIT {
            ui.weak(format!("and {} shorter ones", list.len() - LIMIT));
        }
    });
}
