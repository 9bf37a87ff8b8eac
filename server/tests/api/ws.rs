//! `GET /ws/liveness` (seed 003) over a real socket: a server bound to 127.0.0.1:0 and
//! tokio-tungstenite as the client. Clips are decoded with the core's reader at 15 fps, each
//! kept frame sent as a JPEG with the clip's own timestamp, as a camera page would.

use std::net::SocketAddr;
use std::ops::ControlFlow;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use liveproof::video::{VideoLimits, VideoReader};
use liveproof_server::config::Config;
use liveproof_server::{app, AppState};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::bundles::policy_config;
use crate::common::*;

/// Serves the app on an ephemeral port for the rest of the test.
async fn serve_with(config: Config) -> (SocketAddr, AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = state_with(config).await;
    let app = app(state.clone());
    // The product's own connection loop (limits, upgrades), as the binary serves.
    let limits = liveproof_server::serve::ConnLimits {
        max_connections: 64,
        header_read_timeout: std::time::Duration::from_secs(10),
        drain_timeout: std::time::Duration::from_secs(1),
    };
    tokio::spawn(liveproof_server::serve::serve(
        listener,
        app,
        limits,
        std::future::pending(),
    ));
    (addr, state)
}

async fn serve() -> SocketAddr {
    serve_with(config()).await.0
}

/// A browser's ticket, minted by the relying party's backend with its token.
async fn ticket(addr: SocketAddr) -> String {
    let auth = bearer();
    let r = crate::procs::http(
        addr,
        "POST",
        "/v1/ws-tickets",
        &[("authorization", &auth)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["expires_in"], 60);
    r.json["ticket"].as_str().unwrap().to_owned()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects with a ticket in the query string (the browser way).
async fn connect(addr: SocketAddr) -> Ws {
    let url = format!("ws://{addr}/ws/liveness?ticket={}", ticket(addr).await);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Connects with the token in the Authorization header, under a path.
async fn connect_header(addr: SocketAddr, path: &str) -> Result<Ws, WsError> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", bearer().parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The first `until_ms` of a clip at 15 fps: (t_ms, base64 JPEG).
fn clip_frames(rel: &str, until_ms: f64) -> Vec<(f64, String)> {
    let bytes = media(rel);
    let mut reader = VideoReader::from_bytes(&bytes, &VideoLimits::default()).unwrap();
    let next_t = std::cell::Cell::new(f64::NEG_INFINITY);
    let mut out = Vec::new();
    reader
        .read_frames(
            |_, t| t >= next_t.get() - 1.0,
            |vf| {
                if vf.t_ms > until_ms {
                    return ControlFlow::Break(());
                }
                next_t.set(vf.t_ms + 1000.0 / 15.0);
                let mut jpeg = std::io::Cursor::new(Vec::new());
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
                    .encode_image(&vf.image)
                    .unwrap();
                let b64 = base64::engine::general_purpose::STANDARD.encode(jpeg.into_inner());
                out.push((vf.t_ms, b64));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    out
}

/// Everything the server sends until it closes: the JSON messages and the close frame.
async fn read_all(
    mut rx: impl StreamExt<Item = Result<Message, WsError>> + Unpin,
) -> (Vec<Value>, Option<CloseFrame>) {
    let mut msgs = Vec::new();
    while let Some(m) = rx.next().await {
        match m {
            Ok(Message::Text(t)) => msgs.push(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Message::Close(c)) => return (msgs, c),
            Ok(_) => {}
            Err(e) => panic!("socket error before close: {e}"),
        }
    }
    (msgs, None)
}

/// Sends `start` and the frames (stops early once the server has closed), then `stop`;
/// returns what the server sent.
async fn session(
    ws: Ws,
    start: Value,
    frames: Vec<(f64, String)>,
) -> (Vec<Value>, Option<CloseFrame>) {
    let (mut tx, rx) = ws.split();
    let reader = tokio::spawn(read_all(rx));
    tx.send(Message::text(start.to_string())).await.unwrap();
    for (t_ms, image) in frames {
        let msg = json!({"type": "frame", "t_ms": t_ms, "image": image});
        if tx.send(Message::text(msg.to_string())).await.is_err() {
            break;
        }
    }
    let _ = tx.send(Message::text(r#"{"type":"stop"}"#)).await;
    reader.await.unwrap()
}

fn types(msgs: &[Value]) -> Vec<&str> {
    msgs.iter().map(|m| m["type"].as_str().unwrap()).collect()
}

/// The server prompts the script its policy draws (two of BLINK and SMILE in the test policy)
/// and judges the frames as they arrive: a live person who blinks and smiles passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_person_passes_the_servers_script_over_the_socket() {
    let (addr, state) = serve_with(policy_config()).await;
    let frames = tokio::task::spawn_blocking(|| clip_frames("video_live/lp_d12.mp4", 8000.0))
        .await
        .unwrap();
    let (msgs, close) = session(connect(addr).await, json!({"type": "start"}), frames).await;
    assert_eq!(
        msgs[0],
        json!({"type": "phase", "value": "passive"}),
        "{msgs:?}"
    );
    let started: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["type"] == "challenge_start")
        .map(|m| &m["action"])
        .collect();
    assert_eq!(started.len(), 2, "{msgs:?}");
    assert!(started.contains(&&json!("BLINK")) && started.contains(&&json!("SMILE")));
    let last = msgs.last().unwrap();
    assert_eq!(last["type"], "final_result", "{msgs:?}");
    assert_eq!(last["label"], "REAL", "{last}");
    assert_eq!(last["passed"], json!(started));
    assert!(last["confidence"]
        .as_f64()
        .is_some_and(|c| (0.0..=1.0).contains(&c)));
    for m in &msgs {
        if m["type"] == "frame_result" {
            assert!(m["confidence"]
                .as_f64()
                .is_some_and(|c| (0.0..=1.0).contains(&c)));
            assert!(m["label"] == "REAL" || m["label"] == "FAKE");
        }
    }
    let close = close.expect("close frame");
    assert_eq!(close.code, CloseCode::Normal);
    assert_eq!(
        state.store.audit_len().await.unwrap(),
        1,
        "the verdict is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_replay_is_fake_over_the_socket() {
    let addr = serve_with(policy_config()).await.0;
    let frames = tokio::task::spawn_blocking(|| {
        clip_frames("video_spoof/les_fake_phone_replay.mp4", 2000.0)
    })
    .await
    .unwrap();
    // Header auth under the configured prefix... the default config has none: plain path.
    let ws = connect_header(addr, "/ws/liveness").await.unwrap();
    let (msgs, close) = session(ws, json!({"type": "start"}), frames).await;
    let last = msgs.last().unwrap();
    assert_eq!(last["type"], "final_result", "{msgs:?}");
    assert_eq!(last["label"], "FAKE", "{last}");
    let labels: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["type"] == "frame_result")
        .map(|m| &m["label"])
        .collect();
    assert!(!labels.is_empty(), "{msgs:?}");
    let fake = labels.iter().filter(|l| **l == "FAKE").count();
    assert!(
        fake * 2 > labels.len(),
        "most replay frames score FAKE: {labels:?}"
    );
    assert_eq!(close.unwrap().code, CloseCode::Normal);
}

/// Ends with one bad message: the last reply is an `error`, then a close frame.
async fn refused(addr: SocketAddr, msgs: Vec<Message>) -> (Value, CloseFrame) {
    let (mut tx, rx) = connect(addr).await.split();
    let reader = tokio::spawn(read_all(rx));
    for m in msgs {
        if tx.send(m).await.is_err() {
            break;
        }
    }
    let (got, close) = reader.await.unwrap();
    // Valid messages before the bad one may have produced events; the error is last.
    let err = got.last().cloned().unwrap_or_default();
    assert_eq!(err["type"], "error", "{got:?}");
    (err, close.expect("close frame"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_an_error_and_a_close_and_the_server_carries_on() {
    let addr = serve().await;
    let start = Message::text(r#"{"type":"start"}"#);

    let (err, close) = refused(addr, vec![Message::text("this is not json")]).await;
    assert_eq!(err["type"], "error");
    assert_eq!(err["code"], "bad_json");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(u16::from(close.code), 1007);

    let (err, close) = refused(
        addr,
        vec![
            start.clone(),
            Message::binary(b"GIF89a not an image".to_vec()),
        ],
    )
    .await;
    assert_eq!(err["code"], "bad_image", "{err}");
    assert_eq!(u16::from(close.code), 1007);

    let (err, close) = refused(addr, vec![Message::text(r#"{"type":"dance"}"#)]).await;
    assert_eq!(err["code"], "unknown_type");
    assert_eq!(u16::from(close.code), 1003);

    let frame = json!({"type": "frame", "t_ms": 0, "image": "aGVsbG8="}).to_string();
    let (err, close) = refused(addr, vec![Message::text(frame)]).await;
    assert_eq!(err["code"], "not_started");
    assert_eq!(u16::from(close.code), 1008);

    let png = base64::engine::general_purpose::STANDARD.encode(blank_png(64, 64));
    let f = |t: f64| Message::text(json!({"type": "frame", "t_ms": t, "image": png}).to_string());
    let (err, close) = refused(addr, vec![start.clone(), f(100.0), f(50.0)]).await;
    assert_eq!(err["code"], "bad_timestamp", "{err}");
    assert_eq!(u16::from(close.code), 1007);

    let bad_start = Message::text(r#"{"type":"start","challenges":["JUMP"]}"#);
    let (err, close) = refused(addr, vec![bad_start]).await;
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(u16::from(close.code), 1007);

    // The client being checked does not choose its script: no seed, and nothing looser than
    // the server's policy (one challenge, a longer window).
    for start in [
        r#"{"type":"start","seed":"abc"}"#,
        r#"{"type":"start","challenges":["BLINK"],"count":1}"#,
        r#"{"type":"start","timeout_ms":120000}"#,
    ] {
        let (err, close) = refused(addr, vec![Message::text(start)]).await;
        assert_eq!(err["code"], "bad_start", "{start}: {err}");
        assert_eq!(u16::from(close.code), 1007);
    }

    // The server still serves: a start and a stop give a verdict and a normal close.
    let (msgs, close) = session(connect(addr).await, json!({"type": "start"}), vec![]).await;
    assert_eq!(types(&msgs), ["final_result"], "{msgs:?}");
    assert_eq!(msgs[0]["label"], "FAKE");
    assert_eq!(close.unwrap().code, CloseCode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_challenge_does_not_disturb_the_next() {
    let (addr, state) = serve_with(policy_config()).await;
    let frames =
        tokio::task::spawn_blocking(|| clip_frames("video_live/moun_blink_drowsy.mp4", 1600.0))
            .await
            .unwrap();
    let mut ws = connect(addr).await;
    ws.send(Message::text(r#"{"type":"start"}"#)).await.unwrap();
    let mut started = false;
    for (t_ms, image) in &frames {
        let msg = json!({"type": "frame", "t_ms": t_ms, "image": image});
        ws.send(Message::text(msg.to_string())).await.unwrap();
    }
    // Read until the challenge has started, then vanish without a close handshake.
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "challenge_start" {
                assert!(v["action"] == "BLINK" || v["action"] == "SMILE", "{v}");
                started = true;
                break;
            }
        }
    }
    assert!(started, "the challenge never started");
    drop(ws);
    // Nothing is left running on the pool once the frame in flight (if any) completes.
    let t0 = std::time::Instant::now();
    while state.pool.stats().admitted > 0 {
        assert!(
            t0.elapsed().as_secs() < 5,
            "pool still busy after the client left"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The next client is served normally.
    let (msgs, close) = session(connect(addr).await, json!({"type": "start"}), vec![]).await;
    assert_eq!(types(&msgs), ["final_result"]);
    assert_eq!(close.unwrap().code, CloseCode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_needs_a_valid_token() {
    let addr = serve().await;
    let status = |r: Result<Ws, WsError>| match r {
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("{e}"),
        Ok(_) => 101,
    };
    let none = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/liveness")).await;
    assert_eq!(status(none.map(|(ws, _)| ws)), 401);
    let bad =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/liveness?ticket=abc.def.ghi"))
            .await;
    assert_eq!(status(bad.map(|(ws, _)| ws)), 401);
    // The relying party's API token never goes in a URL, valid or not.
    let api_token = bearer().trim_start_matches("Bearer ").to_owned();
    let in_url =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/liveness?token={api_token}"))
            .await;
    assert_eq!(status(in_url.map(|(ws, _)| ws)), 401);
    // A ticket opens one socket, once.
    let t = ticket(addr).await;
    let first =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/liveness?ticket={t}")).await;
    assert_eq!(status(first.map(|(ws, _)| ws)), 101);
    let again =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws/liveness?ticket={t}")).await;
    assert_eq!(status(again.map(|(ws, _)| ws)), 401);
    // Minting one needs the liveness scope; so does the header way.
    let sessions_only = bearer_for("tester", "sessions");
    let r = crate::procs::http(
        addr,
        "POST",
        "/v1/ws-tickets",
        &[("authorization", &sessions_only)],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.json);
    let expired = hs_token(
        json!({"sub": "x", "exp": now() - 3600}),
        SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let mut req = format!("ws://{addr}/ws/liveness")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {expired}").parse().unwrap(),
    );
    assert_eq!(
        status(
            tokio_tungstenite::connect_async(req)
                .await
                .map(|(ws, _)| ws)
        ),
        401
    );
    // A good header token upgrades.
    assert_eq!(status(connect_header(addr, "/ws/liveness").await), 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_is_served_under_the_route_prefix_too() {
    let mut c = config();
    c.route_prefix = "/sumi".into();
    let (addr, _) = serve_with(c).await;
    let ws = connect_header(addr, "/sumi/ws/liveness").await.unwrap();
    let (msgs, close) = session(ws, json!({"type": "start", "count": 3}), vec![]).await;
    assert_eq!(types(&msgs), ["final_result"]);
    assert_eq!(close.unwrap().code, CloseCode::Normal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_the_session_limit_finish_the_session_and_big_messages_are_refused() {
    let mut c = config();
    c.limits.ws_idle_timeout_ms = 300;
    c.limits.ws_message_bytes = 64 * 1024;
    let (addr, _) = serve_with(c).await;

    // Idle: start, then nothing → final_result (the session is finished), close 1000.
    let (mut tx, rx) = connect(addr).await.split();
    let reader = tokio::spawn(read_all(rx));
    tx.send(Message::text(r#"{"type":"start"}"#)).await.unwrap();
    let (msgs, close) = reader.await.unwrap();
    assert_eq!(types(&msgs), ["final_result"], "{msgs:?}");
    let close = close.unwrap();
    assert_eq!(close.code, CloseCode::Normal);
    assert_eq!(close.reason.as_str(), "idle timeout");

    // Over the message limit → error message_too_big, close 1009.
    let (err, close) = refused(
        addr,
        vec![
            Message::text(r#"{"type":"start"}"#),
            Message::binary(vec![0u8; 128 * 1024]),
        ],
    )
    .await;
    assert_eq!(err["code"], "message_too_big", "{err}");
    assert_eq!(u16::from(close.code), 1009);

    // A client that keeps talking still meets the session limit (1 s here).
    let mut c = config();
    c.limits.ws_session_s = 1;
    let (addr, _) = serve_with(c).await;
    let (mut tx, rx) = connect(addr).await.split();
    let reader = tokio::spawn(read_all(rx));
    tx.send(Message::text(r#"{"type":"start"}"#)).await.unwrap();
    for _ in 0..40 {
        if tx.send(Message::Ping(vec![].into())).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (msgs, close) = reader.await.unwrap();
    assert_eq!(types(&msgs), ["final_result"], "{msgs:?}");
    assert_eq!(close.unwrap().reason.as_str(), "session time limit");
}

/// A client that writes a whole oversized message before reading (as a browser's `send` does)
/// gets the error and the 1009 close, and its write completes: the server reads and drops the
/// rest of the message instead of closing on unread bytes, which reset the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_gets_its_close_not_a_reset() {
    let mut c = config();
    c.limits.ws_message_bytes = 64 * 1024;
    let (addr, _) = serve_with(c).await;
    for size in [1usize << 20, 8 << 20] {
        let mut ws = connect(addr).await;
        ws.send(Message::text(r#"{"type":"start"}"#)).await.unwrap();
        let sent = ws.send(Message::binary(vec![0u8; size])).await;
        assert!(sent.is_ok(), "{size} bytes: the write failed: {sent:?}");
        let (msgs, close) = read_all(ws.split().1).await;
        assert_eq!(msgs.last().unwrap()["code"], "message_too_big", "{msgs:?}");
        assert_eq!(u16::from(close.expect("close frame").code), 1009);
    }
}
