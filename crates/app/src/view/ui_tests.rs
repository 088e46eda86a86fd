//! The trace view driven as a person would: find rows by label, click spans.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use timeline::{GState, Progress, Timeline};

use super::{Row, TraceViewState, trace_view_ui};
use crate::theme::{Theme, ThemeChoice};

fn load(name: &str) -> Timeline {
    load_from("go1.27", name)
}

fn load_from(version: &str, name: &str) -> Timeline {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces").join(version).join(name);
    let bytes = std::fs::read(path).unwrap();
    timeline::build(&bytes, &Progress::default()).unwrap()
}

struct Ctx {
    tl: std::sync::Arc<Timeline>,
    view: TraceViewState,
}

fn harness(tl: Timeline) -> Harness<'static, Ctx> {
    let theme = Theme::new(ThemeChoice::Dark);
    Harness::builder().with_size(egui::vec2(1600.0, 1000.0)).build_ui_state(
        move |ui, c: &mut Ctx| trace_view_ui(ui, &c.tl, &theme, &mut c.view),
        Ctx { tl: std::sync::Arc::new(tl), view: TraceViewState::default() },
    )
}

fn click_at(h: &mut Harness<'_, Ctx>, pos: egui::Pos2) {
    h.hover_at(pos);
    h.run_steps(2);
    h.drag_at(pos);
    h.run_steps(1);
    h.drop_at(pos);
    h.run_steps(3);
}

#[test]
fn clicking_the_blocked_span_shows_its_blocking_stack_and_waker() {
    blocked_span_click(load("chan.trace"));
}

/// v1 traces (Go 1.19 and 1.21) show the same, through the v1 converter.
#[test]
fn v1_traces_show_the_blocking_stack_too() {
    blocked_span_click(load_from("go1.19", "chan.trace"));
    blocked_span_click(load_from("go1.21", "chan.trace"));
}

fn blocked_span_click(tl: Timeline) {
    let mut h = harness(tl);
    h.run_steps(3);
    // The goroutine row is there, by its label.
    let label = h.get_by_label_contains("main.blockedReceiver");
    let row_y = label.rect().center().y;
    // Its chan-receive span, as the timeline knows it.
    let (gi, span) = {
        let c = h.state();
        let gi = c.tl.goroutines.iter().position(|g| c.tl.strings.get(g.start_fn()) == "main.blockedReceiver").unwrap();
        let span = c.tl.goroutines[gi].track.spans().into_iter().find(|s| s.state == GState::ChanRecv as u8).unwrap();
        (gi, span)
    };
    let mid = span.start_ns + span.duration_ns() / 2;
    let pos = {
        let c = h.state_mut();
        c.view.screen_pos(&c.tl, Row::Goroutine(gi), mid).unwrap()
    };
    assert!((pos.y - row_y).abs() < 10.0, "row at {row_y}, span at {pos:?}");
    // The tooltip: state, top frames, who unblocked it.
    h.hover_at(pos);
    h.run_steps(60);
    h.get_by_label("unblocked by g1 main.main");
    assert!(h.query_all_by_label("chan receive").count() >= 1);
    click_at(&mut h, pos);
    assert!(h.state().view.t.selected.is_some(), "click selected nothing");
    // An arrow comes down from main's row to this one where main woke it.
    // (The leftmost "g1 main.main" is its row label; the others are links.)
    let g1_label = h.query_all_by_label("g1 main.main").min_by(|a, b| a.rect().left().total_cmp(&b.rect().left()));
    let g1_row = g1_label.expect("g1's row").rect().center().y;
    let wake_x = h.state().view.t.geometry.expect("painted").frame.x(span.end_ns);
    assert!(painted_vertical_line(&h, wake_x, g1_row, row_y), "no wake arrow at x {wake_x} from y {g1_row} to {row_y}");
    h.get_by_label("Blocking stack");
    assert!(h.query_all_by_label("chan receive").count() >= 1);
    // "Copy stack" copies it as Go prints a goroutine in a traceback.
    h.query_all_by_label("Copy stack").next().expect("a copy button by the blocking stack").click();
    let copied = copied_text(&mut h).expect("copied something");
    let id = h.state().tl.goroutines[gi].id.0;
    let head = format!("goroutine {id} [chan receive]:\nruntime.chanrecv1(...)\n\t");
    assert!(copied.starts_with(&head), "{copied}");
    assert!(copied.contains("\nmain.blockedReceiver(...)\n\t") && copied.contains("chan/main.go:"), "{copied}");
    // Innermost frames of the blocking stack, and the function itself.
    h.get_by_label("runtime.chanrecv1");
    assert!(h.query_all_by_label("main.blockedReceiver").count() >= 1);
    h.get_by_label("Unblocked by");
    h.get_by_label("main.delayedSender");
    // Where main created it: the go statement in main.run, once opened.
    let shown = h.query_all_by_label("main.run").count();
    h.get_by_label("Creation stack").click();
    h.run_steps(3);
    assert_eq!(h.query_all_by_label("main.run").count(), shown + 1);
    // Parent and waker links sit in the side panel; the waker link is last.
    let panel_left = h.get_by_label("Unblocked by").rect().left();
    let links: Vec<_> = h.query_all_by_label("g1 main.main").filter(|n| n.rect().left() >= panel_left - 1.0).collect();
    assert_eq!(links.len(), 2, "parent and waker links");
    links[1].click();
    h.run_steps(3);
    let sel = h.state().view.t.selected.unwrap();
    let g1 = h.state().tl.goroutine_index(trace_core::GoroutineId(1)).unwrap();
    assert_eq!(sel.track, super::TrackRef::Goroutine(g1));
    // The waker was running when it woke the receiver.
    let woke_at = span.end_ns;
    let s = h.state().tl.goroutines[g1].track.span(sel.index).unwrap();
    assert!(s.start_ns <= woke_at && woke_at <= s.end_ns, "{s:?} vs {woke_at}");
}

/// Whether the last frame painted a vertical line at `x` from about `y0`
/// to about `y1` (within a row).
fn painted_vertical_line(h: &Harness<'_, Ctx>, x: f32, y0: f32, y1: f32) -> bool {
    h.output().shapes.iter().any(|c| match &c.shape {
        egui::Shape::LineSegment { points: [a, b], .. } => {
            let near = |p: f32, q: f32| (p - q).abs() < super::canvas::ROW_H;
            (a.x - x).abs() < 1.0 && (b.x - x).abs() < 1.0 && near(a.y, y0) && near(b.y, y1)
        }
        _ => false,
    })
}

/// What the next frames put on the clipboard, if anything.
fn copied_text(h: &mut Harness<'_, Ctx>) -> Option<String> {
    for _ in 0..3 {
        h.step();
        let copied = h.output().platform_output.commands.iter().find_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        });
        if copied.is_some() {
            return copied;
        }
    }
    None
}

#[test]
fn home_fits_and_back_returns() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    let full = h.state().view.window(&h.state().tl);
    h.state_mut().view.t.commands.push(super::ViewCommand::ShowRange { start_ns: full.0, end_ns: full.0 + 1_000_000 });
    h.run_steps(2);
    assert_eq!(h.state().view.window(&h.state().tl).1, full.0 + 1_000_000);
    h.key_press(egui::Key::Home);
    h.run_steps(2);
    assert_eq!(h.state().view.window(&h.state().tl), full);
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    h.run_steps(2);
    assert_eq!(h.state().view.window(&h.state().tl).1, full.0 + 1_000_000);
}

#[test]
fn ctrl_scroll_zooms_at_the_cursor() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    let before = h.state().view.window(&h.state().tl);
    let pos = egui::pos2(1000.0, 500.0);
    h.hover_at(pos);
    h.run_steps(1);
    h.event(egui::Event::Zoom(2.0));
    h.run_steps(2);
    let after = h.state().view.window(&h.state().tl);
    let (w0, w1) = (before.1 - before.0, after.1 - after.0);
    assert!((w1 as f64 / w0 as f64 - 0.5).abs() < 0.01, "{w0} -> {w1}");
}

/// The view's time window.
fn window(h: &Harness<'_, Ctx>) -> (i64, i64) {
    h.state().view.window(&h.state().tl)
}

/// W/S zoom at the cursor by one step a tap, A/D pan, as in Chrome's trace
/// viewer (which `go tool trace` opens).
#[test]
fn w_s_zoom_at_the_cursor_and_a_d_pan() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    let before = window(&h);
    let pos = egui::pos2(1000.0, 500.0);
    h.hover_at(pos);
    h.run_steps(1);
    let at = h.state().view.t.window.map_or(before, |w| w);
    let frac = |w: (i64, i64), t: i64| (t - w.0) as f64 / (w.1 - w.0) as f64;
    // The time under the pointer, as the last frame painted it.
    let t_at = h.state().view.t.geometry.expect("painted").frame.t(pos.x);
    h.key_press(egui::Key::W);
    h.run_steps(2);
    let zoomed = window(&h);
    let step = super::keys::key_window(0, 1_000_000, 0, super::keys::KeyMotion { zoom: 1, pan: 0 }, super::keys::TAP_S);
    let expect_ratio = step.1 as f64 / 1_000_000.0;
    let ratio = (zoomed.1 - zoomed.0) as f64 / (at.1 - at.0) as f64;
    assert!((ratio - expect_ratio).abs() < 0.01 && ratio < 0.9, "zoomed {at:?} -> {zoomed:?}, ratio {ratio}");
    assert!((frac(zoomed, t_at) - frac(at, t_at)).abs() < 0.01, "the time under the pointer moved");
    h.key_press(egui::Key::S);
    h.run_steps(2);
    let out = window(&h);
    assert!((out.1 - out.0 - (at.1 - at.0)).abs() < (at.1 - at.0) / 100, "{at:?} -> {zoomed:?} -> {out:?}");
    h.key_press(egui::Key::D);
    h.run_steps(2);
    let right = window(&h);
    let w = (out.1 - out.0) as f64;
    assert!(((right.0 - out.0) as f64 / w - super::keys::TAP_S).abs() < 0.01, "{out:?} -> {right:?}");
    h.key_press(egui::Key::A);
    h.run_steps(2);
    assert!((window(&h).0 - out.0).abs() < (w / 100.0) as i64, "A undoes D");
}

/// Left/Right walk the selected row's spans: from chan.trace's blocked
/// receive to the runnable span main's send began, and back; they stop at
/// the track's ends, and the view follows a span out of sight.
#[test]
fn left_and_right_step_through_the_selected_rows_spans() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    let (gi, spans) = {
        let tl = &h.state().tl;
        let gi = tl.goroutines.iter().position(|g| tl.strings.get(g.start_fn()) == "main.blockedReceiver").unwrap();
        (gi, tl.goroutines[gi].track.spans())
    };
    let recv = spans.iter().position(|s| s.state == GState::ChanRecv as u8).unwrap();
    let track = super::TrackRef::Goroutine(gi);
    h.state_mut().view.t.selected = Some(super::SpanRef { track, index: recv });
    h.run_steps(1);
    let selected = |h: &Harness<'_, Ctx>| h.state().view.t.selected.map(|s| (s.track, s.index));
    h.key_press(egui::Key::ArrowRight);
    h.run_steps(2);
    assert_eq!(selected(&h), Some((track, recv + 1)));
    assert_eq!(spans[recv + 1].state, GState::Runnable as u8);
    // Its stack is where main woke it, and copies as main's.
    h.get_by_label("Woken at");
    h.query_all_by_label("Copy stack").next().expect("a copy button by the stack").click();
    let copied = copied_text(&mut h).expect("copied something");
    assert!(copied.starts_with("goroutine 1 [running]:\nruntime.chansend1(...)\n"), "{copied}");
    for _ in 0..recv + 3 {
        h.key_press(egui::Key::ArrowLeft);
        h.run_steps(1);
    }
    assert_eq!(selected(&h), Some((track, 0)), "stops at the first span");
    for _ in 0..spans.len() + 2 {
        h.key_press(egui::Key::ArrowRight);
        h.run_steps(1);
    }
    assert_eq!(selected(&h), Some((track, spans.len() - 1)), "stops at the last span");
    // Zoomed in elsewhere, a step brings the span into view.
    let away = spans[recv].end_ns + 5_000_000;
    h.state_mut().view.t.window = Some((away, away + 1_000_000));
    h.state_mut().view.t.selected = Some(super::SpanRef { track, index: recv + 1 });
    h.run_steps(1);
    h.key_press(egui::Key::ArrowLeft);
    h.run_steps(2);
    let (s, e) = window(&h);
    assert!(s <= spans[recv].start_ns && spans[recv].end_ns <= e, "{s}..{e} misses {:?}", spans[recv]);
}

/// A held key keeps moving the view, frame after frame, and stops when
/// let go.
#[test]
fn holding_d_keeps_panning_until_let_go() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    let start = window(&h);
    let w = (start.1 - start.0) as f64;
    h.key_down(egui::Key::D);
    h.run_steps(1);
    let tapped = window(&h);
    h.run_steps(4);
    let held = window(&h);
    assert!(tapped.0 > start.0 && held.0 > tapped.0, "{start:?} {tapped:?} {held:?}");
    // Each held frame moves at most 0.1 s worth (one window width a second).
    let moved = (held.0 - tapped.0) as f64 / w;
    assert!(moved > 0.1 && moved <= 0.4 + 1e-6, "moved {moved} widths in 4 frames");
    h.key_up(egui::Key::D);
    h.run_steps(2);
    let after = window(&h);
    h.run_steps(4);
    assert_eq!(window(&h), after, "still moving after the key was let go");
}

/// Typing a W into a text field types it; the view stays.
#[test]
fn typing_in_a_text_field_does_not_move_the_view() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    h.get_by_label("Find");
    // The search box: the last text field of the toolbar.
    h.query_all_by_role(egui::accesskit::Role::TextInput).last().expect("a text field").click();
    h.run_steps(2);
    let before = h.state().view.window(&h.state().tl);
    for key in [egui::Key::W, egui::Key::D] {
        h.key_press(key);
        h.event(egui::Event::Text(format!("{key:?}").to_lowercase()));
        h.run_steps(2);
    }
    assert_eq!(h.state().view.window(&h.state().tl), before);
    assert_eq!(h.state().view.t.search.text, "wd", "the keys went to the search box");
}

#[test]
fn search_finds_a_goroutine_by_function_and_jumps_to_it() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    h.state_mut().view.t.search.text = "blockedrecv".into();
    h.get_by_label("Find").click();
    h.run_steps(3);
    // Nothing matches "blockedrecv": an empty result, not a crash.
    h.get_by_label("0 goroutines");
    h.state_mut().view.t.search.text = "blockedReceiver".into();
    h.get_by_label("Find").click();
    h.run_steps(3);
    h.get_by_label("1 goroutines");
    let panel_left = h.get_by_label("Search results").rect().left();
    let link = h
        .query_all_by_label("g21 main.blockedReceiver")
        .find(|n| n.rect().left() >= panel_left - 1.0)
        .expect("result link in the side panel");
    link.click();
    h.run_steps(3);
    let sel = h.state().view.t.selected.expect("selected");
    let gi = h.state().tl.goroutine_index(trace_core::GoroutineId(21)).unwrap();
    assert_eq!(sel.track, super::TrackRef::Goroutine(gi));
}

#[test]
fn search_by_state_lists_spans_and_dims_the_rest() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    h.state_mut().view.t.search.kind = super::SearchKind::State;
    h.state_mut().view.t.search.state = Some(GState::ChanSend);
    h.get_by_label("Find").click();
    h.run_steps(3);
    let found = h.state().view.t.search.found.clone().expect("searched");
    assert!(found.span_count > 0);
    // blockedSender's 25 ms send is listed.
    let sender =
        h.state().tl.goroutines.iter().position(|g| h.state().tl.strings.get(g.start_fn()) == "main.blockedSender");
    assert!(found.spans.iter().any(|s| Some(s.goroutine) == sender && s.end_ns - s.start_ns > 20_000_000));
    assert!(h.query_all_by_label_contains("main.blockedSender  at").count() >= 1);
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    assert!(h.state().view.t.search.found.is_none());
}

#[test]
fn legend_and_shortcuts_open_from_the_toolbar() {
    let mut h = harness(load("chan.trace"));
    h.run_steps(2);
    assert!(h.query_by_label("sync.RWMutex").is_none());
    h.get_by_label("Legend").click();
    h.run_steps(2);
    h.get_by_label("sync.RWMutex");
    h.get_by_label("stop-the-world");
    h.get_by_label("?").click();
    h.run_steps(2);
    h.get_by_label("Keyboard and mouse shortcuts");
    h.get_by_label("zoom at the cursor");
}

/// A Go 1.21 (v1) trace: every analysis panel opens and shows something.
#[test]
fn every_panel_works_on_a_v1_trace() {
    let mut h = harness(load_from("go1.21", "chan.trace"));
    h.run_steps(2);
    for (tab, expect) in [
        ("Goroutines", "main.blockedReceiver"),
        ("Gaps", "Idle-P gaps by"),
        ("Flame graph", "Search"),
        ("MMU", "Minimum mutator utilisation"),
        ("Selection", "Shift+drag"),
    ] {
        let node = h.query_all_by_label(tab).next().unwrap_or_else(|| panic!("tab {tab}"));
        node.click();
        h.run_steps(4);
        assert!(h.query_all_by_label_contains(expect).count() >= 1, "{tab}: no {expect:?}");
    }
}

#[test]
fn hovering_a_span_inside_a_region_names_the_region() {
    let mut h = harness(load("annotations.trace"));
    h.run_steps(2);
    let (gi, r) = {
        let tl = &h.state().tl;
        // The longest region, so it is wide on screen.
        let r = tl.regions.iter().max_by_key(|r| r.end_ns - r.start_ns).unwrap();
        (tl.goroutine_index(r.g).unwrap(), r)
    };
    let name = h.state().tl.strings.get(r.typ).to_string();
    let mid = r.start_ns + (r.end_ns - r.start_ns) / 2;
    h.state_mut().view.t.commands.push(super::ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(mid) });
    h.run_steps(3);
    let pos = {
        let c = h.state_mut();
        c.view.screen_pos(&c.tl, Row::Goroutine(gi), mid).unwrap()
    };
    h.hover_at(pos);
    // Tooltips wait for the pointer to rest.
    h.run_steps(60);
    assert!(
        h.query_all_by_label_contains(&format!("in region {name}")).count() >= 1,
        "no region {name:?} in the tooltip"
    );
}

#[test]
fn hovering_a_log_marker_shows_its_message_and_task() {
    let mut h = harness(load("annotations.trace"));
    h.run_steps(2);
    let (gi, log, task) = {
        let tl = &h.state().tl;
        let log = tl.logs.iter().find(|l| tl.strings.get(l.message) == "handler 3").unwrap();
        (tl.goroutine_index(log.g).unwrap(), log, log.task)
    };
    // Scroll to its goroutine, then zoom in around the log (its next log
    // comes 0.8 us later: 20 px apart at this zoom).
    let cmds = [
        super::ViewCommand::SelectGoroutineAt { goroutine: gi, time_ns: Some(log.time_ns) },
        super::ViewCommand::ShowRange { start_ns: log.time_ns - 20_000, end_ns: log.time_ns + 20_000 },
    ];
    for c in cmds {
        h.state_mut().view.t.commands.push(c);
        h.run_steps(3);
    }
    let center = {
        let c = h.state_mut();
        c.view.screen_pos(&c.tl, Row::Goroutine(gi), log.time_ns).unwrap()
    };
    // The marker hangs from the top of the row.
    h.hover_at(egui::pos2(center.x + 1.0, center.y - super::canvas::ROW_H / 2.0 + 3.0));
    h.run_steps(60);
    h.get_by_label("log id");
    h.get_by_label("handler 3");
    h.get_by_label(&format!("task {task} (subrequest)"));
    // Lower in the row, the span under the pointer is described instead.
    h.hover_at(egui::pos2(center.x + 1.0, center.y + 4.0));
    h.run_steps(60);
    assert!(h.query_by_label("handler 3").is_none(), "the log tooltip stayed");
    assert!(h.query_by_label("log id").is_none(), "the log tooltip stayed");
}
