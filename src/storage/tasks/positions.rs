//! An order-statistic index over task ids, so `GET /tasks?skip=N` finds its first task in
//! O(log n) instead of walking N entries of the ordered map.
//!
//! `skip` counts *present* tasks in id order, and ids have holes after deletes, so the k-th task
//! is not the id k + 1 and a `BTreeMap` range alone cannot find it. Ids only ever grow (they are
//! handed out by a counter and never reused), which makes a dense structure over id slots cheap:
//! one presence bit per id ever issued, in 64-bit words, and a Fenwick tree (binary indexed tree)
//! of per-word counts. Selecting the k-th present id descends the tree in O(log(ids / 64)) and
//! finishes inside one word; inserting or removing an id is O(log(ids / 64)).
//!
//! Memory is proportional to the highest id issued, not to the tasks alive: 1 bit + 4/64 bytes
//! per id slot, about 0.19 bytes, i.e. about 190 KB for a million ids.

/// Bits per presence word.
const WORD_BITS: u64 = 64;

/// Which ids are present, with a count per word for O(log n) rank/select.
#[derive(Debug, Default, Clone)]
pub(crate) struct Positions {
    /// Bit `id % 64` of `words[id / 64]` is set when the task `id` exists.
    words: Vec<u64>,
    /// Fenwick tree over the popcounts of `words`: `tree[i]` (1-based) holds the sum of the
    /// counts of words `i - lowbit(i) .. i` (0-based, half-open). `tree[0]` is unused.
    tree: Vec<u32>,
    /// Present ids, so `select` can answer "past the end" without descending.
    len: u64,
}

impl Positions {
    /// How many ids are present.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Marks `id` present; a no-op when it already is. Grows the index to cover `id`.
    pub(crate) fn insert(&mut self, id: u64) {
        let word = self.grow_to(id);
        let bit = 1u64 << (id % WORD_BITS);
        if self.words[word] & bit == 0 {
            self.words[word] |= bit;
            self.len += 1;
            self.add(word, 1);
        }
    }

    /// Marks `id` absent; a no-op when it is not present.
    pub(crate) fn remove(&mut self, id: u64) {
        let Some(word) = word_index(id).filter(|&word| word < self.words.len()) else {
            return;
        };
        let bit = 1u64 << (id % WORD_BITS);
        if self.words[word] & bit != 0 {
            self.words[word] &= !bit;
            self.len -= 1;
            self.add(word, -1);
        }
    }

    /// The present id that has exactly `k` present ids below it (the `k`-th, counting from 0),
    /// or `None` when fewer than `k + 1` ids are present.
    pub(crate) fn select(&self, k: u64) -> Option<u64> {
        if k >= self.len {
            return None;
        }
        // Fenwick descent: find the longest prefix of words whose total count is <= k.
        let mut remaining = k;
        let mut position = 0usize;
        let mut step = (self.words.len() + 1).next_power_of_two();
        while step > 0 {
            let next = position + step;
            if next < self.tree.len() && u64::from(self.tree[next]) <= remaining {
                position = next;
                remaining -= u64::from(self.tree[next]);
            }
            step /= 2;
        }
        // `position` words hold at most k ids, so the answer is in word `position`.
        let bit = nth_set_bit(self.words[position], remaining);
        Some(position as u64 * WORD_BITS + u64::from(bit))
    }

    /// Makes sure the word holding `id` exists and returns its index.
    fn grow_to(&mut self, id: u64) -> usize {
        let word = word_index(id).expect("ids fit in memory: they are handed out one by one");
        if self.tree.is_empty() {
            self.tree.push(0);
        }
        while self.words.len() <= word {
            // Appending the Fenwick node i = len + 1 (1-based): it covers the words
            // (i - lowbit(i), i], all present except the new, empty one, so its value is a
            // difference of two prefix sums.
            let node = self.words.len() + 1;
            let covered = self.prefix(node - 1) - self.prefix(node - lowbit(node));
            self.words.push(0);
            self.tree.push(covered);
        }
        word
    }

    /// Adds `delta` to the count of word `word` (0-based).
    fn add(&mut self, word: usize, delta: i32) {
        let mut node = word + 1;
        while node < self.tree.len() {
            self.tree[node] = self.tree[node].wrapping_add_signed(delta);
            node += lowbit(node);
        }
    }

    /// Present ids in the first `words` words.
    fn prefix(&self, words: usize) -> u32 {
        let mut node = words;
        let mut sum = 0;
        while node > 0 {
            sum += self.tree[node];
            node -= lowbit(node);
        }
        sum
    }
}

fn word_index(id: u64) -> Option<usize> {
    usize::try_from(id / WORD_BITS).ok()
}

fn lowbit(node: usize) -> usize {
    node & node.wrapping_neg()
}

/// The position of the `n`-th (from 0) set bit of `word`; `n` is less than its popcount.
fn nth_set_bit(mut word: u64, n: u64) -> u32 {
    for _ in 0..n {
        word &= word - 1;
    }
    word.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn empty_index_selects_nothing() {
        let positions = Positions::default();
        assert_eq!(positions.select(0), None);
        assert_eq!(positions.len(), 0);
    }

    #[test]
    fn select_skips_holes_left_by_deletes() {
        let mut positions = Positions::default();
        for id in 1..=10 {
            positions.insert(id);
        }
        positions.remove(3);
        positions.remove(4);
        positions.remove(10);
        let all: Vec<_> = (0..8).map(|k| positions.select(k)).collect();
        let expected = [1, 2, 5, 6, 7, 8, 9].map(Some);
        assert_eq!(all[..7], expected);
        assert_eq!(all[7], None);
    }

    #[test]
    fn insert_and_remove_are_idempotent() {
        let mut positions = Positions::default();
        positions.insert(70);
        positions.insert(70);
        assert_eq!(positions.len(), 1);
        positions.remove(70);
        positions.remove(70);
        positions.remove(1_000_000);
        assert_eq!(positions.len(), 0);
        assert_eq!(positions.select(0), None);
    }

    #[test]
    fn growing_keeps_earlier_counts() {
        // Ids far apart make the index append many empty words between two inserts, which is
        // where the appended Fenwick nodes must pick up the counts of the words they cover.
        let mut positions = Positions::default();
        for id in [1, 63, 64, 65, 127, 128, 5_000, 5_001, 70_000] {
            positions.insert(id);
        }
        let selected: Vec<_> = (0..9).filter_map(|k| positions.select(k)).collect();
        assert_eq!(selected, [1, 63, 64, 65, 127, 128, 5_000, 5_001, 70_000]);
    }

    /// The store's unfiltered page (indexed) agrees with its filtered walk when the filter
    /// matches everything (`done=false` here), across holes left by deletes.
    #[test]
    fn store_pages_agree_with_the_walk() {
        use crate::model::{NewTask, Priority};
        use crate::storage::{memory, ListQuery};
        let store = memory::new();
        for n in 0..300 {
            let new = NewTask {
                title: format!("task {n}"),
                priority: Priority::Medium,
                done: false,
            };
            let id = store.create(new).unwrap().id;
            if id.is_multiple_of(3) || id.is_multiple_of(7) {
                store.delete(id).unwrap();
            }
        }
        for (skip, limit) in [(0, 100), (1, 1), (57, 10), (150, 1000), (171, 5), (172, 5)] {
            let indexed = ListQuery {
                done: None,
                priority: None,
                skip,
                limit,
            };
            let walked = ListQuery {
                done: Some(false),
                ..indexed
            };
            assert_eq!(
                store.list_page(&indexed).tasks,
                store.list_page(&walked).tasks,
                "skip={skip}"
            );
        }
        let past_the_end = ListQuery {
            done: None,
            priority: None,
            skip: u64::MAX,
            limit: 10,
        };
        assert!(store.list_page(&past_the_end).tasks.is_empty());
    }

    #[test]
    fn matches_a_naive_walk_under_random_changes() {
        // A small xorshift generator: deterministic, no dependency.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut positions = Positions::default();
        let mut reference = BTreeSet::new();
        let mut next_id = 1;
        for round in 0..20_000 {
            if next() % 3 == 0 && !reference.is_empty() {
                let k = next() % reference.len() as u64;
                let id = *reference.iter().nth(k as usize).unwrap();
                reference.remove(&id);
                positions.remove(id);
            } else {
                // Ids only grow, sometimes by a jump (a refused create consumes none, but the
                // durable store may replay a journal whose tasks were mostly deleted).
                next_id += 1 + next() % 3 * (next() % 100);
                reference.insert(next_id);
                positions.insert(next_id);
            }
            if round % 97 == 0 {
                assert_eq!(positions.len(), reference.len() as u64);
                for (k, &id) in (0u64..).zip(&reference) {
                    assert_eq!(positions.select(k), Some(id), "k={k}");
                }
                assert_eq!(positions.select(reference.len() as u64), None);
            }
        }
    }
}
