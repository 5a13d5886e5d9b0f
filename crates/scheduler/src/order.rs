//! An ordered set of nodes that skips, in one step, every run of nodes
//! without room for a demand: a treap keyed by the node's [`Key`], each
//! subtree knowing the most free CPU and the most free memory among its
//! nodes.
//!
//! Bin-packing fills the nodes at the head of the order first, so a plain
//! walk from the best node passes every node already too full for the
//! demand (on 5,000 nodes, ~290 per placement near the end of the benchmark
//! run, 95% of them short of CPU); here a subtree whose nodes all lack CPU,
//! or all lack memory, is never entered.

use std::ops::ControlFlow;

use crate::shape::Key;

/// Free CPU (millicores) and free memory (bytes) on a node; `u64::MAX` for an
/// unknown capacity (unlimited).
pub(crate) type Room = (u64, u64);

const NIL: u32 = u32::MAX;

struct Slot {
    key: Key,
    room: Room,
    /// Heap order (highest at the root), drawn from the key's position: the
    /// tree's shape never changes which node is found.
    priority: u64,
    left: u32,
    right: u32,
    /// The most free CPU and the most free memory in the subtree (maybe on
    /// different nodes).
    most: Room,
}

/// Nodes by [`Key`], lowest first.
pub(crate) struct Order {
    slots: Vec<Slot>,
    /// Slots of removed nodes, to reuse.
    free: Vec<u32>,
    root: u32,
    len: usize,
}

/// A well-mixed priority for a position (SplitMix64's finaliser).
fn priority(position: usize) -> u64 {
    let mut z = (position as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fits(room: Room, need: Room) -> bool {
    room.0 >= need.0 && room.1 >= need.1
}

impl Order {
    pub(crate) fn new() -> Self {
        Order {
            slots: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds a node (its key is not in the set yet).
    pub(crate) fn insert(&mut self, key: Key, room: Room) {
        let slot = Slot {
            key,
            room,
            priority: priority(key.2),
            left: NIL,
            right: NIL,
            most: room,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                // Fewer nodes than u32::MAX: a snapshot holds at most a few
                // thousand nodes.
                let id = u32::try_from(self.slots.len()).unwrap_or(NIL - 1);
                self.slots.push(slot);
                id
            }
        };
        self.root = self.insert_at(self.root, id);
        self.len += 1;
    }

    /// Removes the node with `key`, if there.
    pub(crate) fn remove(&mut self, key: Key) {
        let mut removed = false;
        self.root = self.remove_at(self.root, key, &mut removed);
        if removed {
            self.len -= 1;
        }
    }

    /// Calls `visit` on every node with at least `need` room, in key order,
    /// until it breaks.
    pub(crate) fn walk(&self, need: Room, visit: &mut impl FnMut(Key) -> ControlFlow<()>) {
        let _ = self.walk_at(self.root, need, visit);
    }

    fn walk_at(
        &self,
        id: u32,
        need: Room,
        visit: &mut impl FnMut(Key) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some(slot) = self.slots.get(id as usize) else {
            return ControlFlow::Continue(());
        };
        if !fits(slot.most, need) {
            return ControlFlow::Continue(());
        }
        self.walk_at(slot.left, need, visit)?;
        if fits(slot.room, need) {
            visit(slot.key)?;
        }
        self.walk_at(slot.right, need, visit)
    }

    fn most(&self, id: u32) -> Room {
        self.slots.get(id as usize).map_or((0, 0), |slot| slot.most)
    }

    /// Recomputes `most` of `id` from its children.
    fn pull(&mut self, id: u32) {
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let (left, right) = (self.most(slot.left), self.most(slot.right));
        let room = slot.room;
        let most = (
            room.0.max(left.0).max(right.0),
            room.1.max(left.1).max(right.1),
        );
        self.slots[id as usize].most = most;
    }

    fn key(&self, id: u32) -> Option<Key> {
        self.slots.get(id as usize).map(|slot| slot.key)
    }

    /// Splits the subtree at `id` into the keys below `key` and the others.
    fn split(&mut self, id: u32, key: Key) -> (u32, u32) {
        let Some(here) = self.key(id) else {
            return (NIL, NIL);
        };
        let slot = id as usize;
        if here < key {
            let (low, high) = self.split(self.slots[slot].right, key);
            self.slots[slot].right = low;
            self.pull(id);
            (id, high)
        } else {
            let (low, high) = self.split(self.slots[slot].left, key);
            self.slots[slot].left = high;
            self.pull(id);
            (low, id)
        }
    }

    /// Joins two subtrees, every key of `low` below every key of `high`.
    fn merge(&mut self, low: u32, high: u32) -> u32 {
        let (Some(a), Some(b)) = (self.slots.get(low as usize), self.slots.get(high as usize))
        else {
            return if low == NIL { high } else { low };
        };
        if a.priority > b.priority {
            let right = self.merge(a.right, high);
            self.slots[low as usize].right = right;
            self.pull(low);
            low
        } else {
            let left = self.merge(low, b.left);
            self.slots[high as usize].left = left;
            self.pull(high);
            high
        }
    }

    fn insert_at(&mut self, id: u32, new: u32) -> u32 {
        let (Some(here), Some(added)) = (self.slots.get(id as usize), self.slots.get(new as usize))
        else {
            return new;
        };
        let key = added.key;
        if added.priority > here.priority {
            let (low, high) = self.split(id, key);
            let slot = &mut self.slots[new as usize];
            slot.left = low;
            slot.right = high;
            self.pull(new);
            return new;
        }
        let slot = id as usize;
        if key < here.key {
            let left = self.insert_at(self.slots[slot].left, new);
            self.slots[slot].left = left;
        } else {
            let right = self.insert_at(self.slots[slot].right, new);
            self.slots[slot].right = right;
        }
        self.pull(id);
        id
    }

    fn remove_at(&mut self, id: u32, key: Key, removed: &mut bool) -> u32 {
        let Some(here) = self.slots.get(id as usize) else {
            return NIL;
        };
        let (left, right) = (here.left, here.right);
        if here.key == key {
            *removed = true;
            self.free.push(id);
            return self.merge(left, right);
        }
        if key < here.key {
            let left = self.remove_at(left, key, removed);
            self.slots[id as usize].left = left;
        } else {
            let right = self.remove_at(right, key, removed);
            self.slots[id as usize].right = right;
        }
        self.pull(id);
        id
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::ControlFlow;

    use super::{Order, Room};
    use crate::shape::Key;

    /// The keys with at least `need` room, in order, by walking.
    fn walked(order: &Order, need: Room) -> Vec<Key> {
        let mut keys = Vec::new();
        order.walk(need, &mut |key| {
            keys.push(key);
            ControlFlow::Continue(())
        });
        keys
    }

    #[test]
    fn walks_in_key_order_skipping_nodes_without_room_like_a_sorted_filter() {
        // A seeded sequence of inserts, moves and removals, checked against a
        // BTreeMap after every step.
        let mut state = 7u64;
        let mut below = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        let mut order = Order::new();
        let mut model: BTreeMap<Key, Room> = BTreeMap::new();
        let mut keys: Vec<Option<Key>> = vec![None; 200];
        for step in 0..4000 {
            let position = below(200) as usize;
            if let Some(old) = keys[position].take() {
                order.remove(old);
                model.remove(&old);
            }
            if below(5) != 0 {
                let key = (below(20), below(3), position);
                let room = (
                    below(8) * 100,
                    if below(6) == 0 { u64::MAX } else { below(8) },
                );
                order.insert(key, room);
                model.insert(key, room);
                keys[position] = Some(key);
            }
            assert_eq!(order.len(), model.len());
            let need = (below(8) * 100, below(8));
            let expected: Vec<Key> = model
                .iter()
                .filter(|(_, room)| room.0 >= need.0 && room.1 >= need.1)
                .map(|(key, _)| *key)
                .collect();
            assert_eq!(walked(&order, need), expected, "step {step}");
        }
    }

    #[test]
    fn a_walk_stops_when_the_visitor_breaks() {
        let mut order = Order::new();
        for position in 0..10 {
            order.insert((10 - position as u64, 0, position), (100, 100));
        }
        let mut seen = Vec::new();
        order.walk((0, 0), &mut |key| {
            seen.push(key.2);
            if seen.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, [9, 8, 7]);
    }
}
