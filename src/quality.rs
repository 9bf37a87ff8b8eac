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
    /// The snake_case code (as serialised).
    pub fn code(self) -> &'static str {
        match self {
            Guidance::NoFace => "no_face",
            Guidance::MultipleFaces => "multiple_faces",
            Guidance::TooFar => "too_far",
            Guidance::TooClose => "too_close",
            Guidance::OffCenter => "off_center",
            Guidance::FaceCutOff => "face_cut_off",
            Guidance::TooDark => "too_dark",
            Guidance::TooBright => "too_bright",
            Guidance::Blurry => "blurry",
            Guidance::FaceTurned => "face_turned",
            Guidance::FaceOccluded => "face_occluded",
        }
    }

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
    /// Smallest context around the face for a liveness judgement: how many times the face
    /// box's size the frame extends to (1 = the frame is all face). MiniFASNet looks at 2.7×
    /// and 4× the box; below this there is nothing around the face to judge (a tight crop).
    pub min_context: f32,
    /// Smallest face (shorter box side, pixels) a liveness judgement is made on.
    pub min_face_px: f32,
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
            min_context: 1.2,
            min_face_px: 40.0,
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

/// How many times the face box's size the frame extends to around the face's centre, at
/// most 4 (the widest crop anti-spoofing uses); 1 means the frame shows nothing but the face.
/// [`crate::antispoof::scaled_crop`] limits its crop scale to it.
pub fn context(face: &BBox, width: u32, height: u32) -> f32 {
    let bw = (face.width() + 1.0).max(1.0);
    let bh = (face.height() + 1.0).max(1.0);
    let (w, h) = (width as f32, height as f32);
    ((w - 1.0) / bw).min((h - 1.0) / bh).clamp(0.0, 4.0)
}

/// Why the main face cannot be judged live or fake at all, or `None` when it can: a crop
/// that is all face ([`Guidance::TooClose`]), a face too small ([`Guidance::TooFar`]), too
/// dark or too blurred. Anti-spoofing scores on such faces are guesses (measured on
/// ../shared/media: tight crops of live faces score 0.01–0.4 "real"), so every decision path
/// refuses them with the code instead of answering live or fake.
pub fn refusal(
    config: &QualityConfig,
    face: &BBox,
    quality: &Quality,
    width: u32,
    height: u32,
) -> Option<Guidance> {
    if context(face, width, height) < config.min_context {
        Some(Guidance::TooClose)
    } else if face.width().min(face.height()) < config.min_face_px {
        Some(Guidance::TooFar)
    } else if quality.brightness < config.min_brightness {
        Some(Guidance::TooDark)
    } else if quality.sharpness < config.min_sharpness {
        Some(Guidance::Blurry)
    } else {
        None
    }
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

    fn bbox(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    fn quality(brightness: f32, sharpness: f32) -> Quality {
        Quality {
            brightness,
            sharpness,
            face_size: 0.4,
            center_offset: [0.0, 0.0],
            cut_off: 0.0,
        }
    }

    #[test]
    fn context_is_how_far_the_frame_extends_around_the_face() {
        // A 100×120 face in 640×480: the height limits, (480 − 1) / 121.
        let c = context(&bbox(270.0, 180.0, 370.0, 300.0), 640, 480);
        assert!((c - 479.0 / 121.0).abs() < 1e-4, "{c}");
        // A crop that is all face.
        assert!(context(&bbox(0.0, 0.0, 200.0, 250.0), 203, 252) < 1.05);
        // A small face in a large frame is capped at the widest crop.
        assert_eq!(context(&bbox(0.0, 0.0, 50.0, 50.0), 4000, 3000), 4.0);
    }

    #[test]
    fn refusals_name_what_cannot_be_judged_in_order() {
        let cfg = QualityConfig::default();
        let ok = quality(50.0, 100.0);
        let face = bbox(270.0, 180.0, 370.0, 300.0);
        assert_eq!(refusal(&cfg, &face, &ok, 640, 480), None);
        let tight = bbox(5.0, 5.0, 195.0, 240.0);
        assert_eq!(
            refusal(&cfg, &tight, &ok, 203, 252),
            Some(Guidance::TooClose)
        );
        let tiny = bbox(300.0, 200.0, 335.0, 245.0);
        assert_eq!(refusal(&cfg, &tiny, &ok, 640, 480), Some(Guidance::TooFar));
        assert_eq!(
            refusal(&cfg, &face, &quality(8.0, 100.0), 640, 480),
            Some(Guidance::TooDark)
        );
        assert_eq!(
            refusal(&cfg, &face, &quality(50.0, 5.0), 640, 480),
            Some(Guidance::Blurry)
        );
        // Both dark and tight: the crop is named first.
        assert_eq!(
            refusal(&cfg, &tight, &quality(8.0, 5.0), 203, 252),
            Some(Guidance::TooClose)
        );
    }

    #[test]
    fn codes_are_the_serialised_names() {
        for g in [
            Guidance::NoFace,
            Guidance::MultipleFaces,
            Guidance::TooFar,
            Guidance::TooClose,
            Guidance::OffCenter,
            Guidance::FaceCutOff,
            Guidance::TooDark,
            Guidance::TooBright,
            Guidance::Blurry,
            Guidance::FaceTurned,
            Guidance::FaceOccluded,
        ] {
            assert_eq!(serde_json::to_value(g).unwrap(), g.code());
        }
    }

    #[test]
    fn no_face_is_the_only_guidance_without_faces() {
        assert_eq!(
            guidance(&QualityConfig::default(), 0, None, None),
            vec![Guidance::NoFace]
        );
    }
}
