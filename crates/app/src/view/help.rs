//! The keyboard and mouse shortcuts overlay.

/// Shortcuts, as shown in the overlay.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Ctrl + scroll", "zoom at the cursor"),
    ("Drag", "pan"),
    ("Scroll", "move through the rows"),
    ("Shift + drag", "select a time range (duration and per-state summary)"),
    ("Click a span", "details: state, stack, who unblocked it"),
    ("Double-click a span", "zoom to it"),
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
