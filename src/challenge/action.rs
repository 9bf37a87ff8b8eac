//! Challenge actions and their spellings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Something the user is asked to do. Serialised as in the WebSocket document (`"LOOK LEFT"`);
/// parsing also accepts the underscore spelling (`"LOOK_LEFT"`) and any letter case.
///
/// Directions are the subject's own: LOOK LEFT means the person turns to *their* left (which
/// is image-right in an unmirrored camera frame, and left in a mirrored selfie preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChallengeAction {
    Blink,
    LookLeft,
    LookRight,
    LookUp,
    LookDown,
    Smile,
}

impl ChallengeAction {
    /// Every action.
    pub const ALL: [ChallengeAction; 6] = [
        ChallengeAction::Blink,
        ChallengeAction::LookLeft,
        ChallengeAction::LookRight,
        ChallengeAction::LookUp,
        ChallengeAction::LookDown,
        ChallengeAction::Smile,
    ];

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeAction::Blink => "BLINK",
            ChallengeAction::LookLeft => "LOOK LEFT",
            ChallengeAction::LookRight => "LOOK RIGHT",
            ChallengeAction::LookUp => "LOOK UP",
            ChallengeAction::LookDown => "LOOK DOWN",
            ChallengeAction::Smile => "SMILE",
        }
    }

    /// Parses a comma-separated list (`BLINK,LOOK LEFT,smile`).
    pub fn parse_list(s: &str) -> Result<Vec<Self>, ParseActionError> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl fmt::Display for ChallengeAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown action name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown challenge action `{0}`; expected one of BLINK, LOOK LEFT, LOOK RIGHT, LOOK UP, LOOK DOWN, SMILE")]
pub struct ParseActionError(pub String);

impl FromStr for ChallengeAction {
    type Err = ParseActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .map(|c| {
                if c == '_' || c == '-' {
                    ' '
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        let norm = norm.split_whitespace().collect::<Vec<_>>().join(" ");
        ChallengeAction::ALL
            .into_iter()
            .find(|a| a.as_str() == norm)
            .ok_or_else(|| ParseActionError(s.to_owned()))
    }
}

impl Serialize for ChallengeAction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ChallengeAction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_and_any_case_parse() {
        assert_eq!(
            "LOOK LEFT".parse::<ChallengeAction>().unwrap(),
            ChallengeAction::LookLeft
        );
        assert_eq!(
            "look_right".parse::<ChallengeAction>().unwrap(),
            ChallengeAction::LookRight
        );
        assert_eq!(
            " Smile ".parse::<ChallengeAction>().unwrap(),
            ChallengeAction::Smile
        );
        assert!("WINK".parse::<ChallengeAction>().is_err());
        assert!("".parse::<ChallengeAction>().is_err());
    }

    #[test]
    fn list_parses() {
        assert_eq!(
            ChallengeAction::parse_list("BLINK, LOOK_UP").unwrap(),
            vec![ChallengeAction::Blink, ChallengeAction::LookUp]
        );
    }
}
