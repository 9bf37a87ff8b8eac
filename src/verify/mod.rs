//! Verification of a submitted session: what a server may sign about it.
//!
//! The threat model is the browser's owner: they can change the SDK's JavaScript, feed any
//! video to the camera API, hold the session key and post a bundle by hand. The bundle's
//! signature proves only that it belongs to this session, once; every field the client wrote
//! (its result, records, challenge timings, which frames it kept) is theirs to invent. So a
//! verdict is built from the verifier's own run:
//!
//! - **with a recording** (the bundle's `clip` item, the session's camera video): the whole
//!   challenge session runs again over it ([`recording`]), frame by frame at the SDK's analysis
//!   rate, with the script the server issued, and the core's [`Rulebook`] judges it (the same
//!   person throughout, anti-spoofing mean and per-frame floor, usable frames, a moving scene).
//!   Only this can give [`VerdictLabel::Real`]; `passed` lists the actions the server saw.
//! - **without one**: the submitted frames are analysed as stills under the same rules, which
//!   at best gives [`VerdictLabel::PassiveOnly`] (or the policy refuses the bundle): the
//!   client chose those frames, and no challenge was verified.
//!
//! The client's frames and records are compared with the server's run ([`frames`]) and any
//! disagreement is reported for audit; they never raise a verdict.
//!
//! Two phases, so a server can spend a session's nonce in between: [`admit`] (binding and
//! structure, cheap, before the nonce is used) and [`Admitted::run`] (the pipeline, seconds,
//! on a worker).
//!
//! [`Rulebook`]: crate::challenge::Rulebook

pub mod frames;
pub mod recording;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::challenge::{ChallengeAction, ChallengeConfig, Failure, RuleStats};
use crate::check::MediaLimits;
use crate::error::Result;
use crate::evidence::{check_items, EvidenceError, ItemKind, Manifest};
use crate::injection::{assess, InjectionReport, InjectionThresholds, Risk};
use crate::light::{
    self, LightConfig, LightInconclusive, LightOutcome, LightPolicy, LightResult, LightSequence,
    LightTimeline,
};
use crate::pipeline::{Engine, FrameSummary};
use frames::{compare_with_recording, passive_check, ClientFrame};
pub use frames::{Disagreement, FrameDisagreement, FrameFinding};
use recording::run_recording;
pub use recording::{RecordingReport, RunTimings};

/// The session as the verifier issued it: nothing here comes from the client.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub session_id: String,
    pub nonce: String,
    pub script: Vec<ChallengeAction>,
    /// Time allowed per challenge, ms.
    pub timeout_ms: f64,
    /// When the session was issued on the verifier's clock (Unix ms); `None` for an offline
    /// kiosk, which makes its own sessions.
    pub issued_ms: Option<u64>,
    /// Which light path the session took, with the sequence the verifier derived from the
    /// nonce when it plays light.
    pub light: IssuedLight,
}

/// The light challenge of an issued session.
#[derive(Debug, Clone, PartialEq)]
pub enum IssuedLight {
    /// The screen plays this sequence (derived by the verifier from the nonce).
    Sequence(LightSequence),
    /// The user asked for no flashing: the script has extra challenges instead.
    NoFlash,
    /// The policy plays no light (or the session was made without it, e.g. a kiosk's).
    Off,
}

impl IssuedLight {
    /// The verdict's name for the path.
    pub fn path(&self) -> LightPath {
        match self {
            IssuedLight::Sequence(_) => LightPath::Light,
            IssuedLight::NoFlash => LightPath::NoFlash,
            IssuedLight::Off => LightPath::Off,
        }
    }
}

/// Which path a session took about light (recorded in the verdict).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightPath {
    /// The screen played the nonce's colour sequence.
    Light,
    /// No flashing (accessibility): more challenges instead.
    NoFlash,
    /// No light in this session.
    #[default]
    Off,
}

/// Whether the verifier's policy plays a light sequence in its sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightMode {
    /// Never.
    Off,
    /// Sessions play light; its result is verified and reported but does not decide REAL.
    #[default]
    Optional,
    /// Sessions play light, and REAL requires a passing light result (unless the user asked
    /// for no flashing, which adds challenges instead).
    Required,
}

/// What an injection risk does to a verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectionAction {
    /// Report it only (the test mode: Chromium's fake camera is itself an injected stream).
    Flag,
    /// FAKE at or above `refuse_at`.
    Refuse,
    /// FAKE at or above `refuse_at` unless the light challenge passed (the light ties the
    /// stream to this session's screen).
    #[default]
    RequireLight,
}

/// The injection-signal policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectionPolicy {
    pub action: InjectionAction,
    /// The risk from which `action` applies.
    pub refuse_at: Risk,
    pub thresholds: InjectionThresholds,
}

impl Default for InjectionPolicy {
    fn default() -> Self {
        Self {
            action: InjectionAction::default(),
            refuse_at: Risk::High,
            thresholds: InjectionThresholds::default(),
        }
    }
}

/// What to do with a bundle that has no recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithoutRecording {
    /// Judge the frames as stills: at best [`VerdictLabel::PassiveOnly`].
    PassiveOnly,
    /// Refuse the bundle ([`Refusal::RecordingRequired`]).
    Refuse,
}

/// How the verifier runs a submitted session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyPolicy {
    /// Recording frames analysed per second (the SDK's and the CLI's rate).
    pub analysis_fps: f64,
    /// The detector, anti-spoofing and embeddings every n-th analysed frame, the face tracked
    /// in between (the SDK's default `detectEvery`).
    pub detect_every: u32,
    pub without_recording: WithoutRecording,
    /// A recording may be this much longer than the session has existed (clock granularity,
    /// the recorder's start before the first analysed frame), ms.
    pub recording_slack_ms: u64,
    /// Most frame items a bundle may carry (the SDK sends 12 by default).
    pub max_frame_items: usize,
    /// The run's wall-clock budget, ms: past it the run stops with an error (the client's
    /// fault: a recording or frames too costly to judge).
    pub max_run_ms: u64,
    /// Whether sessions play a light sequence, and whether REAL needs it.
    pub light: LightMode,
    /// How sequences are drawn from a nonce.
    pub light_sequence: LightPolicy,
    /// How the response to them is scored.
    pub light_scoring: LightConfig,
    /// Challenges added to the script of a session created without light (accessibility).
    pub no_flash_extra_challenges: usize,
    pub injection: InjectionPolicy,
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        Self {
            analysis_fps: 15.0,
            detect_every: 3,
            without_recording: WithoutRecording::PassiveOnly,
            recording_slack_ms: 2000,
            max_frame_items: 16,
            max_run_ms: 20_000,
            light: LightMode::default(),
            light_sequence: LightPolicy::default(),
            light_scoring: LightConfig::default(),
            no_flash_extra_challenges: 1,
            injection: InjectionPolicy::default(),
        }
    }
}

impl VerifyPolicy {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(self.analysis_fps > 0.0 && self.analysis_fps <= 60.0) {
            return Err(crate::Error::invalid(
                "analysis_fps",
                format!("analysis_fps must be in (0, 60], got {}", self.analysis_fps),
            ));
        }
        if self.max_frame_items == 0 || self.max_frame_items > crate::evidence::MAX_ITEMS {
            return Err(crate::Error::invalid(
                "max_frame_items",
                format!(
                    "max_frame_items must be 1..={}, got {}",
                    crate::evidence::MAX_ITEMS,
                    self.max_frame_items
                ),
            ));
        }
        if self.max_run_ms == 0 {
            return Err(crate::Error::invalid(
                "max_run_ms",
                "max_run_ms must be at least 1",
            ));
        }
        if self.detect_every == 0 || self.detect_every > crate::live::MAX_DETECT_EVERY {
            return Err(crate::Error::invalid(
                "detect_every",
                format!(
                    "detect_every must be 1..={}, got {}",
                    crate::live::MAX_DETECT_EVERY,
                    self.detect_every
                ),
            ));
        }
        if self.no_flash_extra_challenges > 3 {
            return Err(crate::Error::invalid(
                "no_flash_extra_challenges",
                format!(
                    "no_flash_extra_challenges must be 0..=3, got {}",
                    self.no_flash_extra_challenges
                ),
            ));
        }
        self.light_sequence
            .validate()
            .map_err(|e| crate::Error::invalid("light_sequence", e.to_string()))?;
        self.light_scoring
            .validate()
            .map_err(|e| crate::Error::invalid("light_scoring", e.to_string()))?;
        self.injection
            .thresholds
            .validate()
            .map_err(|e| crate::Error::invalid("injection", e.to_string()))?;
        Ok(())
    }

    /// A stored session's light, the sequence derived again from its nonce.
    pub fn issued_light(&self, nonce: &str, path: LightPath) -> Result<IssuedLight> {
        Ok(match path {
            LightPath::Light => IssuedLight::Sequence(
                LightSequence::from_nonce(nonce, &self.light_sequence)
                    .map_err(|e| crate::Error::invalid("light_sequence", e.to_string()))?,
            ),
            LightPath::NoFlash => IssuedLight::NoFlash,
            LightPath::Off => IssuedLight::Off,
        })
    }

    /// The light path of a new session: `no_flash` when its creator asked for no flashing.
    pub fn light_for(&self, nonce: &str, no_flash: bool) -> Result<IssuedLight> {
        let path = match (self.light, no_flash) {
            (LightMode::Off, _) => LightPath::Off,
            (_, true) => LightPath::NoFlash,
            (_, false) => LightPath::Light,
        };
        self.issued_light(nonce, path)
    }
}

/// Why a bundle is not even judged (the client's fault: a 4xx, no verdict).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error("the manifest names another session")]
    SessionMismatch,
    #[error("the manifest's nonce is not this session's")]
    NonceMismatch,
    #[error("the manifest's challenge script is not the one issued with the session")]
    ScriptMismatch,
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("a bundle carries at most one clip")]
    TooManyClips,
    #[error("records item `{name}` is not a JSON array of frame records: {message}")]
    InvalidRecords { name: String, message: String },
    #[error("the bundle has neither a recording nor a frame for the server to analyse")]
    NoMedia,
    #[error("this server verifies sessions from their recording: send the `clip` item (SDK option recordClip)")]
    RecordingRequired,
    #[error("the bundle lists {count} frames; this server takes at most {max}")]
    TooManyFrames { count: usize, max: usize },
    #[error("invalid client signals: {0}")]
    InvalidSignals(String),
    #[error("the light timeline lists {count} onsets; a sequence has at most {max}")]
    InvalidLightTimeline { count: usize, max: usize },
}

impl Refusal {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::SessionMismatch => "session_mismatch",
            Refusal::NonceMismatch => "nonce_mismatch",
            Refusal::ScriptMismatch => "script_mismatch",
            Refusal::Evidence(e) => e.code(),
            Refusal::TooManyClips => "too_many_clips",
            Refusal::InvalidRecords { .. } => "invalid_records",
            Refusal::NoMedia => "no_frames",
            Refusal::RecordingRequired => "recording_required",
            Refusal::TooManyFrames { .. } => "too_many_frames",
            Refusal::InvalidSignals(_) => "invalid_signals",
            Refusal::InvalidLightTimeline { .. } => "invalid_light_timeline",
        }
    }
}

/// The verdict's label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictLabel {
    /// The server saw a live person perform the issued script in the session's recording.
    Real,
    /// A rule failed (the `failure` says which).
    Fake,
    /// No recording: the submitted frames passed the passive rules, no challenge was verified.
    PassiveOnly,
}

impl VerdictLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictLabel::Real => "REAL",
            VerdictLabel::Fake => "FAKE",
            VerdictLabel::PassiveOnly => "PASSIVE_ONLY",
        }
    }
}

/// Who established a part of the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckedBy {
    /// The server, from media it analysed itself.
    Server,
    /// Nobody: the verdict asserts nothing about it.
    None,
}

/// What the verdict asserts, and on whose evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// Anti-spoofing.
    pub pad: CheckedBy,
    /// The same person throughout.
    pub identity: CheckedBy,
    /// The challenge script was performed (only from a recording).
    pub challenges: CheckedBy,
    /// The lit skin followed the session's light sequence (only from a recording, only when
    /// the session played light and the response passed).
    pub light: CheckedBy,
}

/// A bundle-level reason for FAKE (the session rules' reasons are [`Failure`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum BundleFailure {
    /// Two frame items are the same bytes: a live camera never gives identical frames.
    RepeatedFrameItems { frames: Vec<String> },
    /// The recording lasts longer than the session had existed when it was submitted.
    RecordingTooLong {
        duration_ms: f64,
        session_age_ms: u64,
    },
    /// The policy requires light and the recording's response did not pass.
    LightNotVerified {
        outcome: LightOutcome,
        detail: Option<LightInconclusive>,
    },
    /// The frames' source looks injected at a risk the policy refuses.
    InjectionSuspected { risk: Risk },
}

/// Why a verdict is not REAL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum VerifyFailure {
    Bundle(BundleFailure),
    Session(Failure),
}

/// The client's frame items as the verifier saw them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FramesReport {
    /// Frame items in the bundle.
    pub submitted: usize,
    /// Analysed as stills (only without a recording).
    pub analysed: Vec<FrameFinding>,
    /// Without a recording: what the rules saw over the frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<RuleStats>,
}

/// The verifier's decision about one submitted session, with what it was decided on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    #[serde(flatten)]
    pub decision: Decision,
    /// The server's run of the recording.
    pub recording: Option<RecordingReport>,
    pub frames: FramesReport,
    /// Where the client's own account differs from the server's (audit only).
    pub disagreement: Disagreement,
}

/// What the verifier decided: the part of a [`Verdict`] a signed verdict asserts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// REAL (the script performed live in the recording), FAKE, or PASSIVE_ONLY (no
    /// recording: the frames passed the passive rules; no challenge verified).
    pub label: VerdictLabel,
    /// Actions the server saw performed, in script order.
    pub passed: Vec<ChallengeAction>,
    /// The core's formula on the server's numbers: robust mean real probability × the
    /// fraction of the script the server saw passed.
    pub confidence: f32,
    /// The server's robust mean real probability (recording, else frames).
    pub pad_score: Option<f32>,
    pub checks: Checks,
    pub failure: Option<VerifyFailure>,
    /// Which path the session took about light: `light`, `no_flash` (more challenges
    /// instead) or `off`.
    pub light_path: LightPath,
    /// The server's measurement of the light response (null when the session played no light
    /// or there is no recording).
    pub light: Option<LightResult>,
    /// Where the frames came from: the injection risk and its reasons (null without a
    /// recording).
    pub injection: Option<InjectionReport>,
}

/// Most onsets a light timeline may list (a sequence has at most 12 segments).
const MAX_LIGHT_ONSETS: usize = 32;

/// One frame item, admitted.
#[derive(Debug, Clone)]
struct FrameItem {
    name: String,
    t_ms: Option<f64>,
    sha256: String,
    bytes: Vec<u8>,
}

/// A bundle bound to its session with every item checked: ready for [`Admitted::run`].
#[derive(Debug, Clone)]
pub struct Admitted {
    issued: Issued,
    policy: VerifyPolicy,
    manifest: Manifest,
    frames: Vec<FrameItem>,
    records: Option<Vec<FrameSummary>>,
    clip: Option<Vec<u8>>,
}

/// Whether a verified manifest names the issued session, its nonce and its script, and lists
/// no more frames than the policy takes: what a server can check before it reads an item.
pub fn bind(
    issued: &Issued,
    policy: &VerifyPolicy,
    manifest: &Manifest,
) -> std::result::Result<(), Refusal> {
    let frames = manifest.items_of(ItemKind::Frame).count();
    if frames > policy.max_frame_items {
        return Err(Refusal::TooManyFrames {
            count: frames,
            max: policy.max_frame_items,
        });
    }
    if manifest.session_id != issued.session_id {
        return Err(Refusal::SessionMismatch);
    }
    if manifest.nonce != issued.nonce {
        return Err(Refusal::NonceMismatch);
    }
    if manifest.script != issued.script {
        return Err(Refusal::ScriptMismatch);
    }
    if let Some(signals) = &manifest.signals {
        signals
            .validate()
            .map_err(|e| Refusal::InvalidSignals(e.to_string()))?;
    }
    if let Some(timeline) = &manifest.light {
        if timeline.onsets_ms.len() > MAX_LIGHT_ONSETS {
            return Err(Refusal::InvalidLightTimeline {
                count: timeline.onsets_ms.len(),
                max: MAX_LIGHT_ONSETS,
            });
        }
    }
    Ok(())
}

/// Binds a verified manifest and its items to the issued session and sorts the items: the
/// checks that need no pipeline, run before a server spends the nonce.
pub fn admit(
    issued: &Issued,
    policy: &VerifyPolicy,
    manifest: Manifest,
    items: Vec<(String, Vec<u8>)>,
) -> std::result::Result<Admitted, Refusal> {
    bind(issued, policy, &manifest)?;
    check_items(
        &manifest,
        items.iter().map(|(n, d)| (n.as_str(), d.as_slice())),
    )?;
    let listed: HashMap<&str, &crate::evidence::Item> = manifest
        .items
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let mut frames = Vec::new();
    let mut records = None;
    let mut clip = None;
    for (name, bytes) in items {
        // check_items proved every item is listed exactly once.
        let Some(item) = listed.get(name.as_str()) else {
            continue;
        };
        match item.kind {
            ItemKind::Frame => frames.push(FrameItem {
                t_ms: item.t_ms,
                sha256: item.sha256.to_ascii_lowercase(),
                name,
                bytes,
            }),
            ItemKind::Clip if clip.is_some() => return Err(Refusal::TooManyClips),
            ItemKind::Clip => clip = Some(bytes),
            ItemKind::Records => {
                let parsed =
                    serde_json::from_slice(&bytes).map_err(|e| Refusal::InvalidRecords {
                        name: name.clone(),
                        message: e.to_string(),
                    })?;
                records = Some(parsed);
            }
        }
    }
    if clip.is_none() {
        if policy.without_recording == WithoutRecording::Refuse {
            return Err(Refusal::RecordingRequired);
        }
        if frames.is_empty() {
            return Err(Refusal::NoMedia);
        }
    }
    Ok(Admitted {
        issued: issued.clone(),
        policy: policy.clone(),
        manifest,
        frames,
        records,
        clip,
    })
}

impl Admitted {
    /// The manifest (signed by the client).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether the bundle carries the session's recording.
    pub fn has_recording(&self) -> bool {
        self.clip.is_some()
    }

    /// The server's own run and its verdict (blocking: seconds of CPU). `received_ms` is when
    /// the bundle arrived, on the clock of [`Issued::issued_ms`]. An error means media that
    /// does not decode (the client's fault) or an engine failure.
    pub fn run(&self, engine: &Engine, limits: &MediaLimits, received_ms: u64) -> Result<Verdict> {
        self.policy.validate()?;
        let config = ChallengeConfig {
            timeout_ms: self.issued.timeout_ms,
            pad_threshold: engine.config().pad_threshold,
            ..ChallengeConfig::default()
        };
        let repeated = repeated_items(&self.frames);
        let client_frames: Vec<ClientFrame<'_>> = self
            .frames
            .iter()
            .map(|f| ClientFrame {
                name: &f.name,
                t_ms: f.t_ms,
                bytes: &f.bytes,
            })
            .collect();
        let client = &self.manifest.result;
        let light_path = self.issued.light.path();
        match &self.clip {
            Some(clip) => {
                let scoring = &self.policy.light_scoring;
                // A timeline the sequence does not fit gets a failing light result below; the
                // run follows the face after the decision only for one that fits.
                let timeline = self.manifest.light.clone().unwrap_or(LightTimeline {
                    onsets_ms: Vec::new(),
                });
                let light_until = match &self.issued.light {
                    IssuedLight::Sequence(seq) => {
                        light::check_timeline(seq, &timeline, scoring.timeline_tolerance_ms)
                            .ok()
                            .and_then(|()| light_end_ms(seq, &timeline))
                            .map(|end| end + scoring.max_lag_ms.max(0.0))
                    }
                    IssuedLight::NoFlash | IssuedLight::Off => None,
                };
                let run = run_recording(
                    engine,
                    clip,
                    &self.issued.script,
                    &config,
                    &self.policy,
                    limits,
                    light_until,
                )?;
                let followed = || run.records.iter().chain(&run.observed);
                let light = match &self.issued.light {
                    IssuedLight::Sequence(seq) => {
                        let samples: Vec<_> = followed().filter_map(|r| r.light).collect();
                        Some(light::score(seq, &timeline, &samples, scoring))
                    }
                    IssuedLight::NoFlash | IssuedLight::Off => None,
                };
                let light_passed = light
                    .as_ref()
                    .is_some_and(|l| l.outcome == LightOutcome::Passed);
                let frame_signals: Vec<_> = followed()
                    .filter_map(|r| r.signals.map(|s| (s, r.change)))
                    .collect();
                let injection = assess(
                    &frame_signals,
                    &run.timestamps_ms,
                    self.manifest.signals.as_ref(),
                    &self.policy.injection.thresholds,
                );
                let light_required = self.policy.light == LightMode::Required
                    && matches!(self.issued.light, IssuedLight::Sequence(_));
                let injection_refused = match self.policy.injection.action {
                    InjectionAction::Flag => false,
                    InjectionAction::Refuse => injection.risk >= self.policy.injection.refuse_at,
                    InjectionAction::RequireLight => {
                        injection.risk >= self.policy.injection.refuse_at && !light_passed
                    }
                };
                let outcome = &run.report.outcome;
                let session_age = self
                    .issued
                    .issued_ms
                    .map(|issued| received_ms.saturating_sub(issued));
                let too_long = session_age.filter(|age| {
                    run.report.duration_ms > (age + self.policy.recording_slack_ms) as f64
                });
                let failure = if !repeated.is_empty() {
                    Some(VerifyFailure::Bundle(BundleFailure::RepeatedFrameItems {
                        frames: repeated,
                    }))
                } else if let Some(age) = too_long {
                    Some(VerifyFailure::Bundle(BundleFailure::RecordingTooLong {
                        duration_ms: run.report.duration_ms,
                        session_age_ms: age,
                    }))
                } else if let Some(f) = &outcome.failure {
                    Some(VerifyFailure::Session(f.clone()))
                } else if light_required && !light_passed {
                    light.as_ref().map(|l| {
                        VerifyFailure::Bundle(BundleFailure::LightNotVerified {
                            outcome: l.outcome,
                            detail: l.reason,
                        })
                    })
                } else if injection_refused {
                    Some(VerifyFailure::Bundle(BundleFailure::InjectionSuspected {
                        risk: injection.risk,
                    }))
                } else {
                    None
                };
                let label = if failure.is_none() {
                    VerdictLabel::Real
                } else {
                    VerdictLabel::Fake
                };
                let disagreement = compare_with_recording(
                    &client_frames,
                    self.records.as_deref(),
                    &run,
                    client,
                    label,
                    &limits.image,
                );
                Ok(Verdict {
                    decision: Decision {
                        label,
                        passed: outcome.passed.clone(),
                        confidence: outcome.confidence,
                        pad_score: outcome.pad_score,
                        checks: Checks {
                            pad: CheckedBy::Server,
                            identity: CheckedBy::Server,
                            challenges: CheckedBy::Server,
                            light: if light_passed {
                                CheckedBy::Server
                            } else {
                                CheckedBy::None
                            },
                        },
                        failure,
                        light_path,
                        light,
                        injection: Some(injection),
                    },
                    recording: Some(run.report),
                    frames: FramesReport {
                        submitted: self.frames.len(),
                        analysed: Vec::new(),
                        stats: None,
                    },
                    disagreement,
                })
            }
            None => {
                let passive = passive_check(
                    engine,
                    &client_frames,
                    &config,
                    limits,
                    self.records.as_deref(),
                    client,
                    self.policy.max_run_ms,
                )?;
                let failure = if repeated.is_empty() {
                    passive.failure.clone().map(VerifyFailure::Session)
                } else {
                    Some(VerifyFailure::Bundle(BundleFailure::RepeatedFrameItems {
                        frames: repeated,
                    }))
                };
                Ok(Verdict {
                    decision: Decision {
                        label: if failure.is_none() {
                            VerdictLabel::PassiveOnly
                        } else {
                            VerdictLabel::Fake
                        },
                        passed: Vec::new(),
                        confidence: 0.0,
                        pad_score: passive.stats.pad_score,
                        checks: Checks {
                            pad: CheckedBy::Server,
                            identity: CheckedBy::Server,
                            challenges: CheckedBy::None,
                            light: CheckedBy::None,
                        },
                        failure,
                        light_path,
                        light: None,
                        injection: None,
                    },
                    recording: None,
                    frames: FramesReport {
                        submitted: self.frames.len(),
                        analysed: passive.findings,
                        stats: Some(passive.stats),
                    },
                    disagreement: passive.disagreement,
                })
            }
        }
    }
}

/// When the timeline's last segment ends (recording time).
fn light_end_ms(seq: &LightSequence, timeline: &LightTimeline) -> Option<f64> {
    Some(timeline.onsets_ms.last()? + seq.segments.last()?.duration_ms)
}

/// Names of frame items whose bytes repeat an earlier item's.
fn repeated_items(frames: &[FrameItem]) -> Vec<String> {
    let mut seen = HashMap::new();
    let mut repeated = Vec::new();
    for f in frames {
        if let Some(first) = seen.insert(f.sha256.as_str(), f.name.as_str()) {
            if repeated.is_empty() {
                repeated.push(first.to_owned());
            }
            repeated.push(f.name.clone());
        }
    }
    repeated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Label;
    use crate::evidence::{ClientResult, Item, Versions, FORMAT_VERSION};
    use ChallengeAction::*;

    fn issued() -> Issued {
        Issued {
            session_id: "s".into(),
            nonce: "n".into(),
            script: vec![Blink, Smile],
            timeout_ms: 8000.0,
            issued_ms: Some(0),
            light: IssuedLight::Off,
        }
    }

    fn manifest(items: &[(&str, ItemKind, &[u8])]) -> Manifest {
        Manifest {
            v: FORMAT_VERSION,
            session_id: "s".into(),
            nonce: "n".into(),
            created_ms: 0.0,
            versions: Versions::current("test"),
            script: vec![Blink, Smile],
            timeout_ms: 8000.0,
            challenges: vec![],
            result: ClientResult {
                label: Label::Real,
                passed: vec![Blink, Smile],
                confidence: 0.9,
                pad_score: Some(0.9),
                failure: None,
            },
            items: items
                .iter()
                .map(|(n, k, d)| Item::describe(n, *k, "application/octet-stream", Some(0.0), d))
                .collect(),
            light: None,
            signals: None,
        }
    }

    fn owned(items: &[(&str, ItemKind, &[u8])]) -> Vec<(String, Vec<u8>)> {
        items
            .iter()
            .map(|(n, _, d)| (n.to_string(), d.to_vec()))
            .collect()
    }

    #[test]
    fn admission_binds_the_bundle_to_the_issued_session() {
        let items: &[(&str, ItemKind, &[u8])] = &[("f0.jpg", ItemKind::Frame, b"a")];
        let p = VerifyPolicy::default();
        assert!(admit(&issued(), &p, manifest(items), owned(items)).is_ok());
        let mut m = manifest(items);
        m.session_id = "other".into();
        assert_eq!(
            admit(&issued(), &p, m, owned(items)).unwrap_err(),
            Refusal::SessionMismatch
        );
        let mut m = manifest(items);
        m.nonce = "other".into();
        assert_eq!(
            admit(&issued(), &p, m, owned(items)).unwrap_err(),
            Refusal::NonceMismatch
        );
        let mut m = manifest(items);
        m.script = vec![Smile, Blink];
        assert_eq!(
            admit(&issued(), &p, m, owned(items)).unwrap_err(),
            Refusal::ScriptMismatch
        );
        let refuse = VerifyPolicy {
            without_recording: WithoutRecording::Refuse,
            ..p.clone()
        };
        let e = admit(&issued(), &refuse, manifest(items), owned(items)).unwrap_err();
        assert_eq!(e.code(), "recording_required");
        let two_clips: &[(&str, ItemKind, &[u8])] = &[
            ("a.webm", ItemKind::Clip, b"a"),
            ("b.webm", ItemKind::Clip, b"b"),
        ];
        let e = admit(&issued(), &p, manifest(two_clips), owned(two_clips)).unwrap_err();
        assert_eq!(e, Refusal::TooManyClips);
        let records: &[(&str, ItemKind, &[u8])] = &[("r.json", ItemKind::Records, b"{}")];
        let e = admit(&issued(), &p, manifest(records), owned(records)).unwrap_err();
        assert_eq!(e.code(), "invalid_records");
        let none: &[(&str, ItemKind, &[u8])] = &[("r.json", ItemKind::Records, b"[]")];
        let e = admit(&issued(), &p, manifest(none), owned(none)).unwrap_err();
        assert_eq!(e, Refusal::NoMedia);
    }

    #[test]
    fn identical_frame_items_are_named() {
        let f = |name: &str, bytes: &[u8]| FrameItem {
            name: name.into(),
            t_ms: None,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
            bytes: bytes.to_vec(),
        };
        assert!(repeated_items(&[f("a", b"1"), f("b", b"2")]).is_empty());
        assert_eq!(
            repeated_items(&[f("a", b"1"), f("b", b"2"), f("c", b"1"), f("d", b"1")]),
            vec!["a", "c", "d"]
        );
    }

    #[test]
    fn labels_and_checks_serialise_as_documented() {
        assert_eq!(
            serde_json::to_value(VerdictLabel::PassiveOnly).unwrap(),
            "PASSIVE_ONLY"
        );
        assert_eq!(VerdictLabel::Real.as_str(), "REAL");
        let c = Checks {
            pad: CheckedBy::Server,
            identity: CheckedBy::Server,
            challenges: CheckedBy::None,
            light: CheckedBy::None,
        };
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!({"pad": "server", "identity": "server", "challenges": "none",
                               "light": "none"})
        );
        let f = VerifyFailure::Session(Failure::FaceLost);
        assert_eq!(
            serde_json::to_value(f).unwrap(),
            serde_json::json!({"reason": "face_lost"})
        );
        let f = VerifyFailure::Bundle(BundleFailure::RecordingTooLong {
            duration_ms: 9000.0,
            session_age_ms: 4000,
        });
        assert_eq!(
            serde_json::to_value(f).unwrap()["reason"],
            "recording_too_long"
        );
    }
}
