//! The application shell: which screen is showing (start page, loading,
//! error, trace), the menus and status line around it, settings, the file
//! dialog and drag-and-drop. It holds no trace logic: loading is
//! [`crate::loader`], painting a trace is [`crate::view`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use egui::{Key, KeyboardShortcut, Modifiers};

use crate::command::{Command, Commands};
use crate::dialog::{FilePicker, NativePicker, PendingPick, PickState};
use crate::loader::{self, LoadedTrace, Loader, ThreadsLoader};
use crate::settings::Settings;
use crate::start_page::RecentEntry;
use crate::theme::{Theme, ThemeChoice};
use crate::{menu, pages, start_page, status, view};

/// Ctrl/Cmd+O: open a file.
pub const OPEN_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
/// Ctrl/Cmd+W: close the trace.
pub const CLOSE_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::W);
/// Ctrl/Cmd+Q: quit.
pub const QUIT_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);

/// How often the recent files are checked for existence while shown.
const RECENT_RECHECK_SECS: f64 = 2.0;

/// How to start the app.
pub struct AppOptions {
    /// Where settings are read and written; `None` keeps them in memory only.
    pub settings_path: Option<PathBuf>,
    /// The file dialog.
    pub picker: Arc<dyn FilePicker>,
    /// A file to open at once (`gotv FILE`).
    pub open: Option<PathBuf>,
    /// Show the frame-time overlay (`--frame-stats`).
    pub frame_stats: bool,
    /// What to select once the trace is open (`--goroutine`, `--at`).
    pub select: Option<crate::view::Selection>,
    /// Where traces captured from a program's address are saved.
    pub captures_dir: PathBuf,
}

impl Default for AppOptions {
    /// The real thing: settings in the config dir, the native dialog.
    fn default() -> Self {
        AppOptions {
            settings_path: crate::settings::settings_path(),
            picker: Arc::new(NativePicker),
            open: None,
            frame_stats: false,
            select: None,
            captures_dir: crate::capture::captures_dir(),
        }
    }
}

/// Why a file did not open.
#[derive(Debug)]
pub struct LoadFailure {
    /// The file.
    pub path: PathBuf,
    /// The whole error chain, decoder text included.
    pub message: String,
    /// The user cancelled rather than the load failing.
    pub cancelled: bool,
}

/// A trace on screen.
#[derive(Debug)]
pub struct OpenTrace {
    /// The trace.
    pub trace: LoadedTrace,
    /// The damaged-trace banner was dismissed.
    pub warning_dismissed: bool,
    /// The thread tracks being built, once the thread rows are shown.
    pub threads: Option<ThreadsLoader>,
    /// Why the thread tracks could not be built.
    pub threads_error: Option<String>,
    /// Thread tracks built while an analysis thread still shared the
    /// timeline; they go in once it is done.
    pub pending_threads: Option<Vec<timeline::Thread>>,
}

/// What fills the window.
#[derive(Debug)]
pub enum Screen {
    /// Title, open button, recent files.
    Start,
    /// A file loading in the background.
    Loading(Loader),
    /// A file that did not open.
    Failed(LoadFailure),
    /// A loaded trace.
    Trace(Box<OpenTrace>),
}

/// Which [`Screen`] is showing, without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenKind {
    /// [`Screen::Start`].
    Start,
    /// [`Screen::Loading`].
    Loading,
    /// [`Screen::Failed`].
    Failed,
    /// [`Screen::Trace`].
    Trace,
}

impl Screen {
    /// Which screen this is.
    pub fn kind(&self) -> ScreenKind {
        match self {
            Screen::Start => ScreenKind::Start,
            Screen::Loading(_) => ScreenKind::Loading,
            Screen::Failed(_) => ScreenKind::Failed,
            Screen::Trace(_) => ScreenKind::Trace,
        }
    }
}

/// What the shell's panels read while drawing; they report back only
/// through [`Commands`].
pub struct AppContext<'a> {
    /// Palette of this frame.
    pub theme: Theme,
    /// The palette's setting (for the View menu).
    pub theme_choice: ThemeChoice,
    /// Recent files, most recent first.
    pub recent: &'a [RecentEntry],
    /// Which screen is showing.
    pub screen: ScreenKind,
    /// A file dialog is open.
    pub picking: bool,
}

/// The `gotv` window.
pub struct App {
    settings: Settings,
    settings_path: Option<PathBuf>,
    /// The settings text last written, to skip identical writes.
    saved_text: Option<String>,
    picker: Arc<dyn FilePicker>,
    pick: Option<PendingPick>,
    save: Option<crate::dialog::PendingSave>,
    screen: Screen,
    recent: Vec<RecentEntry>,
    recent_checked_at: Option<f64>,
    about_open: bool,
    applied_theme: Option<ThemeChoice>,
    title: String,
    frame_stats: Option<crate::frame_stats::FrameStats>,
    select: Option<crate::view::Selection>,
    /// A problem outside any screen (settings unreadable or unsaved), shown
    /// in the status line.
    notice: Option<String>,
    /// Commands sent between frames ([`App::send`]).
    commands: Commands,
    /// A load was started this frame: its result is taken from the next
    /// frame on, so the loading page is always shown (and can be cancelled)
    /// at least once, however fast the load.
    load_started: bool,
    /// See [`AppOptions::captures_dir`].
    captures_dir: PathBuf,
}

impl App {
    /// Loads the settings and, if asked, queues the first file to open.
    pub fn new(options: AppOptions) -> App {
        let (settings, notice) = match &options.settings_path {
            Some(path) => Settings::load(path),
            None => (Settings::default(), None),
        };
        if let Some(n) = &notice {
            eprintln!("gotv: {n}");
        }
        let mut commands = Commands::default();
        if let Some(path) = options.open {
            commands.send(Command::Open(path));
        }
        App {
            settings,
            settings_path: options.settings_path,
            saved_text: None,
            picker: options.picker,
            pick: None,
            save: None,
            screen: Screen::Start,
            recent: Vec::new(),
            recent_checked_at: None,
            about_open: false,
            applied_theme: None,
            title: String::new(),
            frame_stats: options.frame_stats.then(Default::default),
            select: options.select,
            notice,
            load_started: false,
            commands,
            captures_dir: options.captures_dir,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What fills the window.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The loaded trace, if one is showing.
    pub fn trace(&self) -> Option<&LoadedTrace> {
        match &self.screen {
            Screen::Trace(t) => Some(&t.trace),
            _ => None,
        }
    }

    /// Queues a command from outside a frame (the command line, tests); it
    /// is applied at the start of the next frame.
    pub fn send(&mut self, cmd: Command) {
        self.commands.send(cmd);
    }

    /// Draws one frame: applies the commands sent since the last one,
    /// collects what background threads finished, draws, then applies the
    /// commands the frame produced. With `--frame-stats`, the frame's time
    /// goes in the overlay (with `cpu_ms`, eframe's CPU time of the frame
    /// before, when there is a window).
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.ui_measured(ui, None);
    }

    fn ui_measured(&mut self, ui: &mut egui::Ui, cpu_ms: Option<f32>) {
        let started = std::time::Instant::now();
        self.frame_ui(ui);
        if let Some(stats) = self.frame_stats.as_mut() {
            stats.record(started.elapsed().as_secs_f32() * 1000.0, cpu_ms);
            stats.overlay_ui(ui.ctx());
            // Keep measuring even when nothing moves.
            ui.ctx().request_repaint();
        }
    }

    fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        for cmd in self.commands.take() {
            self.apply(cmd, &ctx);
        }
        let mut cmds = Commands::default();
        self.poll_background(&mut cmds);
        self.poll_threads(&ctx);
        self.take_input(&ctx, &mut cmds);
        self.apply_theme(&ctx);
        self.refresh_recent(&ctx);

        let theme = Theme::new(self.settings.theme);
        let app_ctx = AppContext {
            theme,
            theme_choice: self.settings.theme,
            recent: &self.recent,
            screen: self.screen.kind(),
            picking: self.pick.is_some(),
        };
        egui::Panel::top("gotv_menu_bar").show(ui, |ui| menu::menu_bar_ui(ui, &app_ctx, &mut cmds));
        egui::Panel::bottom("gotv_status_line").show(ui, |ui| {
            status::status_line_ui(ui, &app_ctx, &self.screen, self.notice.as_deref());
        });
        egui::CentralPanel::default().show(ui, |ui| match &mut self.screen {
            Screen::Start => start_page::start_page_ui(ui, &app_ctx, &mut cmds),
            Screen::Loading(loader) => pages::loading_ui(ui, &app_ctx, loader, &mut cmds),
            Screen::Failed(failure) => pages::failure_ui(ui, &app_ctx, failure, &mut cmds),
            Screen::Trace(open) => {
                if let Some(err) = &open.trace.timeline.error
                    && !open.warning_dismissed
                {
                    pages::damage_banner_ui(ui, &app_ctx, err, &mut cmds);
                }
                view::trace_view_ui(ui, &open.trace.timeline, &app_ctx.theme, &mut self.settings.view);
            }
        });
        menu::about_window(&ctx, &mut self.about_open);
        pages::drop_overlay(&ctx, &theme);

        if matches!(self.screen, Screen::Loading(_)) {
            // Progress a few times a second: every frame painted takes CPU
            // from the build (with software GL, 20 frames a second cost a
            // 300 MB trace's load about 10%).
            ctx.request_repaint_after(Duration::from_millis(250));
        }
        for cmd in cmds.take() {
            self.apply(cmd, &ctx);
        }
        self.update_title(&ctx);
        self.load_started = false;
    }

    /// Collects what background threads finished.
    fn poll_background(&mut self, cmds: &mut Commands) {
        if let Some(pick) = &self.pick {
            match pick.poll() {
                PickState::Open => {}
                PickState::Picked(path) => {
                    self.pick = None;
                    cmds.send(Command::Open(path));
                }
                PickState::Closed => self.pick = None,
            }
        }
        if let Some(outcome) = self.save.as_ref().and_then(|s| s.poll()) {
            self.save = None;
            match outcome {
                Ok(Some(path)) => self.notice = Some(format!("profile written to {}", path.display())),
                Ok(None) => {}
                Err(e) => self.notice = Some(e),
            }
        }
        let Screen::Loading(loader) = &self.screen else { return };
        if self.load_started {
            return;
        }
        let Some(result) = loader.poll() else { return };
        let path = loader.path().to_path_buf();
        self.screen = match result {
            Ok(trace) => {
                // Window, selection and history belong to the old trace.
                self.settings.view.t = Default::default();
                if let Some(sel) = self.select.take() {
                    sel.queue(&trace.timeline, &mut self.settings.view);
                }
                self.settings.add_recent(&trace.path);
                self.recent_checked_at = None;
                Screen::Trace(Box::new(OpenTrace {
                    trace,
                    warning_dismissed: false,
                    threads: None,
                    threads_error: None,
                    pending_threads: None,
                }))
            }
            Err(e) => {
                let cancelled = loader::is_cancelled(&e);
                Screen::Failed(LoadFailure { path, message: format!("{e:#}"), cancelled })
            }
        };
        self.save_settings();
    }

    /// Builds the thread tracks the first time the thread rows are shown,
    /// and takes them when ready.
    fn poll_threads(&mut self, ctx: &egui::Context) {
        let Screen::Trace(open) = &mut self.screen else { return };
        if self.settings.view.show_threads
            && !open.trace.timeline.threads_built
            && open.threads.is_none()
            && open.pending_threads.is_none()
            && open.threads_error.is_none()
        {
            open.threads = Some(ThreadsLoader::start(open.trace.path.clone(), ctx));
        }
        if let Some(threads) = open.pending_threads.take() {
            match Arc::get_mut(&mut open.trace.timeline) {
                Some(tl) => {
                    tl.set_threads(threads);
                    // Plans made while the rows were empty are stale.
                    self.settings.view.t.plan_cache = Default::default();
                }
                None => {
                    // An analysis thread still reads the timeline.
                    open.pending_threads = Some(threads);
                    ctx.request_repaint_after(Duration::from_millis(100));
                }
            }
        }
        let Some(result) = open.threads.as_ref().and_then(ThreadsLoader::poll) else { return };
        open.threads = None;
        match result {
            Ok(threads) => {
                open.pending_threads = Some(threads);
                ctx.request_repaint();
            }
            Err(e) => {
                let message = format!("cannot build the thread rows: {e:#}");
                self.notice = Some(message.clone());
                open.threads_error = Some(message);
            }
        }
    }

    /// Dropped files, keyboard shortcuts and the window size.
    fn take_input(&mut self, ctx: &egui::Context, cmds: &mut Commands) {
        let (dropped, size) = ctx.input(|i| {
            let dropped = i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).find(|p| p.is_absolute());
            (dropped, i.viewport().inner_rect.map(|r| r.size()))
        });
        if let Some(path) = dropped {
            cmds.send(Command::Open(path));
        }
        if let Some(size) = size.filter(|s| s.x >= 1.0 && s.y >= 1.0) {
            self.settings.window_size = Some([size.x, size.y]);
        }
        for (shortcut, cmd) in [
            (OPEN_SHORTCUT, Command::OpenDialog),
            (CLOSE_SHORTCUT, Command::CloseTrace),
            (QUIT_SHORTCUT, Command::Quit),
        ] {
            if ctx.input_mut(|i| i.consume_shortcut(&shortcut)) {
                cmds.send(cmd);
            }
        }
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        if self.applied_theme != Some(self.settings.theme) {
            ctx.set_theme(match self.settings.theme {
                ThemeChoice::Dark => egui::Theme::Dark,
                ThemeChoice::Light => egui::Theme::Light,
            });
            self.applied_theme = Some(self.settings.theme);
        }
    }

    /// Keeps [`App::recent`] in step with the settings, and rechecks which
    /// files exist every few seconds while the start page shows.
    fn refresh_recent(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        let same_list = self.recent.len() == self.settings.recent.len()
            && self.recent.iter().zip(&self.settings.recent).all(|(e, p)| e.path == *p);
        let stale = self
            .recent_checked_at
            .is_none_or(|t| matches!(self.screen, Screen::Start) && !(0.0..RECENT_RECHECK_SECS).contains(&(now - t)));
        if same_list && !stale {
            return;
        }
        self.recent =
            self.settings.recent.iter().map(|p| RecentEntry { path: p.clone(), exists: p.is_file() }).collect();
        self.recent_checked_at = Some(now);
        if matches!(self.screen, Screen::Start) {
            ctx.request_repaint_after(Duration::from_secs_f64(RECENT_RECHECK_SECS));
        }
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = match &self.screen {
            Screen::Trace(t) => format!("{} — gotv", t.trace.file_name()),
            Screen::Loading(l) => format!("{} — gotv", loader::file_name(l.path())),
            Screen::Start | Screen::Failed(_) => "gotv".to_owned(),
        };
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
    }

    /// Builds the profile of the open trace (its time selection, if any)
    /// and asks where to save it, on a worker thread.
    fn export_profile(&mut self, kind: timeline::analysis::ProfileKind, ctx: &egui::Context) {
        use timeline::analysis::{Filter, TimeRange, go_tool_blocking_profile};
        let Screen::Trace(open) = &self.screen else { return };
        if self.save.is_some() {
            return;
        }
        let tl = &open.trace.timeline;
        let filter = match self.settings.view.t.range {
            Some((start_ns, end_ns)) => Filter::range(TimeRange { start_ns, end_ns }),
            None => Filter::all(),
        };
        let entries = go_tool_blocking_profile(tl, kind, &filter);
        let mut bytes = Vec::new();
        if let Err(e) = crate::pprof::write_profile(tl, &entries, kind, &mut bytes) {
            self.notice = Some(format!("cannot build the profile: {e:#}"));
            return;
        }
        let name = format!("{}.{}.pb.gz", open.trace.file_name(), kind_name(kind));
        let dir = open.trace.path.parent().map(|p| p.to_path_buf());
        self.save = Some(crate::dialog::PendingSave::start(self.picker.clone(), name, dir, bytes, ctx));
    }

    fn apply(&mut self, cmd: Command, ctx: &egui::Context) {
        match cmd {
            Command::OpenDialog => {
                if self.pick.is_none() {
                    let start_dir = self.settings.recent.first().and_then(|p| p.parent()).map(|p| p.to_path_buf());
                    self.pick = Some(PendingPick::start(self.picker.clone(), start_dir, ctx));
                }
            }
            Command::Open(path) => {
                let loading = Screen::Loading(Loader::start(path, &self.captures_dir, ctx));
                self.leave_screen(loading);
                self.load_started = true;
            }
            Command::CancelLoad => {
                if let Screen::Loading(loader) = &self.screen {
                    let failure = LoadFailure {
                        path: loader.path().to_path_buf(),
                        message: "loading cancelled".to_owned(),
                        cancelled: true,
                    };
                    self.leave_screen(Screen::Failed(failure));
                }
            }
            Command::CloseTrace => self.leave_screen(Screen::Start),
            Command::RemoveRecent(path) => {
                self.settings.remove_recent(&path);
                self.save_settings();
            }
            Command::ClearRecent => {
                self.settings.recent.clear();
                self.save_settings();
            }
            Command::SetTheme(choice) => {
                self.settings.theme = choice;
                self.save_settings();
            }
            Command::DismissWarning => {
                if let Screen::Trace(t) = &mut self.screen {
                    t.warning_dismissed = true;
                }
            }
            Command::ShowAbout(open) => self.about_open = open,
            Command::ExportProfile(kind) => self.export_profile(kind, ctx),
            Command::Quit => ctx.send_viewport_cmd(egui::ViewportCommand::Close),
        }
    }

    /// Switches screens: a load in progress is cancelled, and a big
    /// timeline is freed on another thread so the window does not stall.
    fn leave_screen(&mut self, next: Screen) {
        match std::mem::replace(&mut self.screen, next) {
            Screen::Loading(loader) => loader.cancel(),
            Screen::Trace(open) => {
                let freed = std::thread::Builder::new().name("gotv-free".into()).spawn(move || drop(open));
                // If no thread can be started the trace was dropped here.
                let _ = freed;
            }
            Screen::Start | Screen::Failed(_) => {}
        }
        self.recent_checked_at = None;
    }

    /// Writes the settings if they changed; a failure is shown once in the
    /// status line (and on stderr).
    pub fn save_settings(&mut self) {
        let Some(path) = &self.settings_path else { return };
        let result = self.settings.to_ron().and_then(|text| {
            if self.saved_text.as_deref() != Some(text.as_str()) {
                self.settings.save(path)?;
                self.saved_text = Some(text);
            }
            Ok(())
        });
        if let Err(e) = result {
            let msg = format!("settings not saved: {e:#}");
            if self.notice.as_deref() != Some(msg.as_str()) {
                eprintln!("gotv: {msg}");
                self.notice = Some(msg);
            }
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.ui_measured(ui, frame.info().cpu_usage.map(|s| s * 1000.0));
    }

    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        self.save_settings();
    }
}

/// The `-pprof=` name of a profile kind.
fn kind_name(kind: timeline::analysis::ProfileKind) -> &'static str {
    use timeline::analysis::ProfileKind as K;
    match kind {
        K::Net => "net",
        K::Sync => "sync",
        K::Syscall => "syscall",
        K::Sched => "sched",
    }
}

/// Opens the window and runs until it is closed.
pub fn run(open: Option<PathBuf>, frame_stats: bool, select: Option<crate::view::Selection>) -> anyhow::Result<()> {
    let options = AppOptions { open, frame_stats, select, ..AppOptions::default() };
    let window_size =
        options.settings_path.as_deref().and_then(|p| Settings::load(p).0.window_size).unwrap_or([1400.0, 900.0]);
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("gotv")
            .with_app_id("gotv")
            .with_inner_size(window_size)
            .with_min_inner_size([480.0, 320.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Glow,
        // The window size lives in gotv's own settings; egui's memory (panel
        // sizes and the like) next to them.
        persist_window: false,
        persistence_path: options.settings_path.as_deref().and_then(|p| p.parent()).map(|d| d.join("egui.ron")),
        ..Default::default()
    };
    eframe::run_native("gotv", native, Box::new(move |_cc| Ok(Box::new(App::new(options)))))
        .map_err(|e| anyhow::anyhow!("cannot open the viewer window: {e}"))
}
