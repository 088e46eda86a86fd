//! User tasks, stored compactly.
//!
//! A service that makes a task per request has millions: as [`Task`]s
//! (80 bytes and a goroutine list each) they took several times the bytes
//! their events take in the trace. Here they sit by ID in blocks of up to
//! [`BLOCK`], every field a varint delta from the task before (about 12
//! bytes a task); a block is decoded when one of its tasks is asked for.
//!
//! ```
//! use timeline::{StrId, Task, TaskTable};
//! use trace_core::GoroutineId;
//!
//! let task = |id, start_ns| Task {
//!     id, parent: 0, typ: StrId(1), start_ns: Some(start_ns), end_ns: None, goroutines: vec![GoroutineId(5)],
//! };
//! let table = TaskTable::from_tasks(vec![task(9, 300), task(4, 100)]);
//! assert_eq!(table.get(0).map(|t| t.id), Some(4));
//! assert_eq!(table.find(9).and_then(|t| t.start_ns), Some(300));
//! assert!(table.find(5).is_none());
//! ```

use trace_core::GoroutineId;

use crate::model::Task;
use crate::strings::StrId;
use crate::varint::{read_uvarint, unzigzag, write_uvarint, zigzag};

/// Tasks per block.
pub const BLOCK: usize = 64;

/// A block's first task ID and where its bytes are.
#[derive(Clone, Copy, Debug)]
struct Block {
    first_id: u64,
    byte_start: u64,
}

/// All user tasks of a trace, sorted by ID.
#[derive(Clone, Default)]
pub struct TaskTable {
    blocks: Vec<Block>,
    bytes: Vec<u8>,
    len: usize,
}

impl std::fmt::Debug for TaskTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Task> for TaskTable {
    fn from_iter<I: IntoIterator<Item = Task>>(tasks: I) -> TaskTable {
        TaskTable::from_tasks(tasks.into_iter().collect())
    }
}

/// What a task is encoded against: the task before it in its block.
#[derive(Clone, Copy, Default)]
struct Prev {
    id: u64,
    time_ns: i64,
    g: i64,
}

const HAS_START: u64 = 1;
const HAS_END: u64 = 2;
const HAS_PARENT: u64 = 4;

fn encode(out: &mut Vec<u8>, prev: &mut Prev, t: &Task) {
    let flag = |on: bool, bit: u64| if on { bit } else { 0 };
    let flags =
        flag(t.start_ns.is_some(), HAS_START) | flag(t.end_ns.is_some(), HAS_END) | flag(t.parent != 0, HAS_PARENT);
    write_uvarint(out, flags);
    write_uvarint(out, t.id.wrapping_sub(prev.id));
    if t.parent != 0 {
        write_uvarint(out, zigzag(t.id.wrapping_sub(t.parent) as i64));
    }
    write_uvarint(out, u64::from(t.typ.0));
    let mut time_ns = prev.time_ns;
    for at in [t.start_ns, t.end_ns].into_iter().flatten() {
        write_uvarint(out, zigzag(at.wrapping_sub(time_ns)));
        time_ns = at;
    }
    write_uvarint(out, t.goroutines.len() as u64);
    let mut g = prev.g;
    for &id in &t.goroutines {
        write_uvarint(out, zigzag(id.0.wrapping_sub(g)));
        g = id.0;
    }
    let first_g = t.goroutines.first().map_or(prev.g, |g| g.0);
    *prev = Prev { id: t.id, time_ns: t.start_ns.unwrap_or(prev.time_ns), g: first_g };
}

fn decode(bytes: &mut &[u8], prev: &mut Prev) -> Task {
    let flags = read_uvarint(bytes);
    let id = prev.id.wrapping_add(read_uvarint(bytes));
    let parent = if flags & HAS_PARENT != 0 { id.wrapping_sub(unzigzag(read_uvarint(bytes)) as u64) } else { 0 };
    let typ = StrId(read_uvarint(bytes) as u32);
    let mut time_ns = prev.time_ns;
    let mut read_time = |present: bool, bytes: &mut &[u8]| {
        present.then(|| {
            time_ns = time_ns.wrapping_add(unzigzag(read_uvarint(bytes)));
            time_ns
        })
    };
    let start_ns = read_time(flags & HAS_START != 0, bytes);
    let end_ns = read_time(flags & HAS_END != 0, bytes);
    // A count no block could hold is damage: read none rather than allocate.
    let n = read_uvarint(bytes).min(bytes.len() as u64) as usize;
    let mut goroutines = Vec::with_capacity(n);
    let mut g = prev.g;
    for _ in 0..n {
        g = g.wrapping_add(unzigzag(read_uvarint(bytes)));
        goroutines.push(GoroutineId(g));
    }
    let first_g = goroutines.first().map_or(prev.g, |g| g.0);
    *prev = Prev { id, time_ns: start_ns.unwrap_or(prev.time_ns), g: first_g };
    Task { id, parent, typ, start_ns, end_ns, goroutines }
}

impl TaskTable {
    /// The table of `tasks` (in any order; IDs should be unique).
    pub fn from_tasks(mut tasks: Vec<Task>) -> TaskTable {
        tasks.sort_by_key(|t| t.id);
        TaskTable::from_sorted(tasks)
    }

    /// The table of `tasks`, which come by ID.
    pub(crate) fn from_sorted(tasks: impl IntoIterator<Item = Task>) -> TaskTable {
        let mut table = TaskTable::default();
        let mut prev = Prev::default();
        for t in tasks {
            if table.len % BLOCK == 0 {
                table.blocks.push(Block { first_id: t.id, byte_start: table.bytes.len() as u64 });
                prev = Prev::default();
            }
            encode(&mut table.bytes, &mut prev, &t);
            table.len += 1;
        }
        table.blocks.shrink_to_fit();
        table.bytes.shrink_to_fit();
        table
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.blocks.capacity() * std::mem::size_of::<Block>() + self.bytes.capacity()
    }

    /// Task `i` (by ID order).
    pub fn get(&self, i: usize) -> Option<Task> {
        self.starting_at_block(i / BLOCK).nth(i % BLOCK)
    }

    /// The task with this ID.
    pub fn find(&self, id: u64) -> Option<Task> {
        let b = self.blocks.partition_point(|b| b.first_id <= id).checked_sub(1)?;
        self.starting_at_block(b).take_while(|t| t.id <= id).find(|t| t.id == id)
    }

    /// The index of the task with this ID.
    pub fn index_of(&self, id: u64) -> Option<usize> {
        let b = self.blocks.partition_point(|b| b.first_id <= id).checked_sub(1)?;
        let at = self.starting_at_block(b).take_while(|t| t.id <= id).position(|t| t.id == id)?;
        Some(b * BLOCK + at)
    }

    /// Every task, by ID.
    pub fn iter(&self) -> TaskIter<'_> {
        self.starting_at_block(0)
    }

    fn starting_at_block(&self, b: usize) -> TaskIter<'_> {
        TaskIter { table: self, block: b, bytes: &[], left: 0, prev: Prev::default() }
    }
}

/// Tasks decoded block by block ([`TaskTable::iter`]).
pub struct TaskIter<'t> {
    table: &'t TaskTable,
    /// The next block to open.
    block: usize,
    bytes: &'t [u8],
    left: usize,
    prev: Prev,
}

impl Iterator for TaskIter<'_> {
    type Item = Task;

    fn next(&mut self) -> Option<Task> {
        while self.left == 0 {
            let t = self.table;
            let b = t.blocks.get(self.block)?;
            let end_byte = t.blocks.get(self.block + 1).map_or(t.bytes.len(), |n| n.byte_start as usize);
            self.bytes = t.bytes.get(b.byte_start as usize..end_byte).unwrap_or_default();
            self.left = t.len.saturating_sub(self.block * BLOCK).min(BLOCK);
            self.prev = Prev::default();
            self.block += 1;
        }
        self.left -= 1;
        Some(decode(&mut self.bytes, &mut self.prev))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> Vec<Task> {
        let mut out: Vec<Task> = (0..300u64)
            .map(|i| Task {
                id: 10 + i * 3,
                parent: if i % 4 == 0 { 0 } else { 10 + (i / 2) * 3 },
                typ: StrId((i % 7) as u32),
                start_ns: (i % 5 != 0).then_some(1_000 + i as i64 * 977),
                end_ns: (i % 6 != 0).then_some(90_000 - i as i64 * 13),
                goroutines: (0..(i % 4)).map(|k| GoroutineId(100 + (i * 31 % 50 + k * 7) as i64)).collect(),
            })
            .collect();
        out.push(Task {
            id: u64::MAX,
            parent: u64::MAX - 1,
            typ: StrId(u32::MAX),
            start_ns: Some(i64::MIN),
            end_ns: Some(i64::MAX),
            goroutines: vec![GoroutineId(i64::MAX), GoroutineId(i64::MIN), GoroutineId(0)],
        });
        out.reverse();
        out
    }

    #[test]
    fn every_task_comes_back_whole_by_index_and_by_id() {
        let mut want = tasks();
        want.sort_by_key(|t| t.id);
        let table = TaskTable::from_tasks(tasks());
        assert_eq!(table.len(), want.len());
        assert_eq!(table.iter().collect::<Vec<_>>(), want);
        for i in [0, 1, BLOCK - 1, BLOCK, 200, want.len() - 1] {
            assert_eq!(table.get(i).as_ref(), want.get(i), "task {i}");
            let id = want.get(i).map_or(0, |t| t.id);
            assert_eq!(table.find(id).as_ref(), want.get(i), "task {id}");
            assert_eq!(table.index_of(id), Some(i));
        }
        assert_eq!(table.get(want.len()), None);
        for missing in [0, 11, 12, 10 + 300 * 3] {
            assert_eq!(table.find(missing), None, "{missing}");
            assert_eq!(table.index_of(missing), None);
        }
        assert!(table.heap_bytes() < want.len() * 24, "{} bytes", table.heap_bytes());
    }

    #[test]
    fn an_empty_table_has_nothing() {
        let table = TaskTable::default();
        assert!(table.is_empty() && table.get(0).is_none() && table.find(1).is_none() && table.iter().next().is_none());
    }
}
