//! Fuzzing harnesses for liveproof: every fuzz target in `fuzz_targets/` is one call into a
//! function here, so the corpus replay (`tests/corpus.rs`) runs exactly the code libFuzzer
//! runs, on stable and without libFuzzer.
//!
//! A harness returns normally for any input the product refuses cleanly; it panics (a crash
//! for libFuzzer, a failure for the replay) when the product panics or breaks an invariant a
//! server facing hostile input must keep (decoded sizes within the limits, no 500 answer).
//!
//! | module | target | what |
//! |---|---|---|
//! | [`image`] | `image_decode` | `liveproof::decode_image` |
//! | [`video`] | `video_probe` | `VideoReader::from_bytes`, its info, a few frames |
//! | [`evidence`] | `evidence` | the server's multipart reading of a submission, JWS, manifest, `bind`/`admit` |
//! | [`batch`] | `batch_zip` | the batch ZIP reader (`liveproof::batch::run_batch_bytes`) |
//! | [`requests`] | `requests` | v1/v2 liveness, their batch forms, selfie and verification requests through the real router |

pub mod batch;
pub mod evidence;
pub mod fixtures;
pub mod image;
pub mod requests;
pub mod video;

pub use batch::batch_zip;
pub use evidence::evidence;
pub use image::image_decode;
pub use requests::{requests, requests_with_engine};
pub use video::video_probe;

/// A harness: one fuzz input in, a panic on a finding. It returns whether the product accepted
/// the input all the way (decoded it, admitted the bundle, parsed the request), which the
/// replay checks for the seeds so that a format change cannot quietly make them useless.
pub type Harness = fn(&[u8]) -> bool;

/// Every target by name (its corpus is `corpus/<name>/`) with the harnesses the replay runs
/// over that corpus: the one the fuzz target calls first, then any extra (`requests` is also
/// replayed against a router with the models loaded, which fuzzing skips for speed).
pub const TARGETS: &[(&str, &[Harness])] = &[
    ("image_decode", &[image_decode]),
    ("video_probe", &[video_probe]),
    ("evidence", &[evidence]),
    ("batch_zip", &[batch_zip]),
    ("requests", &[requests, requests_with_engine]),
];
