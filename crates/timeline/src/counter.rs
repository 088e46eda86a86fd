//! Counters over time (heap, goroutines by state, ...) and their decimation.

/// A step function: `values[i]` holds from `times_ns[i]` until the next time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counter {
    /// Sample times, non-decreasing.
    pub times_ns: Vec<i64>,
    /// Values.
    pub values: Vec<i64>,
}

/// One pixel column of a decimated counter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterColumn {
    /// Start of the column.
    pub start_ns: i64,
    /// Smallest value held in the column.
    pub min: i64,
    /// Largest value held in the column.
    pub max: i64,
    /// Value at the end of the column.
    pub last: i64,
}

impl Counter {
    /// Records `value` at `t_ns`. Samples at the same time overwrite; an
    /// unchanged value adds nothing.
    pub fn push(&mut self, t_ns: i64, value: i64) {
        if let (Some(&lt), Some(lv)) = (self.times_ns.last(), self.values.last_mut()) {
            if *lv == value {
                return;
            }
            if lt >= t_ns {
                *lv = value;
                return;
            }
        }
        self.times_ns.push(t_ns);
        self.values.push(value);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.times_ns.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.times_ns.is_empty()
    }

    /// The value in effect at `t_ns` (`None` before the first sample).
    pub fn value_at(&self, t_ns: i64) -> Option<i64> {
        let i = self.times_ns.partition_point(|&t| t <= t_ns);
        i.checked_sub(1).and_then(|i| self.values.get(i)).copied()
    }

    /// The largest value.
    pub fn max(&self) -> Option<i64> {
        self.values.iter().copied().max()
    }

    /// Decimates to `columns` equal columns over `[start_ns, end_ns)`: the
    /// min, max and last value held in each, so spikes never vanish. Columns
    /// before the first sample are left out.
    pub fn decimate(&self, start_ns: i64, end_ns: i64, columns: usize) -> Vec<CounterColumn> {
        let mut out = Vec::with_capacity(columns);
        if columns == 0 || end_ns <= start_ns {
            return out;
        }
        let width = (end_ns - start_ns) as f64 / columns as f64;
        let mut i = self.times_ns.partition_point(|&t| t <= start_ns);
        let mut current = i.checked_sub(1).and_then(|k| self.values.get(k)).copied();
        for c in 0..columns {
            let col_start = start_ns + (c as f64 * width) as i64;
            let col_end = start_ns + ((c + 1) as f64 * width) as i64;
            let mut col = current.map(|v| CounterColumn { start_ns: col_start, min: v, max: v, last: v });
            while let (Some(&t), Some(&v)) = (self.times_ns.get(i), self.values.get(i)) {
                if t >= col_end {
                    break;
                }
                let c = col.get_or_insert(CounterColumn { start_ns: col_start, min: v, max: v, last: v });
                c.min = c.min.min(v);
                c.max = c.max.max(v);
                c.last = v;
                current = Some(v);
                i += 1;
            }
            out.extend(col);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_coalesces() {
        let mut c = Counter::default();
        c.push(0, 1);
        c.push(0, 2);
        c.push(5, 2);
        c.push(7, 3);
        assert_eq!(c.times_ns, vec![0, 7]);
        assert_eq!(c.values, vec![2, 3]);
        assert_eq!(c.value_at(6), Some(2));
        assert_eq!(c.value_at(-1), None);
    }

    #[test]
    fn decimation_keeps_spikes() {
        let mut c = Counter::default();
        for t in 0..1000 {
            c.push(t, if t == 503 { 100 } else { t % 2 });
        }
        let cols = c.decimate(0, 1000, 10);
        assert_eq!(cols.len(), 10);
        assert_eq!(cols[5].max, 100);
        assert_eq!(cols[5].min, 0);
        assert_eq!(cols[4].max, 1);
        assert_eq!(cols[9].last, 1);
        // Before the first sample there is nothing to draw.
        let cols = c.decimate(-1000, 1000, 4);
        assert_eq!(cols.len(), 2);
        assert_eq!(cols[0].start_ns, 0);
    }

    #[test]
    fn columns_without_samples_carry_the_value() {
        let mut c = Counter::default();
        c.push(0, 7);
        c.push(900, 9);
        let cols = c.decimate(0, 1000, 10);
        assert_eq!(cols[3], CounterColumn { start_ns: 300, min: 7, max: 7, last: 7 });
        assert_eq!(cols[9].last, 9);
    }
}
