//! Text output identical to Go's `go tool trace -d=parsed`
//! (`internal/trace.Event.String`), used by `gotv dump` and the
//! conformance tests.

use std::io::Write;

use crate::event::{Event, EventContext, EventKind, GoState, ProcState, RangeName, ResourceId};
use crate::ids::StackId;
use crate::spec::ev;

/// Appends Go's text for `e` to `out` as text; bytes that are not UTF-8
/// (only in damaged traces) become U+FFFD. See [`write_event_bytes`].
pub fn write_event(out: &mut String, e: &Event, ctx: &EventContext<'_, '_>) {
    let mut buf = Vec::with_capacity(128);
    write_event_bytes(&mut buf, e, ctx);
    out.push_str(&String::from_utf8_lossy(&buf));
}

/// Appends Go's text for `e` to `out`, byte for byte (without the trailing
/// newline that `fmt.Println` adds). Names are written raw, as Go does.
pub fn write_event_bytes(out: &mut Vec<u8>, e: &Event, ctx: &EventContext<'_, '_>) {
    let kind = e.kind();
    let _ = write!(out, "M={} P={} G={} {} Time={}", e.m, e.p, e.g, kind.name(), e.time);
    match kind {
        EventKind::Metric => {
            if let Some(m) = e.metric() {
                out.extend_from_slice(" Name=".as_bytes());
                quote_into(out, m.name.as_bytes());
                let _ = write!(out, " Value=Value{{Uint64({})}}", m.value);
            }
        }
        EventKind::Label => {
            out.extend_from_slice(" Label=".as_bytes());
            quote_into(out, ctx.string(e.label().unwrap_or_default()));
            let _ = write!(out, " Resource=Goroutine({})", e.g);
        }
        EventKind::RangeBegin | EventKind::RangeActive | EventKind::RangeEnd => {
            if let Some(r) = e.range() {
                out.extend_from_slice(" Name=".as_bytes());
                match r.name {
                    RangeName::StopTheWorld(kind) => {
                        let mut name = b"stop-the-world (".to_vec();
                        name.extend_from_slice(ctx.string(kind));
                        name.push(b')');
                        quote_into(out, &name);
                    }
                    RangeName::GcMark => quote_into(out, b"GC concurrent mark phase"),
                    RangeName::GcSweep => quote_into(out, b"GC incremental sweep"),
                    RangeName::GcMarkAssist => quote_into(out, b"GC mark assist"),
                }
                out.extend_from_slice(" Scope=".as_bytes());
                write_resource(out, r.scope);
            }
            if kind == EventKind::RangeEnd {
                out.extend_from_slice(" Attributes=[".as_bytes());
                for (i, (name, v)) in e.range_attributes().into_iter().enumerate() {
                    if i != 0 {
                        out.push(b' ');
                    }
                    quote_into(out, name.as_bytes());
                    let _ = write!(out, "=Value{{Uint64({v})}}");
                }
                out.push(b']');
            }
        }
        EventKind::TaskBegin | EventKind::TaskEnd => {
            if let Some(t) = e.task() {
                let _ = write!(out, " ID={} Parent={} Type=", t.id, t.parent);
                quote_into(out, ctx.str_ref(t.typ));
            }
        }
        EventKind::RegionBegin | EventKind::RegionEnd => {
            if let Some(r) = e.region() {
                let _ = write!(out, " Task={} Type=", r.task);
                quote_into(out, ctx.string(r.typ));
            }
        }
        EventKind::Log => {
            if let Some(l) = e.log() {
                let _ = write!(out, " Task={} Category=", l.task);
                quote_into(out, ctx.string(l.category));
                out.extend_from_slice(" Message=".as_bytes());
                quote_into(out, ctx.string(l.message));
            }
        }
        EventKind::StateTransition => write_transition(out, e, ctx),
        EventKind::Experimental => {
            if let Some((s, vals)) = e.experimental() {
                let _ = write!(out, " Name={} Args=[", s.name);
                for (i, (name, v)) in s.args.iter().skip(1).zip(vals).enumerate() {
                    if i != 0 {
                        out.extend_from_slice(", ".as_bytes());
                    }
                    if name.ends_with("string") {
                        let _ = write!(out, "{name}=");
                        out.extend_from_slice(ctx.string(crate::ids::StringId(*v)));
                    } else {
                        let _ = write!(out, "{name}=Value{{Uint64({v})}}");
                    }
                }
                out.push(b']');
            }
        }
        EventKind::Sync => {
            let _ = write!(out, " N={}", e.sync_n().unwrap_or(0));
            if let Some(c) = e.clock_snapshot(ctx) {
                let _ = write!(out, " Trace={} Mono={} Wall=", c.trace, c.mono);
                write_rfc3339_nano(out, c.sec as i64, c.nsec as i64);
            }
        }
        EventKind::StackSample | EventKind::Bad => {}
    }
    // Go prints the stack section whenever the stack handle is non-nil; a CPU
    // sample's handle always is, even for stack 0.
    let stack = e.stack();
    if stack.0 != 0 || e.typ == ev::CPU_SAMPLE {
        out.extend_from_slice("\nStack=\n".as_bytes());
        write_stack(out, stack, ctx);
    }
}

fn write_transition(out: &mut Vec<u8>, e: &Event, ctx: &EventContext<'_, '_>) {
    let Some(s) = e.state_transition() else { return };
    match s.resource {
        ResourceId::Goroutine(g) => {
            let name = |v: u8| GoState::from_u8(v).map_or("Bad", GoState::name);
            let _ = write!(out, " GoID={} {}->{}", g, name(s.from), name(s.to));
        }
        ResourceId::Proc(p) => {
            let name = |v: u8| ProcState::from_u8(v).map_or("Bad", ProcState::name);
            let _ = write!(out, " ProcID={} {}->{}", p, name(s.from), name(s.to));
        }
        _ => {}
    }
    out.extend_from_slice(" Reason=".as_bytes());
    quote_into(out, ctx.string(s.reason));
    // GoCreate's transition stack handle is always set, even when empty.
    let creates = matches!(e.typ, ev::GO_CREATE | ev::GO_CREATE_BLOCKED);
    if s.stack.0 != 0 || creates {
        out.extend_from_slice("\nTransitionStack=\n".as_bytes());
        write_stack(out, s.stack, ctx);
    }
}

fn write_resource(out: &mut Vec<u8>, r: ResourceId) {
    let _ = match r {
        ResourceId::None => write!(out, "None"),
        ResourceId::Goroutine(g) => write!(out, "Goroutine({g})"),
        ResourceId::Proc(p) => write!(out, "Proc({p})"),
        ResourceId::Thread(m) => write!(out, "Thread({m})"),
    };
}

fn write_stack(out: &mut Vec<u8>, id: StackId, ctx: &EventContext<'_, '_>) {
    let Some(table) = ctx.table else { return };
    for f in table.resolved_frames(id) {
        let (func, file, line, pcv) = (f.func, f.file, f.line, f.pc);
        out.push(b'\t');
        out.extend_from_slice(func);
        let _ = writeln!(out, " @ {pcv:#x}");
        out.extend_from_slice("\t\t".as_bytes());
        out.extend_from_slice(file);
        let _ = writeln!(out, ":{line}");
    }
}

/// Appends `s` quoted the way Go's `%q` / `strconv.Quote` does.
pub fn quote_into(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        let (ch, len) = decode_utf8(rest);
        match ch {
            None => {
                let _ = write!(out, "\\x{:02x}", rest[0]);
            }
            Some(c) => push_quoted_char(out, c),
        }
        rest = &rest[len..];
    }
    out.push(b'"');
}

/// Go's `%q` of a string.
pub fn quote(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    quote_into(&mut out, s);
    // Quoting escapes every byte that is not valid UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}

fn push_quoted_char(out: &mut Vec<u8>, c: char) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice("\\\\".as_bytes()),
        c if is_print(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        '\x07' => out.extend_from_slice("\\a".as_bytes()),
        '\x08' => out.extend_from_slice("\\b".as_bytes()),
        '\x0c' => out.extend_from_slice("\\f".as_bytes()),
        '\n' => out.extend_from_slice("\\n".as_bytes()),
        '\r' => out.extend_from_slice("\\r".as_bytes()),
        '\t' => out.extend_from_slice("\\t".as_bytes()),
        '\x0b' => out.extend_from_slice("\\v".as_bytes()),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Decodes one UTF-8 sequence; `None` with length 1 for an invalid byte.
fn decode_utf8(b: &[u8]) -> (Option<char>, usize) {
    let n = match b[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return (None, 1),
    };
    match b.get(..n).and_then(|s| std::str::from_utf8(s).ok()).and_then(|s| s.chars().next()) {
        Some(c) => (Some(c), n),
        None => (None, 1),
    }
}

/// An approximation of Go's `unicode.IsPrint` for the characters that
/// matter in practice (controls, format characters, odd spaces).
fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    !matches!(u,
        0x80..=0xa0
        | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f
        | 0x1680
        | 0x180e
        | 0x2000..=0x200f
        | 0x2028..=0x202f
        | 0x205f..=0x2064
        | 0x2066..=0x206f
        | 0x3000
        | 0xd800..=0xf8ff
        | 0xfeff
        | 0xfff9..=0xfffb
        | 0xfffe..=0xffff
        | 0x110bd
        | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..=0x10ffff)
}

/// Appends Go's `time.Unix(sec, nsec).UTC().Format(time.RFC3339Nano)`.
pub fn write_rfc3339_nano(out: &mut Vec<u8>, sec: i64, nsec: i64) {
    let sec = sec.saturating_add(nsec.div_euclid(1_000_000_000));
    let nsec = nsec.rem_euclid(1_000_000_000);
    let days = sec.div_euclid(86_400);
    let secs_of_day = sec.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        secs_of_day / 3600,
        (secs_of_day / 60) % 60,
        secs_of_day % 60
    );
    if nsec != 0 {
        let frac = format!("{nsec:09}");
        out.push(b'.');
        out.extend_from_slice(frac.trim_end_matches('0').as_bytes());
    }
    out.push(b'Z');
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"chan receive"), "\"chan receive\"");
        assert_eq!(quote(b"a\"b\\c\n\t\x00\x7f"), "\"a\\\"b\\\\c\\n\\t\\x00\\x7f\"");
        assert_eq!(quote("héllo ✓".as_bytes()), "\"héllo ✓\"");
        assert_eq!(quote(b"\xff"), "\"\\xff\"");
        assert_eq!(quote("\u{a0}\u{200b}".as_bytes()), "\"\\u00a0\\u200b\"");
    }

    #[test]
    fn formats_wall_clock_like_go() {
        let fmt = |sec, nsec| {
            let mut s = Vec::new();
            write_rfc3339_nano(&mut s, sec, nsec);
            String::from_utf8_lossy(&s).into_owned()
        };
        assert_eq!(fmt(1_700_000_000, 123_456_000), "2023-11-14T22:13:20.123456Z");
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(fmt(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
    }
}
