//! The keyboard and mouse shortcuts overlay.

/// Shortcuts, as shown in the overlay.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl + scroll", "zoom at the cursor"),
    ("W / S", "zoom in / out at the cursor (hold to keep zooming)"),
    ("A / D", "pan left / right (hold to keep panning)"),
    ("Drag", "pan"),
    ("Scroll", "move through the rows"),
    ("Shift + drag", "select a time range (duration and per-state summary)"),
    ("Click a span", "details: state, stack, who unblocked it"),
    ("Double-click a span", "zoom to it"),
    ("Left / Right", "previous / next span of the selected row"),
    ("Home", "fit the whole trace"),
    ("Alt + Left / Alt + Right", "back / forward through views"),
    ("Esc", "clear the selection"),
    ("?", "this overlay"),
];

/// Shows the overlay while `open`.
pub fn shortcuts_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard and mouse shortcuts").open(open).collapsible(false).resizable(false).show(ctx, |ui| {
        egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
            for (keys, what) in SHORTCUTS {
                ui.strong(*keys);
                ui.label(*what);
                ui.end_row();
            }
        });
    });
}

/// The colour legend: every goroutine state, P and thread states, and the
/// GC rows, as painted.
pub fn legend_ui(ctx: &egui::Context, theme: &crate::theme::Theme, open: &mut bool) {
    use timeline::{GState, PState, RangeKind};
    egui::Window::new("Legend").open(open).collapsible(false).resizable(false).show(ctx, |ui| {
        egui::Grid::new("legend").num_columns(4).spacing([12.0, 4.0]).show(ui, |ui| {
            let states: Vec<(egui::Color32, &str)> = GState::ALL
                .iter()
                .filter(|s| **s != GState::Exited)
                .map(|s| (theme.gstate(*s), s.name()))
                .chain([
                    (theme.pstate(PState::Scheduling), "P: scheduling"),
                    (theme.range(RangeKind::GcMark), "GC cycle"),
                    (theme.range(RangeKind::Stw), "stop-the-world"),
                ])
                .collect();
            for (i, (color, name)) in states.iter().enumerate() {
                let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
                ui.painter().rect_filled(rect, 2.0, *color);
                ui.label(*name);
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        ui.label("Darker, lower blocks are runs of spans too small to see one by one: zoom in.");
        ui.label("A selected blocked span gets an arrow from the goroutine that woke it, where it did.");
    });
}
