//! ISO/IEC 30107-3 presentation-attack-detection figures, with bootstrap confidence intervals.
//!
//! # Definitions
//! Scores are "higher = more bona fide". A sample with score `None` is a *non-response*: no
//! face was found, or the system refused to judge it (quality). A sample is *accepted* when its
//! score is `Some(s)` with `s >= threshold`; a non-response is never accepted.
//!
//! - **APCER(species)** = accepted attacks of that species / all attack presentations of that
//!   species. Non-responses count as not accepted: a refused attack did not get in, so this is
//!   the attacker's view of the system.
//! - **APCER_max** = the largest APCER over species: ISO/IEC 30107-3 reports the worst species,
//!   because an attacker picks the instrument that works best.
//! - **BPCER** = bona fide *responses* scored below the threshold / bona fide responses.
//!   Bona fide non-responses are not folded in: they are reported on their own as **BPNRR**
//!   (bona fide non-responses / bona fide presentations), as the standard reports its
//!   non-response rates, so a detector failure is not mistaken for a PAD decision.
//! - **APNRR** = attack non-responses / attack presentations, all species pooled.
//! - **BPCER_x** (x = 20, 100): the operating threshold τ* is the smallest candidate threshold
//!   (every distinct response score, plus +∞) with APCER_max(τ*) ≤ 1/x; BPCER_x = BPCER(τ*).
//!   `None` when there are no bona fide responses.
//! - **EER**: on responses only, attacks pooled across species. Over every distinct response
//!   score τ, pooled APCER(τ) (attack responses ≥ τ / attack responses) and BPCER(τ) are
//!   compared; at the τ minimising |APCER − BPCER| (the smallest such τ on ties) the EER is
//!   their mean. There is no interpolation between candidate thresholds: the EER is a figure
//!   at a threshold one could actually deploy. `None` without attack or bona fide responses.
//!
//! # Intervals
//! Every figure carries a 95 % percentile bootstrap interval: the bona fide set and each
//! species are resampled with replacement independently (stratified, so each replicate has the
//! same class sizes as the evaluation), the figure is recomputed (for BPCER_x and EER the whole
//! operating point is searched again), and the 2.5 and 97.5 percentiles of the replicates are
//! taken. Replicates in which a figure is undefined (a resample with no bona fide response) are
//! skipped; if every replicate is, the interval is the uninformative [0, 1]. The generator is
//! ChaCha8 seeded from [`Bootstrap::seed`], so a report is reproducible.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{Error, Result};

/// Scores of one evaluation: higher = more bona fide. `None` = no response (no face found, or
/// the system refused to judge the sample for quality); such samples are never accepted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Presentations {
    pub bona_fide: Vec<Option<f64>>,
    /// Per attack type (PAI species), e.g. "print", "replay", "mask".
    pub attacks: BTreeMap<String, Vec<Option<f64>>>,
}

/// A figure with its 95 % percentile bootstrap interval.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// How the intervals are estimated. `reps == 0` skips the bootstrap: every interval is then
/// the point value alone (`low == high == value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub reps: usize,
    pub seed: u64,
}

impl Default for Bootstrap {
    /// 2000 replicates (enough for stable 2.5/97.5 percentiles) and a fixed seed, so two runs
    /// over the same scores print the same intervals.
    fn default() -> Self {
        Bootstrap {
            reps: 2000,
            seed: 30107,
        }
    }
}

/// More replicates than this add nothing to a 95 % interval and only cost time and memory.
pub const MAX_BOOTSTRAP_REPS: usize = 100_000;

/// The ISO/IEC 30107-3 figures of one evaluation (see the module doc for the definitions).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Metrics {
    pub threshold: f64,
    /// Bona fide presentations (responses and non-responses).
    pub bona_fide: usize,
    /// Attack presentations per species.
    pub attacks: BTreeMap<String, usize>,
    /// APCER per species at `threshold`.
    pub apcer: BTreeMap<String, Interval>,
    /// The worst species' APCER.
    pub apcer_max: Interval,
    /// Bona fide responses rejected / bona fide responses.
    pub bpcer: Interval,
    /// Bona fide non-responses / bona fide presentations.
    pub bpnrr: Interval,
    /// Attack non-responses / attack presentations, species pooled.
    pub apnrr: Interval,
    /// BPCER where APCER_max ≤ 5 %.
    pub bpcer20: Option<Interval>,
    /// BPCER where APCER_max ≤ 1 %.
    pub bpcer100: Option<Interval>,
    /// Equal error rate, attacks pooled, responses only.
    pub eer: Option<Interval>,
    /// The threshold at which `eer` was found.
    pub eer_threshold: Option<f64>,
}

/// One point of a DET curve.
#[derive(Serialize, Clone, Copy, Debug, PartialEq)]
pub struct DetPoint {
    pub threshold: f64,
    pub apcer: f64,
    pub bpcer: f64,
}

/// Computes every figure at `threshold`, with bootstrap intervals.
///
/// Errors: a non-finite threshold or score, no bona fide or no attack presentations, a species
/// with no presentations, no bona fide response at all (BPCER would be undefined), or more than
/// [`MAX_BOOTSTRAP_REPS`] replicates.
pub fn metrics(p: &Presentations, threshold: f64, bootstrap: &Bootstrap) -> Result<Metrics> {
    if !threshold.is_finite() {
        return Err(Error::invalid(
            "threshold",
            format!("threshold must be finite, got {threshold}"),
        ));
    }
    if bootstrap.reps > MAX_BOOTSTRAP_REPS {
        return Err(Error::invalid(
            "bootstrap",
            format!(
                "{} bootstrap replicates requested, at most {MAX_BOOTSTRAP_REPS} allowed",
                bootstrap.reps
            ),
        ));
    }
    let prep = Prepared::new(p)?;
    if prep.responses[BONA_FIDE] == 0 {
        return Err(Error::invalid(
            "bona_fide",
            format!(
                "all {} bona fide presentations are non-responses: BPCER is undefined",
                prep.presentations[BONA_FIDE]
            ),
        ));
    }

    let full = Weights::full(&prep);
    let point = prep.point(&full, threshold);
    let species = prep.presentations.len() - 1;

    // Replicate values per figure, filled only when the bootstrap runs.
    let mut reps = Replicates::new(species, bootstrap.reps);
    if bootstrap.reps > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(bootstrap.seed);
        let mut w = Weights::full(&prep);
        for _ in 0..bootstrap.reps {
            w.resample(&prep, &mut rng);
            reps.push(&prep.point(&w, threshold));
        }
    }
    let boot = bootstrap.reps > 0;
    let iv = |value: f64, samples: &mut Vec<f64>| interval(value, samples, boot);
    let opt = |value: Option<f64>, samples: &mut Vec<f64>| value.map(|v| iv(v, samples));

    let apcer = p
        .attacks
        .keys()
        .zip(point.apcer.iter().zip(reps.apcer.iter_mut()))
        .map(|(name, (&v, s))| (name.clone(), iv(v, s)))
        .collect();
    Ok(Metrics {
        threshold,
        bona_fide: prep.presentations[BONA_FIDE],
        attacks: p
            .attacks
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect(),
        apcer,
        apcer_max: iv(point.apcer_max, &mut reps.apcer_max),
        // Defined: the bona fide set has at least one response (checked above).
        bpcer: iv(point.bpcer.unwrap_or(0.0), &mut reps.bpcer),
        bpnrr: iv(point.bpnrr, &mut reps.bpnrr),
        apnrr: iv(point.apnrr, &mut reps.apnrr),
        bpcer20: opt(point.bpcer20, &mut reps.bpcer20),
        bpcer100: opt(point.bpcer100, &mut reps.bpcer100),
        eer: opt(point.eer.map(|e| e.0), &mut reps.eer),
        eer_threshold: point.eer.map(|e| e.1),
    })
}

/// The DET curve: pooled APCER against BPCER over every distinct response threshold (ascending),
/// non-responses as in [`metrics`] (never accepted; outside BPCER's denominator).
///
/// Empty when [`metrics`] would reject the scores (no bona fide or attack presentations, a
/// non-finite score) or there is no bona fide response; call [`metrics`] to learn why.
pub fn det_curve(p: &Presentations) -> Vec<DetPoint> {
    let Ok(prep) = Prepared::new(p) else {
        return Vec::new();
    };
    let w = Weights::full(&prep);
    let bf_resp = prep.responses[BONA_FIDE];
    let att_all: usize = prep.presentations[1..].iter().sum();
    if bf_resp == 0 || att_all == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    prep.sweep(&w, |score, bf_below, att_below| {
        let att_accepted = prep.responses[1..].iter().sum::<usize>() - att_below;
        out.push(DetPoint {
            threshold: score,
            apcer: att_accepted as f64 / att_all as f64,
            bpcer: bf_below as f64 / bf_resp as f64,
        });
    });
    out
}

/// Class index of the bona fide set; species follow from 1 in name order.
const BONA_FIDE: usize = 0;

/// One response: its score, its class and its slot in the flat weight vector.
#[derive(Clone, Copy, Debug)]
struct Response {
    score: f64,
    class: usize,
    slot: usize,
}

/// The validated scores, laid out so that a bootstrap replicate costs O(n) and no sort: every
/// response is sorted once, and a replicate only changes how many times each is counted.
#[derive(Debug)]
struct Prepared {
    /// All responses of all classes, ascending by score.
    order: Vec<Response>,
    /// Presentations per class (fixed under stratified resampling).
    presentations: Vec<usize>,
    /// Responses per class in the evaluation itself.
    responses: Vec<usize>,
    /// First slot of each class's responses in the flat weight vector.
    first_slot: Vec<usize>,
}

impl Prepared {
    fn new(p: &Presentations) -> Result<Self> {
        if p.bona_fide.is_empty() {
            return Err(Error::invalid(
                "bona_fide",
                "no bona fide samples: BPCER cannot be computed",
            ));
        }
        if p.attacks.values().all(Vec::is_empty) {
            return Err(Error::invalid(
                "attacks",
                "no attack samples: APCER cannot be computed",
            ));
        }
        let classes = std::iter::once(("bona fide", &p.bona_fide))
            .chain(p.attacks.iter().map(|(k, v)| (k.as_str(), v)));
        let mut prep = Prepared {
            order: Vec::new(),
            presentations: Vec::new(),
            responses: Vec::new(),
            first_slot: Vec::new(),
        };
        for (class, (name, samples)) in classes.enumerate() {
            if samples.is_empty() {
                return Err(Error::invalid(
                    "attacks",
                    format!("attack type `{name}` has no samples: its APCER is undefined"),
                ));
            }
            prep.first_slot.push(prep.order.len());
            let mut responses = 0;
            for (i, score) in samples.iter().enumerate() {
                let Some(score) = *score else { continue };
                if !score.is_finite() {
                    return Err(Error::invalid(
                        "score",
                        format!("{name} sample {i} has score {score}; scores must be finite"),
                    ));
                }
                prep.order.push(Response {
                    score,
                    class,
                    slot: prep.order.len(),
                });
                responses += 1;
            }
            prep.presentations.push(samples.len());
            prep.responses.push(responses);
        }
        prep.order.sort_by(|a, b| a.score.total_cmp(&b.score));
        Ok(prep)
    }

    /// Every figure for one weighting of the responses.
    fn point(&self, w: &Weights, threshold: f64) -> Point {
        let classes = self.presentations.len();
        let mut accepted = vec![0usize; classes];
        let start = self.order.partition_point(|r| r.score < threshold);
        for r in &self.order[start..] {
            accepted[r.class] += w.count[r.slot];
        }
        let apcer: Vec<f64> = (1..classes)
            .map(|c| accepted[c] as f64 / self.presentations[c] as f64)
            .collect();
        let apcer_max = apcer.iter().copied().fold(0.0, f64::max);
        let bf_resp = w.responses[BONA_FIDE];
        let bpcer = (bf_resp > 0).then(|| (bf_resp - accepted[BONA_FIDE]) as f64 / bf_resp as f64);
        let bf_n = self.presentations[BONA_FIDE];
        let att_n: usize = self.presentations[1..].iter().sum();
        let att_resp: usize = w.responses[1..].iter().sum();
        Point {
            apcer,
            apcer_max,
            bpcer,
            bpnrr: (bf_n - bf_resp) as f64 / bf_n as f64,
            apnrr: (att_n - att_resp) as f64 / att_n as f64,
            bpcer20: self.bpcer_at(w, 20),
            bpcer100: self.bpcer_at(w, 100),
            eer: self.eer(w),
        }
    }

    /// BPCER at the smallest candidate threshold where every species' APCER ≤ 1/x.
    ///
    /// APCER_s(τ) ≤ 1/x ⟺ accepted_s(τ) ≤ ⌊n_s / x⌋ (exact, in integers). Walking the attack
    /// responses from the top, the first score `v` at which some species exceeds its allowance
    /// is the largest threshold that fails; τ* is the next candidate above `v`, and since no
    /// score lies strictly between, BPCER(τ*) = bona fide responses ≤ v / bona fide responses.
    /// If no species ever exceeds, τ* is the lowest candidate and BPCER is 0.
    fn bpcer_at(&self, w: &Weights, x: usize) -> Option<f64> {
        let bf_resp = w.responses[BONA_FIDE];
        if bf_resp == 0 {
            return None;
        }
        let allowed: Vec<usize> = self.presentations.iter().map(|n| n / x).collect();
        let mut count = vec![0usize; self.presentations.len()];
        let mut failing = None;
        for r in self.order.iter().rev() {
            if r.class == BONA_FIDE {
                continue;
            }
            count[r.class] += w.count[r.slot];
            if count[r.class] > allowed[r.class] {
                failing = Some(r.score);
                break;
            }
        }
        let Some(v) = failing else {
            return Some(0.0);
        };
        let end = self.order.partition_point(|r| r.score <= v);
        let rejected: usize = self.order[..end]
            .iter()
            .filter(|r| r.class == BONA_FIDE)
            .map(|r| w.count[r.slot])
            .sum();
        Some(rejected as f64 / bf_resp as f64)
    }

    /// `(eer, threshold)` on responses, attacks pooled; see the module doc.
    fn eer(&self, w: &Weights) -> Option<(f64, f64)> {
        let bf_resp = w.responses[BONA_FIDE];
        let att_resp: usize = w.responses[1..].iter().sum();
        if bf_resp == 0 || att_resp == 0 {
            return None;
        }
        let mut best: Option<(f64, f64, f64)> = None; // (gap, eer, threshold)
        self.sweep(w, |score, bf_below, att_below| {
            let apcer = (att_resp - att_below) as f64 / att_resp as f64;
            let bpcer = bf_below as f64 / bf_resp as f64;
            let gap = (apcer - bpcer).abs();
            if best.is_none_or(|(g, _, _)| gap < g) {
                best = Some((gap, (apcer + bpcer) / 2.0, score));
            }
        });
        best.map(|(_, eer, t)| (eer, t))
    }

    /// Calls `f(score, bona fide weight below, attack weight below)` for every distinct score
    /// present in `w`, ascending: the candidate thresholds of a sweep.
    fn sweep(&self, w: &Weights, mut f: impl FnMut(f64, usize, usize)) {
        let (mut bf_below, mut att_below) = (0, 0);
        let mut i = 0;
        while i < self.order.len() {
            let score = self.order[i].score;
            let (mut bf_here, mut att_here) = (0, 0);
            while let Some(r) = self.order.get(i).filter(|r| r.score == score) {
                if r.class == BONA_FIDE {
                    bf_here += w.count[r.slot];
                } else {
                    att_here += w.count[r.slot];
                }
                i += 1;
            }
            if bf_here + att_here > 0 {
                f(score, bf_below, att_below);
            }
            bf_below += bf_here;
            att_below += att_here;
        }
    }
}

/// How many times each response is counted in one (re)sample, and the resulting response
/// count per class.
struct Weights {
    count: Vec<usize>,
    responses: Vec<usize>,
}

impl Weights {
    /// The evaluation itself: every response once.
    fn full(prep: &Prepared) -> Self {
        Weights {
            count: vec![1; prep.order.len()],
            responses: prep.responses.clone(),
        }
    }

    /// A stratified bootstrap replicate: each class drawn with replacement to its own size.
    /// A class's presentations are indexed responses first, then non-responses.
    fn resample(&mut self, prep: &Prepared, rng: &mut ChaCha8Rng) {
        self.count.fill(0);
        for (c, &n) in prep.presentations.iter().enumerate() {
            let (first, resp) = (prep.first_slot[c], prep.responses[c]);
            let mut drawn = 0;
            for _ in 0..n {
                let j = rng.gen_range(0..n);
                if j < resp {
                    self.count[first + j] += 1;
                    drawn += 1;
                }
            }
            self.responses[c] = drawn;
        }
    }
}

/// Every figure for one weighting; `None` where undefined.
struct Point {
    apcer: Vec<f64>,
    apcer_max: f64,
    bpcer: Option<f64>,
    bpnrr: f64,
    apnrr: f64,
    bpcer20: Option<f64>,
    bpcer100: Option<f64>,
    eer: Option<(f64, f64)>,
}

/// The replicate values of each figure (undefined replicates left out).
struct Replicates {
    apcer: Vec<Vec<f64>>,
    apcer_max: Vec<f64>,
    bpcer: Vec<f64>,
    bpnrr: Vec<f64>,
    apnrr: Vec<f64>,
    bpcer20: Vec<f64>,
    bpcer100: Vec<f64>,
    eer: Vec<f64>,
}

impl Replicates {
    fn new(species: usize, reps: usize) -> Self {
        let v = || Vec::with_capacity(reps);
        Replicates {
            apcer: (0..species).map(|_| v()).collect(),
            apcer_max: v(),
            bpcer: v(),
            bpnrr: v(),
            apnrr: v(),
            bpcer20: v(),
            bpcer100: v(),
            eer: v(),
        }
    }

    fn push(&mut self, p: &Point) {
        for (s, &v) in self.apcer.iter_mut().zip(&p.apcer) {
            s.push(v);
        }
        self.apcer_max.push(p.apcer_max);
        self.bpcer.extend(p.bpcer);
        self.bpnrr.push(p.bpnrr);
        self.apnrr.push(p.apnrr);
        self.bpcer20.extend(p.bpcer20);
        self.bpcer100.extend(p.bpcer100);
        self.eer.extend(p.eer.map(|e| e.0));
    }
}

/// The 95 % percentile interval of `samples` around `value`; see the module doc for the
/// no-bootstrap and no-defined-replicate cases.
fn interval(value: f64, samples: &mut [f64], bootstrapped: bool) -> Interval {
    if !bootstrapped {
        return Interval {
            value,
            low: value,
            high: value,
        };
    }
    if samples.is_empty() {
        return Interval {
            value,
            low: 0.0,
            high: 1.0,
        };
    }
    samples.sort_by(f64::total_cmp);
    Interval {
        value,
        low: quantile(samples, 0.025),
        high: quantile(samples, 0.975),
    }
}

/// Linear-interpolation quantile (R's type 7) of sorted, non-empty `sorted`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    match sorted.get(i + 1) {
        Some(&next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_BOOT: Bootstrap = Bootstrap { reps: 0, seed: 0 };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// bona fide 0.9 0.8 0.7 0.4 –; print 0.1 0.6 0.85 –; replay 0.2 0.3.
    fn example() -> Presentations {
        Presentations {
            bona_fide: vec![Some(0.9), Some(0.8), Some(0.7), Some(0.4), None],
            attacks: BTreeMap::from([
                ("print".into(), vec![Some(0.1), Some(0.6), Some(0.85), None]),
                ("replay".into(), vec![Some(0.2), Some(0.3)]),
            ]),
        }
    }

    #[test]
    fn rates_at_threshold_follow_the_definitions() {
        let m = metrics(&example(), 0.5, &NO_BOOT).unwrap();
        assert_eq!(m.bona_fide, 5);
        assert_eq!(m.attacks["print"], 4);
        // print: 0.6 and 0.85 accepted out of 4 presentations (the non-response counts).
        assert!(close(m.apcer["print"].value, 0.5));
        assert!(close(m.apcer["replay"].value, 0.0));
        assert!(close(m.apcer_max.value, 0.5));
        // One of four bona fide responses (0.4) rejected; the non-response is BPNRR's.
        assert!(close(m.bpcer.value, 0.25));
        assert!(close(m.bpnrr.value, 0.2));
        assert!(close(m.apnrr.value, 1.0 / 6.0));
        assert_eq!(m.bpcer.low, m.bpcer.value);
        assert_eq!(m.bpcer.high, m.bpcer.value);
    }

    #[test]
    fn bpcer20_moves_above_the_highest_failing_attack() {
        // Allowance ⌊4/20⌋ = 0 attacks: τ* = 0.9 (just above print's 0.85); bona fide below
        // 0.9: 0.8 0.7 0.4 → 3/4.
        let m = metrics(&example(), 0.5, &NO_BOOT).unwrap();
        assert!(close(m.bpcer20.unwrap().value, 0.75));
        assert!(close(m.bpcer100.unwrap().value, 0.75));
    }

    #[test]
    fn bpcer20_allows_exactly_five_percent() {
        // 20 attacks allow one accepted (1/20 = 5 % ≤ 5 %): τ* = 0.9 accepts only 0.9.
        let mut attacks = vec![Some(0.9), Some(0.8)];
        attacks.extend(std::iter::repeat_n(Some(0.1), 18));
        let mut p = Presentations {
            bona_fide: vec![Some(0.95), Some(0.9), Some(0.5)],
            attacks: BTreeMap::from([("print".into(), attacks)]),
        };
        let m = metrics(&p, 0.5, &NO_BOOT).unwrap();
        assert!(close(m.bpcer20.unwrap().value, 1.0 / 3.0));
        // BPCER100: allowance 0, τ* = 0.95 → 0.9 and 0.5 rejected.
        assert!(close(m.bpcer100.unwrap().value, 2.0 / 3.0));
        // A tie at the top: two attacks at 0.9 exceed the allowance, τ* = 0.95.
        p.attacks.get_mut("print").unwrap()[1] = Some(0.9);
        let m = metrics(&p, 0.5, &NO_BOOT).unwrap();
        assert!(close(m.bpcer20.unwrap().value, 2.0 / 3.0));
    }

    #[test]
    fn eer_is_the_mean_where_the_rates_are_closest() {
        // At τ = 0.7: pooled attack responses ≥ 0.7: 0.85 → 1/5; bona fide < 0.7: 0.4 → 1/4.
        let m = metrics(&example(), 0.5, &NO_BOOT).unwrap();
        assert!(close(m.eer.unwrap().value, (0.2 + 0.25) / 2.0));
        assert_eq!(m.eer_threshold, Some(0.7));
    }

    #[test]
    fn perfect_separation_has_zero_error() {
        let p = Presentations {
            bona_fide: vec![Some(0.8), Some(0.9)],
            attacks: BTreeMap::from([("mask".into(), vec![Some(0.1), Some(0.2)])]),
        };
        let m = metrics(&p, 0.5, &Bootstrap::default()).unwrap();
        assert_eq!(m.eer.unwrap().value, 0.0);
        assert_eq!(m.eer_threshold, Some(0.8));
        assert_eq!(m.bpcer20.unwrap().value, 0.0);
        // Every replicate is perfectly separated too.
        assert_eq!(m.eer.unwrap().high, 0.0);
        assert_eq!(m.apcer_max.high, 0.0);
    }

    #[test]
    fn attacks_that_never_respond_are_never_accepted() {
        let p = Presentations {
            bona_fide: vec![Some(0.2), Some(0.9)],
            attacks: BTreeMap::from([("print".into(), vec![None, None])]),
        };
        let m = metrics(&p, 0.5, &NO_BOOT).unwrap();
        assert_eq!(m.apcer_max.value, 0.0);
        assert_eq!(m.apnrr.value, 1.0);
        assert_eq!(m.eer, None);
        assert_eq!(m.eer_threshold, None);
        // No attack ever gets in, so the lowest threshold works: nothing rejected.
        assert_eq!(m.bpcer20.unwrap().value, 0.0);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_value() {
        // 50 bona fide, 20 rejected at 0.5: BPCER 0.4 with a wide interval around it.
        let bona_fide = (0..50)
            .map(|i| Some(if i < 20 { 0.3 } else { 0.7 }))
            .collect();
        let p = Presentations {
            bona_fide,
            attacks: BTreeMap::from([("print".into(), vec![Some(0.1), Some(0.6), Some(0.2)])]),
        };
        let a = metrics(&p, 0.5, &Bootstrap::default()).unwrap();
        let b = metrics(&p, 0.5, &Bootstrap::default()).unwrap();
        assert_eq!(a, b);
        let i = a.bpcer;
        assert!(close(i.value, 0.4));
        assert!(i.low < 0.4 && i.low > 0.2, "{i:?}");
        assert!(i.high > 0.4 && i.high < 0.6, "{i:?}");
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let field = |r: Result<Metrics>| match r {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        };
        let ex = example();
        assert_eq!(field(metrics(&ex, f64::NAN, &NO_BOOT)), "threshold");
        let mut p = ex.clone();
        p.bona_fide[0] = Some(f64::NAN);
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "score");
        let mut p = ex.clone();
        p.attacks.get_mut("replay").unwrap()[0] = Some(f64::INFINITY);
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "score");
        let mut p = ex.clone();
        p.bona_fide.clear();
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "bona_fide");
        let mut p = ex.clone();
        p.bona_fide = vec![None, None];
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "bona_fide");
        let mut p = ex.clone();
        p.attacks.clear();
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "attacks");
        let mut p = ex.clone();
        p.attacks.insert("mask".into(), Vec::new());
        assert_eq!(field(metrics(&p, 0.5, &NO_BOOT)), "attacks");
        let huge = Bootstrap {
            reps: MAX_BOOTSTRAP_REPS + 1,
            seed: 0,
        };
        assert_eq!(field(metrics(&ex, 0.5, &huge)), "bootstrap");
        assert!(det_curve(&Presentations::default()).is_empty());
    }

    #[test]
    fn det_curve_counts_non_responses_as_rejected_attacks() {
        let det = det_curve(&example());
        // One point per distinct response score.
        assert_eq!(det.len(), 9);
        let at = |t: f64| *det.iter().find(|d| d.threshold == t).unwrap();
        // τ = 0.7: attacks accepted 0.85 of 6 presentations; bona fide 0.4 of 4 responses.
        assert_eq!(
            at(0.7),
            DetPoint {
                threshold: 0.7,
                apcer: 1.0 / 6.0,
                bpcer: 0.25
            }
        );
        // The lowest threshold accepts every responding attack (5 of 6).
        assert!(close(det[0].apcer, 5.0 / 6.0));
        assert!(det.windows(2).all(|w| w[0].threshold < w[1].threshold
            && w[0].apcer >= w[1].apcer
            && w[0].bpcer <= w[1].bpcer));
    }

    #[test]
    fn quantile_interpolates() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile(&s, 0.5), 3.0);
        assert_eq!(quantile(&s, 0.25), 2.0);
        assert!(close(quantile(&s, 0.975), 4.9));
        assert_eq!(quantile(&[7.0], 0.025), 7.0);
    }
}
