//! The start page: title, "Open trace…", capture from a running program,
//! recent files.

use std::path::PathBuf;

use egui::RichText;

use crate::app::AppContext;
use crate::capture::{DEFAULT_SECONDS, typed_capture_url};
use crate::command::{Command, Commands};
use crate::loader::file_name;

/// A recent file and whether it still exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecentEntry {
    /// The file.
    pub path: PathBuf,
    /// It was there when last checked.
    pub exists: bool,
}

/// Label of the button that opens the file dialog.
pub const OPEN_BUTTON: &str = "Open trace…";

/// Draws the start page.
pub fn start_page_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, cmds: &mut Commands) {
    egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space((ui.available_height() * 0.12).clamp(12.0, 120.0));
            ui.label(RichText::new("gotv").size(40.0).strong());
            ui.label(RichText::new("Go execution trace viewer").size(16.0).color(ctx.theme.weak()));
            ui.add_space(24.0);
            let open = egui::Button::new(RichText::new(OPEN_BUTTON).size(18.0)).min_size(egui::vec2(180.0, 36.0));
            if ui.add_enabled(!ctx.picking, open).clicked() {
                cmds.send(Command::OpenDialog);
            }
            ui.add_space(6.0);
            ui.label(RichText::new("or drop a trace file on this window").color(ctx.theme.weak()));
            ui.add_space(20.0);
            capture_ui(ui, ctx, cmds);
            ui.add_space(32.0);
            recent_files_ui(ui, ctx, cmds);
        });
    });
}

/// Label of the button that captures from a running program.
pub const CAPTURE_BUTTON: &str = "Capture";

/// "Capture from a running program": an address and a length, kept in
/// egui's memory (so across runs too), and a button that opens the
/// address (the loader captures, see [`crate::capture`]).
fn capture_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, cmds: &mut Commands) {
    let id = ui.make_persistent_id("gotv_capture");
    let bad_id = id.with("bad");
    let (mut addr, mut seconds) =
        ui.data_mut(|d| d.get_persisted::<(String, u32)>(id)).unwrap_or((String::new(), DEFAULT_SECONDS));
    // Whether the last Capture had no usable address (until it is edited).
    let mut bad = ui.data(|d| d.get_temp::<bool>(bad_id)).unwrap_or(false);
    ui.label(RichText::new("or capture from a running program (net/http/pprof)").color(ctx.theme.weak()));
    ui.horizontal(|ui| {
        let row_width = 345.0;
        ui.add_space(((ui.available_width() - row_width) / 2.0).max(0.0));
        let edit = ui.add(
            egui::TextEdit::singleline(&mut addr)
                .hint_text("localhost:6060")
                .desired_width(200.0)
                .id_salt("gotv_capture_addr"),
        );
        bad &= !edit.changed();
        ui.label("for");
        ui.add(egui::DragValue::new(&mut seconds).range(1..=600).suffix(" s"));
        let button =
            ui.button(CAPTURE_BUTTON).on_hover_text("Fetch /debug/pprof/trace?seconds=N from it and open the trace");
        if button.clicked() || (edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))) {
            match typed_capture_url(&addr, seconds) {
                Some(url) => cmds.send(Command::Open(PathBuf::from(url))),
                None => bad = true,
            }
        }
    });
    if bad {
        ui.label(RichText::new("Enter the program's address, such as localhost:6060").color(ctx.theme.error()));
    }
    ui.data_mut(|d| {
        d.insert_temp(bad_id, bad);
        d.insert_persisted(id, (addr, seconds));
    });
}

/// The recent files: click one to open it; missing ones are marked and can
/// be removed.
fn recent_files_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, cmds: &mut Commands) {
    if ctx.recent.is_empty() {
        return;
    }
    let width = ui.available_width().min(640.0);
    ui.allocate_ui(egui::vec2(width, 0.0), |ui| {
        ui.set_width(width);
        ui.horizontal(|ui| {
            ui.label(RichText::new("Recent files").size(16.0).strong());
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.small_button("Clear list").clicked() {
                    cmds.send(Command::ClearRecent);
                }
            });
        });
        ui.separator();
        egui::Grid::new("gotv_recent_files").num_columns(3).striped(true).spacing([12.0, 6.0]).show(ui, |ui| {
            for entry in ctx.recent {
                let name = file_name(&entry.path);
                let dir = entry.path.parent().map(|d| d.display().to_string()).unwrap_or_default();
                if entry.exists {
                    let link = ui.link(RichText::new(&name).strong()).on_hover_text(entry.path.display().to_string());
                    if link.clicked() {
                        cmds.send(Command::Open(entry.path.clone()));
                    }
                    ui.label(RichText::new(dir).color(ctx.theme.weak()));
                } else {
                    ui.label(RichText::new(&name).strikethrough().color(ctx.theme.weak()))
                        .on_hover_text(format!("{} no longer exists", entry.path.display()));
                    ui.label(RichText::new(format!("missing: {dir}")).color(ctx.theme.error()));
                }
                if ui.small_button("Remove").on_hover_text("Remove from the recent files").clicked() {
                    cmds.send(Command::RemoveRecent(entry.path.clone()));
                }
                ui.end_row();
            }
        });
    });
}
