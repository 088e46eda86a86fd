//! The user tasks met while merging, by ID.

use rustc_hash::FxHashMap;

use crate::model::Task;
use crate::strings::StrId;
use crate::tasktable::TaskTable;

/// Tasks in the order first met, with an index by ID: a program that
/// makes a task per request has millions, and a hash map of whole
/// [`Task`]s held them twice while it grew, then again while drained
/// into the sorted list.
#[derive(Debug, Default)]
pub(crate) struct TaskList {
    tasks: Vec<Task>,
    index: FxHashMap<u64, u32>,
}

impl TaskList {
    /// Task `id`, made empty the first time it is met (always some).
    pub fn entry(&mut self, id: u64) -> Option<&mut Task> {
        let next = self.tasks.len() as u32;
        let i = *self.index.entry(id).or_insert(next);
        if i == next {
            self.tasks.push(Task {
                id,
                parent: 0,
                typ: StrId(0),
                start_ns: None,
                end_ns: None,
                goroutines: Vec::new(),
            });
        }
        self.tasks.get_mut(i as usize)
    }

    /// Task `id`, if met.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Task> {
        let &i = self.index.get(&id)?;
        self.tasks.get_mut(i as usize)
    }

    /// The tasks, packed.
    pub fn into_table(self) -> TaskTable {
        let TaskList { tasks, index } = self;
        drop(index);
        TaskTable::from_tasks(tasks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_come_out_by_id_once_each() {
        let mut list = TaskList::default();
        for id in [7, 3, 7, 9, 3] {
            assert!(list.entry(id).map(|t| t.start_ns = Some(id as i64)).is_some());
        }
        assert!(list.entry(3).map(|t| t.end_ns = Some(30)).is_some());
        assert!(list.get_mut(4).is_none());
        if let Some(t) = list.get_mut(9) {
            t.parent = 7;
        }
        let tasks = list.into_table();
        let got: Vec<(u64, u64, Option<i64>)> = tasks.iter().map(|t| (t.id, t.parent, t.end_ns)).collect();
        assert_eq!(got, [(3, 0, Some(30)), (7, 0, None), (9, 7, None)]);
    }
}
