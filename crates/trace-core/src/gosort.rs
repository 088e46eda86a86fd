//! An unstable sort that orders equal elements exactly as Go's
//! `slices.SortFunc` (pattern-defeating quicksort) does.
//!
//! Go's reader sorts CPU samples and, on its slow path, the batch frontier
//! with an unstable sort; matching its output event for event on ties means
//! making the same swaps.

use std::cmp::Ordering;

/// Sorts `v` with Go's pdqsort and the comparison `cmp`.
pub fn sort_by<T, F: FnMut(&T, &T) -> Ordering>(v: &mut [T], mut cmp: F) {
    let n = v.len();
    let limit = (usize::BITS - n.leading_zeros()) as usize;
    let mut less = |a: &T, b: &T| cmp(a, b) == Ordering::Less;
    pdqsort(v, 0, n, limit, &mut less);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Hint {
    Unknown,
    Increasing,
    Decreasing,
}

fn insertion_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    for i in a + 1..b {
        let mut j = i;
        while j > a && less(&d[j], &d[j - 1]) {
            d.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn sift_down<T>(d: &mut [T], lo: usize, hi: usize, first: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    let mut root = lo;
    loop {
        let mut child = 2 * root + 1;
        if child >= hi {
            return;
        }
        if child + 1 < hi && less(&d[first + child], &d[first + child + 1]) {
            child += 1;
        }
        if !less(&d[first + root], &d[first + child]) {
            return;
        }
        d.swap(first + root, first + child);
        root = child;
    }
}

fn heap_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    let first = a;
    let hi = b - a;
    for i in (0..=(hi.saturating_sub(1)) / 2).rev() {
        if hi == 0 {
            break;
        }
        sift_down(d, i, hi, first, less);
    }
    for i in (0..hi).rev() {
        d.swap(first, first + i);
        sift_down(d, 0, i, first, less);
    }
}

fn pdqsort<T>(d: &mut [T], mut a: usize, mut b: usize, mut limit: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    const MAX_INSERTION: usize = 12;
    let mut was_balanced = true;
    let mut was_partitioned = true;
    loop {
        let length = b - a;
        if length <= MAX_INSERTION {
            insertion_sort(d, a, b, less);
            return;
        }
        if limit == 0 {
            heap_sort(d, a, b, less);
            return;
        }
        if !was_balanced {
            break_patterns(d, a, b);
            limit -= 1;
        }
        let (mut pivot, mut hint) = choose_pivot(d, a, b, less);
        if hint == Hint::Decreasing {
            d[a..b].reverse();
            pivot = (b - 1) - (pivot - a);
            hint = Hint::Increasing;
        }
        if was_balanced && was_partitioned && hint == Hint::Increasing && partial_insertion_sort(d, a, b, less) {
            return;
        }
        if a > 0 && !less(&d[a - 1], &d[pivot]) {
            a = partition_equal(d, a, b, pivot, less);
            continue;
        }
        let (mid, already) = partition(d, a, b, pivot, less);
        was_partitioned = already;
        let (left, right) = (mid - a, b - mid);
        let threshold = length / 8;
        if left < right {
            was_balanced = left >= threshold;
            pdqsort(d, a, mid, limit, less);
            a = mid + 1;
        } else {
            was_balanced = right >= threshold;
            pdqsort(d, mid + 1, b, limit, less);
            b = mid;
        }
    }
}

fn partition<T>(d: &mut [T], a: usize, b: usize, pivot: usize, less: &mut impl FnMut(&T, &T) -> bool) -> (usize, bool) {
    d.swap(a, pivot);
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    while i <= j && less(&d[i as usize], &d[a]) {
        i += 1;
    }
    while i <= j && !less(&d[j as usize], &d[a]) {
        j -= 1;
    }
    if i > j {
        d.swap(j as usize, a);
        return (j as usize, true);
    }
    d.swap(i as usize, j as usize);
    i += 1;
    j -= 1;
    loop {
        while i <= j && less(&d[i as usize], &d[a]) {
            i += 1;
        }
        while i <= j && !less(&d[j as usize], &d[a]) {
            j -= 1;
        }
        if i > j {
            break;
        }
        d.swap(i as usize, j as usize);
        i += 1;
        j -= 1;
    }
    d.swap(j as usize, a);
    (j as usize, false)
}

fn partition_equal<T>(d: &mut [T], a: usize, b: usize, pivot: usize, less: &mut impl FnMut(&T, &T) -> bool) -> usize {
    d.swap(a, pivot);
    let (mut i, mut j) = (a as isize + 1, b as isize - 1);
    loop {
        while i <= j && !less(&d[a], &d[i as usize]) {
            i += 1;
        }
        while i <= j && less(&d[a], &d[j as usize]) {
            j -= 1;
        }
        if i > j {
            break;
        }
        d.swap(i as usize, j as usize);
        i += 1;
        j -= 1;
    }
    i as usize
}

fn partial_insertion_sort<T>(d: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) -> bool {
    const MAX_STEPS: usize = 5;
    const SHORTEST_SHIFTING: usize = 50;
    let mut i = a + 1;
    for _ in 0..MAX_STEPS {
        while i < b && !less(&d[i], &d[i - 1]) {
            i += 1;
        }
        if i == b {
            return true;
        }
        if b - a < SHORTEST_SHIFTING {
            return false;
        }
        d.swap(i, i - 1);
        if i - a >= 2 {
            // Go walks down to index 1 here, not to `a + 1`; keep that.
            let mut j = i - 1;
            while j >= 1 {
                if !less(&d[j], &d[j - 1]) {
                    break;
                }
                d.swap(j, j - 1);
                j -= 1;
            }
        }
        if b - i >= 2 {
            let mut j = i + 1;
            while j < b {
                if !less(&d[j], &d[j - 1]) {
                    break;
                }
                d.swap(j, j - 1);
                j += 1;
            }
        }
    }
    false
}

fn break_patterns<T>(d: &mut [T], a: usize, b: usize) {
    let length = b - a;
    if length >= 8 {
        let mut random = length as u64;
        let modulus = 1usize << (usize::BITS - length.leading_zeros());
        let mid = a + (length / 4) * 2;
        for idx in mid - 1..=mid + 1 {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let mut other = (random as usize) & (modulus - 1);
            if other >= length {
                other -= length;
            }
            d.swap(idx, a + other);
        }
    }
}

fn choose_pivot<T>(d: &mut [T], a: usize, b: usize, less: &mut impl FnMut(&T, &T) -> bool) -> (usize, Hint) {
    const SHORTEST_NINTHER: usize = 50;
    const MAX_SWAPS: usize = 4 * 3;
    let l = b - a;
    let mut swaps = 0usize;
    let mut i = a + l / 4;
    let mut j = a + l / 4 * 2;
    let mut k = a + l / 4 * 3;
    if l >= 8 {
        if l >= SHORTEST_NINTHER {
            i = median(d, i - 1, i, i + 1, &mut swaps, less);
            j = median(d, j - 1, j, j + 1, &mut swaps, less);
            k = median(d, k - 1, k, k + 1, &mut swaps, less);
        }
        j = median(d, i, j, k, &mut swaps, less);
    }
    match swaps {
        0 => (j, Hint::Increasing),
        MAX_SWAPS => (j, Hint::Decreasing),
        _ => (j, Hint::Unknown),
    }
}

fn order2<T>(d: &[T], a: usize, b: usize, swaps: &mut usize, less: &mut impl FnMut(&T, &T) -> bool) -> (usize, usize) {
    if less(&d[b], &d[a]) {
        *swaps += 1;
        return (b, a);
    }
    (a, b)
}

fn median<T>(d: &[T], a: usize, b: usize, c: usize, swaps: &mut usize, less: &mut impl FnMut(&T, &T) -> bool) -> usize {
    let (a, b) = order2(d, a, b, swaps, less);
    let (b, c) = order2(d, b, c, swaps, less);
    let _ = c;
    let (_a, b) = order2(d, a, b, swaps, less);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_a_sort() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for n in [0usize, 1, 5, 13, 50, 51, 200, 1000] {
            let mut v: Vec<u64> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % 37
                })
                .collect();
            let mut w = v.clone();
            sort_by(&mut v, |a, b| a.cmp(b));
            w.sort();
            assert_eq!(v, w);
        }
    }

    #[test]
    fn descending_and_sorted_inputs() {
        let mut v: Vec<u32> = (0..500).rev().collect();
        sort_by(&mut v, |a, b| a.cmp(b));
        assert!(v.windows(2).all(|w| w[0] <= w[1]));
    }
}
