//! Capture quality and user guidance: is this frame good enough to judge, and if not, what
//! should the user do (come closer, add light, hold still, face the camera...).

use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::frame::FrameRef;
use crate::imgproc::{sample_planar, Affine, BBox, Border, Normalize, Sampling};
use crate::landmarks::FaceLandmarks;

const PATCH: usize = 96;

/// Why a frame is not (fully) usable, with a message for the user. Serialised in snake_case;
/// these are the `reason` codes of `guidance` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Guidance {
    NoFace,
    MultipleFaces,
    TooFar,
    TooClose,
    OffCenter,
    FaceCutOff,
    TooDark,
    TooBright,
    Blurry,
    FaceTurned,
    FaceOccluded,
}

impl Guidance {
    /// A short English instruction (UIs translate by code).
    pub fn message(self) -> &'static str {
        match self {
            Guidance::NoFace => "No face found: look at the camera",
            Guidance::MultipleFaces => "More than one face: only one person should be in view",
            Guidance::TooFar => "Move closer to the camera",
            Guidance::TooClose => "Move back a little",
            Guidance::OffCenter => "Centre your face in the frame",
            Guidance::FaceCutOff => "Your face is partly out of the frame",
            Guidance::TooDark => "Too dark: add light in front of you",
            Guidance::TooBright => "Too bright: avoid strong light on your face",
            Guidance::Blurry => "Image is blurry: hold still",
            Guidance::FaceTurned => "Turn back to face the camera",
            Guidance::FaceOccluded => "Your face is covered: remove anything in front of it",
        }
    }

    /// Whether the condition makes the frame unusable for a liveness decision (the others are
    /// advice: the frame is still scored).
    pub fn blocks_decision(self) -> bool {
        !matches!(self, Guidance::OffCenter | Guidance::FaceTurned)
    }
}

/// Thresholds for guidance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Face size (longer box side over the frame's shorter side) below which the user is too far.
    pub min_face_size: f32,
    /// ... above which the user is too close.
    pub max_face_size: f32,
    /// Largest offset of the face centre from the frame centre, as a fraction of the frame.
    pub max_center_offset: f32,
    /// Mean face luma (0–100) below which the frame is too dark.
    pub min_brightness: f32,
    /// ... above which it is overexposed.
    pub max_brightness: f32,
    /// Laplacian variance of the 96×96 face patch below which the face is blurry.
    pub min_sharpness: f32,
    /// Largest |yaw|, |pitch| or |roll| in degrees for a frontal frame.
    pub max_angle: f32,
    /// Fraction of the face box allowed outside the frame.
    pub max_cut_off: f32,
    /// Minimum mesh face-presence probability.
    pub min_presence: f32,
}

impl Default for QualityConfig {
    /// Measured on ../shared/media: live webcam faces in low light reach brightness 12–18 and
    /// sharpness 17–25 and must stay usable; screen replays re-filmed out of focus score 7–10.
    fn default() -> Self {
        Self {
            min_face_size: 0.15,
            max_face_size: 0.9,
            max_center_offset: 0.3,
            min_brightness: 12.0,
            max_brightness: 92.0,
            min_sharpness: 12.0,
            max_angle: 30.0,
            max_cut_off: 0.1,
            min_presence: 0.5,
        }
    }
}

/// Measured quality of the main face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Mean luma of the face box, 0–100.
    pub brightness: f32,
    /// Variance of the Laplacian of the face, resampled to 96×96 grey (scale-free).
    pub sharpness: f32,
    /// Longer face-box side over the frame's shorter side.
    pub face_size: f32,
    /// Face-centre offset from the frame centre (fractions of width and height).
    pub center_offset: [f32; 2],
    /// Fraction of the face box outside the frame.
    pub cut_off: f32,
}

/// Measures the face's quality.
pub fn measure(frame: &FrameRef, det: &Detection) -> Quality {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let b = det.bbox;
    let inside = b.clamp_to(w, h);
    let cut_off = if b.area() > 0.0 {
        1.0 - inside.area() / b.area()
    } else {
        1.0
    };
    let [cx, cy] = b.center();
    let patch = face_patch(frame, &inside);
    Quality {
        brightness: patch.iter().sum::<f32>() / patch.len() as f32 / 255.0 * 100.0,
        sharpness: laplacian_variance(&patch, PATCH),
        face_size: b.width().max(b.height()) / w.min(h),
        center_offset: [(cx - w / 2.0).abs() / w, (cy - h / 2.0).abs() / h],
        cut_off,
    }
}

fn face_patch(frame: &FrameRef, face: &BBox) -> Vec<f32> {
    // The central 80 % of the box: skin, eyes, mouth; little background or hair.
    let [cx, cy] = face.center();
    let (hw, hh) = (face.width() * 0.4, face.height() * 0.4);
    let core = BBox {
        x1: cx - hw,
        y1: cy - hh,
        x2: cx + hw,
        y2: cy + hh,
    };
    let s = Sampling {
        width: PATCH,
        height: PATCH,
        normalize: Normalize::Gray255,
        border: Border::Reflect101,
        antialias: true,
    };
    sample_planar(frame, &Affine::from_box(&core, PATCH, PATCH), &s)
}

fn laplacian_variance(g: &[f32], n: usize) -> f32 {
    let mut vals = Vec::with_capacity((n - 2) * (n - 2));
    for y in 1..n - 1 {
        for x in 1..n - 1 {
            let c = g[y * n + x];
            vals.push(
                g[(y - 1) * n + x] + g[(y + 1) * n + x] + g[y * n + x - 1] + g[y * n + x + 1]
                    - 4.0 * c,
            );
        }
    }
    let mean = vals.iter().sum::<f32>() / vals.len() as f32;
    vals.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / vals.len() as f32
}

/// Guidance for a frame, given its faces and the main face's measurements.
pub fn guidance(
    config: &QualityConfig,
    face_count: usize,
    quality: Option<&Quality>,
    landmarks: Option<&FaceLandmarks>,
) -> Vec<Guidance> {
    let mut g = Vec::new();
    if face_count == 0 {
        g.push(Guidance::NoFace);
        return g;
    }
    if face_count > 1 {
        g.push(Guidance::MultipleFaces);
    }
    if let Some(q) = quality {
        if q.face_size < config.min_face_size {
            g.push(Guidance::TooFar);
        } else if q.face_size > config.max_face_size {
            g.push(Guidance::TooClose);
        }
        if q.cut_off > config.max_cut_off {
            g.push(Guidance::FaceCutOff);
        } else if q.center_offset[0] > config.max_center_offset
            || q.center_offset[1] > config.max_center_offset
        {
            g.push(Guidance::OffCenter);
        }
        if q.brightness < config.min_brightness {
            g.push(Guidance::TooDark);
        } else if q.brightness > config.max_brightness {
            g.push(Guidance::TooBright);
        }
        if q.sharpness < config.min_sharpness {
            g.push(Guidance::Blurry);
        }
    }
    if let Some(l) = landmarks {
        if l.presence < config.min_presence {
            g.push(Guidance::FaceOccluded);
        } else {
            let p = l.pose;
            if p.yaw.abs() > config.max_angle
                || p.pitch.abs() > config.max_angle
                || p.roll.abs() > config.max_angle
            {
                g.push(Guidance::FaceTurned);
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_patch_has_zero_laplacian_variance_and_noise_has_plenty() {
        let flat = vec![100.0; PATCH * PATCH];
        assert_eq!(laplacian_variance(&flat, PATCH), 0.0);
        let checker: Vec<f32> = (0..PATCH * PATCH)
            .map(|i| {
                if (i / PATCH + i % PATCH).is_multiple_of(2) {
                    0.0
                } else {
                    255.0
                }
            })
            .collect();
        assert!(laplacian_variance(&checker, PATCH) > 1000.0);
    }

    #[test]
    fn no_face_is_the_only_guidance_without_faces() {
        assert_eq!(
            guidance(&QualityConfig::default(), 0, None, None),
            vec![Guidance::NoFace]
        );
    }
}
