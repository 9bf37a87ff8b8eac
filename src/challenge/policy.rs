//! Who chooses a session's script: the verifier's policy, never the client being checked.
//!
//! A [`ScriptPolicy`] (the server's configuration) names the actions a script is drawn from,
//! how many challenges it has (at least [`MIN_POLICY_COUNT`]: one action can be found in any
//! pre-recorded clip) and the time allowed for each. The script itself is drawn from the
//! session's nonce ([`ScriptPolicy::draw`]), so the server and an SDK given the same nonce draw
//! the same one, and a kiosk's self-made nonce determines its script just as strictly.
//!
//! An authenticated relying party may only make a policy stricter ([`ScriptPolicy::narrow`]):
//! fewer actions to draw from, more challenges, less time.

use serde::{Deserialize, Serialize};

use super::session::{seed_from_nonce, ChallengeConfig, ChallengeSession, MAX_TIMEOUT_MS};
use super::ChallengeAction;

/// Fewest challenges a policy may ask for.
pub const MIN_POLICY_COUNT: usize = 2;
/// Most challenges a script may have (the core's session limit).
const MAX_COUNT: usize = 10;

/// A policy or request that cannot be used, naming the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// `challenges`, `count` or `timeout_ms`.
    pub field: &'static str,
    pub message: String,
}

fn error(field: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field,
        message: message.into(),
    }
}

/// Where scripts come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptPolicy {
    /// Actions a script is drawn from.
    pub actions: Vec<ChallengeAction>,
    /// Challenges per script.
    pub count: usize,
    /// Time allowed per challenge, ms.
    pub timeout_ms: f64,
}

impl Default for ScriptPolicy {
    fn default() -> Self {
        let c = ChallengeConfig::default();
        Self {
            actions: c.actions,
            count: c.count,
            timeout_ms: c.timeout_ms,
        }
    }
}

/// What a relying party asks for within the policy (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScriptRequest {
    /// Draw from these actions only (a subset of the policy's; either spelling).
    pub challenges: Option<Vec<ChallengeAction>>,
    /// More challenges than the policy's count.
    pub count: Option<usize>,
    /// Less time per challenge than the policy's.
    pub timeout_ms: Option<f64>,
}

impl ScriptRequest {
    /// True when nothing is asked for.
    pub fn is_empty(&self) -> bool {
        self == &ScriptRequest::default()
    }
}

fn distinct(actions: &[ChallengeAction]) -> Vec<ChallengeAction> {
    let mut v = actions.to_vec();
    v.sort();
    v.dedup();
    v
}

impl ScriptPolicy {
    /// Checks the policy itself (a configuration error when it fails).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let available = distinct(&self.actions).len();
        if !(MIN_POLICY_COUNT..=MAX_COUNT).contains(&self.count) {
            return Err(error(
                "count",
                format!(
                    "must be {MIN_POLICY_COUNT}..={MAX_COUNT}, got {}",
                    self.count
                ),
            ));
        }
        if available < self.count {
            return Err(error(
                "challenges",
                format!(
                    "{available} distinct actions cannot make a script of {}",
                    self.count
                ),
            ));
        }
        if !(self.timeout_ms > 0.0 && self.timeout_ms <= MAX_TIMEOUT_MS) {
            return Err(error(
                "timeout_ms",
                format!("must be in (0, {MAX_TIMEOUT_MS}], got {}", self.timeout_ms),
            ));
        }
        Ok(())
    }

    /// `extra` more challenges, as many as the distinct actions allow (the no-flash path:
    /// more challenges instead of the light).
    pub fn with_extra_challenges(&self, extra: usize) -> ScriptPolicy {
        let available = distinct(&self.actions).len();
        ScriptPolicy {
            count: (self.count + extra).min(available.max(self.count)),
            ..self.clone()
        }
    }

    /// The policy a relying party's request leaves: only ever stricter than `self`.
    pub fn narrow(&self, request: &ScriptRequest) -> Result<ScriptPolicy, PolicyError> {
        let actions = match &request.challenges {
            None => self.actions.clone(),
            Some(asked) => {
                if let Some(a) = asked.iter().find(|a| !self.actions.contains(a)) {
                    return Err(error(
                        "challenges",
                        format!("{a} is not among this server's actions"),
                    ));
                }
                distinct(asked)
            }
        };
        let count = match request.count {
            None => self.count,
            Some(n) if n < self.count => {
                return Err(error(
                    "count",
                    format!("must be at least this server's {}, got {n}", self.count),
                ))
            }
            Some(n) => n,
        };
        let timeout_ms = match request.timeout_ms {
            None => self.timeout_ms,
            Some(t) if !(t > 0.0 && t <= self.timeout_ms) => {
                return Err(error(
                    "timeout_ms",
                    format!(
                        "must be in (0, {}] (this server's), got {t}",
                        self.timeout_ms
                    ),
                ))
            }
            Some(t) => t,
        };
        let narrowed = ScriptPolicy {
            actions,
            count,
            timeout_ms,
        };
        narrowed.validate()?;
        Ok(narrowed)
    }

    /// The session settings for a script of this policy: `base` with its actions, count and
    /// timeout.
    pub fn config(&self, base: &ChallengeConfig) -> ChallengeConfig {
        ChallengeConfig {
            actions: self.actions.clone(),
            count: self.count,
            timeout_ms: self.timeout_ms,
            ..base.clone()
        }
    }

    /// The challenge session for `nonce`: its script drawn from the nonce's digest
    /// ([`seed_from_nonce`]), exactly as [`ChallengeSession::new`] draws it.
    pub fn session(
        &self,
        base: &ChallengeConfig,
        nonce: &[u8],
    ) -> Result<ChallengeSession, PolicyError> {
        self.validate()?;
        ChallengeSession::new(self.config(base), seed_from_nonce(nonce))
            .map_err(|e| error("challenges", e.to_string()))
    }

    /// The script drawn from `nonce`.
    pub fn draw(&self, nonce: &[u8]) -> Result<Vec<ChallengeAction>, PolicyError> {
        Ok(self
            .session(&ChallengeConfig::default(), nonce)?
            .script()
            .to_vec())
    }

    /// Whether `script` is what this policy draws from `nonce`, possibly with more challenges
    /// than its count (a longer draw from the same nonce: stricter, and a prefix-compatible
    /// extension of the same shuffle).
    pub fn admits(&self, nonce: &[u8], script: &[ChallengeAction]) -> bool {
        let longer = ScriptPolicy {
            count: script.len(),
            ..self.clone()
        };
        script.len() >= self.count
            && longer.validate().is_ok()
            && longer.draw(nonce).is_ok_and(|drawn| drawn == script)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChallengeAction::*;

    #[test]
    fn a_policy_draws_the_sessions_script_from_the_nonce() {
        let p = ScriptPolicy::default();
        let script = p.draw(b"nonce-1").unwrap();
        assert_eq!(script.len(), 2);
        let session =
            ChallengeSession::new(ChallengeConfig::default(), seed_from_nonce(b"nonce-1")).unwrap();
        assert_eq!(session.script(), script);
        assert!(p.admits(b"nonce-1", &script));
        let three = ScriptPolicy {
            count: 3,
            ..p.clone()
        }
        .draw(b"nonce-1")
        .unwrap();
        assert!(p.admits(b"nonce-1", &three), "a longer draw is stricter");
        assert!(!p.admits(b"nonce-1", &script[..1]), "a shorter one is not");
        assert!(!p.admits(b"nonce-2", &script) || p.draw(b"nonce-2").unwrap() == script);
        let mut reversed = script.clone();
        reversed.reverse();
        assert!(!p.admits(b"nonce-1", &reversed));
    }

    #[test]
    fn policies_need_two_challenges_and_requests_only_narrow_them() {
        let one = ScriptPolicy {
            count: 1,
            ..ScriptPolicy::default()
        };
        assert_eq!(one.validate().unwrap_err().field, "count");
        let p = ScriptPolicy::default();
        let asked = |c: Option<Vec<ChallengeAction>>, n: Option<usize>, t: Option<f64>| {
            p.narrow(&ScriptRequest {
                challenges: c,
                count: n,
                timeout_ms: t,
            })
        };
        let n = asked(Some(vec![Blink, LookLeft, Blink]), None, Some(5000.0)).unwrap();
        assert_eq!(
            (n.actions, n.count, n.timeout_ms),
            (vec![Blink, LookLeft], 2, 5000.0)
        );
        assert_eq!(
            asked(Some(vec![Blink]), None, None).unwrap_err().field,
            "challenges"
        );
        assert_eq!(asked(None, Some(1), None).unwrap_err().field, "count");
        assert_eq!(asked(None, Some(11), None).unwrap_err().field, "count");
        assert_eq!(
            asked(None, None, Some(120_000.0)).unwrap_err().field,
            "timeout_ms"
        );
        assert_eq!(
            asked(None, None, Some(-1.0)).unwrap_err().field,
            "timeout_ms"
        );
        let strict = ScriptPolicy {
            actions: vec![Blink, Smile],
            ..ScriptPolicy::default()
        };
        let e = strict
            .narrow(&ScriptRequest {
                challenges: Some(vec![LookUp, Blink]),
                ..ScriptRequest::default()
            })
            .unwrap_err();
        assert_eq!(e.field, "challenges");
        assert!(ScriptRequest::default().is_empty());
    }
}
