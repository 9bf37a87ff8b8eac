//! API tests through `tower::ServiceExt::oneshot` on the real router, with the real models
//! and real media (../shared/media). One binary, so the models load once. `ws` drives
//! `/ws/liveness` over a real socket (127.0.0.1:0).

mod batch;
mod common;
mod liveness;
mod ops;
mod security;
mod selfie;
mod verification;
mod ws;
