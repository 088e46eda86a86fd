//! `gotv capture` and `gotv::capture`: a trace fetched from a program's
//! `/debug/pprof/trace` endpoint, from a scripted server (chunked bodies
//! and the errors a real one gives) and from a real Go service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use gotv::capture::{CaptureProgress, capture, capture_url};
use timeline::{GState, Progress};

mod support;
use support::{go_or_skip, run_go};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server on a loopback port that answers one connection per canned
/// response, in order; gives its address and, once done, the request
/// lines it was sent.
fn scripted_server(responses: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            requests.push(line.trim_end().to_owned());
            // The rest of the head.
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let mut stream = stream;
            stream.write_all(&response).unwrap();
        }
        requests
    });
    (addr, handle)
}

/// `body` as an HTTP/1.1 200 answer in chunks of `chunk` bytes, as Go's
/// net/http streams a trace whose length it does not know.
fn chunked_ok(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The first `n` bytes of `body`, chunked, then the connection closes with
/// no final chunk (the program died mid-trace).
fn broken_off(body: &[u8], n: usize) -> Vec<u8> {
    let mut out = chunked_ok(&body[..n], 7_000);
    out.truncate(out.len() - b"0\r\n\r\n".len());
    out
}

fn plain(status: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .into_bytes()
}

#[test]
fn capture_streams_the_trace_and_reports_what_the_server_said() {
    let dir = scratch("capture_scripted");
    let trace = std::fs::read(testdata("traces/go1.27/chan.trace")).unwrap();
    // Four generations: cut in the last, the first ones still decode.
    let multi = std::fs::read(testdata("traces/go1.27/timers.trace")).unwrap();
    let cut = multi.len() * 9 / 10;
    let (addr, server) = scripted_server(vec![
        chunked_ok(&trace, 7_000),
        plain("404 Not Found", "404 page not found\n"),
        plain("500 Internal Server Error", "Could not enable tracing: tracing is already enabled\n"),
        plain("200 OK", "<html><body>Sign in</body></html>\n"),
        broken_off(&multi, cut),
    ]);
    let url = capture_url(&format!("http://{addr}"), 2).unwrap();
    let progress = CaptureProgress::default();

    // A chunked trace arrives whole, and the address got pprof's path.
    let out = dir.join("ok.trace");
    let captured = capture(&url, &out, &progress).unwrap();
    let n = captured.bytes;
    assert_eq!(n, trace.len() as u64);
    assert!(captured.broken.is_none(), "{:?}", captured.broken);
    assert_eq!(std::fs::read(&out).unwrap(), trace);
    assert_eq!(progress.received.load(std::sync::atomic::Ordering::Relaxed), n);

    // Errors name the URL and carry the server's words; no file is left.
    for (name, expect) in [
        ("404.trace", "404 Not Found: 404 page not found"),
        ("500.trace", "Could not enable tracing: tracing is already enabled"),
        ("html.trace", "did not send a Go execution trace; it said: <html><body>Sign in</body></html>"),
    ] {
        let out = dir.join(name);
        let err = format!("{:#}", capture(&url, &out, &CaptureProgress::default()).unwrap_err());
        assert!(err.contains(expect) && err.contains(&url), "{name}: {err}");
        assert!(!out.exists(), "{name} left a file");
    }
    // The program died mid-trace: what came is kept, and opens as a
    // truncated trace that still shows what it holds.
    let out = dir.join("broken.trace");
    let captured = capture(&url, &out, &CaptureProgress::default()).unwrap();
    assert_eq!(captured.bytes, cut as u64);
    let why = captured.broken.expect("the break is reported");
    assert!(why.contains(&format!("broke off after {cut} bytes")), "{why}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes, multi[..cut]);
    let tl = timeline::build(&bytes, &Progress::default()).unwrap();
    assert!(tl.error.is_some(), "a truncated trace says so");
    assert!(!tl.goroutines.is_empty());

    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 5);
    assert!(requests.iter().all(|r| r == "GET /debug/pprof/trace?seconds=2 HTTP/1.1"), "{requests:?}");

    // Nobody listening: a clear error, not a hang.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}/debug/pprof/trace?seconds=1");
    let err = format!("{:#}", capture(&url, &dir.join("none.trace"), &CaptureProgress::default()).unwrap_err());
    assert!(err.contains("cannot fetch") && err.contains(&url), "{err}");
}

/// A Go service, killed when the test ends however it ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds and starts testdata/capture/pprofserve; gives it and its address.
fn start_pprofserve(go: &Path, dir: &Path) -> (Service, String) {
    let bin = dir.join("pprofserve");
    let src = testdata("capture");
    let mut args: Vec<std::ffi::OsString> = vec!["-C".into(), src.into(), "build".into(), "-o".into()];
    args.push(bin.clone().into());
    args.push("./pprofserve".into());
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    run_go(go, &args);
    let mut child = Command::new(&bin).stdout(Stdio::piped()).spawn().expect("pprofserve starts");
    let stdout = child.stdout.take().expect("its stdout");
    let service = Service(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("it says where it listens");
    let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("said {line:?}")).to_owned();
    (service, addr)
}

#[test]
fn gotv_capture_saves_a_live_go_programs_trace() {
    let Some(go) = go_or_skip("gotv_capture_saves_a_live_go_programs_trace") else { return };
    let dir = scratch("capture_live");
    let (_service, addr) = start_pprofserve(&go, &dir);
    let out = dir.join("live.trace");

    // While one capture runs, the runtime refuses a second: the error is
    // Go's own, through gotv's.
    let first = Command::new(env!("CARGO_BIN_EXE_gotv"))
        .args(["capture", &format!("http://{addr}"), "--seconds", "1", "-o"])
        .arg(&out)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gotv runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let second = Command::new(env!("CARGO_BIN_EXE_gotv"))
        .args(["capture", &format!("http://{addr}/debug/pprof/trace?seconds=1"), "-o"])
        .arg(dir.join("second.trace"))
        .output()
        .expect("gotv runs");
    let first = first.wait_with_output().expect("gotv finishes");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains("live.trace"));
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("Could not enable tracing"), "{err}");

    // The trace is a whole Go trace of the service: its ping-pong pair
    // blocks on each other's channels.
    let bytes = std::fs::read(&out).unwrap();
    let tl = timeline::build(&bytes, &Progress::default()).unwrap();
    assert!(tl.error.is_none(), "{:?}", tl.error);
    let by_fn = |name: &str| tl.goroutines.iter().find(|g| tl.strings.get(g.start_fn()) == name);
    let echo = by_fn("main.echo").expect("the echo goroutine");
    let spans = echo.track.spans();
    assert!(spans.iter().filter(|s| s.state == GState::ChanRecv as u8).count() >= 100, "{} spans", spans.len());
    assert!(by_fn("main.pingPong").is_some());
    // A v2 trace (Go 1.27 writes the 1.26 format).
    let mut head = [0u8; 16];
    std::fs::File::open(&out).unwrap().read_exact(&mut head).unwrap();
    assert!(head.starts_with(b"go 1.2") && head.get(7..13) == Some(b" trace"), "{head:?}");
}
