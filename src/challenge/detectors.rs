//! Recognising each action from a stream of per-frame geometry, relative to the user's own
//! neutral baseline (measured in the passive phase): people's resting eye openness, head
//! angle to the camera and mouth width differ more than the actions themselves.

use serde::{Deserialize, Serialize};

use super::ChallengeAction;
use crate::pipeline::FaceRecord;

/// The geometry of one frame that the detectors read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t_ms: f64,
    /// Mean eye aspect ratio.
    pub ear: f32,
    pub yaw: f32,
    pub pitch: f32,
    /// Mouth width over eye distance.
    pub mouth_width: f32,
    /// Emotion model's "happy" probability, when it ran on this frame.
    pub happy: Option<f32>,
}

impl Sample {
    /// Reads a face record.
    pub fn from_face(t_ms: f64, f: &FaceRecord) -> Self {
        Sample {
            t_ms,
            ear: f.landmarks.ear_mean(),
            yaw: f.landmarks.pose.yaw,
            pitch: f.landmarks.pose.pitch,
            mouth_width: f.landmarks.mouth.width_ratio,
            happy: f.emotions.map(|e| e.happy()),
        }
    }
}

/// The user's neutral face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub ear: f32,
    pub yaw: f32,
    pub pitch: f32,
    pub mouth_width: f32,
}

impl Baseline {
    /// Per-field medians of neutral samples (`None` without samples).
    pub fn from_samples(samples: &[Sample]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let med = |f: fn(&Sample) -> f32| {
            let mut v: Vec<f32> = samples.iter().map(f).collect();
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        Some(Baseline {
            ear: med(|s| s.ear),
            yaw: med(|s| s.yaw),
            pitch: med(|s| s.pitch),
            mouth_width: med(|s| s.mouth_width),
        })
    }
}

/// Decision thresholds (defaults measured on the clips in ../shared/media; see README).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionThresholds {
    /// Head turn, degrees of yaw away from the baseline.
    pub yaw_deg: f32,
    /// Head tilt up or down, degrees of pitch away from the baseline.
    pub pitch_deg: f32,
    /// How long a pose or smile must be held.
    pub hold_ms: f64,
    /// Eyes count as closed below this fraction of the baseline EAR (and below `closed_ear_max`).
    pub closed_ratio: f32,
    /// Absolute ceiling for a closed eye's EAR.
    pub closed_ear_max: f32,
    /// Eyes count as open again above this fraction of the baseline EAR.
    pub open_ratio: f32,
    /// A smile: the emotion model's happy probability at least this...
    pub smile_happy: f32,
    /// ...and the mouth at least this much wider than at rest.
    pub smile_width_gain: f32,
}

impl Default for ActionThresholds {
    fn default() -> Self {
        Self {
            yaw_deg: 18.0,
            pitch_deg: 12.0,
            hold_ms: 150.0,
            closed_ratio: 0.65,
            closed_ear_max: 0.21,
            open_ratio: 0.8,
            smile_happy: 0.6,
            smile_width_gain: 1.08,
        }
    }
}

/// Recognises one action over the frames of its challenge window.
#[derive(Debug, Clone)]
pub struct ActionDetector {
    action: ChallengeAction,
    baseline: Baseline,
    thresholds: ActionThresholds,
    /// Blink: seen open, then closed.
    seen_open: bool,
    seen_closed: bool,
    /// Pose and smile: when the condition started holding.
    holding_since: Option<f64>,
    held_frames: u32,
}

impl ActionDetector {
    /// A detector for `action` against the user's baseline.
    pub fn new(action: ChallengeAction, baseline: Baseline, thresholds: ActionThresholds) -> Self {
        Self {
            action,
            baseline,
            thresholds,
            seen_open: false,
            seen_closed: false,
            holding_since: None,
            held_frames: 0,
        }
    }

    /// The action being watched.
    pub fn action(&self) -> ChallengeAction {
        self.action
    }

    /// Feeds a frame; true once the action has been performed.
    pub fn push(&mut self, s: &Sample) -> bool {
        match self.action {
            ChallengeAction::Blink => self.push_blink(s),
            ChallengeAction::LookLeft => {
                self.hold(s, s.yaw - self.baseline.yaw >= self.thresholds.yaw_deg)
            }
            ChallengeAction::LookRight => {
                self.hold(s, self.baseline.yaw - s.yaw >= self.thresholds.yaw_deg)
            }
            ChallengeAction::LookUp => self.hold(
                s,
                s.pitch - self.baseline.pitch >= self.thresholds.pitch_deg,
            ),
            ChallengeAction::LookDown => self.hold(
                s,
                self.baseline.pitch - s.pitch >= self.thresholds.pitch_deg,
            ),
            ChallengeAction::Smile => {
                let wide =
                    s.mouth_width >= self.baseline.mouth_width * self.thresholds.smile_width_gain;
                let happy = s.happy.is_some_and(|h| h >= self.thresholds.smile_happy);
                self.hold(s, wide && happy)
            }
        }
    }

    fn push_blink(&mut self, s: &Sample) -> bool {
        let t = &self.thresholds;
        let closed = (self.baseline.ear * t.closed_ratio).min(t.closed_ear_max);
        let open = (self.baseline.ear * t.open_ratio).max(closed + 0.02);
        if s.ear >= open {
            if self.seen_closed {
                return true;
            }
            self.seen_open = true;
        } else if s.ear <= closed && self.seen_open {
            self.seen_closed = true;
        }
        false
    }

    /// True once `condition` has held on consecutive frames for `hold_ms` (and at least two
    /// frames, so one mis-tracked frame cannot pass a challenge).
    fn hold(&mut self, s: &Sample, condition: bool) -> bool {
        if !condition {
            self.holding_since = None;
            self.held_frames = 0;
            return false;
        }
        let since = *self.holding_since.get_or_insert(s.t_ms);
        self.held_frames += 1;
        self.held_frames >= 2 && s.t_ms - since >= self.thresholds.hold_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Baseline = Baseline {
        ear: 0.3,
        yaw: 2.0,
        pitch: -5.0,
        mouth_width: 0.9,
    };

    fn s(t: f64, ear: f32, yaw: f32, pitch: f32) -> Sample {
        Sample {
            t_ms: t,
            ear,
            yaw,
            pitch,
            mouth_width: 0.9,
            happy: Some(0.0),
        }
    }

    #[test]
    fn blink_needs_open_closed_open() {
        let mut d = ActionDetector::new(ChallengeAction::Blink, BASE, ActionThresholds::default());
        assert!(!d.push(&s(0.0, 0.3, 0.0, 0.0)));
        assert!(!d.push(&s(66.0, 0.08, 0.0, 0.0)));
        assert!(d.push(&s(133.0, 0.29, 0.0, 0.0)));
        // Eyes that never open (a photo with closed eyes) never pass.
        let mut d = ActionDetector::new(ChallengeAction::Blink, BASE, ActionThresholds::default());
        for i in 0..30 {
            assert!(!d.push(&s(i as f64 * 66.0, 0.08, 0.0, 0.0)));
        }
    }

    #[test]
    fn look_left_must_be_held_relative_to_baseline() {
        let mut d =
            ActionDetector::new(ChallengeAction::LookLeft, BASE, ActionThresholds::default());
        assert!(!d.push(&s(0.0, 0.3, 25.0, 0.0)));
        assert!(
            !d.push(&s(66.0, 0.3, 10.0, 0.0)),
            "released before hold time"
        );
        assert!(!d.push(&s(133.0, 0.3, 25.0, 0.0)));
        assert!(!d.push(&s(200.0, 0.3, 25.0, 0.0)));
        assert!(d.push(&s(300.0, 0.3, 25.0, 0.0)));
        // Turning the other way never passes LOOK LEFT.
        let mut d =
            ActionDetector::new(ChallengeAction::LookLeft, BASE, ActionThresholds::default());
        for i in 0..20 {
            assert!(!d.push(&s(i as f64 * 66.0, 0.3, -30.0, 0.0)));
        }
    }

    #[test]
    fn look_down_uses_pitch() {
        let mut d =
            ActionDetector::new(ChallengeAction::LookDown, BASE, ActionThresholds::default());
        let mut passed = false;
        for i in 0..5 {
            passed |= d.push(&s(i as f64 * 100.0, 0.3, 0.0, -25.0));
        }
        assert!(passed);
    }
}
