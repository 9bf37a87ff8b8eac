//! Face detection with YuNet (libfacedetection): every face, its box and five keypoints.
//!
//! The frame is shrunk so its longer side is `long_side` pixels and zero-padded on the bottom
//! and right to multiples of 32 (the network is fully convolutional with stride 32). One tract
//! plan is built per padded input size and cached; with a fixed `long_side` there are at most
//! `2 × long_side / 32` such sizes, so the cache is bounded whatever the input.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frame::FrameRef;
use crate::imgproc::{sample_tensor, Affine, BBox, Border, Normalize, Point, Sampling};
use crate::models::{run, OnnxGraph, Plan};

const STRIDES: [usize; 3] = [8, 16, 32];
const OUTPUTS: [&str; 12] = [
    "cls_8", "cls_16", "cls_32", "obj_8", "obj_16", "obj_32", "bbox_8", "bbox_16", "bbox_32",
    "kps_8", "kps_16", "kps_32",
];

/// One detected face, in frame pixels.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f32,
    /// Subject's right eye, left eye, nose tip, right mouth corner, left mouth corner.
    pub keypoints: [Point; 5],
}

/// Detector settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Longer side of the network input, in pixels (multiple of 32).
    pub long_side: u32,
    /// Minimum face score.
    pub score_threshold: f32,
    /// Non-maximum-suppression IoU.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        // 320 keeps a 640×480 frame at 320×256 (≈9 ms native); faces under ≈20 px at that scale
        // are not found, which is below any usable liveness capture anyway. 0.6 follows the
        // models README (OpenCV's 0.9 misses profile faces in head-turn challenges).
        Self {
            long_side: 320,
            score_threshold: 0.6,
            nms_iou: 0.3,
        }
    }
}

/// YuNet with a per-input-size plan cache.
#[derive(Debug)]
pub struct FaceDetector {
    graph: OnnxGraph,
    config: DetectorConfig,
    plans: Mutex<HashMap<(usize, usize), Plan>>,
}

impl FaceDetector {
    /// Parses the model; plans are built on first use of each input size.
    pub fn new(bytes: &[u8], config: DetectorConfig) -> Result<Self> {
        let graph = OnnxGraph::parse("yunet", bytes)?;
        let det = Self {
            graph,
            config,
            plans: Mutex::new(HashMap::new()),
        };
        // Warm the plan for the commonest camera shape (4:3 landscape).
        det.plan(256, det.config.long_side as usize)?;
        Ok(det)
    }

    /// The settings in force.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    fn plan(&self, h: usize, w: usize) -> Result<Plan> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let cached = || self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cached().get(&(h, w)) {
            return Ok(p.clone());
        }
        // Built without the lock: a plan takes up to seconds (in the browser), and frames of
        // the sizes already cached must not wait for it. Two threads meeting the same new size
        // may both build it; the first to finish is kept.
        let plan = self.graph.plan(&[1, 3, h, w], &OUTPUTS)?;
        Ok(cached().entry((h, w)).or_insert(plan).clone())
    }

    /// The padded network input size and scale for a frame.
    pub fn input_geometry(&self, width: u32, height: u32) -> (usize, usize, f32) {
        let long = self.config.long_side as f32;
        let scale = long / width.max(height) as f32;
        let round32 = |v: f32| ((v.round().max(1.0) as usize).div_ceil(32)) * 32;
        (
            round32(height as f32 * scale),
            round32(width as f32 * scale),
            scale,
        )
    }

    /// Detects every face, best first.
    pub fn detect(&self, frame: &FrameRef) -> Result<Vec<Detection>> {
        let (h, w, scale) = self.input_geometry(frame.width(), frame.height());
        let plan = self.plan(h, w)?;
        let sampling = Sampling {
            width: w,
            height: h,
            normalize: Normalize::Bgr255,
            border: Border::Zero,
            antialias: true,
        };
        let input = sample_letterbox(frame, scale, &sampling);
        let outputs = run("yunet", &plan, input)?;
        let mut faces = decode(&outputs, h, w, self.config.score_threshold);
        for f in &mut faces {
            f.bbox = BBox {
                x1: f.bbox.x1 / scale,
                y1: f.bbox.y1 / scale,
                x2: f.bbox.x2 / scale,
                y2: f.bbox.y2 / scale,
            };
            for k in &mut f.keypoints {
                *k = [k[0] / scale, k[1] / scale];
            }
        }
        Ok(nms(faces, self.config.nms_iou))
    }
}

/// The frame scaled by `scale` into the top-left of a zero-padded canvas. Pixels right of and
/// below the scaled frame fall outside the source and read as zero.
fn sample_letterbox(frame: &FrameRef, scale: f32, s: &Sampling) -> tract_onnx::prelude::Tensor {
    sample_tensor(frame, &Affine::scale(scale), s)
}

/// YuNet's output decoding (OpenCV `FaceDetectorYN::postProcess`).
fn decode(outputs: &[Vec<f32>], h: usize, w: usize, threshold: f32) -> Vec<Detection> {
    let mut faces = Vec::new();
    for (si, &stride) in STRIDES.iter().enumerate() {
        let (cls, obj, bbox, kps) = (
            &outputs[si],
            &outputs[3 + si],
            &outputs[6 + si],
            &outputs[9 + si],
        );
        let cols = w / stride;
        let rows = h / stride;
        let s = stride as f32;
        for r in 0..rows {
            for c in 0..cols {
                let idx = r * cols + c;
                let (Some(&cl), Some(&ob)) = (cls.get(idx), obj.get(idx)) else {
                    continue;
                };
                let score = (cl.clamp(0.0, 1.0) * ob.clamp(0.0, 1.0)).sqrt();
                if score < threshold {
                    continue;
                }
                let b = &bbox[idx * 4..idx * 4 + 4];
                let cx = (c as f32 + b[0]) * s;
                let cy = (r as f32 + b[1]) * s;
                let bw = b[2].exp() * s;
                let bh = b[3].exp() * s;
                let k = &kps[idx * 10..idx * 10 + 10];
                let mut keypoints = [[0.0; 2]; 5];
                for (n, kp) in keypoints.iter_mut().enumerate() {
                    *kp = [(k[2 * n] + c as f32) * s, (k[2 * n + 1] + r as f32) * s];
                }
                faces.push(Detection {
                    bbox: BBox {
                        x1: cx - bw / 2.0,
                        y1: cy - bh / 2.0,
                        x2: cx + bw / 2.0,
                        y2: cy + bh / 2.0,
                    },
                    score,
                    keypoints,
                });
            }
        }
    }
    faces
}

/// Greedy non-maximum suppression, best score first.
fn nms(mut faces: Vec<Detection>, iou: f32) -> Vec<Detection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for f in faces {
        if kept.iter().all(|k| k.bbox.iou(&f.bbox) <= iou) {
            kept.push(f);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x1,
                y1: 0.0,
                x2: x1 + 10.0,
                y2: 10.0,
            },
            score,
            keypoints: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_all_disjoint() {
        let kept = nms(vec![det(0.0, 0.7), det(1.0, 0.9), det(50.0, 0.8)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.8);
    }
}
