//! The user tasks met while merging, by ID.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use trace_core::GoroutineId;

use crate::model::Task;
use crate::strings::StrId;
use crate::tasktable::TaskTable;

/// A task while merging: 48 bytes, its first goroutine inline (most tasks
/// have one), where a [`Task`] takes 80 and a list of its own.
#[derive(Clone, Copy, Debug)]
struct TaskRec {
    id: u64,
    parent: u64,
    /// [`NO_TIME`] until known.
    start_ns: i64,
    end_ns: i64,
    /// The lowest-numbered goroutine involved, or none.
    g: GoroutineId,
    typ: StrId,
}

/// A time not (yet) known.
const NO_TIME: i64 = i64::MIN;

fn known(t: i64) -> Option<i64> {
    (t != NO_TIME).then_some(t)
}

/// Tasks in the order first met, with an index by ID. A program that
/// makes a task per request has millions: each is a [`TaskRec`], and the
/// index holds only its place (the ID is read from the record).
#[derive(Debug, Default)]
pub(crate) struct TaskList {
    tasks: Vec<TaskRec>,
    index: HashTable<u32>,
    /// The other goroutines of tasks with more than one, by place, in
    /// order.
    more: FxHashMap<u32, Vec<GoroutineId>>,
}

fn hash(id: u64) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl TaskList {
    /// The place of task `id`, made empty the first time it is met.
    fn place(&mut self, id: u64) -> usize {
        let tasks = &self.tasks;
        if let Some(&i) = self.index.find(hash(id), |&i| tasks.get(i as usize).is_some_and(|t| t.id == id)) {
            return i as usize;
        }
        let i = self.tasks.len();
        let rec = TaskRec { id, parent: 0, start_ns: NO_TIME, end_ns: NO_TIME, g: GoroutineId::NONE, typ: StrId(0) };
        self.tasks.push(rec);
        let tasks = &self.tasks;
        self.index.insert_unique(hash(id), i as u32, |&j| hash(tasks.get(j as usize).map_or(0, |t| t.id)));
        i
    }

    /// The place of task `id`, if met.
    fn find(&self, id: u64) -> Option<usize> {
        let tasks = &self.tasks;
        self.index.find(hash(id), |&i| tasks.get(i as usize).is_some_and(|t| t.id == id)).map(|&i| i as usize)
    }

    /// Task `id` began at `at_ns` on goroutine `g`, with `parent` (0: none)
    /// and type `typ`.
    pub fn begin(&mut self, id: u64, at_ns: i64, parent: u64, typ: StrId, g: i64) {
        let i = self.place(id);
        if let Some(t) = self.tasks.get_mut(i) {
            (t.start_ns, t.parent, t.typ) = (at_ns, parent, typ);
        }
        self.involve(i, g);
    }

    /// Task `id` ended at `at_ns` on goroutine `g`.
    pub fn end(&mut self, id: u64, at_ns: i64, g: i64) {
        let i = self.place(id);
        if let Some(t) = self.tasks.get_mut(i) {
            t.end_ns = at_ns;
        }
        self.involve(i, g);
    }

    /// Goroutine `g` did something in task `id`, if that task was met.
    pub fn touch(&mut self, id: u64, g: i64) {
        if let Some(i) = self.find(id) {
            self.involve(i, g);
        }
    }

    /// Adds goroutine `g` (if any) to the task at place `i`.
    fn involve(&mut self, i: usize, g: i64) {
        let g = GoroutineId(g);
        let Some(t) = self.tasks.get_mut(i).filter(|_| g.is_some()) else { return };
        if !t.g.is_some() {
            t.g = g;
            return;
        }
        if t.g == g {
            return;
        }
        // The inline goroutine stays the lowest; the others are kept sorted.
        let other = if g < t.g { std::mem::replace(&mut t.g, g) } else { g };
        let more = self.more.entry(i as u32).or_default();
        if let Err(at) = more.binary_search(&other) {
            more.insert(at, other);
        }
    }

    /// The tasks, packed.
    pub fn into_table(self) -> TaskTable {
        let TaskList { tasks, index, mut more } = self;
        drop(index);
        let mut order: Vec<(u64, u32)> = tasks.iter().enumerate().map(|(i, t)| (t.id, i as u32)).collect();
        order.sort_unstable();
        TaskTable::from_sorted(order.into_iter().filter_map(|(_, i)| {
            let t = tasks.get(i as usize)?;
            let mut goroutines = Vec::new();
            if t.g.is_some() {
                goroutines.push(t.g);
            }
            goroutines.extend(more.remove(&i).unwrap_or_default());
            let (start_ns, end_ns) = (known(t.start_ns), known(t.end_ns));
            Some(Task { id: t.id, parent: t.parent, typ: t.typ, start_ns, end_ns, goroutines })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_come_out_by_id_once_each() {
        let mut list = TaskList::default();
        for id in [7, 3, 7, 9, 3] {
            list.begin(id, id as i64, 0, StrId(1), -1);
        }
        list.end(3, 30, 5);
        list.touch(4, 6);
        list.touch(9, 8);
        list.begin(9, 9, 7, StrId(2), 4);
        let tasks = list.into_table();
        type Row = (u64, u64, Option<i64>, Option<i64>, Vec<i64>);
        let got: Vec<Row> = tasks
            .iter()
            .map(|t| (t.id, t.parent, t.start_ns, t.end_ns, t.goroutines.iter().map(|g| g.0).collect()))
            .collect();
        assert_eq!(
            got,
            [(3, 0, Some(3), Some(30), vec![5]), (7, 0, Some(7), None, vec![]), (9, 7, Some(9), None, vec![4, 8])]
        );
    }

    /// A task's goroutines come out sorted and once each, however they
    /// come.
    #[test]
    fn a_tasks_goroutines_are_sorted_and_unique() {
        let mut list = TaskList::default();
        let gs = [5, 9, 2, 5, 7, 2, 1, 9, 11];
        list.begin(1, 0, 0, StrId(0), gs[0]);
        for g in gs {
            list.touch(1, g);
        }
        list.end(2, 5, 3);
        let tasks = list.into_table();
        let got: Vec<Vec<i64>> = tasks.iter().map(|t| t.goroutines.iter().map(|g| g.0).collect()).collect();
        assert_eq!(got, [vec![1, 2, 5, 7, 9, 11], vec![3]]);
    }

    /// Many tasks, as a service makes: each is found again by its ID.
    #[test]
    fn many_tasks_are_found_by_id() {
        let mut list = TaskList::default();
        let id = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for i in 0..100_000 {
            list.begin(id(i), i as i64, 0, StrId(0), 1);
        }
        for i in 0..100_000 {
            list.end(id(i), i as i64 + 1, 2);
        }
        let tasks = list.into_table();
        assert_eq!(tasks.len(), 100_000);
        assert!(tasks.iter().all(|t| t.end_ns == t.start_ns.map(|s| s + 1) && t.goroutines.len() == 2));
    }
}
