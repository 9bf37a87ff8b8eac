//! Passive anti-spoofing (presentation-attack detection) on a single frame.
//!
//! Primary: Silent-Face's MiniFASNet pair. Each model sees its own crop, the face box grown
//! 2.7× (V2) or 4.0× (V1SE) about its centre, slid back inside the frame, cropped inclusively
//! and resized to 80×80 BGR 0–255, exactly as upstream `generate_patches.py` does; the two
//! softmaxes are averaged and class 1 is "real". The models differ, so the two crops cannot be
//! batched; they are sampled straight from the frame without an intermediate image.
//!
//! Second opinion (off unless configured): a MiniFASNetV2-SE trained on CelebA-Spoof, whose
//! licence forbids commercial use; enabling it is the operator's explicit decision.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frame::FrameRef;
use crate::imgproc::{sample_tensor, Affine, BBox, Border, Normalize, Sampling};
use crate::models::{run, OnnxGraph, Plan};

const MFN_SIZE: usize = 80;
const CELEBA_SIZE: usize = 128;

/// Scores of one frame's face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PadScore {
    /// Probability that the face is a live person (0–1): the mean of both models' class 1.
    pub real: f32,
    /// MiniFASNetV2 (2.7×) real probability.
    pub v2: f32,
    /// MiniFASNetV1SE (4.0×) real probability.
    pub v1se: f32,
    /// CelebA-Spoof second opinion, when enabled.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub celeba: Option<f32>,
}

/// The MiniFASNet pair.
#[derive(Debug)]
pub struct MiniFasNet {
    v2: Plan,
    v1se: Plan,
}

impl MiniFasNet {
    /// Loads both models.
    pub fn new(v2: &[u8], v1se: &[u8]) -> Result<Self> {
        let shape = [1, 3, MFN_SIZE, MFN_SIZE];
        Ok(Self {
            v2: OnnxGraph::parse("minifasnet_v2", v2)?.plan(&shape, &[])?,
            v1se: OnnxGraph::parse("minifasnet_v1se", v1se)?.plan(&shape, &[])?,
        })
    }

    /// The model input for one scale (also used by the reference tests).
    pub fn input(frame: &FrameRef, face: &BBox, scale: f32) -> tract_onnx::prelude::Tensor {
        let crop = scaled_crop(face, scale, frame.width(), frame.height());
        let s = Sampling {
            width: MFN_SIZE,
            height: MFN_SIZE,
            normalize: Normalize::Bgr255,
            border: Border::Zero,
            antialias: false,
        };
        sample_tensor(frame, &Affine::from_box(&crop, MFN_SIZE, MFN_SIZE), &s)
    }

    /// Scores a face.
    pub fn score(&self, frame: &FrameRef, face: &BBox) -> Result<PadScore> {
        let v2 = run("minifasnet_v2", &self.v2, Self::input(frame, face, 2.7))?;
        let v1se = run("minifasnet_v1se", &self.v1se, Self::input(frame, face, 4.0))?;
        let v2 = v2[0].get(1).copied().unwrap_or(0.0);
        let v1se = v1se[0].get(1).copied().unwrap_or(0.0);
        Ok(PadScore {
            real: (v2 + v1se) * 0.5,
            v2,
            v1se,
            celeba: None,
        })
    }
}

/// Upstream `CropImage._get_new_box` + inclusive slicing, as a continuous box: grow the face
/// box `scale`× (less if the frame is too small), shift it back inside the frame, truncate the
/// corners to integers, and cover pixels `x0..=x1`, `y0..=y1`.
pub fn scaled_crop(face: &BBox, scale: f32, width: u32, height: u32) -> BBox {
    let (w, h) = (width as f32, height as f32);
    // Upstream boxes are [left, top, right-left+1, bottom-top+1].
    let bw = (face.width() + 1.0).max(1.0);
    let bh = (face.height() + 1.0).max(1.0);
    // The largest scale the frame allows is the face's context (one definition with the
    // quality refusal of crops that are all face).
    let s = scale
        .min(crate::quality::context(face, width, height))
        .max(0.0);
    let (nw, nh) = (bw * s, bh * s);
    let (cx, cy) = (face.x1 + bw / 2.0, face.y1 + bh / 2.0);
    let (mut x0, mut y0, mut x1, mut y1) =
        (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if x0 < 0.0 {
        x1 -= x0;
        x0 = 0.0;
    }
    if y0 < 0.0 {
        y1 -= y0;
        y0 = 0.0;
    }
    if x1 > w - 1.0 {
        x0 -= x1 - w + 1.0;
        x1 = w - 1.0;
    }
    if y1 > h - 1.0 {
        y0 -= y1 - h + 1.0;
        y1 = h - 1.0;
    }
    let (x0, y0, x1, y1) = (
        x0.max(0.0).trunc(),
        y0.max(0.0).trunc(),
        x1.trunc(),
        y1.trunc(),
    );
    BBox {
        x1: x0,
        y1: y0,
        x2: x1 + 1.0,
        y2: y1 + 1.0,
    }
}

/// The CelebA-Spoof-trained second opinion (class 0 = real).
#[derive(Debug)]
pub struct CelebaPad {
    plan: Plan,
}

impl CelebaPad {
    /// Loads the model.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            plan: OnnxGraph::parse("pad_celeba", bytes)?
                .plan(&[1, 3, CELEBA_SIZE, CELEBA_SIZE], &[])?,
        })
    }

    /// Real probability: square of side 1.5 × max(w, h), mirrored at the frame edges.
    pub fn score(&self, frame: &FrameRef, face: &BBox) -> Result<f32> {
        let side = 1.5 * face.width().max(face.height());
        let [cx, cy] = face.center();
        let crop = BBox {
            x1: cx - side / 2.0,
            y1: cy - side / 2.0,
            x2: cx + side / 2.0,
            y2: cy + side / 2.0,
        };
        let s = Sampling {
            width: CELEBA_SIZE,
            height: CELEBA_SIZE,
            normalize: Normalize::Rgb01,
            border: Border::Reflect101,
            antialias: true,
        };
        let out = run(
            "pad_celeba",
            &self.plan,
            sample_tensor(
                frame,
                &Affine::from_box(&crop, CELEBA_SIZE, CELEBA_SIZE),
                &s,
            ),
        )?;
        Ok(out[0].first().copied().unwrap_or(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_is_slid_back_inside_the_frame() {
        let face = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 99.0,
            y2: 99.0,
        };
        let c = scaled_crop(&face, 2.7, 640, 480);
        assert!(
            c.x1 >= 0.0 && c.y1 >= 0.0 && c.x2 <= 640.0 && c.y2 <= 480.0,
            "{c:?}"
        );
        assert!((c.width() - 271.0).abs() <= 1.0, "{c:?}");
    }

    #[test]
    fn crop_scale_shrinks_for_small_frames() {
        let face = BBox {
            x1: 100.0,
            y1: 100.0,
            x2: 299.0,
            y2: 399.0,
        };
        let c = scaled_crop(&face, 4.0, 640, 480);
        assert!(c.height() <= 480.0 && c.width() <= 640.0, "{c:?}");
    }
}
