//! The `Store` contract, run on both backends: SQLite in memory and a real `redis-server`
//! started by the test (never skipped: the test fails when Redis is not installed). Then what
//! only Redis promises: two clients (two replicas) share every decision, and an outage is a
//! prompt error, not a hang.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use liveproof::challenge::ChallengeAction;
use liveproof_server::state::store::{
    AuditEntry, Charge, DeviceRecord, KeyRecord, RateDecision, RedisStore, SessionRecord,
    SessionStatus, SqliteStore, Store,
};
use liveproof_server::{app, AppState};

use crate::bundles::now_ms;
use crate::common::*;
use crate::procs::RedisServer;

fn session(id: &str, expires_in_ms: i64) -> SessionRecord {
    let now = now_ms();
    SessionRecord {
        id: id.into(),
        nonce: format!("nonce-{id}"),
        key: [7; 32],
        script: vec![ChallengeAction::Blink, ChallengeAction::LookUp],
        timeout_ms: 8000.0,
        principal: "tester".into(),
        audience: "tester".into(),
        created_ms: now - 1000,
        expires_ms: (now as i64 + expires_in_ms) as u64,
        status: SessionStatus::Pending,
        // Not the default, so the round trip through each store shows it kept.
        light: liveproof::verify::LightPath::NoFlash,
    }
}

fn entry(n: u32, detail: Option<&str>) -> AuditEntry {
    AuditEntry {
        request_id: format!("req-{n}"),
        route: "/v1/sessions/{id}/evidence".into(),
        principal: "tester".into(),
        verdict: "REAL".into(),
        score: n.is_multiple_of(2).then_some(0.5 + f64::from(n) / 100.0),
        correlation_id: Some(format!("s-{n}")),
        detail: detail.map(str::to_owned),
    }
}

/// Every promise of the trait, on one backend.
async fn contract(store: Arc<dyn Store>) {
    store.ping().await.unwrap();

    // Keys and quotas: charged atomically, never past the quota, kept across upserts.
    let key = KeyRecord {
        app_id: "a".into(),
        key_hash: [9; 32],
        quota: Some(2),
        used: 0,
        rate_per_minute: Some(30),
    };
    store.upsert_key(&key).await.unwrap();
    assert_eq!(store.key("a").await.unwrap(), Some(key.clone()));
    assert_eq!(store.key("missing").await.unwrap(), None);
    assert_eq!(
        store.charge("a").await.unwrap(),
        Charge::Accepted { used: 1 }
    );
    store.upsert_key(&key).await.unwrap();
    assert_eq!(
        store.charge("a").await.unwrap(),
        Charge::Accepted { used: 2 }
    );
    assert_eq!(store.charge("a").await.unwrap(), Charge::Exhausted);
    assert_eq!(store.charge("missing").await.unwrap(), Charge::Exhausted);
    assert_eq!(store.key("a").await.unwrap().unwrap().used, 2);
    let unlimited = KeyRecord {
        app_id: "u".into(),
        quota: None,
        rate_per_minute: None,
        ..key.clone()
    };
    store.upsert_key(&unlimited).await.unwrap();
    assert_eq!(store.key("u").await.unwrap().unwrap().quota, None);
    store
        .upsert_key(&KeyRecord {
            app_id: "q".into(),
            quota: Some(5),
            ..key.clone()
        })
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.spawn(async move { s.charge("q").await.unwrap() });
    }
    let accepted = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|c| matches!(c, Charge::Accepted { .. }))
        .count();
    assert_eq!(accepted, 5, "20 concurrent charges against a quota of 5");

    // Rate limits: a burst of `per_minute`, then a wait.
    assert_eq!(
        store.take_token("b1", 2).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        store.take_token("b1", 2).await.unwrap(),
        RateDecision::Allowed
    );
    match store.take_token("b1", 2).await.unwrap() {
        RateDecision::Limited { retry_after_s } => assert!((1..=30).contains(&retry_after_s)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.take_token("b2", 2).await.unwrap(),
        RateDecision::Allowed
    );

    // Audit: appended in order, detail kept.
    let before = store.audit_len().await.unwrap();
    for n in 0..3 {
        store
            .audit(&entry(
                n,
                (n == 2).then_some(r#"{"disagreement":{"any":true}}"#),
            ))
            .await
            .unwrap();
    }
    assert_eq!(store.audit_len().await.unwrap(), before + 3);
    assert_eq!(
        store.audit_tail(2).await.unwrap(),
        vec![
            entry(1, None),
            entry(2, Some(r#"{"disagreement":{"any":true}}"#))
        ]
    );

    // Sessions: stored whole, status updated, expired ones still readable (410, not 404).
    let s = session("s1", 600_000);
    store.create_session(&s).await.unwrap();
    assert_eq!(store.session("s1").await.unwrap(), Some(s.clone()));
    assert_eq!(store.session("nope").await.unwrap(), None);
    assert!(store
        .set_session_status("s1", SessionStatus::Verified)
        .await
        .unwrap());
    assert_eq!(
        store.session("s1").await.unwrap().unwrap().status,
        SessionStatus::Verified
    );
    assert!(!store
        .set_session_status("nope", SessionStatus::Verified)
        .await
        .unwrap());
    let expired = session("s2", -60_000);
    store.create_session(&expired).await.unwrap();
    assert_eq!(store.session("s2").await.unwrap(), Some(expired));

    // Nonces: once per scope, atomically, until released or forgotten.
    assert!(store.use_nonce("session", "n1", 60_000).await.unwrap());
    assert!(!store.use_nonce("session", "n1", 60_000).await.unwrap());
    assert!(store.use_nonce("device:d1", "n1", 60_000).await.unwrap());
    store.release_nonce("session", "n1").await.unwrap();
    assert!(store.use_nonce("session", "n1", 60_000).await.unwrap());
    assert!(store.use_nonce("session", "short", 50).await.unwrap());
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        store.use_nonce("session", "short", 50).await.unwrap(),
        "forgotten after keep_ms"
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.spawn(async move { s.use_nonce("session", "raced", 60_000).await.unwrap() });
    }
    let winners = tasks.join_all().await.into_iter().filter(|w| *w).count();
    assert_eq!(winners, 1, "16 concurrent uses of one nonce");

    // Devices: registered, revoked once (the first time is kept), unknown ids.
    let d = DeviceRecord {
        id: "d1".into(),
        public_key: [3; 32],
        label: Some("lobby".into()),
        owner: "tester".into(),
        created_ms: 1,
        revoked_ms: None,
    };
    store.add_device(&d).await.unwrap();
    assert_eq!(store.device("d1").await.unwrap(), Some(d.clone()));
    assert_eq!(store.device("d2").await.unwrap(), None);
    let revoked = store.revoke_device("d1", 1000).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_ms, Some(1000));
    let again = store.revoke_device("d1", 2000).await.unwrap().unwrap();
    assert_eq!(again.revoked_ms, Some(1000));
    assert_eq!(store.revoke_device("d2", 1000).await.unwrap(), None);
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_contract() {
    let store = Arc::new(SqliteStore::open(":memory:").unwrap());
    assert_eq!(store.backend(), "sqlite");
    contract(store).await;
}

#[tokio::test]
async fn the_redis_store_keeps_the_contract() {
    let redis = RedisServer::start();
    let store = Arc::new(RedisStore::connect(&redis.url(), "contract").await.unwrap());
    assert_eq!(store.backend(), "redis");
    contract(store).await;
}

#[tokio::test]
async fn two_redis_clients_share_sessions_nonces_quotas_and_rate_limits() {
    let redis = RedisServer::start();
    let a = RedisStore::connect(&redis.url(), "shared").await.unwrap();
    let b = RedisStore::connect(&redis.url(), "shared").await.unwrap();
    let elsewhere = RedisStore::connect(&redis.url(), "other").await.unwrap();

    let s = session("s1", 600_000);
    a.create_session(&s).await.unwrap();
    assert_eq!(b.session("s1").await.unwrap(), Some(s));
    assert_eq!(
        elsewhere.session("s1").await.unwrap(),
        None,
        "prefixes isolate"
    );

    assert!(a.use_nonce("session", "n", 60_000).await.unwrap());
    assert!(!b.use_nonce("session", "n", 60_000).await.unwrap());

    let key = KeyRecord {
        app_id: "k".into(),
        key_hash: [1; 32],
        quota: Some(1),
        used: 0,
        rate_per_minute: None,
    };
    a.upsert_key(&key).await.unwrap();
    assert_eq!(b.charge("k").await.unwrap(), Charge::Accepted { used: 1 });
    assert_eq!(a.charge("k").await.unwrap(), Charge::Exhausted);

    assert_eq!(
        a.take_token("ip:x", 1).await.unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        b.take_token("ip:x", 1).await.unwrap(),
        RateDecision::Limited { .. }
    ));

    // The session's key expires with the session plus its retention.
    let ttl: i64 = redis::cmd("PTTL")
        .arg("shared:session:s1")
        .query_async(
            &mut redis::Client::open(redis.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    let expected = 600_000 + 24 * 3600 * 1000;
    assert!((expected - 60_000..=expected).contains(&ttl), "{ttl}");
}

/// Redis stops (killed, as in a crash) and comes back while clients keep creating sessions:
/// while it is down every request is a prompt 503 with `Retry-After` (never a 500, never a
/// hang) and the replica leaves rotation (`/readyz` 503); when it is back the same process
/// serves again without a restart, and what was decided before the outage still holds: a
/// verified session's evidence, posted again, is refused, its nonce stays used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_and_coming_back_during_traffic() {
    use crate::bundles::{bundle, create_session, policy_config, submit, Clip};

    let mut redis = RedisServer::start_persistent();
    let mut c = policy_config();
    c.redis_url = Some(redis.url());
    let state = AppState::new(c).await.unwrap();
    state.set_engine(engine());
    let app = app(state.clone());
    let ready = || Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(send(&app, ready()).await.status, StatusCode::OK);

    // Before the outage: a session verified (its nonce used).
    let verified = create_session(&app, serde_json::json!({})).await;
    let evidence = bundle(Clip::BlinkSmile, &verified);
    let r = submit(&app, &verified, &evidence).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    // Traffic: a session request every 50 ms, each answer recorded with its time.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = tokio::spawn({
        let (app, stop) = (app.clone(), stop.clone());
        async move {
            let mut answers = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let start = Instant::now();
                let r = send(
                    &app,
                    Request::post("/v1/sessions")
                        .header("authorization", bearer())
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
                let retry_after = r.headers.get("retry-after").is_some();
                answers.push((Instant::now(), r.status, retry_after, start.elapsed()));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answers
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis.kill();
    let down = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = send(&app, ready()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["status"], "store unavailable");
    let r = submit(&app, &verified, &evidence).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.json);
    assert!(r.headers.get("retry-after").is_some());

    redis.restart();
    let up = Instant::now();
    let deadline = up + Duration::from_secs(20);
    while send(&app, ready()).await.status != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "not ready 20 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers = traffic.await.unwrap();

    for (at, status, retry_after, took) in &answers {
        match *status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(retry_after, "a 503 without Retry-After");
                assert!(*at > down && *at < recovered + Duration::from_secs(1));
            }
            other => panic!("{other} during the outage: only 201 or 503 are acceptable"),
        }
        assert!(
            *took < Duration::from_secs(10),
            "a request hung for {took:?}"
        );
    }
    let during = answers.iter().filter(|a| a.0 > down && a.0 < up).count();
    let unavailable = answers
        .iter()
        .filter(|a| a.1 == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(during > 0 && unavailable > 0, "{answers:?}");
    let last = answers.last().unwrap();
    assert_eq!(last.1, StatusCode::CREATED, "served again after the outage");

    // Decisions made before the outage hold after it.
    let r = submit(&app, &verified, &evidence).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.json);
    assert_eq!(r.json["detail"]["code"], "session_already_verified");
    assert!(
        !state
            .store
            .use_nonce("session", &verified.nonce, 60_000)
            .await
            .unwrap(),
        "the nonce used before the outage is still used"
    );
    eprintln!(
        "redis outage: {} requests, {} answered 503, ready {:?} after Redis came back",
        answers.len(),
        unavailable,
        recovered - up
    );
}
