//! The client's side of the story: whether its signed challenge claim hangs together (used
//! only when no clip lets the server verify the challenges itself), and where its per-frame
//! scores disagree with the server's re-run.
//!
//! A claim is accepted only when all of these hold (the first that fails is the reason):
//!
//! - the bundle carries its per-frame records (the `records` item) and their times are finite
//!   and never go back;
//! - every frame item has a `t_ms` that is one of the records' times (it was analysed);
//! - the challenge timings follow the script in order, each inside the records' time span,
//!   each starting no earlier than the previous one ended, none longer than the session's
//!   per-challenge timeout, only the last one failed, and a record exists at the moment each
//!   passed challenge ended (the frame that passed it);
//! - the claimed `passed` list is exactly the timings marked passed.
//!
//! This checks consistency, not truth: a client that forges a consistent story with its own
//! key is only caught by the server's clip re-run, which is why the verdict says whether the
//! challenges were verified.

use liveproof::events::ChallengeStatus;
use liveproof::evidence::Manifest;
use liveproof::FrameSummary;
use serde::Serialize;

use super::rerun::FrameFinding;

/// Per-frame |client − server| real probability above which the scores disagree.
pub const PAD_TOLERANCE: f32 = 0.1;

/// Tolerance on timestamps that should be equal (JSON round trips are exact; this only
/// absorbs a client that rounds to microseconds).
const T_EPS: f64 = 1e-3;

/// Outcome of the claim check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimCheck {
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Checks the client's challenge claim against its own signed records.
pub fn check_claim(
    manifest: &Manifest,
    records: Option<&[FrameSummary]>,
    timeout_ms: f64,
) -> ClaimCheck {
    match claim_problem(manifest, records, timeout_ms) {
        None => ClaimCheck {
            accepted: true,
            reason: None,
        },
        Some(reason) => ClaimCheck {
            accepted: false,
            reason: Some(reason),
        },
    }
}

fn claim_problem(
    m: &Manifest,
    records: Option<&[FrameSummary]>,
    timeout_ms: f64,
) -> Option<String> {
    let records = match records {
        Some(r) if !r.is_empty() => r,
        _ => return Some("the bundle has no per-frame records".into()),
    };
    if records.iter().any(|r| !r.t_ms.is_finite())
        || records.windows(2).any(|w| w[1].t_ms < w[0].t_ms)
    {
        return Some("record times are not finite and increasing".into());
    }
    let (first, last) = (records[0].t_ms, records[records.len() - 1].t_ms);
    let recorded = |t: f64| records.iter().any(|r| (r.t_ms - t).abs() <= T_EPS);
    let inside = |t: f64| t.is_finite() && t >= first - T_EPS && t <= last + T_EPS;
    for item in m.items_of(liveproof::evidence::ItemKind::Frame) {
        match item.t_ms {
            Some(t) if recorded(t) => {}
            _ => return Some(format!("frame `{}` has no record at its time", item.name)),
        }
    }
    if m.challenges.len() > m.script.len() {
        return Some("more challenge timings than challenges in the script".into());
    }
    let mut previous_end = f64::NEG_INFINITY;
    for (i, (c, action)) in m.challenges.iter().zip(&m.script).enumerate() {
        if c.action != *action {
            return Some(format!(
                "challenge {i} is {} but the script says {action}",
                c.action
            ));
        }
        if !(inside(c.started_ms) && inside(c.ended_ms)) || c.ended_ms < c.started_ms {
            return Some(format!(
                "challenge {i} ({action}) lies outside the recorded session"
            ));
        }
        if c.started_ms < previous_end - T_EPS {
            return Some(format!(
                "challenge {i} ({action}) starts before the previous one ended"
            ));
        }
        previous_end = c.ended_ms;
        let is_last = i + 1 == m.challenges.len();
        match c.status {
            ChallengeStatus::Passed => {
                if c.ended_ms - c.started_ms > timeout_ms + T_EPS {
                    return Some(format!(
                        "challenge {i} ({action}) took longer than the timeout"
                    ));
                }
                if !recorded(c.ended_ms) {
                    return Some(format!(
                        "no record at the frame where challenge {i} ({action}) passed"
                    ));
                }
            }
            ChallengeStatus::Failed if !is_last => {
                return Some(format!(
                    "challenge {i} ({action}) failed but the session went on"
                ));
            }
            ChallengeStatus::Failed => {}
        }
    }
    let passed: Vec<_> = m
        .challenges
        .iter()
        .filter(|c| c.status == ChallengeStatus::Passed)
        .map(|c| c.action)
        .collect();
    if passed != m.result.passed {
        return Some("the claimed passed challenges do not match the timings".into());
    }
    None
}

/// One frame where client and server disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameDisagreement {
    pub name: String,
    pub t_ms: Option<f64>,
    pub client_pad: Option<f32>,
    pub server_pad: Option<f32>,
}

/// Where the client's result and records differ from the server's re-run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Disagreement {
    /// True when anything below disagrees.
    pub any: bool,
    /// The client's label differs from the server's.
    pub label: bool,
    /// Frames whose real probability differs by more than [`PAD_TOLERANCE`], or that only
    /// one side scored.
    pub frames: Vec<FrameDisagreement>,
    /// Largest per-frame |client − server| over frames both scored.
    pub max_pad_delta: Option<f32>,
    /// Frame items without a client record at their time (not comparable).
    pub unmatched_frames: usize,
}

/// Compares the client's label and per-frame records with the server's findings.
pub fn disagreement(
    client_label_differs: bool,
    records: Option<&[FrameSummary]>,
    findings: &[FrameFinding],
) -> Disagreement {
    let records = records.unwrap_or_default();
    let mut frames = Vec::new();
    let mut max_delta: Option<f32> = None;
    let mut unmatched = 0;
    for f in findings {
        let record = f
            .t_ms
            .and_then(|t| records.iter().find(|r| (r.t_ms - t).abs() <= T_EPS));
        let Some(record) = record else {
            unmatched += 1;
            continue;
        };
        let client = record.pad.map(|p| p.real);
        let differs = match (client, f.pad) {
            (Some(c), Some(s)) => {
                let d = (c - s).abs();
                max_delta = Some(max_delta.map_or(d, |m| m.max(d)));
                d > PAD_TOLERANCE
            }
            (None, None) => false,
            _ => true,
        };
        if differs {
            frames.push(FrameDisagreement {
                name: f.name.clone(),
                t_ms: f.t_ms,
                client_pad: client,
                server_pad: f.pad,
            });
        }
    }
    Disagreement {
        any: client_label_differs || !frames.is_empty(),
        label: client_label_differs,
        frames,
        max_pad_delta: max_delta,
        unmatched_frames: unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveproof::challenge::{ChallengeAction, ChallengeTiming};
    use liveproof::events::Label;
    use liveproof::evidence::{ClientResult, Item, ItemKind, Versions, FORMAT_VERSION};

    fn record(t: f64) -> FrameSummary {
        serde_json::from_value(serde_json::json!({
            "t_ms": t, "width": 640, "height": 480, "faces": 1, "bbox": null, "score": null,
            "presence": null, "pad": {"real": 0.9, "v2": 0.9, "v1se": 0.9}, "ear": null,
            "mouth": null, "pose": null, "quality": null, "happy": null, "guidance": [],
            "timings": {"detect_ms": 0.0, "landmarks_ms": 0.0, "pad_ms": 0.0, "embed_ms": 0.0,
                        "attributes_ms": 0.0, "total_ms": 0.0}
        }))
        .unwrap()
    }

    fn manifest(timings: Vec<ChallengeTiming>, passed: Vec<ChallengeAction>) -> Manifest {
        Manifest {
            v: FORMAT_VERSION,
            session_id: "s".into(),
            nonce: "n".into(),
            created_ms: 0.0,
            versions: Versions::current("test"),
            script: vec![ChallengeAction::Blink, ChallengeAction::Smile],
            timeout_ms: 8000.0,
            challenges: timings,
            result: ClientResult {
                label: Label::Real,
                passed,
                confidence: 0.9,
                pad_score: Some(0.9),
                failure: None,
            },
            items: vec![Item::describe(
                "f.jpg",
                ItemKind::Frame,
                "image/jpeg",
                Some(100.0),
                b"x",
            )],
        }
    }

    fn timing(action: ChallengeAction, s: f64, e: f64, passed: bool) -> ChallengeTiming {
        ChallengeTiming {
            action,
            started_ms: s,
            ended_ms: e,
            status: if passed {
                ChallengeStatus::Passed
            } else {
                ChallengeStatus::Failed
            },
        }
    }

    #[test]
    fn a_consistent_claim_is_accepted_and_each_inconsistency_named() {
        use ChallengeAction::*;
        let records: Vec<_> = [0.0, 100.0, 1000.0, 1500.0, 2000.0]
            .into_iter()
            .map(record)
            .collect();
        let ok = manifest(
            vec![
                timing(Blink, 1000.0, 1500.0, true),
                timing(Smile, 1500.0, 2000.0, true),
            ],
            vec![Blink, Smile],
        );
        assert!(check_claim(&ok, Some(&records), 8000.0).accepted);
        assert!(!check_claim(&ok, None, 8000.0).accepted);
        let reason = |m: &Manifest| check_claim(m, Some(&records), 8000.0).reason.unwrap();
        // Out of script order.
        let m = manifest(vec![timing(Smile, 1000.0, 1500.0, true)], vec![Smile]);
        assert!(reason(&m).contains("script"));
        // Outside the recorded span.
        let m = manifest(vec![timing(Blink, 1000.0, 9000.0, true)], vec![Blink]);
        assert!(reason(&m).contains("outside"));
        // Claimed but not timed.
        let m = manifest(
            vec![timing(Blink, 1000.0, 1500.0, true)],
            vec![Blink, Smile],
        );
        assert!(reason(&m).contains("do not match"));
        // Longer than the timeout.
        assert!(check_claim(&ok, Some(&records), 400.0)
            .reason
            .unwrap()
            .contains("timeout"));
        // Passed on a frame that was never recorded.
        let m = manifest(vec![timing(Blink, 1000.0, 1200.0, true)], vec![Blink]);
        assert!(reason(&m).contains("no record"));
        // A failure that did not end the session.
        let m = manifest(
            vec![
                timing(Blink, 1000.0, 1500.0, false),
                timing(Smile, 1500.0, 2000.0, true),
            ],
            vec![Smile],
        );
        assert!(reason(&m).contains("went on"));
    }

    #[test]
    fn disagreement_flags_labels_and_far_apart_scores() {
        let records = vec![record(100.0), record(200.0)];
        let finding = |t: f64, pad: Option<f32>| FrameFinding {
            name: format!("f{t}"),
            t_ms: Some(t),
            faces: 1,
            pad,
            usable: true,
            similarity: None,
        };
        let d = disagreement(
            false,
            Some(&records),
            &[
                finding(100.0, Some(0.85)),
                finding(200.0, Some(0.5)),
                finding(300.0, None),
            ],
        );
        assert!(d.any && !d.label);
        assert_eq!(d.frames.len(), 1);
        assert_eq!(d.frames[0].name, "f200");
        assert!((d.max_pad_delta.unwrap() - 0.4).abs() < 1e-6);
        assert_eq!(d.unmatched_frames, 1);
        let d = disagreement(true, None, &[finding(100.0, Some(0.9))]);
        assert!(d.any && d.label && d.frames.is_empty());
    }
}
