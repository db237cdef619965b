//! A bounded memory of recent ids: what a long-running process keeps to
//! recognise a repeat (a redelivered intent, a replayed fill) without holding
//! every id it ever saw. The store is the lasting record; this only answers
//! "seen lately?" for the newest `capacity` ids, oldest forgotten first.

use std::collections::{BTreeMap, VecDeque};

use neo_domain::MessageId;

/// How many ids the engine's recent-id memories hold (about 5 MB each when full).
pub(crate) const RECENT_IDS: usize = 65_536;

/// The newest `capacity` ids, each with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recent<V> {
    map: BTreeMap<MessageId, V>,
    order: VecDeque<MessageId>,
    capacity: usize,
}

impl<V> Recent<V> {
    /// An empty memory of at most `capacity` ids (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Recent {
            map: BTreeMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The value kept for `id`, if it is still remembered.
    pub(crate) fn get(&self, id: &MessageId) -> Option<&V> {
        self.map.get(id)
    }

    /// Whether `id` is still remembered.
    pub(crate) fn contains(&self, id: &MessageId) -> bool {
        self.map.contains_key(id)
    }

    /// Remembers `id` (a known id keeps its place and takes the new value),
    /// forgetting the oldest when full.
    pub(crate) fn insert(&mut self, id: MessageId, value: V) {
        if self.map.insert(id, value).is_some() {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    /// Ids remembered now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent::new(RECENT_IDS)
    }
}

#[cfg(test)]
mod tests {
    use neo_domain::IdKind;

    use super::*;

    fn id(n: u32) -> MessageId {
        MessageId::derived(IdKind::Other, &n.to_string())
    }

    #[test]
    fn the_oldest_is_forgotten_first_and_a_repeat_keeps_its_place() {
        let mut r = Recent::new(3);
        for n in 0..3 {
            r.insert(id(n), n);
        }
        r.insert(id(0), 10);
        assert_eq!((r.len(), r.get(&id(0))), (3, Some(&10)));
        r.insert(id(3), 3);
        assert!(!r.contains(&id(0)), "the oldest goes first");
        assert!(r.contains(&id(1)) && r.contains(&id(3)));
        for n in 4..1000 {
            r.insert(id(n), n);
        }
        assert_eq!(r.len(), 3);
    }
}
