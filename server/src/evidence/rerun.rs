//! The server's own re-run of the pipeline on an evidence bundle: the only input to the
//! verdict. Runs as one job on the CPU pool.
//!
//! Frames (every `frame` item, JPEG or PNG) are decoded with the server's image limits and
//! analysed with anti-spoofing and the embedding. The bundle passes only if:
//!
//! 1. every frame shows exactly one face (`face_count`);
//! 2. at least [`MIN_USABLE_FRAMES`] frames are usable (one face, anti-spoofing ran, no
//!    blocking guidance, not turned away), as the core's passive phase requires
//!    (`no_usable_frames`);
//! 3. the same person is in every frame: the first usable frame's MobileFaceNet embedding is
//!    the reference, and a near-frontal frame (|yaw| ≤ the core's head-turn threshold: turned
//!    faces embed poorly) below the core's identity threshold is a strike; two strikes in a
//!    row fail, as in the core's session (`identity_changed`);
//! 4. the robust (10 % trimmed) mean real probability of the usable frames is at or above the
//!    engine's anti-spoofing threshold (`spoof`).
//!
//! With a `clip` item (WebM/MP4), the whole challenge session runs over it with the session's
//! script, every frame fully analysed (`detect_every` 1) at [`CLIP_FPS`], so the challenges
//! are verified by the server: the clip session must decide REAL (`clip`), and its reference
//! face must be the frames' person (`clip_identity`).

use liveproof::challenge::{
    robust_mean, ActionThresholds, ChallengeAction, ChallengeConfig, ChallengeSession, Failure,
};
use liveproof::check::MediaLimits;
use liveproof::clip::run_clip;
use liveproof::embed::cosine;
use liveproof::events::Label;
use liveproof::quality::Guidance;
use liveproof::video::VideoReader;
use liveproof::{decode_image, Engine, FrameRecord, LiveCheck, LiveConfig, Stages};
use serde::Serialize;

/// Analysis rate of a clip (the SDK's and the CLI's).
pub const CLIP_FPS: f64 = 15.0;
/// Usable frames needed, as the core's passive phase.
pub const MIN_USABLE_FRAMES: usize = 3;

/// One frame item to analyse.
#[derive(Debug, Clone)]
pub struct FrameItem {
    pub name: String,
    pub t_ms: Option<f64>,
    pub bytes: Vec<u8>,
}

/// What the server needs to re-run.
#[derive(Debug, Clone)]
pub struct RerunInput {
    pub frames: Vec<FrameItem>,
    pub clip: Option<Vec<u8>>,
    pub script: Vec<ChallengeAction>,
    pub timeout_ms: f64,
}

/// The server's findings on one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameFinding {
    pub name: String,
    pub t_ms: Option<f64>,
    pub faces: usize,
    /// Real probability, when one face was scored.
    pub pad: Option<f32>,
    pub usable: bool,
    /// Cosine similarity to the reference face (near-frontal frames with an embedding).
    pub similarity: Option<f32>,
}

/// The server's challenge session over the clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipFinding {
    pub label: Label,
    pub passed: Vec<ChallengeAction>,
    pub confidence: f32,
    pub pad_score: Option<f32>,
    pub frames_analysed: usize,
    pub failure: Option<Failure>,
    /// Cosine similarity of the clip's reference face to the frames' reference face.
    pub similarity: Option<f32>,
}

/// Why the server's re-run refuses the bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ServerFailure {
    /// A frame does not show exactly one face.
    FaceCount { frame: String, faces: usize },
    /// Too few usable frames to judge.
    NoUsableFrames { usable: usize, required: usize },
    /// Another person appeared in the frames.
    IdentityChanged { frame: String, similarity: f32 },
    /// The frames' anti-spoofing score is below the threshold.
    Spoof { score: f32, threshold: f32 },
    /// The server's challenge session over the clip failed.
    Clip { failure: Failure },
    /// The clip shows another person than the frames (or no comparable face).
    ClipIdentity { similarity: Option<f32> },
    /// Without a clip: the client's challenge claim was not accepted.
    ClaimRejected { detail: String },
    /// Without a clip: the accepted claim does not complete the script.
    ChallengesIncomplete { passed: usize, required: usize },
}

/// Everything the re-run found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rerun {
    pub frames: Vec<FrameFinding>,
    /// Robust mean real probability of the usable frames.
    pub pad_score: Option<f32>,
    pub pad_threshold: f32,
    pub clip: Option<ClipFinding>,
    /// The first failed rule, if any (the clip and claim rules are applied by the caller's
    /// decision, see `decide`).
    pub failure: Option<ServerFailure>,
}

/// Runs the pipeline on the bundle's frames and clip (blocking; call on the pool).
pub fn rerun(
    engine: &Engine,
    input: &RerunInput,
    limits: &MediaLimits,
) -> liveproof::Result<Rerun> {
    let session_defaults = ChallengeConfig::default();
    let identity_threshold = session_defaults.identity_threshold;
    let yaw_limit = ActionThresholds::default().yaw_deg;
    let pad_threshold = engine.config().pad_threshold;
    let stages = Stages {
        pad: true,
        embedding: true,
        ..Stages::default()
    };

    let mut findings = Vec::with_capacity(input.frames.len());
    let mut failure = None;
    let mut reference: Option<Vec<f32>> = None;
    let mut strikes = 0;
    let mut scores = Vec::new();
    for item in &input.frames {
        let frame = decode_image(&item.bytes, &limits.image)?;
        let rec = engine.analyze(&frame.as_ref(), item.t_ms.unwrap_or(0.0), stages)?;
        let usable = usable(&rec);
        let mut finding = FrameFinding {
            name: item.name.clone(),
            t_ms: item.t_ms,
            faces: rec.faces.len(),
            pad: rec.pad_real(),
            usable,
            similarity: None,
        };
        if rec.faces.len() != 1 {
            failure.get_or_insert(ServerFailure::FaceCount {
                frame: item.name.clone(),
                faces: rec.faces.len(),
            });
        }
        if usable {
            scores.extend(rec.pad_real());
        }
        let face = rec.face.as_ref().filter(|_| rec.faces.len() == 1);
        if let Some((face, emb)) = face.and_then(|f| f.embedding.as_ref().map(|e| (f, e))) {
            match &reference {
                None if usable => reference = Some(emb.clone()),
                None => {}
                Some(r) if face.landmarks.pose.yaw.abs() <= yaw_limit => {
                    let similarity = cosine(r, emb);
                    finding.similarity = Some(similarity);
                    if similarity >= identity_threshold {
                        strikes = 0;
                    } else {
                        strikes += 1;
                        if strikes >= 2 {
                            failure.get_or_insert(ServerFailure::IdentityChanged {
                                frame: item.name.clone(),
                                similarity,
                            });
                        }
                    }
                }
                Some(_) => {}
            }
        }
        findings.push(finding);
    }
    let pad_score = robust_mean(&scores);
    if scores.len() < MIN_USABLE_FRAMES {
        failure.get_or_insert(ServerFailure::NoUsableFrames {
            usable: scores.len(),
            required: MIN_USABLE_FRAMES,
        });
    }
    if let Some(score) = pad_score.filter(|s| *s < pad_threshold) {
        failure.get_or_insert(ServerFailure::Spoof {
            score,
            threshold: pad_threshold,
        });
    }

    let clip = match &input.clip {
        Some(bytes) => Some(run_session_over_clip(
            engine,
            bytes,
            input,
            limits,
            reference.as_deref(),
        )?),
        None => None,
    };
    Ok(Rerun {
        frames: findings,
        pad_score,
        pad_threshold,
        clip,
        failure,
    })
}

/// The core's rule for a frame that counts: usable and not turned away.
fn usable(rec: &FrameRecord) -> bool {
    rec.is_usable() && !rec.guidance.contains(&Guidance::FaceTurned)
}

fn run_session_over_clip(
    engine: &Engine,
    bytes: &[u8],
    input: &RerunInput,
    limits: &MediaLimits,
    frames_reference: Option<&[f32]>,
) -> liveproof::Result<ClipFinding> {
    let config = ChallengeConfig {
        timeout_ms: input.timeout_ms,
        pad_threshold: engine.config().pad_threshold,
        ..ChallengeConfig::default()
    };
    let session = ChallengeSession::with_script(config, input.script.clone())?;
    let mut check = LiveCheck::new(
        session,
        LiveConfig {
            detect_every: 1,
            evidence: None,
        },
    )?;
    let mut reader = VideoReader::from_bytes(bytes, &limits.video)?;
    let mut clip_reference: Option<Vec<f32>> = None;
    let mut frames_analysed = 0;
    run_clip(engine, &mut reader, &mut check, CLIP_FPS, |rec, _| {
        frames_analysed += 1;
        // The session's own reference: the first usable frame with an embedding.
        if clip_reference.is_none() && usable(rec) {
            clip_reference = rec.face.as_ref().and_then(|f| f.embedding.clone());
        }
    })?;
    let outcome = check.outcome().cloned().ok_or_else(|| {
        liveproof::Error::InvalidArgument("the clip session did not decide".into())
    })?;
    let similarity = match (frames_reference, &clip_reference) {
        (Some(a), Some(b)) => Some(cosine(a, b)),
        _ => None,
    };
    Ok(ClipFinding {
        label: outcome.label,
        passed: outcome.passed,
        confidence: outcome.confidence,
        pad_score: outcome.pad_score,
        frames_analysed,
        failure: outcome.failure,
        similarity,
    })
}
