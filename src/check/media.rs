//! Uploaded media (native only): decodes a still and/or a video with FFmpeg under the
//! caller's limits and runs the checks of this module's parent over them.

use super::{
    check_image, facematch, CheckOutcome, CheckParams, FacematchCheck, VideoAnalyzer, VideoCheck,
    VideoMode,
};
use crate::error::{Error, Result};
use crate::pipeline::Engine;

/// Limits on untrusted media.
#[derive(Debug, Clone, Default)]
pub struct MediaLimits {
    pub image: crate::frame::ImageLimits,
    pub video: crate::video::VideoLimits,
}

/// Decodes and checks a still and/or a video (any of the three input modes).
pub fn check_media(
    engine: &Engine,
    image: Option<&[u8]>,
    video: Option<&[u8]>,
    params: &CheckParams,
    limits: &MediaLimits,
) -> Result<CheckOutcome> {
    params.validate()?;
    if image.is_none() && video.is_none() {
        return Err(Error::EmptyInput("send an image, a video, or both"));
    }
    let image = match image {
        Some(bytes) => Some(check_image(
            engine,
            &crate::frame::decode_image(bytes, &limits.image)?.as_ref(),
        )?),
        None => None,
    };
    let video = match video {
        Some(bytes) => {
            let mode = match (&image, params.enhanced_detection) {
                (None, _) => VideoMode::VideoOnly,
                (Some(_), true) => VideoMode::Enhanced,
                (Some(_), false) => VideoMode::Legacy,
            };
            Some(check_video_bytes(
                engine,
                bytes,
                params,
                mode,
                image.is_some(),
                &limits.video,
            )?)
        }
        None => None,
    };
    let facematch = match (&image, &video) {
        (Some(i), Some(v)) => Some(
            match i.record.face.as_ref().and_then(|f| f.embedding.as_ref()) {
                Some(still) => facematch(still, &v.frames, params),
                None => FacematchCheck {
                    similarities: vec![],
                    matched: 0,
                    result: false,
                    confidence: 0.0,
                },
            },
        ),
        _ => None,
    };
    Ok(CheckOutcome {
        params: params.clone(),
        image,
        video,
        facematch,
    })
}

/// Decodes a video and runs the [`VideoAnalyzer`] over it, stopping once it has every frame it
/// wants.
pub fn check_video_bytes(
    engine: &Engine,
    bytes: &[u8],
    params: &CheckParams,
    mode: VideoMode,
    embed: bool,
    limits: &crate::video::VideoLimits,
) -> Result<VideoCheck> {
    let (analyzer, total) = analyze_video_bytes(engine, bytes, params, mode, embed, limits)?;
    analyzer.finish(total)
}

/// [`check_video_bytes`] before its decision: the analyser with every frame it wanted, and the
/// clip's frame count (the evaluation reads the frame records of clips it cannot judge).
pub fn analyze_video_bytes<'e>(
    engine: &'e Engine,
    bytes: &[u8],
    params: &CheckParams,
    mode: VideoMode,
    embed: bool,
    limits: &crate::video::VideoLimits,
) -> Result<(VideoAnalyzer<'e>, Option<u64>)> {
    use std::cell::RefCell;
    use std::ops::ControlFlow;

    let mut reader = crate::video::VideoReader::from_bytes(bytes, limits)?;
    let info = reader.info().clone();
    let analyzer = RefCell::new(VideoAnalyzer::new(engine, params, info.fps, mode, embed));
    let mut failure = None;
    let mut stopped_early = false;
    let decoded = reader.read_frames(
        |index, _| analyzer.borrow().wants(index),
        |vf| {
            let frame = crate::frame::Frame::from(vf.image);
            let mut a = analyzer.borrow_mut();
            if let Err(e) = a.push(vf.index, vf.t_ms, &frame.as_ref()) {
                failure = Some(e);
                return ControlFlow::Break(());
            }
            if a.is_satisfied() {
                stopped_early = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        },
    )?;
    if let Some(e) = failure {
        return Err(e);
    }
    let total = if stopped_early {
        info.total_frames
    } else {
        Some(decoded)
    };
    Ok((analyzer.into_inner(), total))
}
