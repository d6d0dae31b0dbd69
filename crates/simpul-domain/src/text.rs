//! Short texts with a shape: trimmed, non-empty, bounded.
//!
//! Each type parses once at the edge (`serde(try_from = "String")`), so a blank SK number or an
//! overlong reason is rejected naming its field before any rule runs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Longer than the type allows.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Contains characters the type does not allow.
    #[error("{0}")]
    Charset(&'static str),
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Most characters allowed.
            pub const MAX: usize = $max;

            /// Trims and checks the text.
            pub fn parse(raw: &str) -> Result<Self, TextError> {
                let text = raw.trim();
                if text.is_empty() {
                    return Err(TextError::Empty);
                }
                if text.chars().count() > Self::MAX {
                    return Err(TextError::TooLong { max: Self::MAX });
                }
                let check: fn(&str) -> Result<(), TextError> = $check;
                check(text)?;
                Ok(Self(text.to_owned()))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
    };
}

fn no_control_chars(text: &str) -> Result<(), TextError> {
    if text.chars().any(|c| c.is_control() && c != '\n') {
        Err(TextError::Charset("must not contain control characters"))
    } else {
        Ok(())
    }
}

fn registration_number_chars(text: &str) -> Result<(), TextError> {
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | ' '))
    {
        Ok(())
    } else {
        Err(TextError::Charset(
            "may contain only letters, digits, spaces and . / -",
        ))
    }
}

bounded_text!(
    /// A KIM's name, e.g. `KIM Sadai Bersatu`.
    CommunityName, 200, no_control_chars
);
bounded_text!(
    /// A short title (bimtek, activity, media channel, e-business, SK subject).
    Title, 300, no_control_chars
);
bounded_text!(
    /// Why a compensating or lifecycle event happened (R10).
    Reason, 1000, no_control_chars
);
bounded_text!(
    /// The number of a Surat Keputusan, e.g. `12/2025`.
    SkNumber, 100, no_control_chars
);
bounded_text!(
    /// The nomor induk assigned by the Dinas of a kabupaten/kota, e.g. `KIM-2171-0001`.
    RegistrationNumber, 64, registration_number_chars
);

impl RegistrationNumber {
    /// The form used for uniqueness: upper case, single spaces.
    pub fn canonical(&self) -> String {
        self.0
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(SkNumber::parse("  12/2025 ").unwrap().as_str(), "12/2025");
        assert_eq!(Reason::parse("   "), Err(TextError::Empty));
        assert_eq!(
            RegistrationNumber::parse(&"9".repeat(65)),
            Err(TextError::TooLong { max: 64 })
        );
        assert!(RegistrationNumber::parse("KIM;DROP").is_err());
        assert_eq!(
            RegistrationNumber::parse("kim 2171  001")
                .unwrap()
                .canonical(),
            "KIM 2171 001"
        );
    }
}
