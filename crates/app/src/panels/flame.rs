//! Flame graphs of CPU samples and of off-CPU (blocked) time, for the whole
//! trace or the selection: click a frame to zoom into it, hover for its
//! total and self weight, search to highlight frames.

use egui::{Align2, FontId, Rect, Sense, StrokeKind, Ui, pos2, vec2};
use timeline::Timeline;
use timeline::analysis::{self, Filter, FlameKey, FlameTree, Stop, TimeRange};
use timeline::ticks::format_duration;

use super::{Cached, PanelInput, TraceKey, compute_gate, scope_ui, took_label};
use crate::theme::Theme;

/// Height of a frame row.
const FRAME_H: f32 = 18.0;
/// Frames narrower than this are not drawn.
const MIN_FRAME_PX: f32 = 1.0;
/// Frames narrower than this cannot be clicked (zoom into the parent first).
const MIN_CLICK_PX: f32 = 3.0;
/// Frames narrower than this carry no text.
const MIN_TEXT_PX: f32 = 28.0;

/// What the flame graph weighs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum FlameMode {
    /// CPU profile samples.
    #[default]
    Cpu,
    /// Time blocked or in system calls, under a node per state.
    OffCpu,
}

/// Which goroutines the flame graph covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GoroutineScope {
    /// Every goroutine.
    #[default]
    All,
    /// The goroutine selected in the timeline.
    Selected,
    /// Every goroutine with the selected goroutine's start function.
    StartFunction,
}

/// Settings and the cached tree of the flame graph.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FlameState {
    /// CPU or off-CPU.
    pub mode: FlameMode,
    /// Only the Shift+drag selection (when there is one).
    pub in_selection: bool,
    /// Which goroutines.
    pub goroutines: GoroutineScope,
    /// Frames whose function contains this (case-insensitive) are highlighted.
    pub search: String,
    #[serde(skip)]
    focus: u32,
    #[serde(skip)]
    focus_for: Option<FlameCacheKey>,
    #[serde(skip)]
    requested: bool,
    #[serde(skip)]
    cache: Cached<FlameCacheKey, FlameTree>,
}

impl FlameState {
    /// Drops results and per-trace choices (another trace was opened).
    pub fn forget_results(&mut self) {
        self.focus = FlameTree::ROOT;
        self.focus_for = None;
        self.requested = false;
        self.cache = Cached::default();
    }
}

/// What a tree was computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FlameCacheKey {
    trace: TraceKey,
    mode: FlameMode,
    range: Option<(i64, i64)>,
    goroutines: Option<(GoroutineScope, usize)>,
}

/// The package of a Go function name: `main` for `main.f`,
/// `github.com/a/b` for `github.com/a/b.(*T).M`.
pub fn package_of(func: &str) -> &str {
    let head = func.find(['[', '(']).map_or(func, |i| func.get(..i).unwrap_or(func));
    let slash = head.rfind('/').map_or(0, |i| i + 1);
    match func.get(slash..).and_then(|rest| rest.find('.')) {
        Some(dot) => func.get(..slash + dot).unwrap_or(func),
        None => func,
    }
}

/// What an empty tree says; a trace without CPU samples (most, as
/// `go test -trace` writes them) offers its off-CPU time instead.
fn empty_ui(ui: &mut Ui, tl: &Timeline, state: &mut FlameState) {
    match state.mode {
        FlameMode::Cpu if tl.cpu_samples.is_empty() => {
            ui.label(
                "This trace has no CPU samples. They are recorded when a CPU profile runs while tracing \
                 (pprof.StartCPUProfile, or go test -trace with -cpuprofile).",
            );
            if ui.button("Show off-CPU time").clicked() {
                state.mode = FlameMode::OffCpu;
            }
        }
        FlameMode::Cpu => {
            ui.label("No CPU samples here.");
        }
        FlameMode::OffCpu => {
            ui.label("No goroutine was blocked or in a system call here.");
        }
    }
}

/// The flame graph panel.
pub fn flame_ui(ui: &mut Ui, input: &PanelInput<'_>, state: &mut FlameState) {
    let tl = input.tl;
    ui.horizontal(|ui| {
        ui.selectable_value(&mut state.mode, FlameMode::Cpu, "CPU samples");
        ui.selectable_value(&mut state.mode, FlameMode::OffCpu, "Off-CPU (blocked, syscalls)");
        ui.separator();
        scope_ui(ui, input.range, &mut state.in_selection);
        ui.separator();
        goroutine_scope_ui(ui, input, &mut state.goroutines);
        ui.separator();
        ui.label("Search");
        ui.add(
            egui::TextEdit::singleline(&mut state.search)
                .desired_width(180.0)
                .hint_text("function")
                .id_salt("gotv_flame_search"),
        );
        if ui.add_enabled(state.focus != FlameTree::ROOT, egui::Button::new("Reset")).clicked() {
            state.focus = FlameTree::ROOT;
        }
        took_label(ui, state.cache.took());
    });
    if state.mode == FlameMode::OffCpu && !compute_gate(ui, tl, &mut state.requested, "the off-CPU flame graph") {
        return;
    }
    let range = input.range.filter(|_| state.in_selection);
    let goroutines = match (state.goroutines, input.goroutine) {
        (GoroutineScope::All, _) | (_, None) => None,
        (scope, Some(g)) => Some((scope, g)),
    };
    let key = FlameCacheKey { trace: TraceKey::of(tl), mode: state.mode, range, goroutines };
    if state.focus_for.as_ref() != Some(&key) {
        state.focus = FlameTree::ROOT;
        state.focus_for = Some(key.clone());
    }
    let mode = state.mode;
    let Some(tree) =
        state.cache.get_or_run(ui, tl, &key, move |tl, stop| build_tree(tl, mode, range, goroutines, stop))
    else {
        return;
    };
    if tree.total() == 0 {
        empty_ui(ui, tl, state);
        return;
    }
    summary_ui(ui, tl, tree, state.focus, &state.search, mode);
    let mut clicked = None;
    egui::ScrollArea::vertical().id_salt("gotv_flame_scroll").auto_shrink(false).show(ui, |ui| {
        clicked = paint_flame(ui, tl, input.theme, tree, state.focus, &state.search, mode);
    });
    if let Some(node) = clicked {
        state.focus = zoom_target(tree, state.focus, node);
    }
}

/// The tree for a mode, range and goroutine scope.
fn build_tree(
    tl: &Timeline,
    mode: FlameMode,
    range: Option<(i64, i64)>,
    goroutines: Option<(GoroutineScope, usize)>,
    stop: Stop<'_>,
) -> Option<FlameTree> {
    let mut filter = Filter::range(range.map_or(TimeRange::ALL, |(s, e)| TimeRange::new(s, e)));
    if let Some((scope, gi)) = goroutines
        && let Some(g) = tl.goroutines.get(gi)
    {
        filter = match scope {
            GoroutineScope::StartFunction => {
                filter.with_goroutines(tl.goroutines.iter().filter(|o| o.start_fn() == g.start_fn()).map(|o| o.id))
            }
            _ => filter.with_goroutines([g.id]),
        };
    }
    match mode {
        // CPU samples are few: only the off-CPU tree, which reads every
        // span, needs stopping.
        FlameMode::Cpu => Some(analysis::cpu_flame(tl, &filter)),
        FlameMode::OffCpu => analysis::offcpu_flame_stoppable(tl, &filter, analysis::is_off_cpu, stop),
    }
}

/// All goroutines, the selected one, or all with its start function.
fn goroutine_scope_ui(ui: &mut Ui, input: &PanelInput<'_>, scope: &mut GoroutineScope) {
    let selected = input.goroutine.and_then(|g| input.tl.goroutines.get(g));
    ui.selectable_value(scope, GoroutineScope::All, "All goroutines");
    ui.add_enabled_ui(selected.is_some(), |ui| {
        let label = selected.map_or("Selected goroutine".to_string(), |g| format!("g{}", g.id.0));
        ui.selectable_value(scope, GoroutineScope::Selected, label)
            .on_disabled_hover_text("Click a goroutine's span on the timeline first");
        let func = selected
            .map_or("Its start function".to_string(), |g| format!("all {}", input.tl.strings.get(g.start_fn())));
        ui.selectable_value(scope, GoroutineScope::StartFunction, func);
    });
}

fn zoom_target(tree: &FlameTree, focus: u32, clicked: u32) -> u32 {
    if clicked == focus && clicked != FlameTree::ROOT {
        tree.node(clicked).map_or(FlameTree::ROOT, |n| n.parent)
    } else {
        clicked
    }
}

/// A weight as people read it: samples, or a duration.
fn weight(mode: FlameMode, v: i64) -> String {
    match mode {
        FlameMode::Cpu if v == 1 => "1 sample".to_string(),
        FlameMode::Cpu => format!("{v} samples"),
        FlameMode::OffCpu => format_duration(v),
    }
}

/// Total, zoom path and search coverage.
fn summary_ui(ui: &mut Ui, tl: &Timeline, tree: &FlameTree, focus: u32, search: &str, mode: FlameMode) {
    ui.horizontal(|ui| {
        ui.label(format!("Total {}", weight(mode, tree.total())));
        if focus != FlameTree::ROOT {
            let path: Vec<&str> = tree.path(focus).iter().skip(1).map(|&i| tree.name(tl, i)).collect();
            ui.weak(format!("zoomed into {}", path.join(" > ")));
        }
        let needle = search.trim().to_lowercase();
        if !needle.is_empty() {
            let matched = matched_total(tl, tree, &needle);
            let pct = matched as f64 * 100.0 / tree.total().max(1) as f64;
            ui.label(format!("search matches {} ({pct:.1}%)", weight(mode, matched)));
        }
    });
}

/// The weight under frames matching `needle`, each stack counted once.
fn matched_total(tl: &Timeline, tree: &FlameTree, needle: &str) -> i64 {
    // Parents come before children, so one pass knows whether an ancestor matched.
    let mut covered = vec![false; tree.nodes.len()];
    let mut sum = 0;
    for (i, n) in tree.nodes.iter().enumerate() {
        let parent_covered = i != 0 && covered.get(n.parent as usize).copied().unwrap_or(false);
        let hit = n.key != FlameKey::Root && tree.name(tl, i as u32).to_lowercase().contains(needle);
        if hit && !parent_covered {
            sum += n.total;
        }
        if let Some(c) = covered.get_mut(i) {
            *c = hit || parent_covered;
        }
    }
    sum
}

/// Paints the laid-out tree, root on top; returns the frame clicked.
fn paint_flame(
    ui: &mut Ui,
    tl: &Timeline,
    theme: &Theme,
    tree: &FlameTree,
    focus: u32,
    search: &str,
    mode: FlameMode,
) -> Option<u32> {
    let width = ui.available_width();
    let rects = analysis::flame_layout(tree, focus, width, MIN_FRAME_PX);
    let rows = rects.iter().map(|r| r.depth).max().unwrap_or(0) + 1;
    let (area, _) = ui.allocate_exact_size(vec2(width, rows as f32 * FRAME_H), Sense::hover());
    let focus_depth = tree.node(focus).map_or(0, |n| n.depth);
    let needle = search.trim().to_lowercase();
    let id = ui.scope_id().with("gotv_flame_frames");
    let mut clicked = None;
    for r in &rects {
        let rect = Rect::from_min_size(
            pos2(area.left() + r.x, area.top() + r.depth as f32 * FRAME_H),
            vec2(r.width.max(MIN_FRAME_PX), FRAME_H - 1.0),
        );
        if !ui.is_rect_visible(rect) {
            continue;
        }
        let name = tree.name(tl, r.node);
        let matched = !needle.is_empty() && r.node != FlameTree::ROOT && name.to_lowercase().contains(&needle);
        let mut color = match tree.node(r.node).map(|n| n.key) {
            Some(FlameKey::Func(_)) if r.depth >= focus_depth => theme.flame(package_of(name)),
            Some(FlameKey::State(s)) if r.depth >= focus_depth => theme.gstate(s),
            _ => theme.flame_ancestor(),
        };
        if !needle.is_empty() && !matched {
            color = theme.dim(color);
        }
        let painter = ui.painter().with_clip_rect(rect.intersect(ui.clip_rect()));
        painter.rect_filled(rect.shrink2(vec2(0.5, 0.0)), 1.0, color);
        if matched {
            painter.rect_stroke(rect, 1.0, (1.5, theme.flame_match()), StrokeKind::Inside);
        }
        if r.width >= MIN_TEXT_PX {
            let text = fit_text(name, r.width - 6.0);
            let pos = pos2(rect.left() + 3.0, rect.center().y);
            painter.text(pos, Align2::LEFT_CENTER, text, FontId::proportional(11.0), theme.flame_text());
        }
        if r.width < MIN_CLICK_PX {
            continue;
        }
        let resp = ui.interact(rect, id.with(r.node), Sense::click());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, name));
        let resp = resp.on_hover_ui(|ui| frame_tooltip(ui, tl, tree, r.node, focus, mode));
        if resp.clicked() {
            clicked = Some(r.node);
        }
    }
    clicked
}

/// `name` cut to about `width_px` of 11-point text, ".." marking the cut.
fn fit_text(name: &str, width_px: f32) -> String {
    let max = (width_px / 6.2).floor().max(0.0) as usize;
    if name.chars().count() <= max {
        return name.to_string();
    }
    let keep = max.saturating_sub(2);
    let mut s: String = name.chars().take(keep).collect();
    s.push_str("..");
    s
}

/// Name, total and self weight with shares, package.
fn frame_tooltip(ui: &mut Ui, tl: &Timeline, tree: &FlameTree, node: u32, focus: u32, mode: FlameMode) {
    let Some(n) = tree.node(node) else { return };
    let name = tree.name(tl, node);
    ui.strong(name);
    let all = tree.total().max(1) as f64;
    let zoomed = tree.node(focus).map_or(1, |f| f.total.max(1)) as f64;
    ui.label(format!(
        "total {} ({:.1}% of all, {:.1}% of the zoomed frame)",
        weight(mode, n.total),
        n.total as f64 * 100.0 / all,
        n.total as f64 * 100.0 / zoomed
    ));
    ui.label(format!("self {} ({:.1}% of all)", weight(mode, n.self_value), n.self_value as f64 * 100.0 / all));
    if let FlameKey::Func(_) = n.key {
        ui.weak(format!("package {}", package_of(name)));
    }
    ui.weak(if node == focus && node != FlameTree::ROOT { "Click to zoom out" } else { "Click to zoom in" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_of_go_functions() {
        assert_eq!(package_of("main.cpuBurnA"), "main");
        assert_eq!(package_of("runtime.chanrecv1"), "runtime");
        assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
        assert_eq!(package_of("github.com/a/b.(*T).M"), "github.com/a/b");
        assert_eq!(package_of("github.com/a/b.F[...]"), "github.com/a/b");
        assert_eq!(package_of("example.com/x/v2.Map[go.shape.string]"), "example.com/x/v2");
        assert_eq!(package_of("main.main.func1"), "main");
        assert_eq!(package_of("noDots"), "noDots");
    }

    #[test]
    fn long_names_are_cut() {
        assert_eq!(fit_text("main.f", 100.0), "main.f");
        assert_eq!(fit_text("main.cpuBurnA", 40.0), "main..");
        assert_eq!(fit_text("main.cpuBurnA", 1.0), "..");
    }

    #[test]
    fn clicking_the_focus_zooms_out() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/go1.27/cpuprof.trace");
        let tl = timeline::build(&std::fs::read(path).unwrap(), &timeline::Progress::default()).unwrap();
        let tree = build_tree(&tl, FlameMode::Cpu, None, None, Stop::NEVER).unwrap();
        assert!(tree.total() > 0);
        let burn = (0..tree.nodes.len() as u32).find(|&i| tree.name(&tl, i) == "main.cpuBurnA").unwrap();
        assert_eq!(zoom_target(&tree, FlameTree::ROOT, burn), burn);
        assert_eq!(zoom_target(&tree, burn, burn), tree.node(burn).unwrap().parent);
        assert_eq!(zoom_target(&tree, FlameTree::ROOT, FlameTree::ROOT), FlameTree::ROOT);
        // Searching "cpuburn" covers both burners, each stack once.
        let m = matched_total(&tl, &tree, "cpuburn");
        assert!(m > tree.total() / 2 && m <= tree.total(), "{m} of {}", tree.total());
    }
}
