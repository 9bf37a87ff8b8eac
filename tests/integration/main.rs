//! liveproof's integration tests: one test binary (one link of tract), one module per area.
//! Every test runs the real models on real media from ../shared/media.

mod bad_input;
mod cli;
mod common;
mod compact;
mod evidence;
mod light;
mod reference;
mod stills;
mod verify;
mod videos;
