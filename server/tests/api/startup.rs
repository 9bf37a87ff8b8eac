//! Faults at start-up, on the real binary: a corrupt model file stops the server with one log
//! line naming the file (before, it served 503 on `/readyz` for ever and said so only once).

use std::time::Duration;

use crate::common::SECRET;
use crate::procs::{http, ServerProcess, TempDir};

#[tokio::test]
async fn a_corrupt_model_file_stops_the_server_naming_it() {
    let dir = TempDir::new("corrupt-model");
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let victim = "detector_yunet_dynamic.onnx";
    let mut found = false;
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let bytes = std::fs::read(entry.path()).unwrap();
        if name == victim {
            // Truncated, as by an interrupted copy.
            std::fs::write(models.join(&name), &bytes[..bytes.len() / 2]).unwrap();
            found = true;
        } else {
            std::fs::write(models.join(&name), bytes).unwrap();
        }
    }
    assert!(
        found,
        "{victim} is not in models/ (run scripts/setup-models.sh)"
    );

    let env = [
        ("LIVEPROOF_JWT_SECRET", SECRET),
        ("LIVEPROOF_MODELS", models.to_str().unwrap()),
        ("RUST_LOG", "info"),
    ];
    let mut server = ServerProcess::start(&env, &dir);
    // Until then it answers health checks and says it is not ready.
    if let Ok(r) = http(server.addr, "GET", "/readyz", &[], b"").await {
        assert_ne!(r.status, 200);
    }
    let status = server
        .wait_exit(Duration::from_secs(120))
        .unwrap_or_else(|| panic!("still running with a corrupt model:\n{}", server.logs()));
    assert_eq!(status.code(), Some(1), "{}", server.logs());
    let logs = server.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("models failed to load"))
        .unwrap_or_else(|| panic!("no load failure logged:\n{logs}"));
    assert!(line.contains(victim), "the line names the file: {line}");
    assert!(line.contains("model_checksum"), "{line}");
}
