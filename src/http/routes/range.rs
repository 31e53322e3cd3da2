//! Time ranges in query strings, shared by the monitoring, stats and analytics routes:
//! `startDate` / `endDate` as days (`2026-03-01`, the end day included) or instants
//! (RFC 3339), and `timezone` as an IANA name. A bad value is refused naming its field.

use crate::http::error::ApiError;
use crate::store::DayRange;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

/// Longest range a request may cover, in days.
pub const MAX_DAYS: i64 = 366;

/// Reads a bound: an instant, or a UTC day (its start for `startDate`, the start of the
/// next day for `endDate`, so the end day is included).
fn instant(field: &str, raw: &str, is_end: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("'{raw}' is neither a date (YYYY-MM-DD) nor an RFC 3339 time"),
        )
    })?;
    let day = if is_end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

/// `[from, until)` from optional bounds; by default the last `default_span` up to now.
///
/// Stored times have millisecond precision, so a defaulted end lies one millisecond past
/// `now`: a record written in the same millisecond as the request is inside the range.
pub fn instants(
    start: Option<&str>,
    end: Option<&str>,
    now: DateTime<Utc>,
    default_span: Duration,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let until = end
        .map(|e| instant("endDate", e, true))
        .transpose()?
        .unwrap_or(now + Duration::milliseconds(1));
    let from = start
        .map(|s| instant("startDate", s, false))
        .transpose()?
        .unwrap_or(until - default_span);
    if from >= until {
        return Err(ApiError::invalid_field(
            "endDate",
            "must be after startDate",
        ));
    }
    Ok((from, until))
}

/// An IANA time zone.
pub fn timezone(raw: &str) -> Result<Tz, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::invalid_field("timezone", format!("'{raw}' is not an IANA time zone"))
    })
}

fn day(field: &str, raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::invalid_field(field, format!("'{raw}' is not a date (YYYY-MM-DD)")))
}

/// Local days `startDate..=endDate` in `tz`; by default the seven days up to today there.
pub fn days(
    start: Option<&str>,
    end: Option<&str>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<DayRange, ApiError> {
    let today = now.with_timezone(&tz).date_naive();
    let end = end.map(|e| day("endDate", e)).transpose()?.unwrap_or(today);
    let start = start
        .map(|s| day("startDate", s))
        .transpose()?
        .unwrap_or(end - Duration::days(6));
    if start > end {
        return Err(ApiError::invalid_field(
            "endDate",
            "must not be before startDate",
        ));
    }
    if (end - start).num_days() >= MAX_DAYS {
        return Err(ApiError::invalid_field(
            "endDate",
            format!("a range covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(DayRange { start, end, tz })
}

/// A page size: `default` when absent, refused above `max` or at 0.
pub fn limit(raw: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_defaulted_end_includes_records_written_in_the_current_millisecond() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T10:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let (from, until) = instants(None, None, now, Duration::hours(24)).unwrap();
        assert!(until.timestamp_millis() > now.timestamp_millis());
        assert!(from < now - Duration::hours(23));
    }

    #[test]
    fn an_end_day_is_included_and_a_reversed_range_is_refused() {
        let now = Utc::now();
        let (from, until) = instants(
            Some("2026-03-01"),
            Some("2026-03-01"),
            now,
            Duration::days(1),
        )
        .unwrap();
        assert_eq!(until - from, Duration::days(1));
        let err = instants(
            Some("2026-03-02"),
            Some("2026-03-01"),
            now,
            Duration::days(1),
        );
        assert!(err.is_err());
    }
}
