//! API tests through `tower::ServiceExt::oneshot` on the real router, with the real models
//! and real media (../shared/media). `attacks` is the adversarial suite: a client holding the
//! session key, forging what it likes. One binary, so the models load once. `ws` drives
//! `/ws/liveness` over a real socket (127.0.0.1:0); `store` and `replicas` start a real
//! `redis-server` (and, for `replicas`, two `liveproof-server` processes).

mod abuse;
mod attacks;
mod batch;
mod bundles;
mod common;
mod connections;
mod contracts;
mod evidence;
mod injection;
mod kiosk;
mod light;
mod liveness;
mod ops;
mod procs;
mod relying_party;
mod replicas;
mod security;
mod selfie;
mod sessions;
mod startup;
mod store;
mod verification;
mod ws;
