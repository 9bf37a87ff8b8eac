//! `liveproof`: the liveness pipeline from the command line.
//!
//! - `check`  — a still and/or a video → the v1 or v2 liveness document (JSON)
//! - `video`  — the challenge engine over a recorded clip → JSON-lines event stream
//! - `replay` — the server's run of a session recording → its report and timings
//! - `light`  — a recording scored against the light sequence of a nonce
//! - `light-sim` — the light challenge simulated on the real live clips → detection table
//! - `batch`  — a ZIP of cases → a ZIP of results (naming rules in README.md)
//! - `eval`   — APCER per attack type and BPCER on a labelled folder
//! - `models` — verify the model files against the manifest

#[cfg(not(target_family = "wasm"))]
mod batch;
#[cfg(not(target_family = "wasm"))]
mod cli;
#[cfg(not(target_family = "wasm"))]
mod eval;
#[cfg(not(target_family = "wasm"))]
mod light_cmd;
#[cfg(not(target_family = "wasm"))]
mod light_sim;
#[cfg(not(target_family = "wasm"))]
mod replay;
#[cfg(not(target_family = "wasm"))]
mod video_cmd;

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

// The browser gets the library through its wasm bindings; there is no CLI there.
#[cfg(target_family = "wasm")]
fn main() {}
