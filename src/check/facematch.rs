//! Face match between a still and the frames of a video: the same person, by the cosine
//! similarity of their face embeddings.

use serde::{Deserialize, Serialize};

use super::CheckParams;
use crate::embed::{cosine, Embedding};
use crate::pipeline::FrameRecord;

/// Still-versus-video face match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacematchCheck {
    pub similarities: Vec<f32>,
    pub matched: usize,
    pub result: bool,
    /// Mean cosine similarity (negatives as 0) as a percentage.
    pub confidence: f32,
}

/// Compares the still's face with `facematch_frames` evenly spaced analysed video frames,
/// preferring frames where the face is frontal (turned faces embed poorly).
pub fn facematch(
    still: &Embedding,
    frames: &[FrameRecord],
    params: &CheckParams,
) -> FacematchCheck {
    let with_embedding = |frontal_only: bool| -> Vec<&Embedding> {
        frames
            .iter()
            .filter(|r| {
                !frontal_only || !r.guidance.contains(&crate::quality::Guidance::FaceTurned)
            })
            .filter_map(|r| r.face.as_ref()?.embedding.as_ref())
            .collect()
    };
    let wanted = params.facematch_frames as usize;
    let frontal = with_embedding(true);
    let embedded = if frontal.len() >= wanted {
        frontal
    } else {
        with_embedding(false)
    };
    let similarities: Vec<f32> = spread(embedded.len(), wanted)
        .into_iter()
        .map(|i| cosine(still, embedded[i]))
        .collect();
    let matched = similarities
        .iter()
        .filter(|s| **s >= params.match_similarity)
        .count();
    let tested = similarities.len();
    let result = tested > 0 && matched as f32 / tested as f32 >= params.facematch_threshold;
    let confidence = if tested == 0 {
        0.0
    } else {
        similarities.iter().map(|s| s.max(0.0)).sum::<f32>() / tested as f32 * 100.0
    };
    FacematchCheck {
        similarities,
        matched,
        result,
        confidence,
    }
}

/// Picks `n` evenly spaced indices out of `len`.
pub fn spread(len: usize, n: usize) -> Vec<usize> {
    if len == 0 || n == 0 {
        return Vec::new();
    }
    if n >= len {
        return (0..len).collect();
    }
    (0..n)
        .map(|i| (i * len + len / 2) / n)
        .map(|i| i.min(len - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_even_and_bounded() {
        assert_eq!(spread(20, 3), vec![3, 10, 16]);
        assert_eq!(spread(2, 3), vec![0, 1]);
        assert!(spread(0, 3).is_empty());
    }
}
