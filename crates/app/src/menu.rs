//! The top bar: File, View and Help menus, and the About window.

use crate::app::{AppContext, CLOSE_SHORTCUT, OPEN_SHORTCUT, QUIT_SHORTCUT, ScreenKind};
use crate::command::{Command, Commands};
use crate::loader::file_name;
use crate::theme::ThemeChoice;

/// Draws the menu bar.
pub fn menu_bar_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, cmds: &mut Commands) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| file_menu_ui(ui, ctx, cmds));
        ui.menu_button("View", |ui| {
            for (choice, label) in [(ThemeChoice::Dark, "Dark theme"), (ThemeChoice::Light, "Light theme")] {
                if ui.radio(ctx.theme_choice == choice, label).clicked() {
                    cmds.send(Command::SetTheme(choice));
                    ui.close();
                }
            }
        });
        ui.menu_button("Help", |ui| {
            if ui.button("About gotv").clicked() {
                cmds.send(Command::ShowAbout(true));
                ui.close();
            }
        });
    });
}

fn file_menu_ui(ui: &mut egui::Ui, ctx: &AppContext<'_>, cmds: &mut Commands) {
    let egui_ctx = ui.ctx().clone();
    let open = egui::Button::new("Open…").shortcut_text(egui_ctx.format_shortcut(&OPEN_SHORTCUT));
    if ui.add_enabled(!ctx.picking, open).clicked() {
        cmds.send(Command::OpenDialog);
        ui.close();
    }
    ui.add_enabled_ui(!ctx.recent.is_empty(), |ui| {
        ui.menu_button("Open recent", |ui| {
            for entry in ctx.recent {
                let button = egui::Button::new(file_name(&entry.path));
                let response = ui.add_enabled(entry.exists, button).on_hover_text(entry.path.display().to_string());
                let response = if entry.exists {
                    response
                } else {
                    response.on_disabled_hover_text(format!("{} no longer exists", entry.path.display()))
                };
                if response.clicked() {
                    cmds.send(Command::Open(entry.path.clone()));
                    ui.close();
                }
            }
            ui.separator();
            if ui.button("Clear list").clicked() {
                cmds.send(Command::ClearRecent);
                ui.close();
            }
        });
    });
    ui.separator();
    ui.add_enabled_ui(ctx.screen == ScreenKind::Trace, |ui| {
        ui.menu_button("Export blocking profile", |ui| {
            use timeline::analysis::ProfileKind as K;
            for (kind, label) in [
                (K::Net, "Network wait (net)"),
                (K::Sync, "Synchronization (sync)"),
                (K::Syscall, "Syscalls (syscall)"),
                (K::Sched, "Scheduler latency (sched)"),
            ] {
                if ui.button(label).on_hover_text("pprof file of the time selection, or the whole trace").clicked() {
                    cmds.send(Command::ExportProfile(kind));
                    ui.close();
                }
            }
        });
    });
    ui.separator();
    let close = egui::Button::new("Close trace").shortcut_text(egui_ctx.format_shortcut(&CLOSE_SHORTCUT));
    if ui.add_enabled(ctx.screen != ScreenKind::Start, close).clicked() {
        cmds.send(Command::CloseTrace);
        ui.close();
    }
    ui.separator();
    if ui.add(egui::Button::new("Quit").shortcut_text(egui_ctx.format_shortcut(&QUIT_SHORTCUT))).clicked() {
        cmds.send(Command::Quit);
        ui.close();
    }
}

/// The About window, while `open`.
pub fn about_window(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("About gotv").open(open).collapsible(false).resizable(false).show(ctx, |ui| {
        ui.label(egui::RichText::new(format!("gotv {}", env!("CARGO_PKG_VERSION"))).strong());
        ui.label(env!("CARGO_PKG_DESCRIPTION"));
        ui.label("Reads the traces of runtime/trace, go test -trace and /debug/pprof/trace (Go 1.11 and later).");
        ui.label(format!("License: {}", env!("CARGO_PKG_LICENSE")));
    });
}
