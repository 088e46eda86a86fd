//! The application shell driven headless with egui_kittest, by label.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gotv::app::{App, AppContext, AppOptions, Screen, ScreenKind};
use gotv::command::{Command, Commands};
use gotv::dialog::FilePicker;
use gotv::settings::Settings;
use gotv::theme::{Theme, ThemeChoice};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("gotv-ui-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    fn settings(&self) -> PathBuf {
        self.0.join("config").join("settings.ron")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Answers every dialog with the next queued path (or cancels), and counts
/// how often it was asked.
#[derive(Default)]
struct FakePicker {
    answers: Mutex<Vec<Option<PathBuf>>>,
    asked: Mutex<usize>,
}

impl FakePicker {
    fn answering(paths: &[&Path]) -> Arc<FakePicker> {
        let answers = paths.iter().rev().map(|p| Some(p.to_path_buf())).collect();
        Arc::new(FakePicker { answers: Mutex::new(answers), asked: Mutex::new(0) })
    }

    fn asked(&self) -> usize {
        *self.asked.lock().unwrap()
    }
}

impl FilePicker for FakePicker {
    fn pick_trace(&self, _start_dir: Option<&Path>) -> Option<PathBuf> {
        *self.asked.lock().unwrap() += 1;
        self.answers.lock().unwrap().pop().flatten()
    }

    fn save_file(&self, _default_name: &str, _start_dir: Option<&Path>) -> Option<PathBuf> {
        self.pick_trace(None)
    }
}

fn harness(settings_path: &Path, picker: Arc<FakePicker>, open: Option<PathBuf>) -> Harness<'static, App> {
    harness_with_stats(settings_path, picker, open, false)
}

/// [`harness`], with the frame-time overlay (`--frame-stats`) when
/// `frame_stats`.
fn harness_with_stats(
    settings_path: &Path,
    picker: Arc<FakePicker>,
    open: Option<PathBuf>,
    frame_stats: bool,
) -> Harness<'static, App> {
    let app = App::new(AppOptions {
        settings_path: Some(settings_path.to_path_buf()),
        picker,
        open,
        frame_stats,
        select: None,
        captures_dir: settings_path.parent().unwrap_or(Path::new(".")).join("captures"),
    });
    Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut App| app.ui(ui), app)
}

/// Steps until `done` holds, for at most ~20 s.
fn step_until(h: &mut Harness<'_, App>, what: &str, done: impl Fn(&Harness<'_, App>) -> bool) {
    for _ in 0..2000 {
        h.step();
        if done(h) {
            // One more frame so the new screen is drawn.
            h.step();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

/// Loaded or failed (a file passed at start is queued: Start comes first).
fn settled(h: &Harness<'_, App>) -> bool {
    matches!(h.state().screen(), Screen::Trace(_) | Screen::Failed(_))
}

fn loaded(h: &Harness<'_, App>) -> bool {
    h.state().trace().is_some()
}

#[test]
fn open_button_loads_the_picked_trace_and_shows_it() {
    let tmp = TempDir::new("open");
    let trace = testdata("traces/go1.27/chan.trace");
    let picker = FakePicker::answering(&[&trace]);
    let mut h = harness(&tmp.settings(), picker.clone(), None);
    h.run_steps(2);
    assert!(h.query_by_label("Go execution trace viewer").is_some());
    h.get_by_label("Open trace…").click();
    step_until(&mut h, "the trace to load", loaded);
    assert_eq!(picker.asked(), 1);

    // The start page is gone; the status line describes the trace.
    assert!(h.query_by_label("Open trace…").is_none());
    let tl = &h.state().trace().unwrap().timeline;
    assert!(tl.error.is_none());
    assert!(tl.event_count > 100, "{}", tl.event_count);
    let events = format!("{} events", gotv::status::format_count(tl.event_count));
    let goroutines = format!("{} goroutines", tl.goroutines.len());
    assert!(h.query_by_label(&events).is_some(), "status line shows {events}");
    assert!(h.query_by_label(&goroutines).is_some(), "status line shows {goroutines}");
    assert!(h.query_by_label("chan.trace").is_some());
    assert!(h.query_by_label_contains("Trace damaged").is_none());

    // File ▸ Close trace goes back to the start page, with the trace listed.
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label_contains("Close trace").click();
    h.run_steps(2);
    assert!(h.state().trace().is_none());
    assert!(h.query_by_label("Open trace…").is_some());
    assert!(h.query_by_label("chan.trace").is_some(), "listed under recent files");
}

#[test]
fn a_file_that_is_not_a_trace_shows_the_decoders_message() {
    let tmp = TempDir::new("garbage");
    let garbage = tmp.0.join("garbage.bin");
    let bytes = b"\x00\x01this is not a trace at all\xff\xfe".repeat(50);
    std::fs::write(&garbage, &bytes).unwrap();
    let decoder_says = trace_core::Version::from_header(&bytes).unwrap_err().to_string();
    let mut h = harness(&tmp.settings(), FakePicker::answering(&[&garbage]), None);
    h.run_steps(2);
    h.get_by_label("Open trace…").click();
    step_until(&mut h, "the load to fail", settled);

    let Screen::Failed(failure) = h.state().screen() else { panic!("expected the error page") };
    assert!(!failure.cancelled);
    assert!(failure.message.contains("not a Go execution trace"), "{}", failure.message);
    assert!(failure.message.contains(&decoder_says), "{} lacks {decoder_says}", failure.message);
    assert!(h.query_by_label("Could not open garbage.bin").is_some());
    assert!(h.query_by_label_contains(&decoder_says).is_some(), "the decoder's text is on screen");
    // A failed file does not become a recent file.
    assert!(h.state().settings().recent.is_empty());

    h.get_by_label("Back to start page").click();
    h.run_steps(2);
    assert!(matches!(h.state().screen(), Screen::Start));
    assert!(h.query_by_label("Open trace…").is_some());
}

#[test]
fn a_missing_file_shows_an_error_not_a_panic() {
    let tmp = TempDir::new("missing");
    let missing = tmp.0.join("nope.trace");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(missing));
    step_until(&mut h, "the load to fail", settled);
    assert!(h.query_by_label("Could not open nope.trace").is_some());
    assert!(h.query_by_label_contains("cannot read").is_some());
}

#[test]
fn a_truncated_trace_loads_with_a_dismissable_warning_banner() {
    let tmp = TempDir::new("truncated");
    let bytes = std::fs::read(testdata("traces/go1.27/multigen.trace")).unwrap();
    let cut = tmp.0.join("cut.trace");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    // Opened from the command line this time.
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(cut));
    step_until(&mut h, "the trace to load", settled);

    let tl = &h.state().trace().expect("a truncated trace still loads").timeline;
    let err = tl.error.as_ref().expect("the damage is reported").to_string();
    assert!(err.contains("at byte"), "{err}");
    let banner = h.get_by_label_contains("Trace damaged — showing everything decodable before the damage");
    let text = banner.value().unwrap_or_default(); // a Label's text is its AccessKit value
    assert!(text.contains("truncated"), "{text}");
    assert!(text.contains(&err), "banner carries the decoder's message {err:?}: {text}");
    assert!(h.query_by_label("damaged").is_some(), "status line says so too");

    h.get_by_label("Dismiss").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Trace damaged").is_none(), "dismissed");
    assert!(h.state().trace().is_some());
}

#[test]
fn a_go_1_19_cgo_trace_go_refuses_opens_whole_and_says_why() {
    let tmp = TempDir::new("refused");
    let path = testdata("traces/go1.19/cgocallback.trace");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(path));
    step_until(&mut h, "the trace to load", settled);

    let tl = &h.state().trace().expect("a trace Go refuses still loads").timeline;
    let note = tl.error.as_ref().expect("the inconsistency is reported").to_string();
    let banner =
        h.get_by_label_contains("Go's reader refuses this trace — shown whole, with what its events lack assumed");
    let text = banner.value().unwrap_or_default();
    assert!(text.contains(&note) && text.contains("golang/go#29707"), "{text}");
    assert!(h.query_by_label_contains("Trace damaged").is_none(), "not called damaged: {text}");
    assert!(h.query_by_label("inconsistent").is_some(), "the status line says so too");
    // The goroutine that called Go back through C is there with its name.
    assert!(h.query_by_label_contains("main.viaC").is_some());
}

#[test]
fn dropping_a_file_on_the_window_opens_it() {
    #[derive(Debug)]
    struct Dropped(PathBuf);
    impl egui::DroppedFile for Dropped {
        fn path(&self) -> &Path {
            &self.0
        }
        fn bytes(&self) -> Result<Vec<u8>, String> {
            std::fs::read(&self.0).map_err(|e| e.to_string())
        }
    }
    let tmp = TempDir::new("drop");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), None);
    h.run_steps(2);
    h.input_mut().dropped_files.push(Arc::new(Dropped(testdata("traces/go1.27/sync.trace"))));
    step_until(&mut h, "the dropped trace to load", settled);
    assert_eq!(h.state().trace().map(|t| t.file_name()), Some("sync.trace".to_owned()));
}

#[test]
fn recent_files_are_saved_listed_and_removable() {
    let tmp = TempDir::new("recent");
    let chan = testdata("traces/go1.27/chan.trace");
    let sync = testdata("traces/go1.27/sync.trace");
    let gone = tmp.0.join("gone.trace");
    {
        let picker = FakePicker::answering(&[&chan, &sync]);
        let mut h = harness(&tmp.settings(), picker, None);
        for _ in 0..2 {
            h.run_steps(2);
            h.get_by_label("Open trace…").click();
            step_until(&mut h, "the trace to load", loaded);
            h.get_by_label("File").click();
            h.run_steps(2);
            h.get_by_label_contains("Close trace").click();
            h.run_steps(2);
        }
    }
    // Saved as they were opened, most recent first.
    let (saved, warning) = Settings::load(&tmp.settings());
    assert_eq!(warning, None);
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap();
    assert_eq!(saved.recent, vec![canon(&sync), canon(&chan)]);

    // A file that disappeared is marked and can be removed.
    std::fs::write(&gone, b"x").unwrap();
    let mut s = saved;
    s.add_recent(&gone);
    s.save(&tmp.settings()).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), None);
    h.run_steps(2);
    assert!(h.query_by_label_contains("missing:").is_some(), "the missing file is marked");
    assert_eq!(h.get_all_by_label("Remove").count(), 3);
    h.get_all_by_label("Remove").next().unwrap().click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("missing:").is_none());
    assert_eq!(Settings::load(&tmp.settings()).0.recent, vec![canon(&sync), canon(&chan)]);

    // Clicking a recent file opens it.
    h.get_by_label("chan.trace").click();
    step_until(&mut h, "the recent trace to load", loaded);
    assert_eq!(h.state().trace().map(|t| t.file_name()), Some("chan.trace".to_owned()));
}

#[test]
fn a_corrupt_settings_file_does_not_stop_the_app() {
    let tmp = TempDir::new("corrupt");
    std::fs::create_dir_all(tmp.settings().parent().unwrap()).unwrap();
    std::fs::write(tmp.settings(), "(recent: [unterminated").unwrap();
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), None);
    h.run_steps(2);
    assert!(h.query_by_label("Open trace…").is_some());
    assert!(h.query_by_label_contains("corrupt settings").is_some(), "the problem is shown");
}

#[test]
fn the_theme_switches_and_persists() {
    let tmp = TempDir::new("theme");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), None);
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
    h.get_by_label("View").click();
    h.run_steps(2);
    h.get_by_label("Light theme").click();
    h.run_steps(2);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    assert_eq!(Settings::load(&tmp.settings()).0.theme, ThemeChoice::Light);
}

/// A named pipe at `dir/name`: opening it blocks until a writer comes, so
/// a load of it stays on the loading page as long as a test needs.
fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
    assert!(made.success());
    path
}

/// Lets a load of the named pipe `fifo` go on once it opens it: a writer
/// that closes at once, so the loader reads an empty file.
fn release(fifo: &Path) {
    drop(std::fs::OpenOptions::new().write(true).open(fifo).expect("open the pipe for writing"));
}

#[test]
fn cancelling_a_load_shows_that_it_was_cancelled_and_stays_cancelled() {
    let tmp = TempDir::new("cancel");
    // The trace opened is a link to a pipe, so the load is still running
    // when it is cancelled (a small trace can load within the first frame);
    // it then points at a real trace for "Try again".
    let pipe = fifo(&tmp.0, "pipe");
    let link = tmp.0.join("slow.trace");
    std::os::unix::fs::symlink(&pipe, &link).expect("symlink");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(link.clone()));
    h.step();
    assert!(matches!(h.state().screen(), Screen::Loading(_)), "the first frame starts the load");
    h.state_mut().send(Command::CancelLoad);
    h.step();
    let Screen::Failed(failure) = h.state().screen() else { panic!("expected the cancelled page") };
    assert!(failure.cancelled);
    // The loading thread's result, when it comes, is dropped. (Released
    // before the link moves: `release` waits for the loader to open the
    // pipe, which it may not have reached yet.)
    release(&pipe);
    std::fs::remove_file(&link).expect("remove the link");
    std::os::unix::fs::symlink(testdata("traces/go1.27/chan.trace"), &link).expect("symlink");
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(3);
    assert!(matches!(h.state().screen(), Screen::Failed(_)));
    assert!(h.query_by_label("Loading slow.trace was cancelled").is_some());
    assert!(h.state().settings().recent.is_empty());
    h.get_by_label("Try again").click();
    step_until(&mut h, "the trace to load", loaded);
}

#[test]
fn the_loading_page_shows_progress_and_cancels() {
    let trace = testdata("traces/go1.27/chan.trace");
    let ctx = egui::Context::default();
    let loader = gotv::loader::Loader::start(trace, &std::env::temp_dir(), &ctx);
    let mut h = Harness::builder().with_size([1000.0, 600.0]).build_ui_state(
        |ui, cmds: &mut Commands| {
            let app_ctx = AppContext {
                theme: Theme::new(ThemeChoice::Dark),
                theme_choice: ThemeChoice::Dark,
                recent: &[],
                screen: ScreenKind::Loading,
                picking: false,
            };
            gotv::pages::loading_ui(ui, &app_ctx, &loader, cmds);
        },
        Commands::default(),
    );
    h.run_steps(2);
    assert!(h.query_by_label("Loading chan.trace").is_some());
    // Before the build reports a size, or with phase, MB and percentage.
    let bar = h.query_by_label_contains("opening file").or_else(|| h.query_by_label_contains(" MB ("));
    assert!(bar.is_some(), "the progress bar says how far the load is");
    h.get_by_label("Cancel").click();
    h.run_steps(1);
    assert_eq!(h.state_mut().take(), vec![Command::CancelLoad]);
}

#[test]
fn exporting_a_sync_profile_from_the_menu_writes_a_pprof_file() {
    let tmp = TempDir::new("export");
    let out = tmp.0.join("chan.sync.pb.gz");
    let picker = FakePicker::answering(&[&out]);
    let mut h = harness(&tmp.settings(), picker.clone(), Some(testdata("traces/go1.27/chan.trace")));
    step_until(&mut h, "the trace to load", loaded);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Export blocking profile").hover();
    h.run_steps(2);
    h.get_by_label("Synchronization (sync)").click();
    step_until(&mut h, "the profile to be written", |_| out.exists());
    step_until(&mut h, "the status line", |h| h.query_by_label_contains("profile written to").is_some());
    // A gzip stream whose protobuf names the blocked function.
    let gz = std::fs::read(&out).unwrap();
    let mut pb = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut pb).unwrap();
    let has = |needle: &[u8]| pb.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"main.blockedReceiver") && has(b"contentions") && has(b"delay"));
}

/// `--frame-stats` shows its overlay on one line, clear of the toolbar (whose
/// right end holds controls it used to cover).
#[test]
fn the_frame_stats_overlay_covers_no_toolbar_control() {
    let tmp = TempDir::new("frame-stats");
    let chan = testdata("traces/go1.27/chan.trace");
    let mut h = harness_with_stats(&tmp.settings(), Arc::new(FakePicker::default()), Some(chan), true);
    step_until(&mut h, "the trace to load", loaded);
    let overlay = h.get_by_label_contains("ms avg").rect();
    assert!(overlay.height() < 20.0, "one line: {overlay:?}");
    for label in ["Legend", "Runtime goroutines", "Threads", "Plots", "Find"] {
        let control = h.get_by_label(label).rect();
        assert!(!overlay.intersects(control), "the overlay {overlay:?} covers {label} at {control:?}");
    }
}

/// Whether the loaded trace's thread tracks are built.
fn threads_built(h: &Harness<'_, App>) -> bool {
    h.state().trace().is_some_and(|t| t.timeline.threads_built)
}

/// The app with chan.trace loaded (settings under `tmp`).
fn chan_loaded(tmp: &TempDir) -> Harness<'static, App> {
    let mut h = harness(&tmp.settings(), FakePicker::answering(&[]), Some(testdata("traces/go1.27/chan.trace")));
    step_until(&mut h, "the trace to load", loaded);
    h
}

#[test]
fn ticking_threads_builds_the_thread_rows_in_the_background() {
    let tmp = TempDir::new("threads");
    let mut h = chan_loaded(&tmp);
    let built = threads_built;
    // The first build leaves the thread tracks out, listing the threads.
    assert!(!built(&h));
    let tl = &h.state().trace().unwrap().timeline;
    assert!(!tl.threads.is_empty());
    assert!(tl.threads.iter().all(|t| t.track.is_empty()));

    h.get_by_label("Threads").click();
    step_until(&mut h, "the thread rows", built);
    let tl = &h.state().trace().unwrap().timeline;
    assert!(tl.threads.iter().any(|t| !t.track.is_empty()));
    assert!(h.query_by_label("building thread rows").is_none());
    // A thread row is on screen with its name.
    let first = format!("M{}", tl.threads[0].id.0);
    assert!(h.query_all_by_label_contains(&first).count() >= 1, "a row named {first}");
}

/// How soon the app asked to be painted again after its last frame.
fn repaint_delay(h: &Harness<'_, App>) -> Duration {
    h.output().viewport_output.get(&egui::ViewportId::ROOT).map_or(Duration::MAX, |v| v.repaint_delay)
}

/// Painting competes with the build for the CPU (with software GL, a
/// window repainted continuously took one of two cores and doubled the
/// load of a 1 GB trace): while loading, the window repaints a few times a
/// second for the progress, never continuously.
#[test]
fn the_loading_page_repaints_a_few_times_a_second_not_continuously() {
    let tmp = TempDir::new("repaint");
    let pipe = fifo(&tmp.0, "slow.trace");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(pipe.clone()));
    for _ in 0..5 {
        h.step();
        assert!(matches!(h.state().screen(), Screen::Loading(_)));
        let delay = repaint_delay(&h);
        assert!(
            (Duration::from_millis(100)..=Duration::from_secs(1)).contains(&delay),
            "repaint requested after {delay:?}"
        );
    }
    // The file turns out empty, and the load fails.
    release(&pipe);
    step_until(&mut h, "the load to fail", settled);
    assert!(matches!(h.state().screen(), Screen::Failed(_)));
}

/// A loaded trace left alone stops painting (nothing animates forever).
#[test]
fn a_loaded_trace_left_alone_stops_repainting() {
    let tmp = TempDir::new("idle");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(testdata("traces/go1.27/chan.trace")));
    step_until(&mut h, "the trace to load", loaded);
    let steps = h.try_run();
    assert!(steps.is_ok(), "still repainting: {steps:?}");
    assert!(repaint_delay(&h) > Duration::from_millis(100), "repaint requested after {:?}", repaint_delay(&h));
}

/// Thread rows built while an analysis thread still reads the timeline
/// wait for it (the timeline is shared, and changed only when no one else
/// holds it), then go in.
#[test]
fn thread_rows_wait_for_an_analysis_that_holds_the_timeline() {
    let tmp = TempDir::new("threads-wait");
    let mut h = chan_loaded(&tmp);
    let built = threads_built;
    // What an analysis thread holds while it runs.
    let analysis = h.state().trace().unwrap().timeline.clone();
    h.get_by_label("Threads").click();
    step_until(
        &mut h,
        "the thread rows to be built",
        |h| matches!(h.state().screen(), Screen::Trace(open) if open.pending_threads.is_some()),
    );
    for _ in 0..20 {
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!built(&h), "the timeline changed under a reader");
    assert!(analysis.threads.iter().all(|t| t.track.is_empty()));
    drop(analysis);
    step_until(&mut h, "the thread rows", built);
    assert!(h.state().trace().unwrap().timeline.threads.iter().any(|t| !t.track.is_empty()));
}

/// Start page ▸ capture from a running program: the address typed (no
/// `http://`) is fetched at pprof's trace path, saved under the captures
/// directory and opened; it is then a recent file like any other. A blank
/// address says what to type instead.
#[test]
fn capture_from_the_start_page_opens_the_programs_trace() {
    use std::io::{Read, Write};
    let tmp = TempDir::new("capture");
    let trace = std::fs::read(testdata("traces/go1.27/chan.trace")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let body = trace.clone();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut head = [0u8; 2048];
        let n = s.read(&mut head).unwrap();
        write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
        s.write_all(&body).unwrap();
        String::from_utf8_lossy(&head[..n]).lines().next().unwrap_or_default().to_owned()
    });
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), None);
    h.run_steps(2);
    h.get_by_label(gotv::start_page::CAPTURE_BUTTON).click();
    h.run_steps(2);
    h.get_by_label("Enter the program's address, such as localhost:6060");
    assert!(matches!(h.state().screen(), Screen::Start));

    h.query_all_by_role(egui::accesskit::Role::TextInput).next().expect("the address field").click();
    h.run_steps(1);
    h.event(egui::Event::Text(addr.clone()));
    h.run_steps(1);
    assert!(h.query_by_label("Enter the program's address, such as localhost:6060").is_none(), "editing clears it");
    h.get_by_label(gotv::start_page::CAPTURE_BUTTON).click();
    step_until(&mut h, "the captured trace to load", settled);
    let request = server.join().unwrap();
    assert_eq!(request, "GET /debug/pprof/trace?seconds=5 HTTP/1.1");
    let loaded = h.state().trace().expect("loaded");
    assert_eq!(loaded.timeline.goroutines.len(), 30, "chan.trace's goroutines");
    let captures = tmp.0.join("config").join("captures");
    assert_eq!(loaded.path.parent(), Some(captures.as_path()));
    assert_eq!(std::fs::read(&loaded.path).unwrap(), trace);
    let name = loaded.path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("127.0.0.1-") && name.ends_with(".trace"), "{name}");
    assert!(h.query_by_label(&name).is_some(), "the status line names the captured file");
}

/// An address nobody answers at: the failure page names the address and
/// says why, and leaves no file behind.
#[test]
fn capture_from_an_address_nobody_answers_at_says_so() {
    let tmp = TempDir::new("capture-refused");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}");
    let mut h = harness(&tmp.settings(), Arc::new(FakePicker::default()), Some(PathBuf::from(&url)));
    step_until(&mut h, "the capture to fail", settled);
    h.get_by_label(&format!("Could not open {url}"));
    assert!(h.query_by_label_contains("cannot fetch").is_some(), "the reason is shown");
    let captures = tmp.0.join("config").join("captures");
    assert!(std::fs::read_dir(&captures).map_or(true, |mut d| d.next().is_none()), "a file was left");
}
