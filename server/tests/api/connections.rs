//! The release server binary against clients that hold connections: slowloris (headers that
//! never finish) and more connections than allowed. Both used to be held for ever.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::SECRET;
use crate::procs::{http, ServerProcess, TempDir};

/// Reads until the server closes the connection; the time it took, or `None` if it did not
/// within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            within.saturating_sub(start.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A 408 or similar before the close is fine: keep reading to the end.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_connections_are_capped() {
    let dir = TempDir::new("connections");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[limits]\nheader_read_timeout_s = 2\nmax_connections = 6\n",
    )
    .unwrap();
    let env = [
        ("LIVEPROOF_CONFIG", config.to_str().unwrap()),
        ("LIVEPROOF_JWT_SECRET", SECRET),
        ("RUST_LOG", "warn"),
    ];
    let mut server = ServerProcess::start(&env, &dir);
    server.wait_ready(Duration::from_secs(180)).await;

    // Six slowloris connections: a request line and one header, then nothing.
    let mut slow = Vec::new();
    for _ in 0..6 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The seventh is over the cap: closed at once, unanswered.
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let t = closed_within(&mut extra, Duration::from_secs(2)).await;
    assert!(t.is_some(), "a connection over the cap is closed at once");

    // The slow ones are closed once their headers are 2 s late.
    for s in &mut slow {
        let t = closed_within(s, Duration::from_secs(6)).await;
        assert!(
            t.is_some_and(|t| t < Duration::from_secs(5)),
            "closed after {t:?}"
        );
    }
    // And the server serves again.
    let r = http(server.addr, "GET", "/healthz", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", server.logs());
}

/// A refused submission (here an unsigned one, refused on its first part) still gets its 4xx
/// over a real connection while the client is sending megabytes after it: the server reads
/// and drops the rest (bounded) instead of closing with unread bytes, which resets the
/// connection and shows clients a network error in place of the answer. A body declared over
/// the drain bound gets its answer at once instead, without being read.
#[tokio::test]
async fn a_refused_upload_gets_its_answer_not_a_reset() {
    let dir = TempDir::new("refused-upload");
    let env = [("LIVEPROOF_JWT_SECRET", SECRET), ("RUST_LOG", "warn")];
    let mut server = ServerProcess::start(&env, &dir);
    server.wait_ready(Duration::from_secs(180)).await;

    let boundary = "liveproof-refused";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\nnot-a-jws\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"clip\"; filename=\"clip.webm\"\r\n\
         Content-Type: video/webm\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(0x5au8, 6 << 20));
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    for path in [
        "/v1/kiosk/evidence",
        "/v1/sessions/no-such-session/evidence",
    ] {
        let r = http(
            server.addr,
            "POST",
            path,
            &[("Content-Type", content_type.as_str())],
            &body,
        )
        .await
        .unwrap_or_else(|e| panic!("{path}: {e} (the connection was reset)"));
        assert!((400..500).contains(&r.status), "{path}: {r:?}");
        assert!(r.json["detail"]["code"].is_string(), "{path}: {r:?}");
    }

    // A body declared larger than the drain bound is not read for a refusal: its answer comes
    // at once, while the client is still to send almost all of it (it is reset afterwards).
    // Drained, the answer would wait for the client or the 5 s drain deadline: a flood of
    // large refused uploads then had the server reading for the attacker.
    let head = format!(
        "POST /v1/kiosk/evidence HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n",
        30u64 << 20
    );
    let first_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"evidence\"\r\n\r\nnot-a-jws\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"clip\"; filename=\"c.webm\"\r\n\r\n"
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first_part.as_bytes()).await.unwrap();
    stream.write_all(&[0x5a; 64 << 10]).await.unwrap();
    let mut answer = [0u8; 12];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(_))), "no answer within 3 s: {read:?}");
    assert!(
        answer.starts_with(b"HTTP/1.1 4"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let r = http(server.addr, "GET", "/healthz", &[], b"")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", server.logs());
}
