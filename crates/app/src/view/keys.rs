//! W/S zoom in and out, A/D pan left and right: the keys of Chrome's trace
//! viewer, which `go tool trace` opens, so a Go engineer's hands already
//! know them. A tap moves one step; a held key keeps moving at a steady
//! rate, whatever the frame rate.

use egui::{Event, Key, Rect, Ui};

use super::TraceViewState;
use super::canvas::{Frame, zoom_window};

/// The keys held (or tapped) this frame, as directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyMotion {
    /// +1 zooms in (W), -1 out (S).
    pub zoom: i8,
    /// +1 pans towards later times (D), -1 towards earlier ones (A).
    pub pan: i8,
}

impl KeyMotion {
    /// Whether it moves the view at all.
    pub fn is_still(self) -> bool {
        self.zoom == 0 && self.pan == 0
    }
}

/// A held zoom key zooms this much per second.
const ZOOM_PER_S: f64 = 4.0;
/// A held pan key moves the view this many window widths per second.
const PAN_WIDTHS_PER_S: f64 = 1.0;
/// A tap moves as much as holding the key this long (zoom 1.23x, pan 15%).
pub const TAP_S: f64 = 0.15;
/// Longest frame counted while a key is held: a stalled frame does not
/// make the view jump.
const MAX_DT_S: f64 = 0.1;

/// The window after moving it by `motion` for `secs` seconds, zooming
/// around `at_ns`.
pub fn key_window(start_ns: i64, end_ns: i64, at_ns: i64, motion: KeyMotion, secs: f64) -> (i64, i64) {
    let (mut s, mut e) = (start_ns, end_ns);
    if motion.zoom != 0 {
        let factor = ZOOM_PER_S.powf(secs * f64::from(motion.zoom));
        (s, e) = zoom_window(s, e, at_ns.clamp(s, e), factor);
    }
    if motion.pan != 0 {
        let shift = ((e - s) as f64 * PAN_WIDTHS_PER_S * secs * f64::from(motion.pan)) as i64;
        (s, e) = (s.saturating_add(shift), e.saturating_add(shift));
    }
    (s, e)
}

/// The motion of `keys` (zoom in, zoom out, left, right) given whether
/// each is on.
fn motion_of(on: impl Fn(Key) -> bool) -> KeyMotion {
    let dir = |plus: Key, minus: Key| i8::from(on(plus)) - i8::from(on(minus));
    KeyMotion { zoom: dir(Key::W, Key::S), pan: dir(Key::D, Key::A) }
}

/// Moves the view for W/A/S/D, unless a text field has the keyboard or a
/// modifier is held (Ctrl+A and the like belong to others).
pub fn keys_ui(ui: &Ui, frame: Frame, full: Rect, state: &mut TraceViewState) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    let (tapped, held, dt, pointer) = ui.input(|i| {
        if i.modifiers.any() {
            return (KeyMotion::default(), KeyMotion::default(), 0.0, None);
        }
        let pressed_now = |k: Key| {
            i.events.iter().any(|e| matches!(e, Event::Key { key, pressed: true, repeat: false, .. } if *key == k))
        };
        (motion_of(pressed_now), motion_of(|k| i.key_down(k)), f64::from(i.stable_dt), i.pointer.hover_pos())
    });
    if tapped.is_still() && held.is_still() {
        return;
    }
    let (s, e) = (frame.view.start_ns, frame.view.end_ns);
    let time_area = frame.time_area(full);
    // Zoom where the pointer is, as Ctrl+scroll does; else at the middle.
    let at = pointer.filter(|p| time_area.contains(*p)).map_or(s + (e - s) / 2, |p| frame.t(p.x));
    // A key pressed this frame takes a step; one held from before moves
    // for the time the frame took.
    let mut window = (s, e);
    if !tapped.is_still() {
        window = key_window(window.0, window.1, at, tapped, TAP_S);
    }
    let still_held = KeyMotion {
        zoom: if tapped.zoom == 0 { held.zoom } else { 0 },
        pan: if tapped.pan == 0 { held.pan } else { 0 },
    };
    if !still_held.is_still() {
        window = key_window(window.0, window.1, at, still_held, dt.min(MAX_DT_S));
    }
    state.t.window = Some(window);
    // Keep moving while the key is down, without waiting for input.
    if !held.is_still() {
        ui.ctx().request_repaint();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN: KeyMotion = KeyMotion { zoom: 1, pan: 0 };
    const OUT: KeyMotion = KeyMotion { zoom: -1, pan: 0 };
    const RIGHT: KeyMotion = KeyMotion { zoom: 0, pan: 1 };

    #[test]
    fn zooming_keeps_the_time_under_the_pointer_in_place() {
        let (s, e) = key_window(0, 1_000_000, 250_000, IN, 0.5);
        // Half a second at 4x a second: 2x.
        assert!(((e - s) as f64 / 500_000.0 - 1.0).abs() < 1e-3, "{s}..{e}");
        // 250 us stays a quarter of the way across.
        assert!((((250_000 - s) as f64) / (e - s) as f64 - 0.25).abs() < 1e-3, "{s}..{e}");
    }

    #[test]
    fn zooming_in_then_out_for_as_long_comes_back() {
        let (s, e) = key_window(1_000, 9_001_000, 3_000_000, IN, 0.3);
        let back = key_window(s, e, 3_000_000, OUT, 0.3);
        assert!((back.0 - 1_000).abs() <= 2 && (back.1 - 9_001_000).abs() <= 2, "{back:?}");
    }

    #[test]
    fn panning_moves_by_window_widths_per_second() {
        assert_eq!(key_window(0, 2_000, 0, RIGHT, 0.25), (500, 2_500));
        assert_eq!(key_window(0, 2_000, 0, KeyMotion { zoom: 0, pan: -1 }, 0.5), (-1_000, 1_000));
    }

    #[test]
    fn a_zoom_point_outside_the_window_zooms_at_its_edge() {
        let (s, e) = key_window(1_000, 2_000, 50_000, IN, 0.5);
        assert_eq!(e, 2_000, "{s}..{e}");
        assert!(s > 1_000);
    }

    #[test]
    fn opposite_keys_cancel() {
        let m = motion_of(|k| matches!(k, Key::W | Key::S | Key::A));
        assert_eq!(m, KeyMotion { zoom: 0, pan: -1 });
        assert!(motion_of(|_| false).is_still());
    }
}
