//! The byte code of a block's spans.
//!
//! Each span starts with one varint: how many of the block's time units
//! (`2^unit` ns) its start is past the span before's, counting whole units
//! of each (the block's first span has 0: its start is in the block
//! header), shifted left three bits, and in those bits a tag. Tag `k` from
//! 1 to [`REFS`] says the span repeats the fields of the span `k` back in
//! its block, and nothing follows. Tag 0 says its fields follow in full.
//! Tag [`TAG_REM`] is for a start off the unit's grid (Go's reader moves an
//! event no later than the one before it to 1 ns past it): the ns past the
//! unit follow as a varint, then a varint `k`, a reference as above or 0
//! for the fields in full.
//! Tag [`TAG_WIDE`] is for a delta too wide to shift (only damaged times
//! have one): the delta follows in ns as a varint of its own, then the
//! fields in full.
//!
//! In full, the fields are a flags byte (the state in the low five bits, and
//! whether a stack, `a` and `b` follow) and those as varints (`a` and `b`
//! zigzagged; an absent stack is 0, absent arguments -1). Goroutines and Ps
//! cycle through a few states (running on P 3, blocked in the same
//! `select`, woken by the same goroutine...), so on a busy trace most spans
//! are references (busy-300mb: 81% of the spans written), and most of
//! those are one or two bytes, which leaves less for zstd to pack. (With
//! the reference as a byte of its own after the delta, a goroutine span
//! took 3.4 bytes and a P span 3.2.)
//!
//! A reference never reaches outside its block, so a block still decodes on
//! its own. Only fields whose `b` is absent (nearly all) are referred to.

use crate::stacks::StackId;
use crate::track::Span;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// The bits of a flags byte holding the state.
pub(crate) const STATE_MASK: u8 = 0x1f;
const HAS_STACK: u8 = 0x20;
const HAS_A: u8 = 0x40;
const HAS_B: u8 = 0x80;
/// A state code no span is given (`TrackBuilder::push` takes it as 30), so
/// that no span's [`key`] is [`UNKNOWN`] (whose state bits are all ones),
/// which is never referred to.
pub(crate) const UNUSED_STATE: u8 = STATE_MASK;
/// How many spans back a reference reaches.
pub(crate) const REFS: usize = 4;
/// Bits of a span's first varint holding its tag.
const TAG_BITS: u32 = 3;
/// The tag of a span starting off its block's time grid.
const TAG_REM: u64 = 5;
/// The tag of a span whose delta follows on its own.
const TAG_WIDE: u64 = 7;
/// Deltas from here on are written after a [`TAG_WIDE`].
const WIDE_DELTA: u64 = 1 << (64 - TAG_BITS);
/// The fields of the last [`REFS`] spans of the open block, for the
/// encoder, as [`key`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Recent {
    keys: [u64; REFS],
}

impl Default for Recent {
    fn default() -> Self {
        Recent { keys: [UNKNOWN; REFS] }
    }
}

impl Recent {
    /// The state at a block's start: nothing to refer to.
    pub fn reset(&mut self) {
        *self = Recent::default();
    }

    fn push(&mut self, key: u64) {
        let [k0, k1, k2, _] = self.keys;
        self.keys = [key, k0, k1, k2];
    }
}

/// The key of fields that have none, and are never referred to.
const UNKNOWN: u64 = u64::MAX;

/// A span's state, stack and arguments as one number, the same for the same
/// fields and different for different ones: the state, the stack and `a`
/// (zigzagged) side by side, for the spans whose `b` is absent and whose
/// stack and `a` fit 27 and 32 bits (all a goroutine or P span has but for
/// a GC worker's mode). Other fields are [`UNKNOWN`] (a state of
/// [`UNUSED_STATE`], which no span has).
fn key(s: &Span) -> u64 {
    let a = zigzag(s.a);
    if s.b != -1 || s.stack.0 >= 1 << 27 || a >= 1 << 32 {
        return UNKNOWN;
    }
    u64::from(s.state & STATE_MASK) | u64::from(s.stack.0) << 5 | a << 32
}

/// `v` as a varint in the low bytes of the result, and its length; values
/// from 2^56 up do not fit (`None`).
fn varint_code(mut v: u64) -> Option<(u64, usize)> {
    if v >= 1 << 56 {
        return None;
    }
    let mut code = 0u64;
    let mut len = 0;
    while v >= 0x80 {
        code |= ((v & 0x7f) | 0x80) << (8 * len);
        v >>= 7;
        len += 1;
    }
    Some((code | v << (8 * len), len + 1))
}

/// Appends the low `len` bytes of `code` (at most 8) to `out`, with one
/// store rather than a push (and a check for room) per byte.
fn put(out: &mut Vec<u8>, code: u64, len: usize) {
    let end = out.len();
    out.extend_from_slice(&code.to_le_bytes());
    out.truncate(end + len);
}

/// Appends `v` as a varint.
// Inlined, as is `encode_span`: a call per span and per field cost more
// instructions than the encoding (callgrind, busy-50mb: -3% each).
#[inline(always)]
fn put_varint(out: &mut Vec<u8>, v: u64) {
    // Most are one byte (a reference, a small delta).
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    match varint_code(v) {
        Some((code, len)) => put(out, code, len),
        None => write_uvarint(out, v),
    }
}

/// Appends span `s` to `out`, the span before it starting at `prev_ns`
/// (`None` for a block's first span) in a block whose unit is `2^unit` ns,
/// referring to one of the spans before it in the block when its fields
/// repeat theirs.
#[inline(always)]
pub(crate) fn encode_span(out: &mut Vec<u8>, recent: &mut Recent, prev_ns: Option<i64>, unit: u32, s: &Span) {
    let key = key(s);
    let back = if key == UNKNOWN { None } else { recent.keys.iter().position(|&k| k == key) };
    recent.push(key);
    let prev = prev_ns.unwrap_or(s.start_ns);
    // Whole units from the one the span before starts in.
    let units = (s.start_ns >> unit).wrapping_sub(prev >> unit) as u64;
    let rem = (s.start_ns & ((1 << unit) - 1)) as u64;
    let refer = back.map_or(0, |k| k as u64 + 1);
    match () {
        _ if units >= WIDE_DELTA => {
            put_varint(out, TAG_WIDE);
            put_varint(out, s.start_ns.wrapping_sub(prev) as u64);
        }
        // A block's first span starts where its header says.
        _ if rem == 0 || prev_ns.is_none() => {
            put_varint(out, units << TAG_BITS | refer);
            if refer != 0 {
                return;
            }
        }
        _ => {
            put_varint(out, units << TAG_BITS | TAG_REM);
            put_varint(out, rem);
            put_varint(out, refer);
            if refer != 0 {
                return;
            }
        }
    }
    let mut flags = s.state & STATE_MASK;
    flags |= if s.stack.0 != 0 { HAS_STACK } else { 0 };
    flags |= if s.a != -1 { HAS_A } else { 0 };
    flags |= if s.b != -1 { HAS_B } else { 0 };
    out.push(flags);
    if s.stack.0 != 0 {
        put_varint(out, u64::from(s.stack.0));
    }
    if s.a != -1 {
        put_varint(out, zigzag(s.a));
    }
    if s.b != -1 {
        put_varint(out, zigzag(s.b));
    }
}

/// The fields of a span, as the last spans decoded hold them.
#[derive(Clone, Copy)]
struct Fields {
    state: u8,
    stack: u32,
    a: i64,
    b: i64,
}

impl Fields {
    /// What a reference to a span before the block's first decodes to (only
    /// in damaged bytes).
    const NONE: Fields = Fields { state: 0, stack: 0, a: -1, b: -1 };
}

/// Decodes the `count` spans of a block from `bytes`, the first starting at
/// `start_ns` and the last ending at `end_ns`, its unit `2^unit` ns,
/// stopping at the first span that starts at or after `until_ns` (which is
/// not passed to `f`).
pub(crate) fn decode_spans_until(
    mut bytes: &[u8],
    (start_ns, end_ns, count, unit): (i64, i64, usize, u32),
    until_ns: i64,
    mut f: impl FnMut(Span),
) {
    let mut t = start_ns;
    let mut prev: Option<Span> = None;
    // The fields of the last spans, the `j`-th span's at `j % REFS`.
    let mut ring = [Fields::NONE; REFS];
    // (A damaged unit never panics: shifts wrap.)
    let unit = unit.min(63);
    for k in 0..count {
        let head = read_uvarint(&mut bytes);
        let mut tag = head & ((1 << TAG_BITS) - 1);
        let units = (head >> TAG_BITS) as i64;
        let next = if tag == TAG_WIDE {
            t.wrapping_add(read_uvarint(&mut bytes) as i64)
        } else {
            let mut rem = 0;
            if tag == TAG_REM {
                rem = read_uvarint(&mut bytes) as i64;
                tag = read_uvarint(&mut bytes);
            }
            (t >> unit).wrapping_add(units).wrapping_shl(unit).wrapping_add(rem)
        };
        let fields = if tag != 0 && tag != TAG_WIDE {
            // References past REFS only come with damaged bytes.
            let back = usize::try_from(tag).unwrap_or(usize::MAX);
            let earlier = k.checked_sub(back).filter(|_| back <= REFS);
            earlier.and_then(|j| ring.get(j % REFS)).copied().unwrap_or(Fields::NONE)
        } else {
            let flags = read_byte(&mut bytes);
            let stack = if flags & HAS_STACK != 0 { read_uvarint(&mut bytes) as u32 } else { 0 };
            let a = if flags & HAS_A != 0 { unzigzag(read_uvarint(&mut bytes)) } else { -1 };
            let b = if flags & HAS_B != 0 { unzigzag(read_uvarint(&mut bytes)) } else { -1 };
            Fields { state: flags & STATE_MASK, stack, a, b }
        };
        if let Some(slot) = ring.get_mut(k % REFS) {
            *slot = fields;
        }
        if k > 0 {
            t = next;
        }
        if let Some(mut p) = prev.take() {
            p.end_ns = t;
            f(p);
        }
        if t >= until_ns {
            return;
        }
        let Fields { state, stack, a, b } = fields;
        prev = Some(Span { start_ns: t, end_ns, state, stack: StackId(stack), a, b });
    }
    if let Some(p) = prev {
        f(p);
    }
}

fn read_byte(bytes: &mut &[u8]) -> u8 {
    match bytes.split_first() {
        Some((&b, rest)) => {
            *bytes = rest;
            b
        }
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start_ns: i64, state: u8, stack: u32, a: i64, b: i64) -> Span {
        Span { start_ns, end_ns: start_ns, state, stack: StackId(stack), a, b }
    }

    /// Encodes `spans` as one block; returns the bytes and the spans decoded.
    fn round_trip(spans: &[Span]) -> (Vec<u8>, Vec<Span>) {
        round_trip_in(0, spans)
    }

    /// [`round_trip`] in a block whose unit is `2^unit` ns.
    fn round_trip_in(unit: u32, spans: &[Span]) -> (Vec<u8>, Vec<Span>) {
        let mut out = vec![0xAA; 3]; // bytes of blocks before
        let mut recent = Recent::default();
        let mut prev = None;
        for s in spans {
            encode_span(&mut out, &mut recent, prev, unit, s);
            prev = Some(s.start_ns);
        }
        let first = spans.first().map_or(0, |s| s.start_ns);
        let mut got = Vec::new();
        let block = (first, 1_000_000, spans.len(), unit);
        decode_spans_until(out.get(3..).unwrap_or_default(), block, i64::MAX, |s| got.push(s));
        // Ends are the next start; compare without them.
        let got = got.into_iter().map(|s| Span { end_ns: s.start_ns, ..s }).collect();
        (out.split_off(3), got)
    }

    #[test]
    fn a_cycle_of_states_is_written_as_references() {
        // Running on P 3, blocked in a select, woken by goroutine 1 234 567.
        let cycle = [(4, 0, 3, -1), (8, 17, -1, -1), (1, 23, 1_234_567, -1)];
        let spans: Vec<Span> = (0..30)
            .map(|i| cycle[i % 3])
            .enumerate()
            .map(|(i, (st, sk, a, b))| span(i as i64 * 1_000, st, sk, a, b))
            .collect();
        let (bytes, got) = round_trip(&spans);
        assert_eq!(got, spans);
        // Three spans in full: a 0 delta, flags and P 3; the 2-byte delta
        // 1000, flags and stack 17; the delta, flags, stack 23 and the
        // goroutine (a 4-byte varint zigzagged).
        let full = (1 + 1 + 1) + (2 + 1 + 1) + (2 + 1 + 1 + 4);
        assert_eq!(bytes.len(), full + 27 * 2, "{bytes:?}");
        // Then each span is one varint: the delta 1000, shifted, and a
        // reference 3 spans back (8003).
        let tail = bytes.get(full..).unwrap_or_default();
        assert!(tail.chunks(2).all(|c| c == [0xc3, 0x3e]), "{tail:?}");
    }

    #[test]
    fn every_distance_back_decodes() {
        // Patterns repeating 1, 2, 3, 4 and 5 spans back.
        for period in 1..=5usize {
            let spans: Vec<Span> = (0..40)
                .map(|i| {
                    span(i as i64 * 7, (i % period) as u8 + 2, (i % period) as u32 * 3, i as i64 % period as i64, -1)
                })
                .collect();
            let (bytes, got) = round_trip(&spans);
            assert_eq!(got, spans, "period {period}");
            let refs = tags(&bytes, spans.len()).iter().filter(|&&t| t != 0).count();
            let want = if period <= REFS { 40 - period } else { 0 };
            assert_eq!(refs, want, "period {period}: {bytes:?}");
        }
    }

    #[test]
    fn unlike_fields_are_never_taken_for_a_repeat() {
        // Same flags and stack, arguments that share a prefix of bytes.
        let spans = [span(0, 5, 9, 300, -1), span(1, 5, 9, 44, -1), span(2, 5, 9, 300, 7), span(3, 5, 9, 300, -1)];
        let (bytes, got) = round_trip(&spans);
        assert_eq!(got, spans);
        assert_eq!(tags(&bytes, spans.len()), [0, 0, 0, 3], "{bytes:?}");
    }

    #[test]
    fn fields_without_a_key_are_written_in_full() {
        // A `b`, a stack past 27 bits, an `a` past 32 bits: each repeated.
        let spans: Vec<Span> = [(3, 9, 5, 2), (3, 1 << 27, 5, -1), (3, 9, 1 << 31, -1), (3, 9, i64::MIN + 9, -1)]
            .iter()
            .flat_map(|&(st, sk, a, b)| [span(0, st, sk, a, b), span(0, st, sk, a, b)])
            .enumerate()
            .map(|(i, s)| Span { start_ns: i as i64, end_ns: i as i64, ..s })
            .collect();
        let (bytes, got) = round_trip(&spans);
        assert_eq!(got, spans);
        // A delta byte each, then the flags and the fields' varints.
        let fields = [1 + 1 + 1 + 1, 1 + 4 + 1, 1 + 1 + 5, 1 + 1 + 10];
        assert_eq!(bytes.len(), fields.iter().map(|f| 2 * (1 + f)).sum::<usize>(), "{bytes:?}");
        assert_eq!(key(&span(0, 3, 9, 5, -1)), 3 | 9 << 5 | 10 << 32);
    }

    #[test]
    fn varints_fit_a_word_up_to_eight_bytes() {
        assert_eq!(varint_code(5), Some((5, 1)));
        assert_eq!(varint_code(300), Some((0x02ac, 2)));
        assert_eq!(varint_code((1 << 56) - 1), Some((0x7fff_ffff_ffff_ffff, 8)));
        assert_eq!(varint_code(1 << 56), None);
        let mut out = Vec::new();
        put_varint(&mut out, u64::MAX);
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn damaged_references_decode_without_panicking() {
        // A reference before the block's first span; a span of state 2; a
        // tag past REFS; a wide delta; references 3 and 1 back (to state 2).
        let bytes = [4, 5 << 3, 2, 1 << 3 | 6, 7, 1, 0, 1 << 3 | 3, 1 << 3 | 1];
        let mut got = Vec::new();
        decode_spans_until(&bytes, (10, 100, 6, 0), i64::MAX, |s| got.push(s));
        assert_eq!(got.iter().map(|s| s.state).collect::<Vec<_>>(), [0, 2, 0, 0, 2, 2]);
        assert_eq!(got.iter().map(|s| s.start_ns).collect::<Vec<_>>(), [10, 15, 16, 17, 18, 19]);
        assert!(got.iter().all(|s| s.a == -1 && s.stack == StackId(0)));
        // A delta past the end of time (found by the proptest below, in a
        // debug build) wraps rather than panics.
        let mut n = 0;
        decode_spans_until(&[0, 0, 10 << 3, 0], (i64::MAX - 5, i64::MAX, 2, 0), i64::MAX, |_| n += 1);
        assert_eq!(n, 2);
        // So does a delta that a damaged unit shifts past 64 bits.
        let mut n = 0;
        let wide = [0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        decode_spans_until(&wide, (0, 9, 2, 7), i64::MAX, |_| n += 1);
        assert_eq!(n, 2);
    }

    #[test]
    fn deltas_on_the_units_grid_are_written_in_units() {
        // 64 ns a tick: each delta of 512 ns (8 units) fits one byte with
        // its tag. A start off the grid (moved 1 ns past a tick) takes two
        // bytes more, the span after it none.
        let mut spans: Vec<Span> = (0..20).map(|i| span(i * 512, 2 + (i % 2) as u8, 0, -1, -1)).collect();
        spans.push(span(19 * 512 + 1, 2, 0, -1, -1));
        spans.push(span(20 * 512, 3, 0, -1, -1));
        spans.push(span(21 * 512, 2, 0, -1, -1));
        let (bytes, got) = round_trip_in(6, &spans);
        assert_eq!(got, spans);
        let want: Vec<u64> = [0, 0].into_iter().chain([2; 18]).chain([TAG_REM, 2, 2]).collect();
        assert_eq!(tags(&bytes, spans.len()), want, "{bytes:?}");
        // Two spans in full (a one-byte delta and flags each), 18
        // references of one byte, one off the grid (its tag and 0 units,
        // 1 ns, a reference), two references.
        assert_eq!(bytes.len(), 2 * 2 + 18 + 3 + 1 + 1, "{bytes:?}");
        assert_eq!(bytes.get(22..25), Some(&[TAG_REM as u8, 1, 2][..]), "{bytes:?}");
        // Without the unit, each of the 20 deltas of 512 ns takes a byte
        // more, the 1 ns one two bytes less, the 511 ns after it one more.
        let (plain, _) = round_trip_in(0, &spans);
        assert_eq!(plain.len(), bytes.len() + 20 - 2 + 1, "{plain:?}");
    }

    #[test]
    fn deltas_too_wide_to_shift_follow_their_tag() {
        // From one end of time to the other and back, each span repeating
        // the one before: no reference can carry such a delta.
        let spans = [span(-(1 << 61), 3, 9, 5, -1), span(1 << 61, 3, 9, 5, -1), span(1 << 61, 3, 9, 5, -1)];
        let (bytes, got) = round_trip(&spans);
        assert_eq!(got, spans);
        assert_eq!(tags(&bytes, spans.len()), [0, TAG_WIDE, 1], "{bytes:?}");
    }

    /// The tag of each of the `count` spans in `bytes`.
    fn tags(mut bytes: &[u8], count: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for _ in 0..count {
            let head = read_uvarint(&mut bytes);
            let tag = head & ((1 << TAG_BITS) - 1);
            out.push(tag);
            let mut kind = tag;
            if tag == TAG_WIDE {
                read_uvarint(&mut bytes);
            }
            if tag == TAG_REM {
                read_uvarint(&mut bytes);
                kind = read_uvarint(&mut bytes);
            }
            if kind == 0 || kind == TAG_WIDE {
                let flags = read_byte(&mut bytes);
                for bit in [HAS_STACK, HAS_A, HAS_B] {
                    if flags & bit != 0 {
                        read_uvarint(&mut bytes);
                    }
                }
            }
        }
        assert!(bytes.is_empty(), "{bytes:?} left");
        out
    }

    /// Fields that repeat often (a few values) or are anything at all.
    fn fields() -> impl proptest::strategy::Strategy<Value = (u8, u32, i64, i64)> {
        use proptest::prelude::*;
        let small = (0u8..4, 0u32..3, -1i64..3, -1i64..1);
        let any = (0u8..UNUSED_STATE, any::<u32>(), any::<i64>(), any::<i64>());
        prop_oneof![4 => small, 1 => any]
    }

    proptest::proptest! {
        #[test]
        fn any_spans_decode_as_they_were_encoded(
            fields in proptest::collection::vec(fields(), 1..300),
            gaps in proptest::collection::vec(0i64..1 << 40, 300),
        ) {
            let mut t = -5_000;
            let spans: Vec<Span> = fields.iter().zip(&gaps).map(|(&(st, sk, a, b), &gap)| {
                t += gap;
                span(t, st, sk, a, b)
            }).collect();
            let (_, got) = round_trip(&spans);
            proptest::prop_assert_eq!(&got, &spans);
            for unit in [4, 6, 7] {
                let (_, got) = round_trip_in(unit, &spans);
                proptest::prop_assert_eq!(&got, &spans, "unit {}", unit);
            }
        }

        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), count in 0usize..300) {
            let mut n = 0;
            decode_spans_until(&bytes, (0, 10, count, 6), i64::MAX, |_| n += 1);
            proptest::prop_assert_eq!(n, count);
        }
    }
}
