//! The challenge state machine: passive phase (anti-spoofing and the user's neutral baseline),
//! then a seeded script of actions, each with a timeout, while the same person stays in frame.
//!
//! The session is driven only by frame records and their timestamps, never by a wall clock,
//! so the browser, the server's re-run of an evidence bundle and the CLI on a recorded clip
//! reach the same decision from the same frames.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::detectors::{ActionDetector, ActionThresholds, Baseline, Sample};
use super::rules::{RuleStats, Rulebook};
use super::ChallengeAction;
use crate::error::{Error, Result};
use crate::events::{ChallengeStatus, Event, Label, Phase};
use crate::pipeline::{FrameRecord, Stages, DEFAULT_PAD_THRESHOLD};
use crate::quality::Guidance;

/// Longest time allowed per challenge.
pub const MAX_TIMEOUT_MS: f64 = 120_000.0;

/// Session settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChallengeConfig {
    /// Actions the script is drawn from.
    pub actions: Vec<ChallengeAction>,
    /// How many challenges to run.
    pub count: usize,
    /// Minimum passive phase before the first challenge.
    pub passive_ms: f64,
    /// Minimum usable frames in the passive phase.
    pub passive_min_frames: usize,
    /// Time allowed for each challenge (and for the passive phase to find usable frames).
    pub timeout_ms: f64,
    /// Longest the face may leave the frame during the challenges.
    pub max_face_lost_ms: f64,
    /// Real-probability threshold for the aggregated anti-spoofing score.
    pub pad_threshold: f32,
    /// Minimum cosine similarity to the passive-phase face for the same person, on every
    /// compared frame (see [`super::rules`]).
    pub identity_threshold: f32,
    /// Faces turned further than this (|yaw| or |pitch|, degrees) are not compared.
    pub identity_max_angle: f32,
    /// Compute an embedding every this many frames during the challenges.
    pub identity_every: u32,
    /// No usable frame may score a real probability below this.
    pub pad_floor: f32,
    /// Usable frames over usable + unusable detector frames, at least.
    pub min_usable_fraction: f32,
    /// The 90th percentile of the inter-frame change (mean absolute grey-level difference of
    /// 32×24 thumbnails) must reach this: a still image does not.
    pub min_change: f32,
    /// Largest fraction of frames that may repeat the previous frame exactly.
    pub max_repeated_fraction: f32,
    pub thresholds: ActionThresholds,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        Self {
            actions: ChallengeAction::ALL.to_vec(),
            count: 2,
            passive_ms: 1000.0,
            passive_min_frames: 3,
            timeout_ms: 8000.0,
            max_face_lost_ms: 1500.0,
            pad_threshold: DEFAULT_PAD_THRESHOLD,
            // Every compared frame must reach it, so it sits below the lowest honest frame
            // measured (0.39, an exaggerated-expression clip; README "Decisions and their
            // rules") and far above another person's frames (median 0.04).
            identity_threshold: 0.3,
            // The quality gate's frontal limit (`QualityConfig::max_angle`).
            identity_max_angle: 30.0,
            identity_every: 5,
            // Replay frames score below 0.001 at the median; the lowest honest frames measured
            // 0.046-0.054 (head turns and a hand waving in front of a webcam): a factor of
            // four of margin for honest users.
            pad_floor: 0.01,
            min_usable_fraction: 0.5,
            // Honest clips: 90th percentile ≥ 0.4 (a still sitter's sensor noise and breath);
            // a still image re-encoded: about 0.
            min_change: 0.1,
            max_repeated_fraction: 0.2,
            thresholds: ActionThresholds::default(),
        }
    }
}

impl ChallengeConfig {
    fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, m: &str| Err(Error::invalid(field, m));
        if self.actions.is_empty() {
            return bad("actions", "challenge actions must not be empty");
        }
        if self.count == 0 || self.count > 10 {
            return bad("count", "challenge count must be 1..=10");
        }
        if !(self.timeout_ms > 0.0 && self.timeout_ms <= MAX_TIMEOUT_MS) {
            return bad("timeout_ms", "timeout_ms must be in (0, 120000]");
        }
        if !(0.0..=1.0).contains(&self.pad_threshold) {
            return bad("pad_threshold", "pad_threshold must be in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.pad_floor) {
            return bad("pad_floor", "pad_floor must be in [0, 1]");
        }
        if !(0.0..=1.0).contains(&self.min_usable_fraction) {
            return bad(
                "min_usable_fraction",
                "min_usable_fraction must be in [0, 1]",
            );
        }
        if !(0.0..=1.0).contains(&self.max_repeated_fraction) {
            return bad(
                "max_repeated_fraction",
                "max_repeated_fraction must be in [0, 1]",
            );
        }
        if !(-1.0..=1.0).contains(&self.identity_threshold) {
            return bad(
                "identity_threshold",
                "identity_threshold must be in [-1, 1]",
            );
        }
        if !(self.identity_max_angle >= 0.0 && self.identity_max_angle <= 90.0) {
            return bad(
                "identity_max_angle",
                "identity_max_angle must be in [0, 90]",
            );
        }
        if !(self.min_change >= 0.0 && self.min_change.is_finite()) {
            return bad("min_change", "min_change must be a finite number ≥ 0");
        }
        Ok(())
    }
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Failure {
    /// A challenge was not performed in time.
    ChallengeTimeout { action: ChallengeAction },
    /// The face left the frame for too long.
    FaceLost,
    /// A different person appeared (a compared frame scored `similarity` to the reference).
    IdentityChanged { similarity: f32 },
    /// Too few usable frames to judge (fewer than the passive phase needs).
    NoUsableFrames,
    /// Too many frames could not be used (no face, several faces, too dark, blurry...).
    TooFewUsableFrames { usable: usize, unusable: usize },
    /// Challenges passed but the anti-spoofing score is below the threshold.
    Spoof { score: f32 },
    /// A usable frame's real probability is below the per-frame floor.
    SpoofFrame { score: f32 },
    /// The stream does not change between frames (a still image).
    StillStream { change: f32 },
    /// Too many frames repeat the previous one exactly (a frozen or looped stream).
    RepeatedFrames { repeated: usize, frames: usize },
    /// The stream ended before the script did.
    EndOfStream,
}

/// When each challenge ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengeTiming {
    pub action: ChallengeAction,
    pub started_ms: f64,
    pub ended_ms: f64,
    pub status: ChallengeStatus,
}

/// The session's decision with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionOutcome {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    /// Robust mean real probability over usable frames (`None` without any).
    pub pad_score: Option<f32>,
    pub frames_scored: usize,
    pub script: Vec<ChallengeAction>,
    pub challenges: Vec<ChallengeTiming>,
    pub failure: Option<Failure>,
    /// What the rules saw (frames judged, usable, identity, change).
    #[serde(default)]
    pub stats: RuleStats,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    Passive,
    Active,
    Done,
}

/// One liveness session.
#[derive(Debug, Clone)]
pub struct ChallengeSession {
    config: ChallengeConfig,
    script: Vec<ChallengeAction>,
    state: State,
    started_ms: f64,
    last_t: f64,
    frames_seen: u64,
    neutral: Vec<Sample>,
    rules: Rulebook,
    last_face_ms: Option<f64>,
    last_guidance: Vec<Guidance>,
    current: usize,
    challenge_started_ms: f64,
    detector: Option<ActionDetector>,
    passed: Vec<ChallengeAction>,
    timings: Vec<ChallengeTiming>,
    outcome: Option<SessionOutcome>,
}

/// Derives the script seed from a server nonce (or any bytes).
pub fn seed_from_nonce(nonce: &[u8]) -> [u8; 32] {
    Sha256::digest(nonce).into()
}

impl ChallengeSession {
    /// A session whose script is drawn from `config.actions` with a seed (the server nonce's
    /// digest, see [`seed_from_nonce`]): the same seed always gives the same script.
    pub fn new(config: ChallengeConfig, seed: [u8; 32]) -> Result<Self> {
        config.validate()?;
        let mut pool = config.actions.clone();
        pool.sort();
        pool.dedup();
        pool.shuffle(&mut ChaCha8Rng::from_seed(seed));
        let script = pool.into_iter().take(config.count).collect();
        Ok(Self::build(config, script))
    }

    /// A session with an explicit script.
    pub fn with_script(config: ChallengeConfig, script: Vec<ChallengeAction>) -> Result<Self> {
        config.validate()?;
        if script.is_empty() || script.len() > 10 {
            return Err(Error::invalid("script", "a script needs 1..=10 challenges"));
        }
        Ok(Self::build(config, script))
    }

    fn build(config: ChallengeConfig, script: Vec<ChallengeAction>) -> Self {
        Self {
            config,
            script,
            state: State::Idle,
            started_ms: 0.0,
            last_t: f64::NEG_INFINITY,
            frames_seen: 0,
            neutral: Vec::new(),
            rules: Rulebook::default(),
            last_face_ms: None,
            last_guidance: Vec::new(),
            current: 0,
            challenge_started_ms: 0.0,
            detector: None,
            passed: Vec::new(),
            timings: Vec::new(),
            outcome: None,
        }
    }

    /// The challenge script.
    pub fn script(&self) -> &[ChallengeAction] {
        &self.script
    }

    /// The settings in force.
    pub fn config(&self) -> &ChallengeConfig {
        &self.config
    }

    /// The decision, once made.
    pub fn outcome(&self) -> Option<&SessionOutcome> {
        self.outcome.as_ref()
    }

    /// Whether the session has decided.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The challenge the user is performing now.
    pub fn current_challenge(&self) -> Option<ChallengeAction> {
        self.detector.as_ref().map(|d| d.action())
    }

    /// Which optional stages the next frame needs: an embedding until the reference face is
    /// taken and then every `identity_every` frames; emotion while a smile is expected.
    pub fn stages_for_next_frame(&self) -> Stages {
        let embedding = match self.state {
            State::Idle | State::Passive => !self.rules.has_reference(),
            State::Active => self
                .frames_seen
                .is_multiple_of(self.config.identity_every.max(1) as u64),
            State::Done => false,
        };
        let emotion = matches!(self.current_challenge(), Some(ChallengeAction::Smile));
        Stages {
            pad: self.state != State::Done,
            embedding,
            emotion,
            age_gender: false,
        }
    }

    /// Feeds one analysed frame; returns the events it caused.
    pub fn push(&mut self, rec: &FrameRecord) -> Vec<Event> {
        let mut events = Vec::new();
        if self.state == State::Done || !rec.t_ms.is_finite() || rec.t_ms < self.last_t {
            return events; // decided, or an out-of-order frame: ignore it
        }
        self.last_t = rec.t_ms;
        self.frames_seen += 1;
        if self.state == State::Idle {
            self.state = State::Passive;
            self.started_ms = rec.t_ms;
            events.push(Event::Phase {
                value: Phase::Passive,
            });
        }
        self.emit_guidance(rec, &mut events);

        let single_face = rec.faces.len() == 1 && rec.face.is_some();
        if single_face {
            self.last_face_ms = Some(rec.t_ms);
        }
        if let Some(pad) = rec.pad_real() {
            let label = if pad >= self.config.pad_threshold {
                Label::Real
            } else {
                Label::Fake
            };
            events.push(Event::FrameResult {
                confidence: pad,
                label,
            });
        }
        if let Some(failure) = self.rules.observe(rec, &self.config) {
            if let Some(d) = self.detector.take() {
                self.record_challenge(d.action(), rec.t_ms, ChallengeStatus::Failed, &mut events);
            }
            self.conclude(Some(failure), &mut events);
            return events;
        }
        match self.state {
            State::Passive => self.step_passive(rec, &mut events),
            State::Active => self.step_active(rec, &mut events),
            State::Idle | State::Done => {}
        }
        events
    }

    /// Ends the stream: an unfinished session fails.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if self.state != State::Done {
            let t = self.last_t.max(self.started_ms);
            if let Some(d) = self.detector.take() {
                self.record_challenge(d.action(), t, ChallengeStatus::Failed, &mut events);
            }
            let failure = if self.rules.usable() == 0 {
                Failure::NoUsableFrames
            } else {
                Failure::EndOfStream
            };
            self.conclude(Some(failure), &mut events);
        }
        events
    }

    fn emit_guidance(&mut self, rec: &FrameRecord, events: &mut Vec<Event>) {
        for g in &rec.guidance {
            if !self.last_guidance.contains(g) {
                events.push(Event::guidance(*g));
            }
        }
        self.last_guidance = rec.guidance.clone();
    }

    fn step_passive(&mut self, rec: &FrameRecord, events: &mut Vec<Event>) {
        if rec.counts_for_liveness() {
            if let Some(face) = &rec.face {
                self.neutral.push(Sample::from_face(rec.t_ms, face));
            }
        }
        let elapsed = rec.t_ms - self.started_ms;
        let ready = self.neutral.len() >= self.config.passive_min_frames
            && elapsed >= self.config.passive_ms
            && self.rules.has_reference();
        if ready {
            self.state = State::Active;
            events.push(Event::Phase {
                value: Phase::Active,
            });
            self.start_challenge(rec.t_ms, events);
        } else if elapsed > self.config.timeout_ms {
            self.conclude(Some(Failure::NoUsableFrames), events);
        }
    }

    fn start_challenge(&mut self, t: f64, events: &mut Vec<Event>) {
        let action = self.script[self.current];
        let baseline = Baseline::from_samples(&self.neutral).unwrap_or(Baseline {
            ear: 0.3,
            yaw: 0.0,
            pitch: 0.0,
            mouth_width: 1.0,
        });
        self.detector = Some(ActionDetector::new(
            action,
            baseline,
            self.config.thresholds.clone(),
        ));
        self.challenge_started_ms = t;
        events.push(Event::ChallengeStart { action });
    }

    fn step_active(&mut self, rec: &FrameRecord, events: &mut Vec<Event>) {
        let t = rec.t_ms;
        let lost_for = self.last_face_ms.map_or(f64::INFINITY, |last| t - last);
        if lost_for > self.config.max_face_lost_ms {
            if let Some(d) = self.detector.take() {
                self.record_challenge(d.action(), t, ChallengeStatus::Failed, events);
            }
            self.conclude(Some(Failure::FaceLost), events);
            return;
        }
        let Some(detector) = self.detector.as_mut() else {
            return;
        };
        let action = detector.action();
        let done = match (&rec.face, rec.faces.len()) {
            (Some(face), 1) => detector.push(&Sample::from_face(t, face)),
            _ => false,
        };
        if done {
            self.detector = None;
            self.passed.push(action);
            self.record_challenge(action, t, ChallengeStatus::Passed, events);
            self.current += 1;
            if self.current < self.script.len() {
                self.start_challenge(t, events);
            } else {
                self.conclude(None, events);
            }
        } else if t - self.challenge_started_ms > self.config.timeout_ms {
            self.detector = None;
            self.record_challenge(action, t, ChallengeStatus::Failed, events);
            self.conclude(Some(Failure::ChallengeTimeout { action }), events);
        }
    }

    fn record_challenge(
        &mut self,
        action: ChallengeAction,
        t: f64,
        status: ChallengeStatus,
        events: &mut Vec<Event>,
    ) {
        self.timings.push(ChallengeTiming {
            action,
            started_ms: self.challenge_started_ms,
            ended_ms: t,
            status,
        });
        events.push(Event::ChallengeResult { action, status });
    }

    fn conclude(&mut self, failure: Option<Failure>, events: &mut Vec<Event>) {
        let pad_score = self.rules.pad_score();
        // Another person ends a session at once and is its reason. Otherwise a still or frozen
        // stream is the reason, even when a challenge also timed out on it; then the session's
        // own failure (timeout, face lost); a completed script must hold every rule.
        let failure = match failure {
            Some(f @ Failure::IdentityChanged { .. }) => Some(f),
            other => self
                .rules
                .stream_failure(&self.config)
                .or(other)
                .or_else(|| self.rules.conclude(&self.config)),
        };
        let label = if failure.is_none() {
            Label::Real
        } else {
            Label::Fake
        };
        let fraction = self.passed.len() as f32 / self.script.len() as f32;
        let confidence = pad_score.unwrap_or(0.0) * fraction;
        events.push(Event::FinalResult {
            label,
            passed: self.passed.clone(),
            confidence: Some(confidence),
        });
        self.outcome = Some(SessionOutcome {
            label,
            passed: self.passed.clone(),
            confidence,
            pad_score,
            frames_scored: self.rules.usable(),
            script: self.script.clone(),
            challenges: self.timings.clone(),
            failure,
            stats: self.rules.stats(),
        });
        self.state = State::Done;
    }
}

/// Mean after dropping the top and bottom 10 % (a few mis-detected frames cannot swing it).
pub fn robust_mean(values: &[f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f32::total_cmp);
    let cut = v.len() / 10;
    let kept = &v[cut..v.len() - cut];
    Some(kept.iter().sum::<f32>() / kept.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_script_and_others_differ() {
        let cfg = ChallengeConfig {
            count: 3,
            ..Default::default()
        };
        let a = ChallengeSession::new(cfg.clone(), seed_from_nonce(b"nonce-1")).unwrap();
        let b = ChallengeSession::new(cfg.clone(), seed_from_nonce(b"nonce-1")).unwrap();
        assert_eq!(a.script(), b.script());
        assert_eq!(a.script().len(), 3);
        let differs = (0..20).any(|i| {
            ChallengeSession::new(cfg.clone(), seed_from_nonce(format!("n{i}").as_bytes()))
                .unwrap()
                .script()
                != a.script()
        });
        assert!(differs);
    }

    #[test]
    fn bad_config_is_rejected() {
        let cfg = ChallengeConfig {
            count: 0,
            ..Default::default()
        };
        assert!(ChallengeSession::new(cfg, [0; 32]).is_err());
        let cfg = ChallengeConfig {
            actions: vec![],
            ..Default::default()
        };
        assert!(ChallengeSession::new(cfg, [0; 32]).is_err());
    }

    #[test]
    fn a_stream_without_faces_fails_with_guidance() {
        let mut s =
            ChallengeSession::with_script(ChallengeConfig::default(), vec![ChallengeAction::Blink])
                .unwrap();
        let mut events = Vec::new();
        for i in 0..200 {
            let rec = FrameRecord {
                t_ms: i as f64 * 66.0,
                width: 640,
                height: 480,
                faces: vec![],
                face: None,
                guidance: vec![Guidance::NoFace],
                timings: Default::default(),
                tracked: false,
                change: None,
                light: None,
                signals: None,
            };
            events.extend(s.push(&rec));
        }
        events.extend(s.finish());
        assert_eq!(
            events[0],
            Event::Phase {
                value: Phase::Passive
            }
        );
        assert!(events.contains(&Event::guidance(Guidance::NoFace)));
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e, Event::Guidance { .. }))
                .count(),
            1,
            "guidance only on change"
        );
        let last = events.last().unwrap();
        assert!(
            matches!(
                last,
                Event::FinalResult {
                    label: Label::Fake,
                    ..
                }
            ),
            "{last:?}"
        );
        assert_eq!(s.outcome().unwrap().failure, Some(Failure::NoUsableFrames));
    }

    #[test]
    fn robust_mean_ignores_outliers() {
        let mut v = vec![0.9; 18];
        v.push(0.0);
        v.push(1.0);
        assert!((robust_mean(&v).unwrap() - 0.9).abs() < 1e-6);
        assert_eq!(robust_mean(&[]), None);
    }
}
