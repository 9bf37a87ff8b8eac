//! `batch_zip`: the batch ZIP reader (`liveproof::batch::run_batch_bytes`, what the server's
//! batch routes and the CLI run): the archive's directory, the case naming rules, reading each
//! entry within its limits, and the result archive and `summary.csv`.
//!
//! The media limits refuse every still and clip right after its header, so the engine (which
//! `run_batch_bytes` needs) is never run: inference is not what this target fuzzes, and would
//! take seconds an input. Still and clip parsing have their own targets.

use std::io::{Cursor, Read};

use liveproof::batch::{run_batch_bytes, BatchLimits};
use liveproof::check::{CheckParams, MediaLimits};
use liveproof::report::ApiVersion;

use crate::fixtures::engine;

/// Small archives (a few cases of small files) and media limits no input can pass.
pub fn limits() -> BatchLimits {
    let mut media = MediaLimits::default();
    // No image has fewer than 0 pixels, and a clip is refused before FFmpeg sees it.
    media.image.max_pixels = 0;
    media.video.max_input_bytes = 0;
    BatchLimits {
        max_cases: 64,
        max_image_bytes: 256 << 10,
        max_video_bytes: 256 << 10,
        max_total_bytes: 1 << 20,
        media,
    }
}

/// Runs the archive; a result archive must be a readable ZIP holding one document per case
/// and the summary. True when the archive was read.
pub fn batch_zip(data: &[u8]) -> bool {
    let engine = engine();
    let limits = limits();
    let Ok((archive, rows)) = run_batch_bytes(
        &engine,
        data,
        &CheckParams::default(),
        ApiVersion::V2,
        &limits,
    ) else {
        return false;
    };
    assert!(
        !rows.is_empty() && rows.len() <= limits.max_cases,
        "{} cases",
        rows.len()
    );
    for row in &rows {
        assert!(
            !row.error.is_empty(),
            "case {:?} passed media limits that refuse everything",
            row.case
        );
    }
    let mut out = match zip::ZipArchive::new(Cursor::new(archive)) {
        Ok(out) => out,
        Err(e) => panic!("the result archive does not read back: {e}"),
    };
    assert_eq!(out.len(), rows.len() + 1, "one document per case + summary");
    let mut summary = String::new();
    match out.by_name("summary.csv") {
        Ok(mut f) => {
            if let Err(e) = f.read_to_string(&mut summary) {
                panic!("summary.csv: {e}");
            }
        }
        Err(e) => panic!("no summary.csv: {e}"),
    }
    assert!(summary.starts_with("case,image,video,"), "summary header");
    true
}
