//! The liveness rules every session is judged by, wherever it runs: the SDK's live session,
//! the server's run of a submitted recording, the WebSocket API and the server's passive check
//! of submitted frames. One [`Rulebook`] watches the analysed frames and says when they fail.
//!
//! | rule | when | failure |
//! |---|---|---|
//! | the same person throughout: every frame with an embedding whose face is within `identity_max_angle` of frontal scores ≥ `identity_threshold` against the reference (the first usable frontal frame); no strike budget | at the frame | [`Failure::IdentityChanged`] |
//! | enough frames to judge: at least `passive_min_frames` usable frames | at the end | [`Failure::NoUsableFrames`] |
//! | anti-spoofing: the robust (10 % trimmed) mean real probability ≥ `pad_threshold`... | at the end | [`Failure::Spoof`] |
//! | ...and no usable frame below `pad_floor` | at the end | [`Failure::SpoofFrame`] |
//! | frames the server cannot use count against the session: usable / (usable + unusable) ≥ `min_usable_fraction` over the frames the detector ran on | at the end | [`Failure::TooFewUsableFrames`] |
//! | a moving scene: the 90th percentile of the inter-frame change ≥ `min_change` | at the end | [`Failure::StillStream`] |
//! | no frozen stream: at most `max_repeated_fraction` of the frames repeat the previous one exactly | at the end | [`Failure::RepeatedFrames`] |
//!
//! A *usable* frame shows one face, was scored by anti-spoofing and has no guidance that blocks
//! a decision, and the face is not turned away ([`FrameRecord::counts_for_liveness`]). An
//! *unusable* one is a detector frame without that (no face, several faces, too dark,
//! blurry...). Turned faces during head-turn challenges are neither: they are expected.
//!
//! The thresholds are measured on the clips in `../shared/media` (README "Decisions and their
//! rules"): honest single-person clips keep a frame-to-reference cosine ≥ 0.39 on near-frontal
//! faces, while another person's frames score 0.04 at the median.

use serde::{Deserialize, Serialize};

use super::session::{robust_mean, ChallengeConfig, Failure};
use crate::embed::cosine;
use crate::pipeline::FrameRecord;

/// Fewest inter-frame changes the stream rules judge.
const MIN_STREAM_FRAMES: usize = 10;

/// What the rules saw, for verdicts and audits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStats {
    /// Frames the detector ran on (every frame without tracking).
    pub frames_judged: usize,
    /// Judged frames that count for the decision.
    pub frames_usable: usize,
    /// Judged frames that could not be used (no face, several faces, blocking guidance).
    pub frames_unusable: usize,
    /// Robust mean real probability of the usable frames.
    pub pad_score: Option<f32>,
    /// Lowest real probability of a usable frame.
    pub pad_min: Option<f32>,
    /// Frames compared with the reference face, and the lowest similarity among them.
    pub identity_compared: usize,
    pub identity_min: Option<f32>,
    /// 90th percentile of the inter-frame change (grey levels), when the frames carry it.
    pub change_p90: Option<f32>,
    /// Frames identical to the previous one.
    pub frames_repeated: usize,
}

/// The rules' running state over one session's frames.
#[derive(Debug, Clone, Default)]
pub struct Rulebook {
    pad_scores: Vec<f32>,
    judged: usize,
    unusable: usize,
    reference: Option<Vec<f32>>,
    compared: usize,
    identity_min: Option<f32>,
    changes: Vec<f32>,
    repeated: usize,
}

impl Rulebook {
    /// Whether the reference face (for the identity rule) has been taken.
    pub fn has_reference(&self) -> bool {
        self.reference.is_some()
    }

    /// Usable frames so far.
    pub fn usable(&self) -> usize {
        self.pad_scores.len()
    }

    /// Robust mean real probability of the usable frames so far.
    pub fn pad_score(&self) -> Option<f32> {
        robust_mean(&self.pad_scores)
    }

    /// Observes one analysed frame. Returns the failure this frame alone causes (another
    /// person); the other rules need the whole session ([`Rulebook::conclude`]).
    pub fn observe(&mut self, rec: &FrameRecord, config: &ChallengeConfig) -> Option<Failure> {
        if let Some(change) = rec.change {
            if change == 0.0 {
                self.repeated += 1;
            }
            self.changes.push(change);
        }
        let usable = rec.counts_for_liveness();
        if !rec.tracked {
            self.judged += 1;
            let single = rec.faces.len() == 1 && rec.face.is_some();
            if usable {
                self.pad_scores.extend(rec.pad_real());
            } else if !single || (rec.pad_real().is_some() && !rec.is_usable()) {
                // No face, several faces, or a scored face that cannot be used. (A face that
                // is only turned away, or was not due for anti-spoofing, is neither.)
                self.unusable += 1;
            }
        }
        let face = rec.face.as_ref().filter(|_| rec.faces.len() == 1)?;
        let embedding = face.embedding.as_ref()?;
        let Some(reference) = &self.reference else {
            if usable {
                self.reference = Some(embedding.clone());
            }
            return None;
        };
        // Faces turned far from the camera embed poorly: identity is judged on the others,
        // which is every frame of the passive phase and the approach to each head turn.
        let pose = face.landmarks.pose;
        if pose.yaw.abs() > config.identity_max_angle
            || pose.pitch.abs() > config.identity_max_angle
        {
            return None;
        }
        let similarity = cosine(reference, embedding);
        self.compared += 1;
        self.identity_min = Some(self.identity_min.map_or(similarity, |m| m.min(similarity)));
        (similarity < config.identity_threshold).then_some(Failure::IdentityChanged { similarity })
    }

    /// The rules that judge the whole session; `None` when they all hold.
    pub fn conclude(&self, config: &ChallengeConfig) -> Option<Failure> {
        let usable = self.pad_scores.len();
        if usable < config.passive_min_frames.max(1) {
            return Some(Failure::NoUsableFrames);
        }
        // What the usable frames show comes first: a spoof is the more telling reason.
        let score = robust_mean(&self.pad_scores)?;
        if score < config.pad_threshold {
            return Some(Failure::Spoof { score });
        }
        let lowest = self.pad_min()?;
        if lowest < config.pad_floor {
            return Some(Failure::SpoofFrame { score: lowest });
        }
        let fraction = usable as f32 / (usable + self.unusable) as f32;
        if fraction < config.min_usable_fraction {
            return Some(Failure::TooFewUsableFrames {
                usable,
                unusable: self.unusable,
            });
        }
        self.stream_failure(config)
    }

    /// The rules about the stream itself (a still image, frozen frames). They say more about
    /// a session than a challenge timing out on it, so a session reports them first.
    pub fn stream_failure(&self, config: &ChallengeConfig) -> Option<Failure> {
        // Too few frames to call a stream still (a session that ended at once).
        if self.changes.len() < MIN_STREAM_FRAMES {
            return None;
        }
        let p90 = self.change_p90()?;
        if p90 < config.min_change {
            return Some(Failure::StillStream { change: p90 });
        }
        if self.repeated as f32 / self.changes.len() as f32 > config.max_repeated_fraction {
            return Some(Failure::RepeatedFrames {
                repeated: self.repeated,
                frames: self.changes.len(),
            });
        }
        None
    }

    /// What the rules saw.
    pub fn stats(&self) -> RuleStats {
        RuleStats {
            frames_judged: self.judged,
            frames_usable: self.pad_scores.len(),
            frames_unusable: self.unusable,
            pad_score: self.pad_score(),
            pad_min: self.pad_min(),
            identity_compared: self.compared,
            identity_min: self.identity_min,
            change_p90: self.change_p90(),
            frames_repeated: self.repeated,
        }
    }

    fn pad_min(&self) -> Option<f32> {
        self.pad_scores.iter().copied().min_by(f32::total_cmp)
    }

    fn change_p90(&self) -> Option<f32> {
        if self.changes.is_empty() {
            return None;
        }
        let mut v = self.changes.clone();
        v.sort_by(f32::total_cmp);
        Some(v[(v.len() - 1) * 9 / 10])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One analysed frame: a single face at `yaw`, optionally scored and embedded.
    fn frame(pad: Option<f32>, embedding: Option<[f32; 2]>, yaw: f32) -> FrameRecord {
        let detection = json!({"bbox": {"x1": 200.0, "y1": 100.0, "x2": 400.0, "y2": 350.0},
                               "score": 0.9, "keypoints": [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]});
        serde_json::from_value(json!({
            "t_ms": 0.0, "width": 640, "height": 480, "faces": [detection],
            "face": {
                "detection": detection,
                "landmarks": {"points": [], "presence": 1.0, "ear": [0.3, 0.3],
                              "mouth": {"mar": 0.01, "width_ratio": 0.5},
                              "pose": {"yaw": yaw, "pitch": 0.0, "roll": 0.0}},
                "quality": {"brightness": 50.0, "sharpness": 100.0, "face_size": 0.4,
                            "center_offset": [0.0, 0.0], "cut_off": 0.0},
                "pad": pad.map(|p| json!({"real": p, "v2": p, "v1se": p})),
                "embedding": embedding.map(|e| e.to_vec()),
            },
            "guidance": if yaw.abs() > 30.0 { json!(["face_turned"]) } else { json!([]) },
            "timings": {"detect_ms": 0.0, "landmarks_ms": 0.0, "pad_ms": 0.0, "embed_ms": 0.0,
                        "attributes_ms": 0.0, "total_ms": 0.0},
        }))
        .unwrap()
    }

    fn with_change(mut rec: FrameRecord, change: f32) -> FrameRecord {
        rec.change = Some(change);
        rec
    }

    fn no_face() -> FrameRecord {
        let mut rec = frame(None, None, 0.0);
        rec.faces.clear();
        rec.face = None;
        rec
    }

    const ME: [f32; 2] = [1.0, 0.0];
    /// Cosine 0.6 to ME: the same person on a bad frame.
    const ME_BLURRED: [f32; 2] = [0.6, 0.8];
    /// Cosine 0.2 to ME: someone else.
    const OTHER: [f32; 2] = [0.2, 0.979_795_9];

    #[test]
    fn one_frame_of_another_person_fails_at_once_but_turned_faces_are_not_compared() {
        let c = ChallengeConfig::default();
        let mut rules = Rulebook::default();
        assert_eq!(rules.observe(&frame(Some(0.9), Some(ME), 0.0), &c), None);
        assert!(rules.has_reference());
        assert_eq!(
            rules.observe(&frame(Some(0.9), Some(ME_BLURRED), 5.0), &c),
            None
        );
        // Turned beyond 30°: its embedding says nothing either way.
        assert_eq!(
            rules.observe(&frame(Some(0.9), Some(OTHER), 45.0), &c),
            None
        );
        let failure = rules.observe(&frame(Some(0.9), Some(OTHER), 10.0), &c);
        assert!(
            matches!(failure, Some(Failure::IdentityChanged { similarity }) if (similarity - 0.2).abs() < 1e-3),
            "{failure:?}"
        );
        let stats = rules.stats();
        assert_eq!(stats.identity_compared, 2);
        assert!((stats.identity_min.unwrap() - 0.2).abs() < 1e-3);
    }

    #[test]
    fn whole_session_rules_in_their_order() {
        let c = ChallengeConfig::default();
        let run = |frames: Vec<FrameRecord>| {
            let mut rules = Rulebook::default();
            for f in &frames {
                assert_eq!(rules.observe(f, &c), None);
            }
            rules.conclude(&c)
        };
        let good = || frame(Some(0.9), None, 0.0);
        assert_eq!(run(vec![good(); 5]), None);
        assert_eq!(run(vec![good(); 2]), Some(Failure::NoUsableFrames));
        // The mean, then one frame under the floor.
        assert!(matches!(
            run(vec![frame(Some(0.2), None, 0.0); 5]),
            Some(Failure::Spoof { .. })
        ));
        let mut frames = vec![good(); 9];
        frames.push(frame(Some(0.001), None, 0.0));
        assert!(matches!(run(frames), Some(Failure::SpoofFrame { score }) if score < 0.01));
        // Frames the detector could not use count against the session; turned faces do not.
        let mut frames = vec![good(); 4];
        frames.extend(vec![no_face(); 5]);
        assert_eq!(
            run(frames),
            Some(Failure::TooFewUsableFrames {
                usable: 4,
                unusable: 5
            })
        );
        let mut frames = vec![good(); 4];
        frames.extend(vec![frame(Some(0.9), None, 40.0); 10]);
        assert_eq!(run(frames), None);
    }

    #[test]
    fn still_and_frozen_streams_are_named_once_there_are_enough_frames() {
        let c = ChallengeConfig::default();
        let run = |changes: &[f32]| {
            let mut rules = Rulebook::default();
            for &d in changes {
                rules.observe(&with_change(frame(Some(0.9), None, 0.0), d), &c);
            }
            (rules.stream_failure(&c), rules.conclude(&c))
        };
        // A sitter's noise and breath: fine.
        assert_eq!(run(&[0.4; 30]), (None, None));
        // A still image: nothing changes.
        let (stream, all) = run(&[0.01; 30]);
        assert!(matches!(stream, Some(Failure::StillStream { change }) if change < 0.1));
        assert_eq!(stream, all);
        // A frozen feed: a third of the frames repeat exactly.
        let mut changes = vec![0.8; 20];
        changes.extend([0.0; 10]);
        assert_eq!(
            run(&changes).0,
            Some(Failure::RepeatedFrames {
                repeated: 10,
                frames: 30
            })
        );
        // Too short to tell.
        assert_eq!(run(&[0.0; 5]).0, None);
    }
}
