//! Time-axis ticks and human-readable times.

/// One tick of the time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// Absolute time of the tick.
    pub time_ns: i64,
    /// Whether it gets a label (every major tick does).
    pub major: bool,
}

/// The tick step for a view: the smallest 1-2-5 step in ns whose spacing is
/// at least `min_spacing_px` pixels.
pub fn tick_step_ns(ns_per_px: f64, min_spacing_px: f32) -> i64 {
    let want = ns_per_px * f64::from(min_spacing_px.max(1.0));
    let mut step: i64 = 1;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if s as f64 >= want {
                return s;
            }
        }
        if step > i64::MAX / 100 {
            return step;
        }
        step *= 10;
    }
}

/// Ticks over `[start_ns, end_ns)` every `step_ns`, aligned to multiples of
/// the step counted from `origin_ns` (the trace start, so labels read 0, 5ms,
/// 10ms...). Every fifth (or second, for 2-steps) tick is major.
pub fn ticks(origin_ns: i64, start_ns: i64, end_ns: i64, step_ns: i64) -> Vec<Tick> {
    let step = step_ns.max(1);
    let major_every = if leading_digit(step) == 2 { 5 } else { 2 };
    let first = (start_ns - origin_ns).div_euclid(step);
    let last = (end_ns - origin_ns).div_euclid(step);
    (first..=last.min(first + 10_000))
        .map(|k| Tick { time_ns: origin_ns + k * step, major: k.rem_euclid(major_every) == 0 })
        .filter(|t| t.time_ns >= start_ns && t.time_ns <= end_ns)
        .collect()
}

fn leading_digit(mut v: i64) -> i64 {
    while v >= 10 {
        v /= 10;
    }
    v
}

/// A duration with a unit fit for its size: `850ns`, `12.3µs`, `4.56ms`, `1.234s`.
pub fn format_duration(ns: i64) -> String {
    let a = ns.unsigned_abs() as f64;
    let sign = if ns < 0 { "-" } else { "" };
    if a < 1e3 {
        format!("{sign}{a:.0}ns")
    } else if a < 1e6 {
        format!("{sign}{}µs", trim(a / 1e3))
    } else if a < 1e9 {
        format!("{sign}{}ms", trim(a / 1e6))
    } else {
        format!("{sign}{}s", trim(a / 1e9))
    }
}

/// Parses a duration or offset such as `12.5ms`, `300us`, `2s` or `1500`
/// (ns); `None` if it is not one or does not fit.
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "" | "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    let ns = (num.parse::<f64>().ok()? * scale).round();
    (ns.is_finite() && ns.abs() < i64::MAX as f64).then_some(ns as i64)
}

/// A tick label: the offset from the trace start, with just enough digits
/// for the step.
pub fn format_offset(offset_ns: i64, step_ns: i64) -> String {
    let (unit, div) = if step_ns >= 1_000_000_000 {
        ("s", 1e9)
    } else if step_ns >= 1_000_000 {
        ("ms", 1e6)
    } else if step_ns >= 1_000 {
        ("µs", 1e3)
    } else {
        ("ns", 1.0)
    };
    // Steps are 1/2/5 of a power of ten within the unit, so integer digits
    // suffice unless the step is below one unit (never, by the choice above).
    format!("{}{unit}", trim_to(offset_ns as f64 / div, 0))
}

fn trim(v: f64) -> String {
    let digits = if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    trim_to(v, digits)
}

fn trim_to(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_1_2_5() {
        assert_eq!(tick_step_ns(1.0, 100.0), 100);
        assert_eq!(tick_step_ns(1.5, 100.0), 200);
        assert_eq!(tick_step_ns(3.0, 100.0), 500);
        assert_eq!(tick_step_ns(7.0, 100.0), 1000);
        assert_eq!(tick_step_ns(1e7, 100.0), 1_000_000_000);
        assert_eq!(tick_step_ns(0.001, 100.0), 1);
    }

    #[test]
    fn ticks_align_to_origin() {
        let t = ticks(1000, 1250, 2100, 200);
        let times: Vec<i64> = t.iter().map(|t| t.time_ns).collect();
        assert_eq!(times, vec![1400, 1600, 1800, 2000]);
        // 200 ns steps: labels every 1000 ns.
        assert!(t[3].major && !t[0].major && !t[1].major);
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("12.5ms"), Some(12_500_000));
        assert_eq!(parse_duration(" 300us "), Some(300_000));
        assert_eq!(parse_duration("2s"), Some(2_000_000_000));
        assert_eq!(parse_duration("1500"), Some(1500));
        assert_eq!(parse_duration("-5ms"), Some(-5_000_000));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration("ms"), None);
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration("1e300s"), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(850), "850ns");
        assert_eq!(format_duration(12_345), "12.35µs");
        assert_eq!(format_duration(60_190_000), "60.19ms");
        assert_eq!(format_duration(1_234_000_000), "1.234s");
        assert_eq!(format_duration(2_000_000), "2ms");
        assert_eq!(format_duration(-1500), "-1.5µs");
        assert_eq!(format_offset(15_000_000, 5_000_000), "15ms");
        assert_eq!(format_offset(2_500, 500), "2500ns");
    }
}
