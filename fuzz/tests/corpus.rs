//! Replays the committed corpora without libFuzzer: every harness of every target over every
//! file of `corpus/<target>/` and `regressions/<target>/` (crash reproducers kept after their
//! fix). A missing or empty corpus fails, as does a missing model directory (the batch and
//! engine-backed request harnesses load the models). The seeds (`seed-*`, written by
//! `examples/make_seeds.rs`) must also be accepted by the fuzzed harness: a seed the product
//! refuses at its first check would leave the fuzzer nothing to start from.
//!
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features --locked`

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use liveproof_fuzz::TARGETS;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `dir`, sorted; `None` when it does not exist.
fn files(dir: &Path) -> Option<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file() && !is_hidden(p))
        .collect();
    files.sort();
    Some(files)
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn is_seed(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
}

fn replay(target: &str) {
    let harnesses = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, h)| *h)
        .unwrap_or_else(|| panic!("no target {target}"));
    let corpus = root().join("corpus").join(target);
    let mut inputs = files(&corpus)
        .unwrap_or_else(|| panic!("{} is missing: the corpus is committed", corpus.display()));
    assert!(!inputs.is_empty(), "{} is empty", corpus.display());
    inputs.extend(files(&root().join("regressions").join(target)).unwrap_or_default());

    let start = Instant::now();
    let mut failures = Vec::new();
    for (i, harness) in harnesses.iter().enumerate() {
        for path in &inputs {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            match catch_unwind(AssertUnwindSafe(|| harness(&data))) {
                Ok(accepted) => {
                    if i == 0 && !accepted && is_seed(path) {
                        failures.push(format!("seed {} is refused", path.display()));
                    }
                }
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    failures.push(format!("harness {i} on {}: {message}", path.display()));
                }
            }
        }
    }
    eprintln!(
        "{target}: {} inputs × {} harness(es) in {:.1} s",
        inputs.len(),
        harnesses.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn image_decode() {
    replay("image_decode");
}

#[test]
fn video_probe() {
    replay("video_probe");
}

#[test]
fn evidence() {
    replay("evidence");
}

#[test]
fn batch_zip() {
    replay("batch_zip");
}

#[test]
fn requests() {
    replay("requests");
}

/// Every fuzz target has a harness entry (so a replay test) and the other way round.
#[test]
fn every_target_is_replayed() {
    let mut binaries: Vec<String> = files(&root().join("fuzz_targets"))
        .expect("fuzz_targets/")
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    binaries.sort();
    let mut names: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(binaries, names);
}
