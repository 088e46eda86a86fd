//! The panels driven as a person would: open a tab by its label, type in
//! its fields, click its rows, and check what the timeline shows after.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use timeline::analysis::{self, Filter};
use timeline::ticks::format_duration;
use timeline::{GState, Progress, Timeline};

use super::Tab;
use crate::theme::{Theme, ThemeChoice};
use crate::view::{Row, TraceViewState, TrackRef, trace_view_ui};

fn load(name: &str) -> Timeline {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27").join(name);
    let bytes = std::fs::read(path).unwrap();
    timeline::build(&bytes, &Progress::default()).unwrap()
}

struct Ctx {
    tl: std::sync::Arc<Timeline>,
    view: TraceViewState,
}

fn harness(tl: Timeline) -> Harness<'static, Ctx> {
    harness_with(tl, Harness::builder())
}

fn harness_with(tl: Timeline, builder: egui_kittest::HarnessBuilder<Ctx>) -> Harness<'static, Ctx> {
    let theme = Theme::new(ThemeChoice::Dark);
    let mut h = builder.with_size(egui::vec2(1600.0, 1000.0)).build_ui_state(
        move |ui, c: &mut Ctx| trace_view_ui(ui, &c.tl, &theme, &mut c.view),
        Ctx { tl: std::sync::Arc::new(tl), view: TraceViewState::default() },
    );
    h.run_steps(3);
    h
}

/// A harness on trace `name` taken for a big one: its analyses run on
/// threads of their own.
fn big_harness(name: &str) -> Harness<'static, Ctx> {
    let mut tl = load(name);
    tl.event_count = super::AUTO_COMPUTE_EVENTS + 1;
    harness(tl)
}

/// Clicks the tab button `label` (the topmost widget with that label: the
/// timeline has a "Goroutines" section too).
fn open_tab(h: &mut Harness<'_, Ctx>, label: &str) {
    click_tab(h, label);
    h.run_steps(4);
}

/// Clicks the tab button `label`, running no frame after.
fn click_tab(h: &mut Harness<'_, Ctx>, label: &str) {
    let tab = h.query_all_by_label(label).min_by(|a, b| a.rect().top().total_cmp(&b.rect().top())).unwrap();
    tab.click();
}

/// Runs one frame at a time (a job's thread may end between any two)
/// until `done` holds, or about five seconds have passed.
fn step_until(h: &mut Harness<'_, Ctx>, mut done: impl FnMut(&Harness<'_, Ctx>) -> bool) {
    for _ in 0..1000 {
        if done(h) {
            return;
        }
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The labels of the widgets with `role` whose label contains `text`.
fn labels(h: &Harness<'_, Ctx>, role: Role, text: &str) -> Vec<String> {
    h.query_all_by(|n| n.role() == role && n.label().is_some_and(|l| l.contains(text)))
        .map(|n| n.accesskit_node().label().unwrap_or_default())
        .collect()
}

/// Clicks the (first) widget with `role` whose label contains `text`.
fn click(h: &mut Harness<'_, Ctx>, role: Role, text: &str) {
    h.get_all_by(|n| n.role() == role && n.label().is_some_and(|l| l.contains(text))).next().unwrap().click();
    h.run_steps(4);
}

/// Types `text` into the text field with this hint.
fn type_into(h: &mut Harness<'_, Ctx>, hint: &str, text: &str) {
    let field = h.get_by(|n| n.placeholder() == Some(hint));
    field.focus();
    h.run_steps(1);
    h.get_by(|n| n.placeholder() == Some(hint)).type_text(text);
    h.run_steps(4);
}

fn window(h: &Harness<'_, Ctx>) -> (i64, i64) {
    h.state().view.window(&h.state().tl)
}

#[test]
fn tabs_open_and_close() {
    let mut h = harness(load("chan.trace"));
    assert_eq!(h.state().view.panels.tab, Tab::Closed);
    open_tab(&mut h, "Gaps");
    assert_eq!(h.state().view.panels.tab, Tab::Gaps);
    h.get_by_label_contains("Longest runnable waits");
    // Clicking the open tab closes it.
    open_tab(&mut h, "Gaps");
    assert_eq!(h.state().view.panels.tab, Tab::Closed);
    assert!(h.query_by_label_contains("Longest runnable waits").is_none());
}

#[test]
fn goroutine_table_filters_and_selects_the_blocked_receiver() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Goroutines");
    assert!(labels(&h, Role::Row, "").len() > 3, "one row per goroutine");
    type_into(&mut h, "function or goroutine ID", "blockedReceiver");
    let rows = labels(&h, Role::Row, "");
    assert_eq!(rows.len(), 1, "{rows:?}");
    // The row shows its ~60 ms blocked in a channel receive.
    let (gi, blocked) = {
        let tl = &h.state().tl;
        let gi = tl.goroutines.iter().position(|g| tl.strings.get(g.start_fn()) == "main.blockedReceiver").unwrap();
        let totals = tl.goroutines[gi].state_totals(i64::MIN, i64::MAX);
        let blocked: i64 = GState::ALL.iter().zip(totals).filter(|(s, _)| s.is_blocked()).map(|(_, ns)| ns).sum();
        (gi, blocked)
    };
    assert!((50_000_000..70_000_000).contains(&blocked), "{blocked}");
    assert!(rows[0].contains("main.blockedReceiver"), "{}", rows[0]);
    assert!(rows[0].contains(&format!("chan receive {}", format_duration(blocked))), "{}", rows[0]);
    // Clicking it selects its blocked span and shows its blocking stack.
    let before = window(&h);
    click(&mut h, Role::Row, "main.blockedReceiver");
    let sel = h.state().view.t.selected.expect("the click selected nothing");
    assert_eq!(sel.track, TrackRef::Goroutine(gi));
    let span = h.state().tl.goroutines[gi].track.span(sel.index).unwrap();
    assert_eq!(span.state, GState::ChanRecv as u8);
    assert_ne!(window(&h), before, "the timeline did not jump");
    h.get_by_label("Blocking stack");
    h.get_by_label("runtime.chanrecv1");
}

#[test]
fn goroutine_table_sorts_and_groups() {
    let mut h = harness(load("manyg.trace"));
    open_tab(&mut h, "Goroutines");
    // Sort by ID, largest first, then (clicked again) smallest first.
    click(&mut h, Role::ColumnHeader, "ID");
    let first = labels(&h, Role::Row, "").into_iter().next().unwrap();
    let highest = h.state().tl.goroutines.last().unwrap().id.0;
    assert!(first.starts_with(&format!("g{highest} ")), "{first}");
    click(&mut h, Role::ColumnHeader, "ID");
    let first = labels(&h, Role::Row, "").into_iter().next().unwrap();
    let lowest = h.state().tl.goroutines[0].id.0;
    assert!(first.starts_with(&format!("g{lowest} ")), "{first}");
    // Grouped: one row per start function; the 6,000 short-lived ones together.
    click(&mut h, Role::CheckBox, "Group by start function");
    assert!(labels(&h, Role::Row, "").len() < 20, "few start functions");
    type_into(&mut h, "function or goroutine ID", "shortlived");
    let count =
        h.state().tl.goroutines.iter().filter(|g| h.state().tl.strings.get(g.start_fn()) == "main.shortLived").count();
    assert!(count >= 6000, "{count}");
    let rows = labels(&h, Role::Row, "main.shortLived");
    assert_eq!(rows.len(), 1, "{rows:?}");
    // The count with its thousands grouped, as the status bar counts events.
    let shown = crate::status::format_count(count as u64);
    assert!(shown.contains(','), "{shown}");
    assert!(rows[0].starts_with(&format!("main.shortLived  {shown}  ")), "{}", rows[0]);
    // Clicking a group lists its goroutines.
    click(&mut h, Role::Row, "main.shortLived");
    assert!(!h.state().view.panels.goroutines.grouped);
    let rows = labels(&h, Role::Row, "");
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains("main.shortLived")), "{:?}", &rows[..3.min(rows.len())]);
}

/// The start-function rows show the histograms' percentiles at once and
/// the exact ones when their thread is done (a big trace's path).
#[test]
fn group_percentiles_turn_exact_when_computed() {
    let mut h = big_harness("manyg.trace");
    click_tab(&mut h, "Goroutines");
    let rows = |h: &Harness<'_, Ctx>| labels(h, Role::Row, "");
    step_until(&mut h, |h| !rows(h).is_empty());
    // The computation waits for the gate, so the frames before it is let go
    // are the histograms' ones however fast the machine.
    let gate = std::sync::Arc::new(std::sync::Mutex::new(()));
    h.state_mut().view.panels.goroutines.exact_gate = Some(std::sync::Arc::clone(&gate));
    let held = gate.lock().unwrap();
    click(&mut h, Role::CheckBox, "Group by start function");
    h.get_by_label("exact percentiles:");
    assert!(h.query_by_label("percentiles exact").is_none());
    let approximate = rows(&h);
    assert!(!approximate.is_empty(), "no group rows");
    drop(held);
    step_until(&mut h, |h| h.query_by_label("percentiles exact").is_some());
    h.step();
    assert!(h.query_by_label("exact percentiles:").is_none(), "still shown as computing");
    let exact = rows(&h);
    assert_ne!(approximate, exact, "no percentile changed");
    let tl = &h.state().tl;
    let stats = analysis::start_fn_stats(tl, analysis::TimeRange::ALL);
    for f in &stats {
        let name = tl.strings.get(f.start_fn);
        let Some(row) = exact.iter().find(|r| r.starts_with(&format!("{name}  "))) else { panic!("no row {name}") };
        for c in [timeline::Category::Runnable, timeline::Category::Blocked] {
            let Some(d) = f.stats.category(c) else { continue };
            let want = [d.p50_ns, d.p95_ns, d.p99_ns].map(format_duration).join("  ");
            assert!(row.contains(&want), "{name} {c:?}: {want} not in {row}");
        }
    }
}

/// On a table of many goroutines a new sort runs on a thread of its own:
/// the rows keep their old order (and the panel says "sorting…") until the
/// new one is ready, then show it. (manyg's 7 020 rows stand in for the
/// millions that take the thread path, by lowering the threshold.)
#[test]
fn many_rows_sort_on_a_thread_and_keep_the_old_order_meanwhile() {
    let mut h = harness(load("manyg.trace"));
    h.state_mut().view.panels.goroutines.thread_rows = 0;
    open_tab(&mut h, "Goroutines");
    let first_row = |h: &Harness<'_, Ctx>| labels(h, Role::Row, "").into_iter().next().unwrap_or_default();
    // The first order too comes from the thread.
    step_until(&mut h, |h| !first_row(h).is_empty());
    let by_blocked = first_row(&h);
    assert!(!by_blocked.is_empty(), "no rows");
    // By ID: the click does not reorder at once...
    h.get_all_by(|n| n.role() == Role::ColumnHeader && n.label().is_some_and(|l| l.contains("ID")))
        .next()
        .unwrap()
        .click();
    // (The click lands in one frame; the next starts the thread.)
    for _ in 0..3 {
        if h.state().view.panels.goroutines.sorting.is_some() {
            break;
        }
        h.step();
    }
    assert!(h.state().view.panels.goroutines.sorting.is_some(), "a sort thread runs");
    assert_eq!(first_row(&h), by_blocked, "the old order stays while sorting");
    h.get_by_label("sorting…");
    // ...and the new order comes.
    let highest = h.state().tl.goroutines.last().unwrap().id.0;
    step_until(&mut h, |h| h.state().view.panels.goroutines.sorting.is_none());
    h.run_steps(2);
    assert!(first_row(&h).starts_with(&format!("g{highest} ")), "{}", first_row(&h));
    assert!(h.query_by_label("sorting…").is_none());
}

/// On a table of many goroutines a new filter runs on a thread of its own,
/// so typing never waits for it: the rows shown stay (and the panel says
/// "filtering…") until the filtered rows are ready. (manyg's 7 020 rows
/// stand in for the millions that take the thread path.)
#[test]
fn many_rows_filter_on_a_thread_and_keep_the_rows_shown_meanwhile() {
    let mut h = harness(load("manyg.trace"));
    h.state_mut().view.panels.goroutines.thread_rows = 0;
    open_tab(&mut h, "Goroutines");
    let settle = |h: &mut Harness<'_, Ctx>| {
        step_until(h, |h| {
            let g = &h.state().view.panels.goroutines;
            g.sorting.is_none() && g.filtering.is_none() && !labels(h, Role::Row, "").is_empty()
        });
        h.run_steps(2);
    };
    settle(&mut h);
    // Grouped by thousands, as the status bar counts.
    let total = crate::status::format_count(h.state().tl.goroutines.len() as u64);
    assert!(total.contains(','), "{total}");
    h.get_by_label(&format!("{total} of {total} goroutines"));
    let hint = "function or goroutine ID";
    h.get_by(|n| n.placeholder() == Some(hint)).focus();
    h.run_steps(1);
    h.get_by(|n| n.placeholder() == Some(hint)).type_text("shortlived");
    h.step();
    assert!(h.state().view.panels.goroutines.filtering.is_some(), "a filter thread runs");
    // The toolbar, drawn before the thread starts, says so from the next
    // frame on (which takes the result only after the toolbar is drawn).
    h.step();
    h.get_by_label(&format!("{total} of {total} goroutines"));
    h.get_by_label("filtering…");
    settle(&mut h);
    let tl = &h.state().tl;
    let count = tl.goroutines.iter().filter(|g| tl.strings.get(g.start_fn()) == "main.shortLived").count();
    assert!(count >= 6000, "{count}");
    h.get_by_label(&format!("{} of {total} goroutines", crate::status::format_count(count as u64)));
    let rows = labels(&h, Role::Row, "");
    assert!(!rows.is_empty() && rows.iter().all(|r| r.contains("main.shortLived")), "{:?}", &rows[..3.min(rows.len())]);
    assert!(h.query_by_label("filtering…").is_none());
}

#[test]
fn gaps_jump_to_the_longest_wait() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Gaps");
    let w = analysis::longest_runnable_waits(&h.state().tl, &Filter::all(), 1)[0];
    let prefix = format!("{}  g{} ", format_duration(w.duration_ns()), w.g.0);
    let rows = labels(&h, Role::Button, &prefix);
    assert!(!rows.is_empty(), "no row starting {prefix:?}");
    let before = window(&h);
    click(&mut h, Role::Button, &prefix);
    let (s, e) = window(&h);
    assert_ne!((s, e), before);
    assert!(s < w.start_ns && w.end_ns < e, "{s}..{e} does not show {}..{}", w.start_ns, w.end_ns);
    let gi = h.state().tl.goroutine_index(w.g).unwrap();
    let sel = h.state().view.t.selected.unwrap();
    assert_eq!(sel.track, TrackRef::Goroutine(gi));
    let span = h.state().tl.goroutines[gi].track.span(sel.index).unwrap();
    assert_eq!(span.start_ns, w.start_ns);
}

#[test]
fn clicking_an_idle_gap_highlights_its_goroutines() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Gaps");
    let gap = analysis::idle_proc_gaps(&h.state().tl, analysis::TimeRange::ALL, analysis::GapOrder::Duration, 1, 5)
        .pop()
        .unwrap();
    assert!(!gap.goroutines.is_empty());
    let text =
        format!("{}  at {}", format_duration(gap.duration_ns()), format_duration(gap.start_ns - h.state().tl.start_ns));
    click(&mut h, Role::Button, &text);
    let found = h.state().view.t.search.found.clone().expect("nothing highlighted");
    let tl = &h.state().tl;
    let marked: Vec<_> =
        found.goroutines.iter().enumerate().filter(|(_, m)| **m).map(|(gi, _)| tl.goroutines[gi].id).collect();
    let mut want = gap.goroutines.clone();
    want.sort();
    assert_eq!(marked, want);
    h.get_by_label_contains("waiting in the gap at");
}

#[test]
fn gaps_list_stw_pauses() {
    let mut h = harness(load("gc.trace"));
    open_tab(&mut h, "Gaps");
    let stw = analysis::longest_stw(&h.state().tl, analysis::TimeRange::ALL, 1)[0];
    let start = h.state().tl.start_ns;
    let text = format!("{}  at {}", format_duration(stw.duration_ns()), format_duration(stw.start_ns - start));
    click(&mut h, Role::Button, &text);
    let (s, e) = window(&h);
    assert!(s < stw.start_ns && stw.end_ns < e);
    assert!(e - s < 10 * stw.duration_ns().max(20_000) + 100_000, "zoomed in around it: {}", e - s);
}

#[test]
fn flame_graph_shows_the_cpu_burners_and_zooms() {
    let mut h = harness(load("cpuprof.trace"));
    open_tab(&mut h, "Flame graph");
    let a = h.get_by_role_and_label(Role::Button, "main.cpuBurnA");
    let (a_width, panel_width) = (a.rect().width(), h.get_by_role_and_label(Role::Button, "all").rect().width());
    assert!(a_width > 0.2 * panel_width, "cpuBurnA is {a_width} of {panel_width}");
    h.get_by_role_and_label(Role::Button, "main.cpuBurnB");
    assert!(h.query_by_label_contains("Total ").is_some());
    // Zoom into cpuBurnA: it takes the whole width, cpuBurnB is gone.
    click(&mut h, Role::Button, "main.cpuBurnA");
    let a = h.get_by_role_and_label(Role::Button, "main.cpuBurnA");
    assert!((a.rect().width() - panel_width).abs() < 2.0, "{} vs {panel_width}", a.rect().width());
    assert!(h.query_by_role_and_label(Role::Button, "main.cpuBurnB").is_none());
    assert!(h.query_by_label_contains("zoomed into").is_some());
    click(&mut h, Role::Button, "Reset");
    h.get_by_role_and_label(Role::Button, "main.cpuBurnB");
    // Search highlights and measures.
    type_into(&mut h, "function", "cpuBurnB");
    let m = h.get_by_label_contains("search matches").accesskit_node().value().unwrap();
    let pct: f64 = m.rsplit('(').next().unwrap().trim_end_matches("%)").parse().unwrap();
    assert!((20.0..80.0).contains(&pct), "one of two alike burners: {m}");
}

#[test]
fn off_cpu_flame_graph_roots_by_state() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Flame graph");
    click(&mut h, Role::Button, "Off-CPU");
    h.get_by_role_and_label(Role::Button, "chan receive");
    assert!(h.query_by_role_and_label(Role::Button, "main.blockedReceiver").is_some());
}

#[test]
fn a_trace_without_cpu_samples_offers_its_off_cpu_time() {
    let mut h = harness(load("chan.trace"));
    assert!(h.state().tl.cpu_samples.is_empty());
    open_tab(&mut h, "Flame graph");
    h.get_by_label_contains("This trace has no CPU samples");
    assert!(h.query_by_role_and_label(Role::Button, "chan receive").is_none());
    click(&mut h, Role::Button, "Show off-CPU time");
    h.get_by_role_and_label(Role::Button, "chan receive");
    assert!(h.query_by_label_contains("This trace has no CPU samples").is_none());
}

#[test]
fn flame_graph_of_the_selected_goroutine_only() {
    let mut h = harness(load("chan.trace"));
    let gi =
        h.state().tl.goroutines.iter().position(|g| h.state().tl.strings.get(g.start_fn()) == "main.blockedReceiver");
    let gi = gi.unwrap();
    h.state_mut().view.t.commands.push(crate::view::ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: None });
    h.run_steps(2);
    open_tab(&mut h, "Flame graph");
    click(&mut h, Role::Button, "Off-CPU");
    // All goroutines: the sender is there too.
    assert!(h.query_by_role_and_label(Role::Button, "main.blockedSender").is_some());
    let id = h.state().tl.goroutines[gi].id.0;
    click(&mut h, Role::Button, &format!("g{id}"));
    h.get_by_role_and_label(Role::Button, "main.blockedReceiver");
    assert!(h.query_by_role_and_label(Role::Button, "main.blockedSender").is_none());
    // The same function's goroutines (only one here).
    click(&mut h, Role::Button, "all main.blockedReceiver");
    assert!(h.query_by_role_and_label(Role::Button, "main.blockedSender").is_none());
}

#[test]
fn mmu_plots_and_lists_worst_windows() {
    let mut h = harness(load("gc.trace"));
    open_tab(&mut h, "MMU");
    h.get_by_label("Worst windows of");
    let rows = labels(&h, Role::Button, "% utilisation  at");
    assert!(!rows.is_empty());
    // With every kind of GC work counted, the worst 1 ms window loses something.
    let util: f64 = rows[0].split('%').next().unwrap().parse().unwrap();
    assert!(util < 100.0, "{}", rows[0]);
    let before = window(&h);
    click(&mut h, Role::Button, "% utilisation  at");
    let (s, e) = window(&h);
    assert_ne!((s, e), before);
    assert!(e - s < 5_000_000, "a 1 ms window with padding, got {}", e - s);
    // Counting nothing: utilisation is 100% everywhere.
    for toggle in ["STW", "Background workers", "Mark assists", "Sweeping"] {
        click(&mut h, Role::CheckBox, toggle);
    }
    let rows = labels(&h, Role::Button, "% utilisation  at");
    assert!(rows.iter().all(|r| r.starts_with("100.0%")), "{rows:?}");
}

/// On a big trace the worst windows are found on a thread of their own
/// (they walk every window: 1.6 s on the UI thread for a 1 GB trace, before
/// they did): the frame that first shows the curve says "Computing…" under
/// the window chooser, and the list that comes is the one the curve gives.
#[test]
fn worst_windows_of_a_big_trace_come_from_a_thread() {
    let mut h = big_harness("gc.trace");
    // One frame at a time: the curve's thread may end, and the list's too,
    // within the few frames `open_tab` runs.
    click_tab(&mut h, "MMU");
    step_until(&mut h, |h| h.query_by_label("Worst windows of").is_some());
    h.get_by_label("Worst windows of");
    assert!(labels(&h, Role::Button, "% utilisation  at").is_empty(), "listed in the curve's frame");
    h.get_by_label_contains("Computing…");
    step_until(&mut h, |h| !labels(h, Role::Button, "% utilisation  at").is_empty());
    let curve = analysis::MmuCurve::new(analysis::mutator_utilization(&h.state().tl, analysis::UtilFlags::ALL_GC));
    let tl = &h.state().tl;
    let want: Vec<String> = curve
        .worst_windows(1_000_000, 10)
        .iter()
        .map(|w| format!("{:.1}% utilisation  at {}", w.util * 100.0, format_duration(w.time_ns - tl.start_ns)))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(labels(&h, Role::Button, "% utilisation  at"), want);
}

#[test]
fn selection_summary_after_a_shift_drag() {
    let mut h = harness(load("gc.trace"));
    open_tab(&mut h, "Selection");
    h.get_by_label_contains("No time selection");
    let (t0, t1) = {
        let tl = &h.state().tl;
        let len = tl.end_ns - tl.start_ns;
        (tl.start_ns + len / 4, tl.start_ns + len / 2)
    };
    let p0 = {
        let c = h.state_mut();
        c.view.screen_pos(&c.tl, Row::Proc(0), t0).unwrap()
    };
    h.event(egui::Event::ModifiersChanged(egui::Modifiers::SHIFT));
    h.hover_at(p0);
    h.run_steps(1);
    h.drag_at(p0);
    h.run_steps(1);
    // The drag starts once the pointer has moved a few points.
    h.hover_at(p0 + egui::vec2(8.0, 0.0));
    h.run_steps(2);
    // The details panel opened with the selection, so the canvas moved.
    let p1 = {
        let c = h.state_mut();
        c.view.screen_pos(&c.tl, Row::Proc(0), t1).unwrap()
    };
    h.hover_at(p1);
    h.run_steps(1);
    h.drop_at(p1);
    h.run_steps(2);
    h.event(egui::Event::ModifiersChanged(egui::Modifiers::NONE));
    let (s, e) = h.state().view.t.range.expect("Shift+drag selected no range");
    let slack = ((t1 - t0) as f32 * 10.0 / (p1.x - p0.x)) as i64;
    assert!((s - t0).abs() <= slack && (e - t1).abs() <= slack, "{s}..{e} vs {t0}..{t1}");
    h.run_steps(2);
    h.get_by_label_contains(&format!("Selection {}", format_duration(e - s)));
    // The details panel leaves the breakdown to the panel, not shown twice.
    h.get_by_label("Time by state: in the Selection panel below");
    h.get_by_label("P utilisation");
    assert!(h.query_all_by_label_contains("% busy").count() >= 1);
    h.get_by_label("In a GC cycle");
    // The CPU flame graph of the selection.
    click(&mut h, Role::Button, "CPU flame graph");
    let p = &h.state().view.panels;
    assert_eq!(p.tab, Tab::Flame);
    assert!(p.flame.in_selection);
}

/// A selection's time by state: the details panel sums it on a small
/// trace (with the Selection panel closed); on a big one it offers the
/// panel, which sums it off the UI thread, instead of freezing the window.
#[test]
fn the_details_panel_sums_a_selection_only_on_small_traces() {
    let mut h = harness(load("chan.trace"));
    let (s, e) = (h.state().tl.start_ns, h.state().tl.end_ns);
    h.state_mut().view.t.range = Some((s, e));
    h.run_steps(3);
    h.get_by_label("Time selection");
    assert!(h.query_all_by_label("chan receive").count() >= 1, "the per-state grid");
    assert!(h.query_by_label(crate::view::SELECTION_SUMMARY_BUTTON).is_none());

    let tl =
        Timeline { start_ns: 0, end_ns: 1_000_000, event_count: super::AUTO_COMPUTE_EVENTS + 1, ..Timeline::default() };
    let mut h = harness(tl);
    h.state_mut().view.t.range = Some((100_000, 200_000));
    h.run_steps(3);
    h.get_by_label("Time selection");
    assert!(h.state().view.t.range_summary.is_none(), "summed on the UI thread");
    h.get_by_label(crate::view::SELECTION_SUMMARY_BUTTON).click();
    h.run_steps(3);
    assert_eq!(h.state().view.panels.tab, Tab::Selection);
}

#[test]
fn big_traces_wait_for_compute() {
    let tl =
        Timeline { start_ns: 0, end_ns: 1_000_000, event_count: super::AUTO_COMPUTE_EVENTS + 1, ..Timeline::default() };
    let mut h = harness(tl);
    open_tab(&mut h, "Gaps");
    assert!(h.query_by_label_contains("Longest runnable waits").is_none());
    click(&mut h, Role::Button, "Compute");
    // A big trace's analysis runs on a thread of its own: wait for it.
    for _ in 0..2000 {
        if h.query_by_label_contains("Longest runnable waits (0)").is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        h.step();
    }
    h.get_by_label_contains("Longest runnable waits (0)");
    assert!(h.query_by_role_and_label(Role::Button, "Compute").is_none());
}

#[test]
fn the_panel_keeps_its_size_and_resizes() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Goroutines");
    h.run_steps(5);
    let top = h.get_by_label("Copy CSV").rect().top();
    assert!((600.0..720.0).contains(&top), "the panel shrank to its contents: toolbar at {top}");
    let handle = h.get_by_role(Role::Splitter).rect().center();
    h.hover_at(handle);
    h.run_steps(1);
    h.drag_at(handle);
    h.run_steps(1);
    for dy in [10.0, 50.0, 100.0] {
        h.hover_at(handle - egui::vec2(0.0, dy));
        h.run_steps(1);
    }
    h.drop_at(handle - egui::vec2(0.0, 100.0));
    h.run_steps(5);
    let moved = h.get_by_label("Copy CSV").rect().top();
    assert!((moved - (top - 100.0)).abs() < 8.0, "{top} -> {moved}");
}

#[test]
fn another_trace_drops_the_old_results() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Goroutines");
    assert!(!labels(&h, Role::Row, "main.blockedReceiver").is_empty());
    h.state_mut().tl = std::sync::Arc::new(load("manyg.trace"));
    h.run_steps(4);
    assert!(labels(&h, Role::Row, "main.blockedReceiver").is_empty());
    assert!(h.get_by_label_contains(" of 7").accesskit_node().value().unwrap().contains("goroutines"));
}

#[test]
fn tasks_panel_lists_types_and_shows_the_longest_subrequest() {
    // The task type "tâche/タスク" needs a font with kana. egui's own fonts
    // lack it; the window finds one among the system's fonts (eframe's
    // system_fonts), which a headless harness does not load.
    let mut h = harness_with(load("annotations.trace"), Harness::builder().allow_missing_glyphs());
    open_tab(&mut h, "Tasks");
    // annotations.go makes tasks request, subrequest (8), handoff and
    // tâche/タスク, and regions untasked, outer, inner, innermost,
    // finishing and régión ✓.
    h.get_by_label_contains("Tasks by type (4)");
    h.get_by_label_contains("Regions by type and where they began (6)");
    // The longest subrequest, from the raw task records.
    let (id, start, end, max) = {
        let tl = &h.state().tl;
        let sub = tl.strings.find("subrequest").unwrap();
        let t =
            tl.tasks.iter().filter(|t| t.typ == sub).max_by_key(|t| t.end_ns.unwrap() - t.start_ns.unwrap()).unwrap();
        let (s, e) = (t.start_ns.unwrap(), t.end_ns.unwrap());
        (t.id, s, e, e - s)
    };
    let row = labels(&h, Role::Row, "subrequest").pop().unwrap();
    assert!(row.starts_with("subrequest  8  "), "{row}");
    assert!(row.ends_with(&format!("  {}", format_duration(max))), "the Max column: {row}");
    click(&mut h, Role::Row, "subrequest");
    h.get_by_label_contains("Tasks \"subrequest\", longest first (8)");
    // Chosen by name, so it stays chosen in the next trace and after a restart.
    let chosen = h.state().view.panels.tasks.chosen.clone().unwrap();
    assert_eq!((chosen.region, chosen.name.as_str()), (false, "subrequest"));
    let first = labels(&h, Role::Button, "  task ").into_iter().next().unwrap();
    assert!(first.starts_with(&format!("{}  task {id}  at ", format_duration(max))), "longest first: {first}");
    // Clicking it shows the task on the timeline and lists its events.
    click(&mut h, Role::Button, &format!("  task {id}  at "));
    let (s, e) = window(&h);
    assert!(s <= start && end <= e, "window {s}..{e} misses the task {start}..{end}");
    h.get_by_label_contains(&format!("Task {id} (subrequest), child of task 1"));
    // Its goroutines are highlighted, as a search would.
    let task_gs = {
        let tl = &h.state().tl;
        tl.tasks.iter().find(|t| t.id == id).unwrap().goroutines.len()
    };
    assert_eq!(h.state().view.t.search.found.as_ref().map(|f| f.goroutine_count()), Some(task_gs));
    h.get_by_label(&format!("Goroutines of task {id} (subrequest)"));
    assert_eq!(labels(&h, Role::Button, "task begins").len(), 1);
    assert_eq!(labels(&h, Role::Button, "log id: handler").len(), 1);
    assert_eq!(labels(&h, Role::Button, "region outer begins").len(), 1);
    assert_eq!(labels(&h, Role::Button, "region inner begins").len(), 10, "each handler runs 10 inner regions");
    // A region type lists its regions; hovering one breaks down the time
    // inside it (the handlers sleep in their inner regions).
    click(&mut h, Role::Row, "outer");
    h.get_by_label_contains("Regions \"outer\", longest first (8)");
    h.get_by_label_contains("Time inside \"outer\" regions, by state");
    let region = h
        .get_all_by(|n| n.role() == Role::Button && n.label().is_some_and(|l| l.contains("main.handle  at")))
        .next()
        .unwrap();
    // (The details panel of the goroutine chosen above lists states too.)
    let sleeps = h.query_all_by_label("sleep").count();
    region.hover();
    h.run_steps(60);
    h.get_by_label("time inside it:");
    assert_eq!(h.query_all_by_label("sleep").count(), sleeps + 1, "no sleep inside the region");
}

#[test]
fn tasks_panel_splits_a_region_type_by_where_it_began() {
    // regionsites.go begins "query" regions in main.fetch (three
    // goroutines, once each), main.store (two goroutines, on two lines)
    // and main.main, and "load" regions in main.fetch only.
    let mut h = harness(load("regionsites.trace"));
    open_tab(&mut h, "Tasks");
    h.get_by_label_contains("Regions by type and where they began (5)");
    let rows: Vec<String> = labels(&h, Role::Row, "query · ");
    let site =
        |row: &str| row.split("  ").next().and_then(|c| c.strip_prefix("query · ")).unwrap_or_default().to_owned();
    let sites: Vec<String> = rows.iter().map(|r| site(r)).collect();
    assert_eq!(
        sites,
        ["main.fetch (main.go:58)", "main.main (main.go:33)", "main.store (main.go:64)", "main.store (main.go:65)"],
        "{rows:?}"
    );
    // The row shows the file's name; hovering it, the whole path.
    let row = h.get_all_by(|n| n.role() == Role::Row && n.label().is_some_and(|l| l.contains("(main.go:65)"))).next();
    row.unwrap().hover();
    h.run_steps(60);
    h.get_by_label("gotvtestdata/regionsites/main.go:65");
    h.get_by_label("begun in main.store");
    // The StartRegion line of main.store: its two regions (3 ms sleeps).
    click(&mut h, Role::Row, "main.store (main.go:65)");
    h.get_by_label_contains("Regions \"query\", longest first (2)");
    h.get_by_label_contains("begun in main.store");
    let listed = labels(&h, Role::Button, "main.store  at ");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let want = {
        let tl = &h.state().tl;
        let store = tl.strings.find("main.store").unwrap();
        let mut d: Vec<i64> = tl
            .regions
            .iter()
            .filter(|r| timeline::analysis::region_site(tl, r).is_some_and(|f| f.func == store && f.line == 65))
            .map(|r| r.end_ns - r.start_ns)
            .collect();
        d.sort_unstable_by(|a, b| b.cmp(a));
        d
    };
    assert_eq!(want.len(), 2);
    for (row, d) in listed.iter().zip(&want) {
        assert!(row.starts_with(&format!("{}  ", format_duration(*d))), "longest first: {row} vs {d}");
        assert!(*d >= 3_000_000, "the StartRegion regions sleep 3 ms: {d}");
    }
    // Saved with where it began, so the same row is chosen again.
    let chosen = h.state().view.panels.tasks.chosen.clone().unwrap();
    assert_eq!((chosen.region, chosen.name.as_str(), chosen.site.as_str()), (true, "query", "main.store (main.go:65)"));
}

#[test]
fn tasks_panel_says_when_a_trace_has_no_tasks() {
    let mut h = harness(load("chan.trace"));
    open_tab(&mut h, "Tasks");
    h.get_by_label_contains("This trace has no user tasks or regions.");
}
