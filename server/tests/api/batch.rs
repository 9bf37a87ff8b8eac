//! `POST /v2/liveness/batch` and `/liveness/batch`: a ZIP of cases in (the core's naming
//! rules), a ZIP of documents and a summary out.

use std::io::{Cursor, Read, Write};

use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use zip::write::SimpleFileOptions;

use crate::common::*;

/// `alice.jpg` (a live still) and `bob/image.jpg` (a phone-replay still).
fn two_cases() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, rel) in [
        ("alice.jpg", "live/fr_obama.jpg"),
        (
            "bob/image.jpg",
            "spoof/frame_les_fake_phone_replay_t1.3.jpg",
        ),
    ] {
        w.start_file(name, SimpleFileOptions::default()).unwrap();
        w.write_all(&media(rel)).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn a_two_case_zip_gives_two_documents_and_a_summary() {
    let zip = two_cases();
    let auth = bearer();
    let req = post_form(
        "/v2/liveness/batch",
        &[("authorization", auth.as_str())],
        &[
            ("file", Part::File(&zip)),
            ("enhanced_detection", Part::Text("False")),
        ],
    );
    let res = router().await.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let mut out = zip::ZipArchive::new(Cursor::new(body.to_vec())).unwrap();
    let mut read = |name: &str| {
        let mut s = String::new();
        out.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let alice: Value = serde_json::from_str(&read("results/alice.json")).unwrap();
    let bob: Value = serde_json::from_str(&read("results/bob.json")).unwrap();
    assert!(alice.get("error").is_none(), "{alice}");
    assert!(bob.get("error").is_none(), "{bob}");
    let summary = read("summary.csv");
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 3, "{summary}");
    assert!(
        lines[0].starts_with("case,image,video,overall_result"),
        "{summary}"
    );
    assert!(
        lines[1].starts_with("alice,") && lines[2].starts_with("bob,"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_bad_zip_is_400_and_no_token_is_401() {
    let auth = bearer();
    let r = send(
        &router().await,
        post_form(
            "/liveness/batch",
            &[("authorization", auth.as_str())],
            &[("file", Part::File(b"PK\x03\x04 not really a zip"))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    assert_envelope(&r);
    let r = send(
        &router().await,
        post_form("/liveness/batch", &[("authorization", auth.as_str())], &[]),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.json);
    let r = send(
        &router().await,
        post_form("/v2/liveness/batch", &[], &[("file", Part::File(b"x"))]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
