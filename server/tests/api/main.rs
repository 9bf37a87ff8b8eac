//! API tests through `tower::ServiceExt::oneshot` on the real router, with the real models
//! and real media (../shared/media). One binary, so the models load once. `ws` drives
//! `/ws/liveness` over a real socket (127.0.0.1:0); `store` and `replicas` start a real
//! `redis-server` (and, for `replicas`, two `liveproof-server` processes).

mod batch;
mod bundles;
mod common;
mod evidence;
mod kiosk;
mod liveness;
mod ops;
mod procs;
mod replicas;
mod security;
mod selfie;
mod sessions;
mod store;
mod verification;
mod ws;
