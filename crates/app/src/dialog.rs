//! Choosing a file: the native dialog behind a trait (tests fake it), run on
//! a worker thread so the window keeps painting while it is open.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};

/// Asks the user for a trace file.
pub trait FilePicker: Send + Sync {
    /// Shows a dialog and blocks until the user picks a file (`Some`) or
    /// cancels (`None`). Always called on a worker thread, never on the UI
    /// thread. `start_dir` is where the dialog should open, if known.
    fn pick_trace(&self, start_dir: Option<&Path>) -> Option<PathBuf>;

    /// Shows a save dialog for a file named `default_name` and blocks until
    /// the user picks where (`Some`) or cancels. Worker thread only.
    fn save_file(&self, default_name: &str, start_dir: Option<&Path>) -> Option<PathBuf> {
        let _ = (default_name, start_dir);
        None
    }
}

/// The platform's file dialog through `rfd` (the XDG desktop portal on
/// Linux, falling back to zenity; the system dialogs on macOS and Windows).
#[derive(Debug, Default)]
pub struct NativePicker;

impl FilePicker for NativePicker {
    fn pick_trace(&self, start_dir: Option<&Path>) -> Option<PathBuf> {
        let mut dialog = rfd::AsyncFileDialog::new()
            .set_title("Open Go execution trace")
            // Traces often have no extension (`curl -o trace …`): all files first.
            .add_filter("All files", &["*"])
            .add_filter("Go execution traces", &["trace", "out", "gz"]);
        if let Some(dir) = start_dir {
            dialog = dialog.set_directory(dir);
        }
        // The async dialog may be driven from any thread on every platform
        // (the blocking one must run on the main thread on macOS).
        block_on(dialog.pick_file()).map(|f| f.path().to_path_buf())
    }

    fn save_file(&self, default_name: &str, start_dir: Option<&Path>) -> Option<PathBuf> {
        let mut dialog = rfd::FileDialog::new()
            .set_title("Export blocking profile")
            .set_file_name(default_name)
            .add_filter("pprof profile", &["gz", "pb.gz"]);
        if let Some(dir) = start_dir {
            dialog = dialog.set_directory(dir);
        }
        dialog.save_file()
    }
}

/// Runs a future to completion on the current thread.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// What a pending pick has come to.
#[derive(Debug, PartialEq, Eq)]
pub enum PickState {
    /// The dialog is still open.
    Open,
    /// The user chose this file.
    Picked(PathBuf),
    /// The user closed the dialog without choosing, or it could not be shown.
    Closed,
}

/// A file dialog open on a worker thread.
#[derive(Debug)]
pub struct PendingPick {
    rx: mpsc::Receiver<Option<PathBuf>>,
}

impl PendingPick {
    /// Opens `picker` on a new thread; repaints `ctx` when it returns.
    pub fn start(picker: Arc<dyn FilePicker>, start_dir: Option<PathBuf>, ctx: &egui::Context) -> PendingPick {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("gotv-file-dialog".into()).spawn(move || {
            let picked = picker.pick_trace(start_dir.as_deref());
            let _ = tx.send(picked);
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            // The closure (and its sender) is gone: poll reports Closed.
            eprintln!("gotv: cannot start the file dialog: {e}");
        }
        PendingPick { rx }
    }

    /// Whether the dialog has returned, without blocking.
    pub fn poll(&self) -> PickState {
        match self.rx.try_recv() {
            Ok(Some(path)) => PickState::Picked(path),
            Ok(None) | Err(mpsc::TryRecvError::Disconnected) => PickState::Closed,
            Err(mpsc::TryRecvError::Empty) => PickState::Open,
        }
    }
}

/// A save dialog on a worker thread that writes `bytes` where the user
/// chose; `poll` gives the outcome once.
pub struct PendingSave {
    rx: mpsc::Receiver<Result<Option<PathBuf>, String>>,
}

impl PendingSave {
    /// Asks where to save, then writes; repaints `ctx` when done.
    pub fn start(
        picker: Arc<dyn FilePicker>,
        default_name: String,
        start_dir: Option<PathBuf>,
        bytes: Vec<u8>,
        ctx: &egui::Context,
    ) -> PendingSave {
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("gotv-save-dialog".into()).spawn(move || {
            let outcome = match picker.save_file(&default_name, start_dir.as_deref()) {
                Some(path) => std::fs::write(&path, &bytes)
                    .map(|()| Some(path.clone()))
                    .map_err(|e| format!("cannot write {}: {e}", path.display())),
                None => Ok(None),
            };
            let _ = tx.send(outcome);
            ctx.request_repaint();
        });
        if let Err(e) = spawned {
            eprintln!("gotv: cannot start the save dialog: {e}");
        }
        PendingSave { rx }
    }

    /// `None` while the dialog is open; then the path written (or `None`
    /// if cancelled), or why writing failed.
    pub fn poll(&self) -> Option<Result<Option<PathBuf>, String>> {
        match self.rx.try_recv() {
            Ok(outcome) => Some(outcome),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Ok(None)),
        }
    }
}
