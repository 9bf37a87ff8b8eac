//! Face embeddings for face match and for keeping the same person through a session:
//! MobileFaceNet on a 112×112 crop aligned to the ArcFace five-point template.

use crate::error::Result;
use crate::frame::FrameRef;
use crate::imgproc::{sample_tensor, Affine, Border, Normalize, Point, Sampling};
use crate::models::{run, OnnxGraph, Plan};

const SIZE: usize = 112;

/// ArcFace's 112×112 template (pixel indices), in YuNet's keypoint order.
const TEMPLATE: [Point; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// An L2-normalised 192-d embedding.
pub type Embedding = Vec<f32>;

/// The MobileFaceNet model.
#[derive(Debug)]
pub struct FaceEmbedder {
    plan: Plan,
}

impl FaceEmbedder {
    /// Loads and plans the model.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            plan: OnnxGraph::parse("mobilefacenet", bytes)?.plan(&[1, 3, SIZE, SIZE], &[])?,
        })
    }

    /// The aligned model input (also used by the reference tests). `None` when the keypoints
    /// are degenerate (all in one place).
    pub fn input(frame: &FrameRef, keypoints: &[Point; 5]) -> Option<tract_onnx::prelude::Tensor> {
        // Template indices → continuous coordinates (pixel centres at +0.5).
        let template: Vec<Point> = TEMPLATE.iter().map(|p| [p[0] + 0.5, p[1] + 0.5]).collect();
        let map = Affine::similarity(&template, keypoints)?;
        let s = Sampling {
            width: SIZE,
            height: SIZE,
            normalize: Normalize::RgbAffine {
                mean: 127.5,
                scale: 1.0 / 128.0,
            },
            border: Border::Zero,
            antialias: true,
        };
        Some(sample_tensor(frame, &map, &s))
    }

    /// The normalised embedding of the face with these keypoints, `None` if they are degenerate.
    pub fn embed(&self, frame: &FrameRef, keypoints: &[Point; 5]) -> Result<Option<Embedding>> {
        let Some(input) = Self::input(frame, keypoints) else {
            return Ok(None);
        };
        let out = run("mobilefacenet", &self.plan, input)?;
        Ok(Some(l2_normalize(
            out.into_iter().next().unwrap_or_default(),
        )))
    }
}

/// Scales a vector to unit length (zero stays zero).
pub fn l2_normalize(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Cosine similarity of two normalised embeddings (−1…1; 0 if lengths differ).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
