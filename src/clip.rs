//! Runs a challenge session over a recorded clip the way a camera would feed it: frames at a
//! fixed analysis rate, each analysed with the stages the session asks for. The CLI's `video`
//! command and the tests use it; the browser and the WebSocket API feed live frames instead.

use std::cell::RefCell;
use std::ops::ControlFlow;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::frame::Frame;
use crate::live::LiveCheck;
use crate::pipeline::{Engine, FrameRecord};
use crate::video::VideoReader;

/// Feeds `reader`'s frames at `fps` analysed frames per second into `check` until its session
/// decides or the clip ends. `on_frame` sees each record and the events it caused; the return
/// value is what [`LiveCheck::finish`] adds at the end of the clip (empty if already decided).
pub fn run_clip(
    engine: &Engine,
    reader: &mut VideoReader,
    check: &mut LiveCheck,
    fps: f64,
    mut on_frame: impl FnMut(&FrameRecord, &[Event]),
) -> Result<Vec<Event>> {
    if !(fps > 0.0 && fps <= 240.0) {
        return Err(Error::invalid(
            "fps",
            format!("analysis rate must be in (0, 240] fps, got {fps}"),
        ));
    }
    let period = 1000.0 / fps;
    let next_t = RefCell::new(f64::NEG_INFINITY);
    let state = RefCell::new((&mut *check, None::<Error>));
    reader.read_frames(
        // 1 ms of slack so a 30 fps clip sampled at 15 fps takes every other frame.
        |_, t| t >= *next_t.borrow() - 1.0,
        |vf| {
            *next_t.borrow_mut() = vf.t_ms + period;
            let mut guard = state.borrow_mut();
            let (check, failure) = &mut *guard;
            let frame = Frame::from(vf.image);
            let step = match check.process(engine, &frame.as_ref(), vf.t_ms) {
                Ok(s) => s,
                Err(e) => {
                    *failure = Some(e);
                    return ControlFlow::Break(());
                }
            };
            on_frame(&step.record, &step.events);
            if check.session().is_done() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )?;
    let (check, failure) = state.into_inner();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(check.finish())
}
