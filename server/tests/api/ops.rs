//! Health, readiness, metrics and the OpenAPI document.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use liveproof_server::{app, AppState, ROUTES};

use crate::common::*;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn get_with(path: &str, auth: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn readiness_follows_the_engine() {
    let state = AppState::new(config()).await.unwrap();
    let router = app(state.clone());
    assert_eq!(send(&router, get("/healthz")).await.status, StatusCode::OK);
    let r = send(&router, get("/readyz")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_envelope(&r);
    // Seed routes answer 503 + Retry-After while the models load.
    let auth = bearer();
    let image = media("live/frame_lp_d11_t2.0.jpg");
    let r = send(
        &router,
        post_form(
            "/v2/liveness",
            &[("authorization", auth.as_str())],
            &[("image", Part::File(&image))],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers.get("retry-after").is_some());
    state.set_engine(engine());
    assert_eq!(send(&router, get("/readyz")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let router = router().await;
    send(&router, get("/healthz")).await;
    send(&router, get("/missing")).await;
    // A client cannot grow the label set: any method string is one of a fixed set.
    for i in 0..20 {
        let method = format!("X{}", "M".repeat(1000 + i));
        let req = Request::builder()
            .method(method.as_str())
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        send(&router, req).await;
    }
    // /metrics reveals traffic: a monitoring token's scope, nothing less.
    assert_eq!(
        send(&router, get("/metrics")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = send(&router, get_with("/metrics", &bearer())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    let r = send(&router, get_with("/metrics", &metrics_bearer())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.json.as_str().unwrap();
    for needle in [
        r#"liveproof_http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
        r#"liveproof_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
        r#"liveproof_http_request_duration_seconds_bucket{route="/healthz",le="+Inf"} 21"#,
        "liveproof_pool_size 2",
        "liveproof_pool_busy 0",
        "liveproof_pool_rejected_total 0",
        r#"liveproof_http_requests_total{route="/healthz",method="OTHER",status="405"} 20"#,
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    assert!(text.len() < 10_000, "{} bytes", text.len());
    assert!(!text.contains("MMMM"));
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let r = send(&router().await, get("/openapi.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_envelope(&r);
    let doc = &r.json;
    assert_eq!(doc["openapi"], "3.1.0");
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        // The WebSocket upgrade answers 101, creations 201; everything else has a 200.
        assert!(
            ["200", "201", "101"]
                .iter()
                .any(|c| op["responses"][c].is_object()),
            "{method} {path} has no 200 (or 201, 101)"
        );
    }
    assert_eq!(
        doc["paths"].as_object().unwrap().len(),
        ROUTES.len(),
        "documented paths that are not served"
    );
    for scheme in ["bearerAuth", "selfieAppId", "selfieKey", "appId", "appKey"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn static_directories_serve_the_pages_and_the_package_and_nothing_else() {
    let pkg = tempfile_dir();
    std::fs::write(pkg.join("liveproof_simd_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("index.js"), b"export const x = 1;\n").unwrap();
    let mut c = config();
    c.static_files.www_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/../www").into());
    c.static_files.pkg_dir = Some(pkg.display().to_string());
    let router = router_with(c).await;

    let r = send(&router, get("/")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.json.as_str().unwrap_or_default().contains("liveproof"));
    assert!(
        r.headers.get("x-request-id").is_some(),
        "static files get the headers too"
    );
    let r = send(&router, get("/pkg/liveproof_simd_bg.wasm")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/wasm");
    let r = send(&router, get("/pkg/index.js")).await;
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    for bad in [
        "/pkg/../Cargo.toml",
        "/pkg/%2e%2e/Cargo.toml",
        "/../Cargo.toml",
        "/nope.html",
    ] {
        let r = send(&router, get(bad)).await;
        assert!(
            r.status == StatusCode::NOT_FOUND || r.status == StatusCode::BAD_REQUEST,
            "{bad}: {}",
            r.status
        );
    }
    // The API is unchanged next to the files.
    assert_eq!(send(&router, get("/healthz")).await.status, StatusCode::OK);
    let _ = std::fs::remove_dir_all(pkg);
}

#[tokio::test]
async fn without_static_directories_the_root_is_a_404() {
    let router = router().await;
    let r = send(&router, get("/")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_envelope(&r);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("liveproof-static-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "")
}
