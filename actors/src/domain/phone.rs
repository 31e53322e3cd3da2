//! E.164 phone numbers, checked by a real numbering-plan library rather than a regex,
//! so `+1 555 0100` style numbers with impossible area codes are refused up front
//! instead of costing a provider request.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A phone number in canonical E.164 form (`+` then 2–15 digits, first digit not 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// Why a string is not an acceptable phone number.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhoneError {
    #[error("must be in E.164 format: '+' followed by 2 to 15 digits, the first not 0")]
    NotE164,
    #[error("is not a valid number in its country's numbering plan")]
    NotValid,
}

impl PhoneNumber {
    /// Parses and validates an E.164 number.
    pub fn parse(raw: &str) -> Result<Self, PhoneError> {
        let digits = raw.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        let shape_ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !shape_ok {
            return Err(PhoneError::NotE164);
        }
        let parsed = phonenumber::parse(None, raw).map_err(|_| PhoneError::NotValid)?;
        if !phonenumber::is_valid(&parsed) {
            return Err(PhoneError::NotValid);
        }
        Ok(Self(raw.to_string()))
    }

    /// The canonical E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a number read back from storage, where it was validated on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_real_numbers_in_several_countries() {
        for n in ["+14155552671", "+919876543210", "+447911123456"] {
            assert_eq!(PhoneNumber::parse(n).unwrap().as_str(), n);
        }
    }

    #[test]
    fn refuses_bad_shapes_and_impossible_numbers() {
        assert_eq!(PhoneNumber::parse("4155552671"), Err(PhoneError::NotE164));
        assert_eq!(PhoneNumber::parse("+0155552671"), Err(PhoneError::NotE164));
        assert_eq!(PhoneNumber::parse("+1415abc2671"), Err(PhoneError::NotE164));
        assert_eq!(
            PhoneNumber::parse("+1234567890123456"),
            Err(PhoneError::NotE164)
        );
        assert_eq!(
            PhoneNumber::parse("+11111111111"),
            Err(PhoneError::NotValid)
        );
    }
}
