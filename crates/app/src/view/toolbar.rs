//! The row of view controls above the timeline.

use timeline::Timeline;

use super::{TraceViewState, ViewCommand};

/// Fit / back / forward, go to time, go to goroutine, row toggles, help.
pub fn toolbar_ui(ui: &mut egui::Ui, tl: &Timeline, state: &mut TraceViewState) {
    ui.horizontal(|ui| {
        if ui.button("Fit").on_hover_text("Show the whole trace (Home)").clicked() {
            state.t.commands.push(ViewCommand::Fit);
        }
        if ui
            .add_enabled(!state.t.back.is_empty(), egui::Button::new("Back"))
            .on_hover_text("Back (Alt+Left)")
            .clicked()
        {
            state.t.commands.push(ViewCommand::Back);
        }
        if ui
            .add_enabled(!state.t.forward.is_empty(), egui::Button::new("Forward"))
            .on_hover_text("Forward (Alt+Right)")
            .clicked()
        {
            state.t.commands.push(ViewCommand::Forward);
        }
        ui.separator();
        goto_time_ui(ui, tl, state);
        ui.separator();
        goto_goroutine_ui(ui, tl, state);
        ui.separator();
        super::search::search_bar_ui(ui, tl, state);
        ui.separator();
        ui.checkbox(&mut state.show_plots, "Plots");
        ui.checkbox(&mut state.show_threads, "Threads");
        if state.show_threads && !tl.threads_built {
            // The app builds them on first use (they are as big as the P rows).
            ui.spinner();
            ui.label("building thread rows");
        }
        ui.checkbox(&mut state.show_system_goroutines, "Runtime goroutines");
        if ui.button("Legend").on_hover_text("What the colours mean").clicked() {
            state.t.show_legend = !state.t.show_legend;
        }
        if ui.button("?").on_hover_text("Shortcuts").clicked() {
            state.t.show_help = !state.t.show_help;
        }
        if let Some(e) = &state.t.goto_error {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
    });
}

fn goto_time_ui(ui: &mut egui::Ui, tl: &Timeline, state: &mut TraceViewState) {
    ui.label("Go to time");
    let edit = ui.add(egui::TextEdit::singleline(&mut state.t.goto_time).desired_width(80.0).hint_text("12.5ms"));
    let go = ui.button("Go").clicked() || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
    if go {
        match parse_time_ns(&state.t.goto_time) {
            Some(offset) => {
                let (s, e) = state.window(tl);
                let half = (e - s) / 2;
                let t = tl.start_ns + offset;
                state.t.goto_error = None;
                state.t.commands.push(ViewCommand::ShowRange { start_ns: t - half, end_ns: t + half });
            }
            None => state.t.goto_error = Some(format!("not a time: {:?} (try 12.5ms)", state.t.goto_time)),
        }
    }
}

fn goto_goroutine_ui(ui: &mut egui::Ui, tl: &Timeline, state: &mut TraceViewState) {
    ui.label("Go to goroutine");
    let edit = ui.add(egui::TextEdit::singleline(&mut state.t.goto_goroutine).desired_width(70.0).hint_text("g123"));
    let go = ui.button("Go").clicked() || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)));
    if go {
        let text = state.t.goto_goroutine.trim().trim_start_matches('g');
        let found = text.parse::<i64>().ok().and_then(|id| tl.goroutine_index(trace_core::GoroutineId(id)));
        match found {
            Some(i) => {
                state.t.goto_error = None;
                state.t.commands.push(ViewCommand::SelectGoroutineAt { goroutine: i, time_ns: None });
            }
            None => state.t.goto_error = Some(format!("no goroutine {:?}", state.t.goto_goroutine)),
        }
    }
}

/// Parses a time offset such as `12.5ms`, `300us`, `2s` or `1500` (ns).
pub fn parse_time_ns(text: &str) -> Option<i64> {
    timeline::ticks::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::parse_time_ns;

    #[test]
    fn parses_times() {
        assert_eq!(parse_time_ns("12.5ms"), Some(12_500_000));
        assert_eq!(parse_time_ns(" 300us "), Some(300_000));
        assert_eq!(parse_time_ns("2s"), Some(2_000_000_000));
        assert_eq!(parse_time_ns("1500"), Some(1500));
        assert_eq!(parse_time_ns("abc"), None);
        assert_eq!(parse_time_ns("5 parsecs"), None);
    }
}
