//! What a projection keeps between the batches of one runner: its [`Memory`] (the folded state
//! of the communities it has seen), the [`Budget`] a call may leave in it, and the per-community
//! [`Entries`] projections keep there.

use simpul_store::StoredEvent;

use super::MEMORY_CAPACITY;

/// What one projection keeps between the batches of one runner: the folded state of the
/// communities it has seen, so a batch does not read back and decode the rows the previous one
/// wrote.
///
/// The runner guarantees that the memory is exactly as current as the tables it writes: it is
/// emptied whenever a batch fails, and whenever the checkpoint found in the batch's transaction
/// is not the one the memory was left at (another runner wrote, or a rebuild was swapped in).
/// During a rebuild into shadow tables the runner may let the projection *defer* writes
/// ([`Memory::deferring`]); the last call of the rebuild never defers.
pub struct Memory {
    state: Option<Box<dyn std::any::Any + Send>>,
    pub(super) synced_at: Option<u64>,
    pub(super) budget: Budget,
}

impl Default for Memory {
    fn default() -> Self {
        Self {
            state: None,
            synced_at: None,
            budget: Budget {
                deferring: false,
                capacity: MEMORY_CAPACITY,
                complete: false,
            },
        }
    }
}

/// How much a projection may keep in [`Memory`] after a call.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Rows may stay unwritten (a rebuild into shadow tables).
    pub deferring: bool,
    /// Entries (communities, or pending rows) to hold at most before writing and starting over.
    pub capacity: usize,
    /// Memory has seen every event the tables hold (it started at position 0): a community it
    /// does not hold has no rows, so nothing needs to be read back.
    pub complete: bool,
}

impl Memory {
    /// The projection's state, created empty on first use.
    pub fn state<T: Default + Send + 'static>(&mut self) -> &mut T {
        let fresh = !self.state.as_ref().is_some_and(|state| state.is::<T>());
        if fresh {
            self.state = Some(Box::new(T::default()));
        }
        match self
            .state
            .as_mut()
            .and_then(|state| state.downcast_mut::<T>())
        {
            Some(state) => state,
            None => unreachable!("the state was just set to a T"),
        }
    }

    /// What this call may leave in memory.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    pub(super) fn clear(&mut self) {
        self.state = None;
        self.synced_at = None;
        self.budget.complete = false;
    }

    /// Called inside a batch's transaction with the checkpoint `from` found there: memory left
    /// at another position starts over (at 0 the tables hold nothing, so it is then complete).
    pub(super) fn align(&mut self, from: u64) {
        if self.synced_at != Some(from) {
            self.clear();
            self.budget.complete = from == 0;
        }
    }
}

/// Per-community entries held in [`Memory`], with the ones changed since they were last written.
pub struct Entries<E> {
    map: std::collections::HashMap<String, E>,
    dirty: std::collections::BTreeSet<String>,
    /// Memory was full once and started over: absent entries may have rows.
    evicted: bool,
}

impl<E> Default for Entries<E> {
    fn default() -> Self {
        Self {
            map: std::collections::HashMap::new(),
            dirty: std::collections::BTreeSet::new(),
            evicted: false,
        }
    }
}

impl<E> Entries<E> {
    /// The distinct communities of `events` not held in memory, sorted: the rows to load (none
    /// when memory is complete).
    pub fn missing(&self, events: &[StoredEvent], budget: Budget) -> Vec<String> {
        if budget.complete && !self.evicted {
            return Vec::new();
        }
        let mut ids: Vec<String> = events
            .iter()
            .filter(|e| !self.map.contains_key(&e.aggregate_id))
            .map(|e| e.aggregate_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Holds a row read from the tables (not dirty).
    pub fn loaded(&mut self, id: String, entry: E) {
        self.map.insert(id, entry);
    }

    /// The entry of `id` (created by `new` if absent), marked as changed.
    pub fn change(&mut self, id: &str, new: impl FnOnce() -> E) -> &mut E {
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_owned());
        }
        self.map.entry(id.to_owned()).or_insert_with(new)
    }

    /// The entry of `id` if held, marked as changed.
    pub fn change_existing(&mut self, id: &str) -> Option<&mut E> {
        let entry = self.map.get_mut(id)?;
        if !self.dirty.contains(id) {
            self.dirty.insert(id.to_owned());
        }
        Some(entry)
    }

    /// The entry of `id`, if held.
    pub fn get(&self, id: &str) -> Option<&E> {
        self.map.get(id)
    }

    /// The raw map (for projections whose entries are lookups, not rows).
    pub fn map_mut(&mut self) -> &mut std::collections::HashMap<String, E> {
        &mut self.map
    }

    /// Whether the changed entries must be written now: always unless deferring, and when
    /// deferring once memory is full.
    pub fn must_write(&self, budget: Budget) -> bool {
        !budget.deferring || self.map.len() > budget.capacity
    }

    /// The changed entries, sorted by community id.
    pub fn changed(&self) -> impl Iterator<Item = (&String, &E)> {
        self.dirty
            .iter()
            .filter_map(|id| self.map.get(id).map(|entry| (id, entry)))
    }

    /// After the changed entries were written: none is changed any more, and a full memory
    /// starts over.
    pub fn written(&mut self, budget: Budget) {
        self.dirty.clear();
        if self.map.len() > budget.capacity {
            self.map.clear();
            self.evicted = true;
        }
    }
}
