//! The liveness response documents: v1 (flat) and v2 (structured), built from a
//! [`CheckOutcome`] by the rules the API documents state:
//!
//! - booleans in v2 (and `facematch_result` / `overall_result` in v1) are the strings
//!   `"True"` / `"False"`, or `"N/A"` when that part did not run;
//! - confidences are percentages (0–100, two decimals); a modality classified fake reports
//!   `confidence: 0` and keeps its raw score in `prediction_confidence`;
//! - a field that was not computed is `null` (never an invented number);
//! - `overall_result` is `"True"`/`"False"` when a still and a video were compared (liveness of
//!   both and face match must all pass), else the single modality's `"real"`/`"fake"`;
//!   `overall_confidence` is 0 whenever the overall outcome is a failure.
//!
//! The server serialises these types; the CLI prints them.

use serde::{Deserialize, Serialize, Serializer};

use crate::check::{CheckOutcome, Liveness, VideoMode};

/// A string boolean: `"True"`, `"False"` or `"N/A"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum StrBool {
    #[serde(rename = "True")]
    True,
    #[serde(rename = "False")]
    False,
    #[serde(rename = "N/A")]
    NotApplicable,
}

impl StrBool {
    fn of(b: bool) -> Self {
        if b {
            StrBool::True
        } else {
            StrBool::False
        }
    }

    fn of_opt(b: Option<bool>) -> Self {
        b.map_or(StrBool::NotApplicable, Self::of)
    }
}

impl Serialize for StrBool {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            StrBool::True => "True",
            StrBool::False => "False",
            StrBool::NotApplicable => "N/A",
        })
    }
}

/// A liveness label: `"real"`, `"fake"` or `"N/A"`.
fn label(l: Option<&Liveness>) -> String {
    match l {
        Some(l) if l.real => "real",
        Some(_) => "fake",
        None => "N/A",
    }
    .to_owned()
}

/// A 0–1 score as a percentage with two decimals.
fn pct(score: f32) -> f64 {
    (score as f64 * 10_000.0).round() / 100.0
}

/// `(confidence, prediction_confidence)`: zeroed on fake, raw kept.
fn confidences(l: Option<&Liveness>) -> (Option<f64>, Option<f64>) {
    match l {
        Some(l) => (
            Some(if l.real { pct(l.score) } else { 0.0 }),
            Some(pct(l.score)),
        ),
        None => (None, None),
    }
}

/// v2 `image` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    pub input_provided: StrBool,
    pub result: String,
    pub confidence: Option<f64>,
    pub prediction_confidence: Option<f64>,
}

/// v2 `video` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoBlock {
    pub input_provided: StrBool,
    pub result: String,
    pub confidence: Option<f64>,
    pub prediction_confidence: Option<f64>,
    pub blink_detection: StrBool,
    pub video_frames_analyzed: Option<u64>,
    pub real_video_frames: Option<u64>,
    pub total_video_frames: Option<u64>,
    pub enhanced_detection: StrBool,
    pub frame_sampling_rate: Option<u32>,
    pub max_frames_analyzed: Option<u32>,
}

/// v2 `image_video_facematch` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacematchBlock {
    pub performed: StrBool,
    pub result: StrBool,
    pub confidence: Option<f64>,
    pub frames_tested: Option<u64>,
}

/// The v2 response (`POST /v2/liveness`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessV2 {
    pub image: ImageBlock,
    pub video: VideoBlock,
    pub image_video_facematch: FacematchBlock,
    pub overall_result: String,
    pub overall_confidence: f64,
}

/// The v1 response (`POST /liveness`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessV1 {
    pub result: String,
    pub confidence: Option<f64>,
    pub blink_detection: Option<bool>,
    pub image_input: bool,
    pub video_input: bool,
    pub facematch_result: StrBool,
    pub facematch_confidence: Option<f64>,
    pub facematch_frames_tested: Option<u64>,
    pub overall_result: String,
    pub overall_confidence: f64,
    pub image_result: String,
    pub image_confidence: Option<f64>,
    pub video_frames_analyzed: Option<u64>,
    pub real_video_frames: Option<u64>,
    pub total_video_frames: Option<u64>,
    pub enhanced_detection: Option<bool>,
    pub frame_sampling_rate: Option<u32>,
    pub max_frames_analyzed: Option<u32>,
}

/// The overall decision shared by both versions: `(result, confidence)`.
fn overall(o: &CheckOutcome) -> (String, f64) {
    let image = o.image.as_ref().map(|i| &i.liveness);
    let video = o.video.as_ref().map(|v| &v.liveness);
    match (image, video, &o.facematch) {
        (Some(i), Some(v), Some(fm)) => {
            let pass = i.real && v.real && fm.result;
            let conf = if pass {
                ((pct(i.score) + pct(v.score) + fm.confidence as f64) / 3.0 * 100.0).round() / 100.0
            } else {
                0.0
            };
            (StrBool::of(pass).as_str().to_owned(), conf)
        }
        (Some(l), None, _) | (None, Some(l), _) => {
            (label(Some(l)), if l.real { pct(l.score) } else { 0.0 })
        }
        _ => ("N/A".to_owned(), 0.0),
    }
}

impl StrBool {
    fn as_str(self) -> &'static str {
        match self {
            StrBool::True => "True",
            StrBool::False => "False",
            StrBool::NotApplicable => "N/A",
        }
    }
}

impl From<&CheckOutcome> for LivenessV2 {
    fn from(o: &CheckOutcome) -> Self {
        let img = o.image.as_ref().map(|i| &i.liveness);
        let (ic, ipc) = confidences(img);
        let image = ImageBlock {
            input_provided: StrBool::of(o.image.is_some()),
            result: label(img),
            confidence: ic,
            prediction_confidence: ipc,
        };

        let vid = o.video.as_ref();
        let (vc, vpc) = confidences(vid.map(|v| &v.liveness));
        let enhanced_mode = vid.is_some_and(|v| v.mode == VideoMode::Enhanced);
        let video = VideoBlock {
            input_provided: StrBool::of(vid.is_some()),
            result: label(vid.map(|v| &v.liveness)),
            confidence: vc,
            prediction_confidence: vpc,
            blink_detection: StrBool::of_opt(vid.and_then(|v| v.blink)),
            video_frames_analyzed: vid.map(|v| v.frames.len() as u64),
            real_video_frames: vid.map(|v| v.real_frames as u64),
            total_video_frames: vid.and_then(|v| v.total_frames),
            enhanced_detection: match vid.map(|v| v.mode) {
                Some(VideoMode::Enhanced) => StrBool::True,
                Some(VideoMode::Legacy) => StrBool::False,
                _ => StrBool::NotApplicable,
            },
            frame_sampling_rate: enhanced_mode.then_some(o.params.frame_sampling_rate),
            max_frames_analyzed: enhanced_mode.then_some(o.params.max_frames_to_analyze),
        };

        let fm = o.facematch.as_ref();
        let image_video_facematch = FacematchBlock {
            performed: StrBool::of(fm.is_some()),
            result: StrBool::of_opt(fm.map(|f| f.result)),
            confidence: fm.map(|f| pct(f.confidence / 100.0)),
            frames_tested: fm.map(|f| f.similarities.len() as u64),
        };
        let (overall_result, overall_confidence) = overall(o);
        LivenessV2 {
            image,
            video,
            image_video_facematch,
            overall_result,
            overall_confidence,
        }
    }
}

impl From<&CheckOutcome> for LivenessV1 {
    fn from(o: &CheckOutcome) -> Self {
        let v2 = LivenessV2::from(o);
        // `result`/`confidence`: the liveness of what was sent, video first (it carries the
        // multi-frame evidence), raw score (v1 documents no zeroing rule).
        let primary = o
            .video
            .as_ref()
            .map(|v| &v.liveness)
            .or(o.image.as_ref().map(|i| &i.liveness));
        let vid = o.video.as_ref();
        let enhanced_mode = vid.is_some_and(|v| v.mode == VideoMode::Enhanced);
        LivenessV1 {
            result: label(primary),
            confidence: primary.map(|l| pct(l.score)),
            blink_detection: vid.and_then(|v| v.blink),
            image_input: o.image.is_some(),
            video_input: o.video.is_some(),
            facematch_result: v2.image_video_facematch.result,
            facematch_confidence: v2.image_video_facematch.confidence,
            facematch_frames_tested: v2.image_video_facematch.frames_tested,
            overall_result: v2.overall_result,
            overall_confidence: v2.overall_confidence,
            image_result: v2.image.result,
            image_confidence: v2.image.prediction_confidence,
            video_frames_analyzed: v2.video.video_frames_analyzed,
            real_video_frames: v2.video.real_video_frames,
            total_video_frames: v2.video.total_video_frames,
            enhanced_detection: match vid.map(|v| v.mode) {
                Some(VideoMode::Enhanced) => Some(true),
                Some(VideoMode::Legacy) => Some(false),
                _ => None,
            },
            frame_sampling_rate: enhanced_mode.then_some(o.params.frame_sampling_rate),
            max_frames_analyzed: enhanced_mode.then_some(o.params.max_frames_to_analyze),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckParams, FacematchCheck, ImageCheck, VideoCheck};
    use crate::pipeline::FrameRecord;

    fn record() -> FrameRecord {
        FrameRecord {
            t_ms: 0.0,
            width: 1,
            height: 1,
            faces: vec![],
            face: None,
            guidance: vec![],
            timings: Default::default(),
            tracked: false,
            change: None,
            light: None,
            signals: None,
        }
    }

    fn outcome(
        image: Option<(bool, f32)>,
        video: Option<(bool, f32)>,
        fm: Option<bool>,
    ) -> CheckOutcome {
        CheckOutcome {
            params: CheckParams::default(),
            image: image.map(|(real, score)| ImageCheck {
                record: record(),
                liveness: Liveness { real, score },
            }),
            video: video.map(|(real, score)| VideoCheck {
                total_frames: Some(300),
                frames: vec![record(); 20],
                real_frames: 18,
                liveness: Liveness { real, score },
                blink: Some(true),
                mode: if image.is_some() {
                    VideoMode::Enhanced
                } else {
                    VideoMode::VideoOnly
                },
                cues: Default::default(),
            }),
            facematch: fm.map(|result| FacematchCheck {
                similarities: vec![0.8, 0.9, 0.85],
                matched: 3,
                result,
                confidence: 85.0,
            }),
        }
    }

    #[test]
    fn v2_has_every_documented_key_with_string_booleans() {
        let v = serde_json::to_value(LivenessV2::from(&outcome(
            Some((true, 0.95)),
            Some((true, 0.9045)),
            Some(true),
        )))
        .unwrap();
        assert_eq!(v["image"]["input_provided"], "True");
        assert_eq!(v["image"]["result"], "real");
        assert_eq!(v["image"]["confidence"], 95.0);
        assert_eq!(v["video"]["confidence"], 90.45);
        assert_eq!(v["video"]["blink_detection"], "True");
        assert_eq!(v["video"]["video_frames_analyzed"], 20);
        assert_eq!(v["video"]["total_video_frames"], 300);
        assert_eq!(v["video"]["enhanced_detection"], "True");
        assert_eq!(v["video"]["frame_sampling_rate"], 15);
        assert_eq!(v["video"]["max_frames_analyzed"], 20);
        assert_eq!(v["image_video_facematch"]["performed"], "True");
        assert_eq!(v["image_video_facematch"]["frames_tested"], 3);
        assert_eq!(v["overall_result"], "True");
        assert_eq!(v["overall_confidence"], 90.15);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "image",
                "video",
                "image_video_facematch",
                "overall_result",
                "overall_confidence"
            ]
        );
    }

    #[test]
    fn fake_zeroes_confidence_and_keeps_prediction() {
        let v = serde_json::to_value(LivenessV2::from(&outcome(Some((false, 0.12)), None, None)))
            .unwrap();
        assert_eq!(v["image"]["result"], "fake");
        assert_eq!(v["image"]["confidence"], 0.0);
        assert_eq!(v["image"]["prediction_confidence"], 12.0);
        assert_eq!(v["video"]["input_provided"], "False");
        assert_eq!(v["video"]["result"], "N/A");
        assert!(v["video"]["confidence"].is_null());
        assert_eq!(v["video"]["blink_detection"], "N/A");
        assert_eq!(v["video"]["enhanced_detection"], "N/A");
        assert!(v["video"]["frame_sampling_rate"].is_null());
        assert_eq!(v["image_video_facematch"]["performed"], "False");
        assert_eq!(v["image_video_facematch"]["result"], "N/A");
        assert!(v["image_video_facematch"]["confidence"].is_null());
        assert_eq!(v["overall_result"], "fake");
        assert_eq!(v["overall_confidence"], 0.0);
    }

    #[test]
    fn failed_facematch_fails_overall_with_zero_confidence() {
        let v = serde_json::to_value(LivenessV2::from(&outcome(
            Some((true, 0.95)),
            Some((true, 0.9)),
            Some(false),
        )))
        .unwrap();
        assert_eq!(v["overall_result"], "False");
        assert_eq!(v["overall_confidence"], 0.0);
    }

    #[test]
    fn v1_is_flat_with_its_documented_types() {
        let v = serde_json::to_value(LivenessV1::from(&outcome(
            Some((true, 0.95)),
            Some((true, 0.9)),
            Some(true),
        )))
        .unwrap();
        let o = v.as_object().unwrap();
        for key in [
            "result",
            "confidence",
            "blink_detection",
            "image_input",
            "video_input",
            "facematch_result",
            "facematch_confidence",
            "facematch_frames_tested",
            "overall_result",
            "overall_confidence",
            "image_result",
            "image_confidence",
            "video_frames_analyzed",
            "real_video_frames",
            "total_video_frames",
            "enhanced_detection",
            "frame_sampling_rate",
            "max_frames_analyzed",
        ] {
            assert!(o.contains_key(key), "{key}");
        }
        assert_eq!(o.len(), 18);
        assert_eq!(v["blink_detection"], true);
        assert_eq!(v["image_input"], true);
        assert_eq!(v["facematch_result"], "True");
        assert_eq!(v["overall_result"], "True");
        assert_eq!(v["enhanced_detection"], true);
        assert_eq!(v["result"], "real");
    }
}

/// Which response document to produce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    V1,
    #[default]
    V2,
}

impl ApiVersion {
    /// The outcome as this version's JSON document.
    pub fn render(self, outcome: &CheckOutcome) -> serde_json::Value {
        let doc = match self {
            ApiVersion::V1 => serde_json::to_value(LivenessV1::from(outcome)),
            ApiVersion::V2 => serde_json::to_value(LivenessV2::from(outcome)),
        };
        // Plain structs of strings, numbers and options always serialise.
        doc.unwrap_or(serde_json::Value::Null)
    }
}
