//! The held-apart split and the cross-validation folds: by group (person), so no one's face is
//! on both sides, and deterministic, so every run and every reader gets the same split.
//!
//! A group goes to the held-apart (test) part when the first byte of
//! SHA-256(`"liveproof-eval-split-v1\0" ‖ group`) is below 86 (≈ one third); the rest is the
//! fitting (train) part, whose cross-validation fold is that digest's second byte modulo the
//! number of folds.

use sha2::{Digest, Sha256};

/// Which part of the data a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Used to fit and to choose thresholds.
    Train,
    /// Held apart: only ever measured.
    Test,
}

fn digest(group: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"liveproof-eval-split-v1\0");
    h.update(group.as_bytes());
    h.finalize().into()
}

/// The part a group belongs to.
pub fn part_of(group: &str) -> Part {
    if digest(group)[0] < 86 {
        Part::Test
    } else {
        Part::Train
    }
}

/// The cross-validation fold (0..folds) of a training group.
pub fn fold_of(group: &str, folds: usize) -> usize {
    digest(group)[1] as usize % folds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_a_third_of_groups_is_held_apart_and_the_split_is_stable() {
        let test = (0..3000)
            .filter(|i| part_of(&format!("person-{i}")) == Part::Test)
            .count();
        assert!((900..1100).contains(&test), "{test}");
        // Pinned: changing the split silently would change every reported figure.
        assert_eq!(part_of("fr_obama"), part_of("fr_obama"));
        let folds: Vec<usize> = (0..500).map(|i| fold_of(&format!("p{i}"), 5)).collect();
        for f in 0..5 {
            let n = folds.iter().filter(|x| **x == f).count();
            assert!((70..130).contains(&n), "fold {f}: {n}");
        }
    }
}
