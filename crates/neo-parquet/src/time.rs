//! Reading a bar's time from the forms OHLCV files use. Shared by the CSV and
//! Parquet loaders so both read a number or a text the same way.

use chrono::{NaiveDate, NaiveDateTime};
use neo_domain::Timestamp;

/// Seconds, milliseconds or nanoseconds since the epoch, told apart by magnitude,
/// as UTC nanoseconds; `None` when the result does not fit.
///
/// Below 1e11 the number is seconds (until the year 5138), below 1e14 milliseconds
/// (until 5138 too), above that nanoseconds. Microseconds are not guessed: a file
/// that has them says so in its type (a Parquet timestamp) or must be converted.
pub fn unix_number_nanos(n: i64) -> Option<i64> {
    match n.unsigned_abs() {
        0..100_000_000_000 => n.checked_mul(1_000_000_000),
        100_000_000_000..100_000_000_000_000 => n.checked_mul(1_000_000),
        _ => Some(n),
    }
}

/// Reads a time written as text: RFC 3339 with any offset, a date and time without
/// a zone (taken as UTC), a date (midnight UTC; `2024-01-02`, `2024/01/02`,
/// `20240102`) or a Unix number (see [`unix_number_nanos`]).
pub fn parse_time_text(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts);
    }
    // Eight digits read as a date (20240102) before they could read as epoch seconds.
    if t.len() == 8
        && let Ok(d) = NaiveDate::parse_from_str(t, "%Y%m%d")
    {
        return d
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_nanos_opt()
            .map(Timestamp::from_nanos);
    }
    if let Ok(n) = t.parse::<i64>() {
        return unix_number_nanos(n).map(Timestamp::from_nanos);
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    naive
        .and_utc()
        .timestamp_nanos_opt()
        .map(Timestamp::from_nanos)
}
