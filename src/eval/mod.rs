//! Evaluation of presentation-attack detection as ISO/IEC 30107-3 asks: APCER per attack type
//! and its maximum, BPCER, BPCER20 / BPCER100, EER and the non-response rates, each with a
//! bootstrap 95 % interval ([`metrics`]), a DET curve ([`det`]), on stills and on videos.
//!
//! # Data
//! Either a folder layout (`DIR/live/**` bona fide, `DIR/<attack type>/**` attacks; stills and
//! videos) or a labels file such as the media folder's `catalog.csv` ([`dataset`]). Samples are
//! split by person into a fitting part and a held-apart part ([`split`]); figures are reported
//! on the held-apart part unless asked otherwise, and nothing is ever fitted on it.
//!
//! # Configurations
//! The engine measures each sample once ([`measure`]); each [`Config`] then decides from the
//! same frames, so two configurations differ only in their decision rule:
//! - `before`: the mean of the two MiniFASNet scores on every frame with a face, as the
//!   product decided before quality refusals (a guess on any face).
//! - `refusals`: the same score, but a face that cannot be judged ([`crate::quality::refusal`]:
//!   a crop that is all face, too small, too dark, too blurred) is a non-response with its
//!   guidance code instead of a guess. This is what `check` and the server do.
//! - `fused`: `refusals` with the models' logits fused by a class-balanced logistic
//!   regression fitted on the fitting part, its strength chosen by grouped 5-fold
//!   cross-validation ([`fusion`]); with `--celeba-pad` the CelebA-Spoof model joins it.
//!
//! Videos are scored as a submitted video is: the robust mean over the sampled frames the
//! configuration can judge.

pub mod dataset;
pub mod det;
pub mod fusion;
pub mod measure;
pub mod metrics;
pub mod split;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::antispoof::PadScore;
use crate::challenge::robust_mean;
use crate::check::{video_score, VideoCues};
use crate::error::{Error, Result};
use crate::pipeline::Engine;
use crate::quality::Guidance;
use dataset::{MediaKind, Sample, Skipped, BONA_FIDE};
use fusion::{logit, Logistic};
use measure::Measured;
use metrics::{det_curve, metrics, Bootstrap, DetPoint, Metrics, Presentations};
use split::Part;

/// Cross-validation folds for the fusion's strength.
pub const FOLDS: usize = 5;

/// A decision rule over the measured frames (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Config {
    Before,
    Refusals,
    Fused,
}

impl Config {
    pub const ALL: [Config; 3] = [Config::Before, Config::Refusals, Config::Fused];

    pub fn name(self) -> &'static str {
        match self {
            Config::Before => "before",
            Config::Refusals => "refusals",
            Config::Fused => "fused",
        }
    }

    /// Parses a name (`product` is the rule the product ships: `refusals`).
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "before" => Ok(Config::Before),
            "refusals" | "product" => Ok(Config::Refusals),
            "fused" => Ok(Config::Fused),
            _ => Err(Error::invalid(
                "config",
                format!("unknown configuration {name:?}: before, refusals (= product), fused"),
            )),
        }
    }
}

/// Which part the figures are computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartFilter {
    Test,
    Train,
    All,
}

impl PartFilter {
    fn keeps(self, part: Part) -> bool {
        match self {
            PartFilter::All => true,
            PartFilter::Test => part == Part::Test,
            PartFilter::Train => part == Part::Train,
        }
    }
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub part: PartFilter,
    /// The `before` rule's threshold (0.5: the product's default).
    pub threshold: f64,
    /// When true, every rule uses `threshold`. When false (the default), the other rules'
    /// thresholds are chosen on the fitting part: the highest one whose BPCER there does not
    /// exceed `before`'s at `threshold` ([`matched_threshold`]), so rules are compared at an
    /// unchanged bona fide rejection.
    pub fixed_threshold: bool,
    pub bootstrap: Bootstrap,
    /// Fuse the CelebA-Spoof score too (the engine must have it enabled).
    pub celeba: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            part: PartFilter::Test,
            threshold: 0.5,
            fixed_threshold: false,
            bootstrap: Bootstrap::default(),
            celeba: false,
        }
    }
}

/// The fusion's features of one frame: the models' logits.
pub fn features(pad: &PadScore, celeba: bool) -> Vec<f64> {
    let mut f = vec![logit(pad.v2), logit(pad.v1se)];
    if celeba {
        f.push(logit(pad.celeba.unwrap_or(0.5)));
    }
    f
}

/// A configuration's score of one sample; `None` is a non-response.
pub fn score(config: Config, m: &Measured, fusion: Option<&Logistic>, celeba: bool) -> Option<f64> {
    let frames: Vec<(f32, Option<Guidance>)> = match config {
        Config::Before => {
            let all: Vec<f32> = m.frames.iter().map(|f| f.pad.real).collect();
            return robust_mean(&all).map(f64::from);
        }
        Config::Refusals => m.frames.iter().map(|f| (f.pad.real, f.refusal)).collect(),
        Config::Fused => {
            let model = fusion?;
            m.frames
                .iter()
                .map(|f| (model.prob(&features(&f.pad, celeba)) as f32, f.refusal))
                .collect()
        }
    };
    match m.sample.kind {
        MediaKind::Image => frames
            .first()
            .filter(|(_, r)| r.is_none())
            .map(|(s, _)| f64::from(*s)),
        MediaKind::Video => video_score(&frames).ok().map(f64::from),
    }
}

/// Why a sample got no score under `refusals`: no face, or its refusal.
pub fn non_response(m: &Measured) -> Option<Guidance> {
    let frames: Vec<(f32, Option<Guidance>)> =
        m.frames.iter().map(|f| (f.pad.real, f.refusal)).collect();
    match m.sample.kind {
        MediaKind::Image => match frames.first() {
            None => Some(Guidance::NoFace),
            Some((_, r)) => *r,
        },
        MediaKind::Video => video_score(&frames).err(),
    }
}

/// Fits the fusion on the fitting part: one row per sample with a judged frame (its frames'
/// mean features), grouped folds. Returns the model and its out-of-fold probabilities.
pub fn fit_fusion(measured: &[Measured], celeba: bool) -> Option<(Logistic, Vec<f64>)> {
    let (mut x, mut y, mut folds) = (Vec::new(), Vec::new(), Vec::new());
    for m in measured.iter().filter(|m| m.part == Part::Train) {
        let rows: Vec<Vec<f64>> = m
            .frames
            .iter()
            .filter(|f| f.refusal.is_none())
            .map(|f| features(&f.pad, celeba))
            .collect();
        let Some(first) = rows.first() else {
            continue;
        };
        let mut mean = vec![0.0; first.len()];
        for r in &rows {
            for (a, v) in mean.iter_mut().zip(r) {
                *a += v / rows.len() as f64;
            }
        }
        x.push(mean);
        y.push(m.sample.class == BONA_FIDE);
        folds.push(split::fold_of(&m.sample.group, FOLDS));
    }
    fusion::cross_validate(&x, &y, &folds)
}

/// BPCER of bona fide scores at `t` (responses below `t` / responses); `None` without any.
pub fn bpcer_at(bona_fide: &[Option<f64>], t: f64) -> Option<f64> {
    let responses: Vec<f64> = bona_fide.iter().flatten().copied().collect();
    if responses.is_empty() {
        return None;
    }
    Some(responses.iter().filter(|s| **s < t).count() as f64 / responses.len() as f64)
}

/// The highest threshold at which the bona fide scores' BPCER stays at or below `target`:
/// halfway between the highest qualifying response score and the next lower one (any
/// threshold between them rejects the same samples). `None` without responses.
pub fn matched_threshold(bona_fide: &[Option<f64>], target: f64) -> Option<f64> {
    let mut scores: Vec<f64> = bona_fide.iter().flatten().copied().collect();
    scores.sort_by(f64::total_cmp);
    scores.dedup();
    let best = scores
        .iter()
        .rposition(|&t| bpcer_at(bona_fide, t).is_some_and(|b| b <= target))?;
    let below = if best == 0 { 0.0 } else { scores[best - 1] };
    Some((scores[best] + below) / 2.0)
}

/// A cue ([`crate::cues`]) evaluated alone on one kind of media, over every part (nothing is
/// fitted to it): its value oriented so that higher means more bona fide, in the direction
/// stated before measuring (a rigid plane, glare, periodic peaks, banding and fine-detail energy
/// point to a screen or a print); `None` where the cue cannot judge.
#[derive(Debug, Clone, Serialize)]
pub struct CueReport {
    pub cue: &'static str,
    /// What a high raw value is taken to mean.
    pub attack_when: &'static str,
    pub bona_fide_judged: usize,
    pub attacks_judged: usize,
    /// Equal error rate on the judged samples (attacks pooled), when both classes are judged.
    pub eer: Option<f64>,
    /// Raw value ranges (min, max) per class among the judged.
    pub bona_fide_range: Option<(f64, f64)>,
    pub attack_range: Option<(f64, f64)>,
}

/// The cues and how each is oriented: (name, what a high value means, value).
type CueFn = fn(&VideoCues) -> Option<f64>;
const CUES: [(&str, &str, CueFn); 5] = [
    ("motion_coupling", "high (a rigid plane)", |c| {
        c.motion.and_then(|m| m.coupling.value()).map(f64::from)
    }),
    ("screen_hf_energy", "high (moiré)", |c| {
        c.screen.map(|s| f64::from(s.hf_energy))
    }),
    ("screen_periodicity", "high (a pixel grid)", |c| {
        c.screen.map(|s| f64::from(s.periodicity))
    }),
    ("screen_specular", "high (glare)", |c| {
        c.screen.map(|s| f64::from(s.specular))
    }),
    ("screen_banding", "high (refresh bands)", |c| {
        c.screen.map(|s| f64::from(s.banding))
    }),
];

fn cue_reports(measured: &[Measured], kind: MediaKind) -> Vec<CueReport> {
    let chosen: Vec<&Measured> = measured
        .iter()
        .filter(|m| m.sample.kind == kind && m.error.is_none())
        .collect();
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (!v.is_empty()).then_some((lo, hi))
    };
    let mut out = Vec::new();
    for (cue, attack_when, value) in CUES {
        let mut p = Presentations::default();
        let (mut bona, mut attack) = (Vec::new(), Vec::new());
        for m in &chosen {
            let v = value(&m.cues);
            // Higher = more bona fide.
            let oriented = v.map(|x| -x);
            if m.sample.class == BONA_FIDE {
                bona.extend(v);
                p.bona_fide.push(oriented);
            } else {
                attack.extend(v);
                p.attacks
                    .entry(m.sample.class.clone())
                    .or_default()
                    .push(oriented);
            }
        }
        if bona.is_empty() && attack.is_empty() {
            continue;
        }
        let eer = metrics(&p, 0.0, &Bootstrap { reps: 0, seed: 0 })
            .ok()
            .and_then(|m| m.eer.map(|i| i.value));
        out.push(CueReport {
            cue,
            attack_when,
            bona_fide_judged: bona.len(),
            attacks_judged: attack.len(),
            eer,
            bona_fide_range: range(&bona),
            attack_range: range(&attack),
        });
    }
    out
}

/// One configuration's figures on one kind of media.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigReport {
    pub config: Config,
    /// The threshold it was measured at, and how it was chosen.
    pub threshold: f64,
    /// BPCER on the fitting part at that threshold (what the threshold was matched on).
    pub train_bpcer: Option<f64>,
    pub metrics: Metrics,
    pub det: Vec<DetPoint>,
}

/// The figures for stills or for videos.
#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    pub kind: MediaKind,
    /// Non-responses under `refusals`, by reason and class.
    pub non_responses: BTreeMap<String, BTreeMap<Guidance, usize>>,
    pub configs: Vec<ConfigReport>,
    /// Each cue alone, over every part.
    pub cues: Vec<CueReport>,
}

/// One sample's scores.
#[derive(Debug, Clone, Serialize)]
pub struct SampleScores {
    pub path: PathBuf,
    pub class: String,
    pub group: String,
    pub kind: MediaKind,
    pub part: Part,
    /// Anti-spoofing frames with a face, and how many of them could not be judged.
    pub frames: usize,
    pub refused_frames: usize,
    pub scores: BTreeMap<Config, Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub non_response: Option<Guidance>,
    pub cues: VideoCues,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub part: PartFilter,
    /// The `before` rule's threshold.
    pub threshold: f64,
    pub fixed_threshold: bool,
    pub bootstrap_reps: usize,
    /// The fitted fusion (on the fitting part), `None` when it could not be fitted.
    pub fusion: Option<Logistic>,
    pub kinds: Vec<KindReport>,
    pub samples: Vec<SampleScores>,
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// One kind's report.
    pub fn kind(&self, kind: MediaKind) -> Option<&KindReport> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

/// Measures every sample (calling `progress(done, total)` after each) and computes the report.
pub fn evaluate(
    engine: &Engine,
    samples: &[Sample],
    skipped: Vec<Skipped>,
    options: &EvalOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Report> {
    if options.celeba && !engine.celeba_pad_enabled() {
        return Err(Error::invalid(
            "celeba",
            "fusing the CelebA-Spoof score needs the engine loaded with it (--celeba-pad)",
        ));
    }
    let mut measured = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        measured.push(measure::measure(engine, s)?);
        progress(i + 1, samples.len());
    }
    report(measured, skipped, options)
}

/// The report from measured samples (no model runs).
pub fn report(
    measured: Vec<Measured>,
    skipped: Vec<Skipped>,
    options: &EvalOptions,
) -> Result<Report> {
    let fused = fit_fusion(&measured, options.celeba);
    let fusion = fused.as_ref().map(|(m, _)| m.clone());
    let samples: Vec<SampleScores> = measured
        .iter()
        .map(|m| SampleScores {
            path: m.sample.path.clone(),
            class: m.sample.class.clone(),
            group: m.sample.group.clone(),
            kind: m.sample.kind,
            part: m.part,
            frames: m.frames.len(),
            refused_frames: m.frames.iter().filter(|f| f.refusal.is_some()).count(),
            scores: Config::ALL
                .iter()
                .map(|c| (*c, score(*c, m, fusion.as_ref(), options.celeba)))
                .collect(),
            non_response: non_response(m),
            cues: m.cues.clone(),
            error: m.error.clone(),
        })
        .collect();
    let mut kinds = Vec::new();
    for kind in [MediaKind::Image, MediaKind::Video] {
        let chosen: Vec<&SampleScores> = samples
            .iter()
            .filter(|s| s.kind == kind && s.error.is_none() && options.part.keeps(s.part))
            .collect();
        let has_bona_fide = chosen.iter().any(|s| s.class == BONA_FIDE);
        let has_attack = chosen.iter().any(|s| s.class != BONA_FIDE);
        if !(has_bona_fide && has_attack) {
            continue;
        }
        let mut non_responses: BTreeMap<String, BTreeMap<Guidance, usize>> = BTreeMap::new();
        for s in &chosen {
            if let Some(g) = s.non_response {
                *non_responses
                    .entry(s.class.clone())
                    .or_default()
                    .entry(g)
                    .or_default() += 1;
            }
        }
        let train_bona_fide = |config: Config| -> Vec<Option<f64>> {
            samples
                .iter()
                .filter(|s| s.kind == kind && s.error.is_none() && s.part == Part::Train)
                .filter(|s| s.class == BONA_FIDE)
                .map(|s| s.scores[&config])
                .collect()
        };
        let target = bpcer_at(&train_bona_fide(Config::Before), options.threshold);
        let mut configs = Vec::new();
        for config in Config::ALL {
            if config == Config::Fused && fusion.is_none() {
                continue;
            }
            let threshold = if options.fixed_threshold || config == Config::Before {
                options.threshold
            } else {
                target
                    .and_then(|t| matched_threshold(&train_bona_fide(config), t))
                    .unwrap_or(options.threshold)
            };
            let mut p = Presentations::default();
            for s in &chosen {
                let v = s.scores[&config];
                if s.class == BONA_FIDE {
                    p.bona_fide.push(v);
                } else {
                    p.attacks.entry(s.class.clone()).or_default().push(v);
                }
            }
            let m = match metrics(&p, threshold, &options.bootstrap) {
                Ok(m) => m,
                // Every bona fide sample refused: nothing to report for this rule.
                Err(_) if p.bona_fide.iter().all(Option::is_none) => continue,
                Err(e) => return Err(e),
            };
            configs.push(ConfigReport {
                config,
                threshold,
                train_bpcer: bpcer_at(&train_bona_fide(config), threshold),
                metrics: m,
                det: det_curve(&p),
            });
        }
        kinds.push(KindReport {
            kind,
            non_responses,
            configs,
            cues: cue_reports(&measured, kind),
        });
    }
    if kinds.is_empty() {
        return Err(Error::invalid(
            "dir",
            "no kind of media (stills or videos) has both bona fide and attack samples in the chosen part",
        ));
    }
    Ok(Report {
        part: options.part,
        threshold: options.threshold,
        fixed_threshold: options.fixed_threshold,
        bootstrap_reps: options.bootstrap.reps,
        fusion,
        kinds,
        samples,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matched_threshold_keeps_bpcer_at_the_target() {
        let b: Vec<Option<f64>> = [0.1, 0.3, 0.6, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999]
            .iter()
            .map(|v| Some(*v))
            .chain([None])
            .collect();
        // 20 % of the ten responses may be rejected: 0.1 and 0.3, not 0.6.
        let t = matched_threshold(&b, 0.2).unwrap();
        assert!((0.3..=0.6).contains(&t), "{t}");
        assert_eq!(bpcer_at(&b, t), Some(0.2));
        // A target of 0 keeps every response.
        let t0 = matched_threshold(&b, 0.0).unwrap();
        assert_eq!(bpcer_at(&b, t0), Some(0.0));
        assert!(matched_threshold(&[None, None], 0.1).is_none());
        assert_eq!(bpcer_at(&[None], 0.5), None);
    }
}
