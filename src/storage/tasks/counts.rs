//! How many tasks there are per `done` × `priority`, so the list's `X-Total-Count` (CONTRACT
//! §11) is a sum of at most six numbers whatever the filter, instead of a walk over every task.
//! `State::apply` keeps it in step with the tasks: live changes, journal replays and snapshots
//! all go through it.

use crate::model::Priority;

const PRIORITIES: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

/// Tasks per (`done`, `priority`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// `cells[done as usize][priority index]`.
    cells: [[u64; 3]; 2],
}

impl Counts {
    /// One more task with these fields.
    pub(crate) fn add(&mut self, done: bool, priority: Priority) {
        self.cells[usize::from(done)][index(priority)] += 1;
    }

    /// One task fewer with these fields. Never panics (it runs in the middle of `apply`, see
    /// the store's doc on poisoning); the tests check that counts match the tasks.
    pub(crate) fn remove(&mut self, done: bool, priority: Priority) {
        let cell = &mut self.cells[usize::from(done)][index(priority)];
        debug_assert!(
            *cell > 0,
            "a task being removed was counted when it was added"
        );
        *cell = cell.saturating_sub(1);
    }

    /// Tasks matching the filters (`None`: any value).
    pub(crate) fn matching(&self, done: Option<bool>, priority: Option<Priority>) -> u64 {
        let dones: &[bool] = match done {
            Some(true) => &[true],
            Some(false) => &[false],
            None => &[false, true],
        };
        let priorities = priority
            .as_ref()
            .map_or(&PRIORITIES[..], std::slice::from_ref);
        let mut total = 0;
        for &done in dones {
            for &priority in priorities {
                total += self.cells[usize::from(done)][index(priority)];
            }
        }
        total
    }
}

fn index(priority: Priority) -> usize {
    match priority {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_matching_cells() {
        let mut counts = Counts::default();
        counts.add(true, Priority::High);
        counts.add(true, Priority::High);
        counts.add(false, Priority::High);
        counts.add(false, Priority::Low);
        counts.remove(true, Priority::High);
        assert_eq!(counts.matching(None, None), 3);
        assert_eq!(counts.matching(Some(true), None), 1);
        assert_eq!(counts.matching(Some(false), None), 2);
        assert_eq!(counts.matching(None, Some(Priority::High)), 2);
        assert_eq!(counts.matching(Some(false), Some(Priority::Low)), 1);
        assert_eq!(counts.matching(Some(true), Some(Priority::Medium)), 0);
    }
}
