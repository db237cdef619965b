//! UTC time as nanoseconds since the Unix epoch: one integer that sorts, hashes
//! and subtracts exactly, printed as RFC 3339 (`...Z`) in JSON.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text or number is not a time NEO can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not RFC 3339 (`2026-11-21T21:09:03.5Z`, any offset).
    #[error("not an RFC 3339 timestamp: {0:?}")]
    Invalid(String),
    /// Outside 1677-09-21 .. 2262-04-11, what nanoseconds in an i64 can hold.
    #[error("timestamp out of range")]
    OutOfRange,
}

/// A UTC instant with nanosecond resolution.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// From whole seconds since the epoch (TradingView's `{{timenow}}` in some templates).
    pub fn from_unix_secs(secs: i64) -> Result<Self, TimeError> {
        secs.checked_mul(NANOS_PER_SEC)
            .map(Timestamp)
            .ok_or(TimeError::OutOfRange)
    }

    /// From milliseconds since the epoch (exchange feeds).
    pub fn from_unix_millis(millis: i64) -> Result<Self, TimeError> {
        millis
            .checked_mul(1_000_000)
            .map(Timestamp)
            .ok_or(TimeError::OutOfRange)
    }

    /// Milliseconds since the epoch, rounded down.
    pub const fn as_unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses RFC 3339 with any offset into UTC.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimeError> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|_| TimeError::Invalid(text.chars().take(64).collect()))?;
        dt.with_timezone(&Utc)
            .timestamp_nanos_opt()
            .map(Timestamp)
            .ok_or(TimeError::OutOfRange)
    }

    /// This instant plus `nanos` (negative to go back), saturating at the range ends.
    pub const fn add_nanos(self, nanos: i64) -> Self {
        Timestamp(self.0.saturating_add(nanos))
    }

    /// `self - earlier` in nanoseconds, saturating.
    pub const fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }

    /// As a chrono UTC time (calendar arithmetic in the shells).
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_nanos(self.0)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Saturates outside the representable range, which starts in 1677.
    fn from(dt: DateTime<Utc>) -> Self {
        Timestamp(dt.timestamp_nanos_opt().unwrap_or(if dt.timestamp() < 0 {
            i64::MIN
        } else {
            i64::MAX
        }))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            &self
                .to_datetime()
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "UTC instant, RFC 3339 with up to nanosecond precision.",
            "type": "string",
            "format": "date-time",
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn prints_utc_with_needed_precision() {
        let cases = [
            ("2026-11-21T21:09:03Z", "2026-11-21T21:09:03Z"),
            ("2026-11-21T21:09:03.120Z", "2026-11-21T21:09:03.120Z"),
            (
                "2026-11-21T21:09:03.123456789Z",
                "2026-11-21T21:09:03.123456789Z",
            ),
            ("2026-11-21T23:09:03+02:00", "2026-11-21T21:09:03Z"),
        ];
        for (input, canonical) in cases {
            assert_eq!(input.parse::<Timestamp>().unwrap().to_string(), canonical);
        }
        assert_eq!(
            Timestamp::from_unix_secs(1_700_000_000)
                .unwrap()
                .to_string(),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn refuses_bad_times() {
        for bad in [
            "",
            "2026-11-21",
            "21:09:03",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2300-01-01T00:00:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
        assert_eq!(
            Timestamp::from_unix_secs(i64::MAX),
            Err(TimeError::OutOfRange)
        );
        assert!(serde_json::from_str::<Timestamp>("1700000000").is_err());
    }

    proptest! {
        #[test]
        fn roundtrips_through_json(nanos in any::<i64>()) {
            let ts = Timestamp::from_nanos(nanos);
            let json = serde_json::to_string(&ts).unwrap();
            prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Timestamp>();
        }
    }
}
