//! Evaluation on a labelled folder of stills (ISO/IEC 30107-3 style figures).
//!
//! # Layout
//! `DIR/live/**` holds bona fide images; every other top-level folder `DIR/<attack>/**` holds
//! attack images of that type (`print`, `replay`, `mask`, ...). Images are `.jpg .jpeg .png
//! .webp`; anything else is ignored.
//!
//! # Figures
//! - APCER per attack type: attacks classified bona fide / attacks of that type.
//! - BPCER: bona fide samples classified as attacks / bona fide samples.
//!
//! A sample with no detectable face cannot be accepted: it counts as rejected (it raises BPCER
//! and lowers APCER) and is also reported as a failure to acquire (`no_face`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::frame::{decode_image, ImageLimits};
use crate::pipeline::{Engine, Stages};

const IMAGE_EXT: [&str; 4] = ["jpg", "jpeg", "png", "webp"];

/// Counts for one class.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClassStats {
    pub samples: usize,
    /// Classified bona fide.
    pub accepted: usize,
    /// No face found (counted as not accepted).
    pub no_face: usize,
    /// Could not be decoded (excluded from `samples`).
    pub unreadable: usize,
}

impl ClassStats {
    fn rate(n: usize, d: usize) -> f64 {
        if d == 0 {
            0.0
        } else {
            n as f64 / d as f64
        }
    }
    /// Fraction accepted.
    pub fn accept_rate(&self) -> f64 {
        Self::rate(self.accepted, self.samples)
    }
}

/// One sample's outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SampleResult {
    pub path: PathBuf,
    pub class: String,
    /// Real probability, `None` without a face.
    pub score: Option<f32>,
}

/// The evaluation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvalReport {
    pub threshold: f32,
    pub bona_fide: ClassStats,
    pub bpcer: f64,
    pub attacks: BTreeMap<String, ClassStats>,
    /// APCER per attack type.
    pub apcer: BTreeMap<String, f64>,
    /// The worst attack type's APCER (ISO/IEC 30107-3 reports the maximum).
    pub apcer_max: f64,
    pub samples: Vec<SampleResult>,
}

/// Scores every image under `dir` and computes the figures at `threshold`.
pub fn evaluate(engine: &Engine, dir: &Path, threshold: f32) -> Result<EvalReport> {
    let classes = list_classes(dir)?;
    if !classes.contains_key("live") {
        return Err(Error::invalid(
            "dir",
            format!(
                "{} has no live/ folder (see the eval layout)",
                dir.display()
            ),
        ));
    }
    let limits = ImageLimits::default();
    let mut stats: BTreeMap<String, ClassStats> = BTreeMap::new();
    let mut samples = Vec::new();
    for (class, files) in classes {
        let s = stats.entry(class.clone()).or_default();
        for path in files {
            let Ok(bytes) = std::fs::read(&path) else {
                s.unreadable += 1;
                continue;
            };
            let Ok(frame) = decode_image(&bytes, &limits) else {
                s.unreadable += 1;
                continue;
            };
            let record = engine.analyze(&frame.as_ref(), 0.0, Stages::PAD)?;
            let score = record.pad_real();
            s.samples += 1;
            match score {
                None => s.no_face += 1,
                Some(v) if v >= threshold => s.accepted += 1,
                Some(_) => {}
            }
            samples.push(SampleResult {
                path,
                class: class.clone(),
                score,
            });
        }
    }
    let bona_fide = stats.remove("live").unwrap_or_default();
    let bpcer = 1.0 - bona_fide.accept_rate();
    let apcer: BTreeMap<String, f64> = stats
        .iter()
        .map(|(k, v)| (k.clone(), v.accept_rate()))
        .collect();
    let apcer_max = apcer.values().copied().fold(0.0, f64::max);
    Ok(EvalReport {
        threshold,
        bona_fide,
        bpcer,
        attacks: stats,
        apcer,
        apcer_max,
        samples,
    })
}

fn list_classes(dir: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let read = |d: &Path| {
        std::fs::read_dir(d).map_err(|e| Error::invalid("dir", format!("{}: {e}", d.display())))
    };
    let mut classes = BTreeMap::new();
    for entry in read(dir)?.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let mut files = Vec::new();
        collect_images(&path, &mut files, 0);
        files.sort();
        classes.insert(name, files);
    }
    Ok(classes)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    if depth > 8 {
        return; // symlink loops
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_images(&path, out, depth + 1);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXT.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
}
