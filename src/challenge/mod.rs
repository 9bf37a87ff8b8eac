//! Active liveness: the challenge actions, the detectors that recognise them from per-frame
//! geometry, and the session state machine that runs a seeded script of them.

mod action;
mod detectors;
mod policy;
mod rules;
mod session;

pub use action::{ChallengeAction, ParseActionError};
pub use detectors::{ActionDetector, ActionThresholds, Baseline, Sample};
pub use policy::{PolicyError, ScriptPolicy, ScriptRequest, MIN_POLICY_COUNT};
pub use rules::{RuleStats, Rulebook};
pub use session::{
    robust_mean, seed_from_nonce, ChallengeConfig, ChallengeSession, ChallengeTiming, Failure,
    SessionOutcome, MAX_TIMEOUT_MS,
};
