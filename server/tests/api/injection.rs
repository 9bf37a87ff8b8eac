//! Injection signals in the verdict: each one triggered, the way the policy acts on the risk,
//! and hostile client reports refused. The client-reported signals are signed into the
//! manifest by whoever holds the session key, so they can only raise a risk; the server's own
//! (frozen frames, here) come from its run of the recording.

use axum::http::StatusCode;
use liveproof::injection::{ClientSignals, IntervalStats};
use liveproof::verify::{InjectionAction, LightMode};
use serde_json::{json, Value};

use crate::bundles::*;
use crate::common::*;
use crate::evidence::assert_code;

/// What the SDK reports from a page where a script wrapped `getUserMedia`, the camera is OBS's
/// virtual one, its frame rate is outside what the device says it can do, and frames arrive
/// exactly every 33.3 ms.
fn injected_page() -> ClientSignals {
    ClientSignals {
        wrapped: vec!["getUserMedia".into()],
        device_label: Some("OBS Virtual Camera".into()),
        settings_inconsistent: vec!["frameRate".into()],
        frame_intervals: Some(IntervalStats {
            count: 120,
            median_ms: 33.3,
            mad_ms: 0.0,
        }),
    }
}

fn signals_of(v: &Value) -> Vec<&str> {
    v["injection"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signal"].as_str().unwrap())
        .collect()
}

async fn server(action: InjectionAction) -> axum::Router {
    let mut c = policy_config();
    c.verification.injection.action = action;
    router_with(c).await
}

#[tokio::test]
async fn client_signals_appear_in_the_verdict_and_the_policy_acts_on_the_risk() {
    // Flagged only (test mode): REAL, with the risk and every reason named.
    let app = server(InjectionAction::Flag).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.signals = Some(injected_page());
    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let v = &r.json["result"];
    assert_eq!(v["label"], "REAL", "{v}");
    assert_eq!(v["injection"]["risk"], "high", "{v}");
    assert_eq!(v["injection"]["client_reported"], true, "{v}");
    let signals = signals_of(v);
    for expected in [
        "api_wrapped",
        "virtual_camera",
        "inconsistent_settings",
        "regular_timing",
    ] {
        assert!(signals.contains(&expected), "{expected} in {v}");
    }
    let camera = v["injection"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signal"] == "virtual_camera")
        .unwrap();
    assert_eq!(camera["product"], "OBS Virtual Camera");

    // The default policy: a high risk without a passing light is refused.
    let app = server(InjectionAction::default()).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.signals = Some(injected_page());
    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let v = &r.json["result"];
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "injection_suspected", "{v}");
    assert_eq!(v["failure"]["risk"], "high", "{v}");

    // The same recording without the page's report: nothing client-side, REAL.
    let s = create_session(&app, json!({})).await;
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    let v = &r.json["result"];
    assert_eq!(v["label"], "REAL", "{v}");
    assert_eq!(v["injection"]["client_reported"], false, "{v}");
    assert_ne!(v["injection"]["risk"], "high", "{v}");
}

#[tokio::test]
async fn a_virtual_camera_alone_is_a_medium_risk_refused_only_from_medium() {
    let mut c = policy_config();
    c.verification.injection.action = InjectionAction::Refuse;
    let app = router_with(c.clone()).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.signals = Some(ClientSignals {
        device_label: Some("ManyCam Virtual Webcam".into()),
        ..ClientSignals::default()
    });
    let v = submit(&app, &s, &b).await.json["result"].clone();
    assert_eq!(v["injection"]["risk"], "medium", "{v}");
    assert_eq!(v["label"], "REAL", "refused from high only: {v}");

    c.verification.injection.refuse_at = liveproof::injection::Risk::Medium;
    let app = router_with(c).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.signals = Some(ClientSignals {
        device_label: Some("ManyCam Virtual Webcam".into()),
        ..ClientSignals::default()
    });
    let v = submit(&app, &s, &b).await.json["result"].clone();
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["failure"]["reason"], "injection_suspected", "{v}");
}

#[tokio::test]
async fn a_photo_streamed_as_video_shows_frozen_frames_measured_by_the_server() {
    let app = server(InjectionAction::Flag).await;
    let s = create_session(&app, json!({})).await;
    let video = still_video("live/frame_lp_d11_t2.0.jpg");
    let check = recorded(Clip::BlinkSmile, &script_of(&s));
    let b = bundle_of(&check, &s.id, &s.nonce, Some((&video, "video/webm")));
    let r = submit(&app, &s, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let v = &r.json["result"];
    assert_eq!(v["label"], "FAKE", "{v}");
    assert_eq!(v["injection"]["risk"], "high", "{v}");
    let frozen = v["injection"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["signal"] == "frozen_frames")
        .unwrap_or_else(|| panic!("frozen_frames in {v}"));
    assert!(frozen["repeated"].as_u64().unwrap() > 30, "{frozen}");
}

#[tokio::test]
async fn hostile_client_signals_and_timelines_are_refused_before_the_nonce_is_spent() {
    let mut c = policy_config();
    c.verification.light = LightMode::Required;
    let app = router_with(c).await;
    let s = create_session(&app, json!({})).await;
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.signals = Some(ClientSignals {
        wrapped: (0..100).map(|i| format!("api{i}")).collect(),
        ..ClientSignals::default()
    });
    assert_code(
        &submit(&app, &s, &b).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_signals",
    );
    let mut b = bundle(Clip::BlinkSmile, &s);
    b.manifest.light = Some(liveproof::light::LightTimeline {
        onsets_ms: vec![1.0; 1000],
    });
    assert_code(
        &submit(&app, &s, &b).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_light_timeline",
    );
    // The nonce is still unspent: the honest bundle is judged.
    let r = submit(&app, &s, &bundle(Clip::BlinkSmile, &s)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}
