//! The client side of a bundle: while a session runs, keep a compact record of every analysed
//! frame and JPEG copies of a few anti-spoofing frames spread over the session, then assemble
//! the manifest and items.

use serde::{Deserialize, Serialize};

use super::{Bundle, ClientResult, Item, ItemKind, Manifest, Versions, FORMAT_VERSION, MAX_ITEMS};
use crate::challenge::SessionOutcome;
use crate::error::{Error, Result};
use crate::frame::{FrameRef, PixelFormat};
use crate::pipeline::{FrameRecord, FrameSummary};

/// What to keep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceConfig {
    /// Most frames kept; when exceeded, every other kept frame is dropped and the spacing
    /// doubles, so the kept frames always span the whole session.
    pub max_frames: usize,
    /// Least time between two kept frames.
    pub min_interval_ms: f64,
    /// JPEG quality of kept frames (1–100).
    pub jpeg_quality: u8,
    /// Most per-frame records kept (later frames are not recorded).
    pub max_records: usize,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        Self {
            max_frames: 12,
            min_interval_ms: 400.0,
            jpeg_quality: 90,
            max_records: 4096,
        }
    }
}

impl EvidenceConfig {
    fn validate(&self) -> Result<()> {
        let bad =
            |field: &'static str, m: &str| Err(Error::invalid(field, format!("evidence: {m}")));
        if self.max_frames == 0 || self.max_frames > MAX_ITEMS - 2 {
            return bad("max_frames", "max_frames must be 1..=62");
        }
        if !(self.min_interval_ms.is_finite() && self.min_interval_ms >= 0.0) {
            return bad(
                "min_interval_ms",
                "min_interval_ms must be a finite number ≥ 0",
            );
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad("jpeg_quality", "jpeg_quality must be 1..=100");
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct KeptFrame {
    t_ms: f64,
    jpeg: Vec<u8>,
}

/// Largest clip a bundle may carry (a 640×480 WebM of a 30 s session at 1 Mbit/s is ~4 MB).
pub const MAX_CLIP_BYTES: usize = 24 << 20;

/// A recording of the session (the browser's `MediaRecorder` output), added to the bundle so
/// the server can run the challenges itself.
#[derive(Debug, Clone, Copy)]
pub struct Clip<'a> {
    pub data: &'a [u8],
    /// `video/webm` or `video/mp4`, optionally with parameters (`video/webm;codecs=vp8`).
    pub media_type: &'a str,
}

impl Clip<'_> {
    /// The item name for this clip's container, or an error for anything else.
    fn item_name(&self) -> Result<&'static str> {
        if self.data.is_empty() || self.data.len() > MAX_CLIP_BYTES {
            return Err(Error::invalid(
                "clip",
                format!(
                    "a clip has 1..={MAX_CLIP_BYTES} bytes, got {}",
                    self.data.len()
                ),
            ));
        }
        let essence = self.media_type.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "video/webm" => Ok("clip.webm"),
            "video/mp4" => Ok("clip.mp4"),
            other => Err(Error::invalid(
                "clip",
                format!("a clip is video/webm or video/mp4, got `{other}`"),
            )),
        }
    }
}

/// What names a bundle: the session, its nonce and when the client made it.
#[derive(Debug, Clone, Copy)]
pub struct BundleId<'a> {
    pub session_id: &'a str,
    pub nonce: &'a str,
    /// Client wall clock, Unix ms.
    pub created_ms: f64,
}

/// Collects evidence while a session runs.
#[derive(Debug, Clone)]
pub struct EvidenceRecorder {
    config: EvidenceConfig,
    interval_ms: f64,
    last_kept_ms: f64,
    frames: Vec<KeptFrame>,
    records: Vec<FrameSummary>,
}

impl EvidenceRecorder {
    /// A recorder with these settings.
    pub fn new(config: EvidenceConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            interval_ms: config.min_interval_ms,
            config,
            last_kept_ms: f64::NEG_INFINITY,
            frames: Vec::new(),
            records: Vec::new(),
        })
    }

    /// Records `rec` and, when it is a single-face anti-spoofing frame due for keeping,
    /// a JPEG of `frame`. Returns whether the frame was kept.
    pub fn observe(&mut self, frame: &FrameRef, rec: &FrameRecord) -> Result<bool> {
        if self.records.len() < self.config.max_records {
            self.records.push(rec.summary());
        }
        let due = rec.t_ms - self.last_kept_ms >= self.interval_ms;
        if !(due && rec.faces.len() == 1 && rec.pad_real().is_some()) {
            return Ok(false);
        }
        let jpeg = encode_jpeg(frame, self.config.jpeg_quality)?;
        self.frames.push(KeptFrame {
            t_ms: rec.t_ms,
            jpeg,
        });
        self.last_kept_ms = rec.t_ms;
        if self.frames.len() > self.config.max_frames {
            let mut i = 0;
            self.frames.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.interval_ms = (self.interval_ms * 2.0).max(1.0);
        }
        Ok(true)
    }

    /// The per-frame records so far.
    pub fn records(&self) -> &[FrameSummary] {
        &self.records
    }

    /// Number of frames kept so far.
    pub fn frames_kept(&self) -> usize {
        self.frames.len()
    }

    /// Assembles the bundle for a decided session.
    pub fn bundle(
        &self,
        id: &BundleId<'_>,
        versions: Versions,
        outcome: &SessionOutcome,
        timeout_ms: f64,
        clip: Option<Clip<'_>>,
    ) -> Result<Bundle> {
        let mut items = Vec::new();
        let mut data = Vec::new();
        for (i, f) in self.frames.iter().enumerate() {
            let name = format!("frame-{i:03}.jpg");
            items.push(Item::describe(
                &name,
                ItemKind::Frame,
                "image/jpeg",
                Some(f.t_ms),
                &f.jpeg,
            ));
            data.push(f.jpeg.clone());
        }
        let records = serde_json::to_vec(&self.records)
            .map_err(|e| Error::invalid("records", format!("records: {e}")))?;
        items.push(Item::describe(
            "records.json",
            ItemKind::Records,
            "application/json",
            None,
            &records,
        ));
        data.push(records);
        if let Some(clip) = clip {
            let name = clip.item_name()?;
            let essence = clip.media_type.split(';').next().unwrap_or("").trim();
            items.push(Item::describe(
                name,
                ItemKind::Clip,
                essence,
                None,
                clip.data,
            ));
            data.push(clip.data.to_vec());
        }
        let manifest = Manifest {
            v: FORMAT_VERSION,
            session_id: id.session_id.to_owned(),
            nonce: id.nonce.to_owned(),
            created_ms: id.created_ms,
            versions,
            script: outcome.script.clone(),
            timeout_ms,
            challenges: outcome.challenges.clone(),
            result: ClientResult::from(outcome),
            items,
            light: None,
            signals: None,
        };
        manifest
            .validate()
            .map_err(|e| Error::invalid("manifest", e.to_string()))?;
        Ok(Bundle { manifest, data })
    }
}

/// Encodes a frame as baseline JPEG (alpha dropped).
pub fn encode_jpeg(frame: &FrameRef, quality: u8) -> Result<Vec<u8>> {
    let rgb;
    let pixels = match frame.format() {
        PixelFormat::Rgb8 => frame.data(),
        PixelFormat::Rgba8 => {
            rgb = frame
                .data()
                .chunks_exact(4)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect::<Vec<u8>>();
            &rgb
        }
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode(
            pixels,
            frame.width(),
            frame.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::ImageEncode(e.to_string()))?;
    Ok(out)
}
