//! Dense landmarks with MediaPipe's face mesh with attention (468 mesh points, refined eyes and
//! lips, 2 × 5 iris points), and the geometry the challenges need: eye aspect ratio, mouth
//! shape and head pose.
//!
//! The attention model matters: the plain 468-point mesh keeps drawing open eyes over closed
//! lids, so it cannot see a blink; the refined eye contours of this one can (EAR ≈0.06–0.11
//! closed, 0.25–0.43 open on the models README's blink set).

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::frame::FrameRef;
use crate::imgproc::{sample_tensor, Affine, BBox, Border, Normalize, Point, Sampling};
use crate::models::{run, OnnxGraph, Plan};

const SIZE: usize = 192;
const OUTPUTS: [&str; 7] = [
    "mesh",
    "face_flag",
    "left_eye",
    "right_eye",
    "left_iris",
    "right_iris",
    "lips",
];

// Mesh indices (MediaPipe canonical face).
const CHEEK_IMAGE_LEFT: usize = 234;
const CHEEK_IMAGE_RIGHT: usize = 454;
const FOREHEAD: usize = 10;
const CHIN: usize = 152;
const EYE_OUTER_IMAGE_LEFT: usize = 33;
const EYE_OUTER_IMAGE_RIGHT: usize = 263;
const LIP_INNER_UPPER: usize = 13;
const LIP_INNER_LOWER: usize = 14;
const MOUTH_INNER_LEFT: usize = 78;
const MOUTH_INNER_RIGHT: usize = 308;
const MOUTH_CORNER_LEFT: usize = 61;
const MOUTH_CORNER_RIGHT: usize = 291;

/// Head orientation in degrees. Signs are the subject's point of view: positive yaw = the
/// subject turns to their own left, positive pitch = looks up, positive roll = head tilts
/// towards their left shoulder (clockwise in the image).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// Mouth geometry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Mouth {
    /// Inner-lip opening over inner mouth width (≈0.01–0.04 closed, ≈0.3–0.4 wide open).
    pub mar: f32,
    /// Corner-to-corner mouth width over the outer-eye-corner distance (grows with a smile).
    pub width_ratio: f32,
}

/// Landmarks of one face, in frame pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaceLandmarks {
    /// 478 points `(x, y, z)`: the 468 mesh points with refined eyes and lips written in, then
    /// the 5 + 5 iris points. `z` is relative depth in the same pixel units (smaller = nearer).
    pub points: Vec<[f32; 3]>,
    /// Probability (0–1) that the crop holds a face (the model's own face flag).
    pub presence: f32,
    /// Eye aspect ratio of the image-left eye (the subject's right) and the image-right eye.
    pub ear: [f32; 2],
    pub mouth: Mouth,
    pub pose: Pose,
}

impl FaceLandmarks {
    /// Mean of both eyes' aspect ratios.
    pub fn ear_mean(&self) -> f32 {
        (self.ear[0] + self.ear[1]) * 0.5
    }

    /// Bounding box of the mesh.
    pub fn bbox(&self) -> BBox {
        let mut b = BBox {
            x1: f32::MAX,
            y1: f32::MAX,
            x2: f32::MIN,
            y2: f32::MIN,
        };
        for p in &self.points[..468.min(self.points.len())] {
            b.x1 = b.x1.min(p[0]);
            b.y1 = b.y1.min(p[1]);
            b.x2 = b.x2.max(p[0]);
            b.y2 = b.y2.max(p[1]);
        }
        b
    }
}

/// Where to crop the face for the mesh: a square around `center`, rotated by `angle`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeshRoi {
    pub center: Point,
    pub side: f32,
    pub angle: f32,
}

impl MeshRoi {
    /// From a detector box and its eye keypoints: side 1.5 × max(w, h), eye line horizontal.
    pub fn from_detection(bbox: &BBox, right_eye: Point, left_eye: Point) -> Self {
        let angle = (left_eye[1] - right_eye[1]).atan2(left_eye[0] - right_eye[0]);
        Self {
            center: bbox.center(),
            side: 1.5 * bbox.width().max(bbox.height()),
            angle,
        }
    }
}

/// The face mesh model.
#[derive(Debug)]
pub struct FaceMesh {
    plan: Plan,
}

impl FaceMesh {
    /// Loads and plans the model.
    pub fn new(bytes: &[u8]) -> Result<Self> {
        let plan = OnnxGraph::parse("facemesh", bytes)?.plan(&[1, 3, SIZE, SIZE], &OUTPUTS)?;
        Ok(Self { plan })
    }

    /// The model input for a region of interest (also used by the reference tests).
    pub fn input(frame: &FrameRef, roi: &MeshRoi) -> (tract_onnx::prelude::Tensor, Affine) {
        let map = Affine::rotated_square(roi.center, roi.side, roi.angle, SIZE);
        let s = Sampling {
            width: SIZE,
            height: SIZE,
            normalize: Normalize::Rgb01,
            border: Border::Zero,
            antialias: false,
        };
        (sample_tensor(frame, &map, &s), map)
    }

    /// Runs the mesh on a region of interest.
    pub fn landmarks(&self, frame: &FrameRef, roi: &MeshRoi) -> Result<FaceLandmarks> {
        let (input, map) = Self::input(frame, roi);
        let out = run("facemesh", &self.plan, input)?;
        Ok(assemble(&out, &map, roi.side / SIZE as f32))
    }
}

fn to_frame(map: &Affine, x: f32, y: f32) -> Point {
    map.apply([x, y])
}

/// Maps the raw outputs back to the frame and derives the geometry.
fn assemble(out: &[Vec<f32>], map: &Affine, z_scale: f32) -> FaceLandmarks {
    let (mesh, flag, left_eye, right_eye, left_iris, right_iris, lips) = (
        &out[0], out[1][0], &out[2], &out[3], &out[4], &out[5], &out[6],
    );
    let mut points: Vec<[f32; 3]> = mesh
        .chunks_exact(3)
        .map(|c| {
            let [x, y] = to_frame(map, c[0], c[1]);
            [x, y, c[2] * z_scale]
        })
        .collect();
    // Refined eye and lip contours replace their mesh points (x, y only: z stays the mesh's).
    for (contour, indices) in [
        (left_eye, &LEFT_EYE_MESH[..]),
        (right_eye, &RIGHT_EYE_MESH[..]),
        (lips, &LIPS_MESH[..]),
    ] {
        for (i, &m) in indices.iter().enumerate() {
            if let (Some(c), Some(p)) = (contour.get(2 * i..2 * i + 2), points.get_mut(m)) {
                let [x, y] = to_frame(map, c[0], c[1]);
                p[0] = x;
                p[1] = y;
            }
        }
    }
    for iris in [left_iris, right_iris] {
        for c in iris.chunks_exact(2) {
            let [x, y] = to_frame(map, c[0], c[1]);
            points.push([x, y, 0.0]);
        }
    }
    let ear = [eye_aspect_ratio(left_eye), eye_aspect_ratio(right_eye)];
    let mouth = mouth(&points);
    let pose = pose(&points);
    FaceLandmarks {
        points,
        presence: sigmoid(flag),
        ear,
        mouth,
        pose,
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// EAR from the 71-point eye contour (crop pixels; the ratio is scale-free):
/// points 0–8 lower lid corner to corner, 9–15 upper lid, so
/// `(|c11 − c3| + |c13 − c5|) / (2 |c0 − c8|)`.
fn eye_aspect_ratio(c: &[f32]) -> f32 {
    if c.len() < 32 {
        return 0.0;
    }
    let p = |i: usize| &c[2 * i..2 * i + 2];
    let width = dist2(p(0), p(8));
    if width <= f32::EPSILON {
        return 0.0;
    }
    (dist2(p(11), p(3)) + dist2(p(13), p(5))) / (2.0 * width)
}

fn mouth(points: &[[f32; 3]]) -> Mouth {
    let d = |a: usize, b: usize| dist2(&points[a], &points[b]);
    let inner_width = d(MOUTH_INNER_LEFT, MOUTH_INNER_RIGHT).max(f32::EPSILON);
    let eyes = d(EYE_OUTER_IMAGE_LEFT, EYE_OUTER_IMAGE_RIGHT).max(f32::EPSILON);
    Mouth {
        mar: d(LIP_INNER_UPPER, LIP_INNER_LOWER) / inner_width,
        width_ratio: d(MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT) / eyes,
    }
}

/// Head pose from the 3-D mesh: the face's x axis runs cheek to cheek, its y axis forehead to
/// chin; their depth components give yaw and pitch, the eye line gives roll.
fn pose(points: &[[f32; 3]]) -> Pose {
    let sub = |a: usize, b: usize| {
        let (p, q) = (points[a], points[b]);
        [p[0] - q[0], p[1] - q[1], p[2] - q[2]]
    };
    let x_axis = sub(CHEEK_IMAGE_RIGHT, CHEEK_IMAGE_LEFT);
    let y_axis = sub(CHIN, FOREHEAD);
    let eyes = sub(EYE_OUTER_IMAGE_RIGHT, EYE_OUTER_IMAGE_LEFT);
    let deg = 180.0 / std::f32::consts::PI;
    // Turning to the subject's left pushes the image-right cheek away (z grows).
    let yaw = x_axis[2].atan2(x_axis[0].hypot(x_axis[1])) * deg;
    // Looking up brings the chin nearer than the forehead (z of chin − forehead < 0).
    let pitch = (-y_axis[2]).atan2(y_axis[0].hypot(y_axis[1])) * deg;
    let roll = eyes[1].atan2(eyes[0]) * deg;
    Pose { yaw, pitch, roll }
}

// Which mesh points the refined contours stand for (MediaPipe's landmarks_refinement_calculator
// tables for the attention model): 71 per eye, 80 for the lips.
const LEFT_EYE_MESH: [usize; 71] = [
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24,
    23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244,
    113, 225, 224, 223, 222, 221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121,
    128, 245, 156, 70, 63, 105, 66, 107, 55, 193,
];
const RIGHT_EYE_MESH: [usize; 71] = [
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339,
    254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451,
    452, 453, 464, 342, 445, 444, 443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346,
    347, 348, 349, 350, 357, 465, 383, 300, 293, 334, 296, 336, 285, 417,
];
const LIPS_MESH: [usize; 80] = [
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78,
    95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77,
    90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89,
    179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ear_of_a_flat_contour_is_zero_and_of_a_round_one_positive() {
        let mut c = vec![0.0f32; 142];
        for i in 0..9 {
            c[2 * i] = i as f32; // lower lid along x, corner to corner
        }
        c[2 * 11] = c[2 * 3]; // upper lid points right above their lower-lid partners
        c[2 * 13] = c[2 * 5];
        assert_eq!(eye_aspect_ratio(&c), 0.0);
        c[2 * 11 + 1] = 2.0;
        c[2 * 13 + 1] = 2.0;
        assert!((eye_aspect_ratio(&c) - 0.25).abs() < 1e-6);
    }
}
