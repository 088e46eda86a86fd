//! Changes that cross panels, queued while a frame is drawn and applied by
//! the app after it.

use std::path::PathBuf;

use crate::theme::ThemeChoice;

/// Something a panel asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Show the file dialog.
    OpenDialog,
    /// Load this file.
    Open(PathBuf),
    /// Stop the load in progress.
    CancelLoad,
    /// Close the trace (or the error page) and show the start page.
    CloseTrace,
    /// Forget one recent file.
    RemoveRecent(PathBuf),
    /// Forget all recent files.
    ClearRecent,
    /// Switch palettes.
    SetTheme(ThemeChoice),
    /// Hide the damaged-trace banner.
    DismissWarning,
    /// Show or hide the About window.
    ShowAbout(bool),
    /// Export a blocking profile (of the time selection, if any) as pprof.
    ExportProfile(timeline::analysis::ProfileKind),
    /// Close the window.
    Quit,
}

/// The commands of one frame, in the order they were sent.
#[derive(Debug, Default)]
pub struct Commands(Vec<Command>);

impl Commands {
    /// Queues `cmd`.
    pub fn send(&mut self, cmd: Command) {
        self.0.push(cmd);
    }

    /// Takes every queued command.
    pub fn take(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.0)
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
