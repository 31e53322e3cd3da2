//! The Calls list: its filters and its pages, as the simulator really applies them.
//!
//! Filters follow Twilio's OpenAPI description: `StartTime` (that day), `StartTime>` (on
//! or after), `StartTime<` (before), the same for `EndTime`, and `To`, `From`, `Status`.
//! Bounds are `YYYY-MM-DD` days in UTC; full date-times (RFC 3339 or RFC 2822) are taken
//! as exact instants. `StartTime>=` / `StartTime<=` spelled with an encoded `=` are also
//! read (on or after / on or before). A call that never started is listed by its creation
//! time. Pages run newest first; `next_page_uri` carries a `PageToken` pointing just past
//! the page's last call, so calls created while paging do not shift later pages.

use super::wire::{
    calls_path, phase_from_resource, resource_status, ApiError, CallJson, CallPageJson,
};
use crate::sim::state::{Phase, SimCall};
use chrono::{DateTime, NaiveDate, Utc};

/// Twilio's default page size.
const DEFAULT_PAGE_SIZE: usize = 50;
/// Twilio's largest page.
const MAX_PAGE_SIZE: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bound {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compare {
    On,
    OnOrAfter,
    Before,
    OnOrBefore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimeFilter {
    compare: Compare,
    bound: Bound,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

impl TimeFilter {
    fn admits(&self, t: Option<DateTime<Utc>>) -> bool {
        let Some(t) = t else {
            return false;
        };
        match (self.compare, self.bound) {
            (Compare::On, Bound::Day(d)) => t.date_naive() == d,
            (Compare::On, Bound::At(i)) => t.date_naive() == i.date_naive(),
            (Compare::OnOrAfter, Bound::Day(d)) => t >= midnight(d),
            (Compare::OnOrAfter, Bound::At(i)) => t >= i,
            (Compare::Before, Bound::Day(d)) => t < midnight(d),
            (Compare::Before, Bound::At(i)) => t < i,
            (Compare::OnOrBefore, Bound::Day(d)) => {
                d.succ_opt().is_none_or(|next| t < midnight(next))
            }
            (Compare::OnOrBefore, Bound::At(i)) => t <= i,
        }
    }
}

fn parse_bound(name: &str, raw: &str) -> Result<Bound, ApiError> {
    let raw = raw.trim();
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(Bound::Day(day));
    }
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_rfc2822(raw))
        .map(|t| Bound::At(t.with_timezone(&Utc)))
        .map_err(|_| ApiError::invalid(format!("{name} must be a date (YYYY-MM-DD): {raw}")))
}

/// Which time a filter name applies to and how it compares, if it is a time filter.
fn time_filter_kind(name: &str) -> Option<(bool, Compare)> {
    let (is_start, op) = if let Some(op) = name.strip_prefix("StartTime") {
        (true, op)
    } else {
        (false, name.strip_prefix("EndTime")?)
    };
    let compare = match op {
        "" => Compare::On,
        ">" | ">=" => Compare::OnOrAfter,
        "<" => Compare::Before,
        "<=" => Compare::OnOrBefore,
        _ => return None,
    };
    Some((is_start, compare))
}

/// A parsed list request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ListQuery {
    /// The filter parameters as given, carried into the page URIs.
    filters: Vec<(String, String)>,
    start: Vec<TimeFilter>,
    end: Vec<TimeFilter>,
    to: Option<String>,
    from: Option<String>,
    status: Option<Phase>,
    page_size: usize,
    page: usize,
    /// From `PageToken`: list only calls created before the one with this sequence.
    before_seq: Option<u64>,
    page_token: Option<String>,
}

impl ListQuery {
    /// Reads the query string's pairs. Unknown parameters are ignored, as Twilio does.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut q = ListQuery {
            filters: Vec::new(),
            start: Vec::new(),
            end: Vec::new(),
            to: None,
            from: None,
            status: None,
            page_size: DEFAULT_PAGE_SIZE,
            page: 0,
            before_seq: None,
            page_token: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "To" => q.to = Some(value.clone()),
                "From" => q.from = Some(value.clone()),
                "Status" => {
                    q.status = Some(phase_from_resource(value).ok_or_else(|| {
                        ApiError::invalid(format!("Status is not a call status: {value}"))
                    })?)
                }
                "PageSize" => {
                    q.page_size = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            ApiError::invalid(format!("PageSize must be 1 to 1000: {value}"))
                        })?;
                    continue;
                }
                "Page" => {
                    q.page = value.trim().parse().map_err(|_| {
                        ApiError::invalid(format!("Page must be a non-negative integer: {value}"))
                    })?;
                    continue;
                }
                "PageToken" => {
                    let seq = value
                        .strip_prefix("PA")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| ApiError::invalid(format!("Invalid PageToken: {value}")))?;
                    q.before_seq = Some(seq);
                    q.page_token = Some(value.clone());
                    continue;
                }
                other => match time_filter_kind(other) {
                    Some((is_start, compare)) => {
                        let filter = TimeFilter {
                            compare,
                            bound: parse_bound(other, value)?,
                        };
                        if is_start {
                            q.start.push(filter);
                        } else {
                            q.end.push(filter);
                        }
                    }
                    None => continue,
                },
            }
            q.filters.push((name.clone(), value.clone()));
        }
        Ok(q)
    }

    /// Whether a call passes every filter (paging aside).
    pub fn admits(&self, call: &SimCall) -> bool {
        let started = call.start_time.or(Some(call.date_created));
        self.to.as_deref().is_none_or(|to| call.to == to)
            && self.from.as_deref().is_none_or(|from| call.from == from)
            && self
                .status
                .is_none_or(|s| resource_status(s) == resource_status(call.phase))
            && self.start.iter().all(|f| f.admits(started))
            && self.end.iter().all(|f| f.admits(call.end_time))
    }

    fn page_uri(&self, account_sid: &str, page: usize, token: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&self.filters);
        query.append_pair("PageSize", &self.page_size.to_string());
        query.append_pair("Page", &page.to_string());
        if let Some(token) = token {
            query.append_pair("PageToken", token);
        }
        format!("{}.json?{}", calls_path(account_sid), query.finish())
    }

    /// The requested page of `matching` (all admitted calls, newest first, with their
    /// creation sequence).
    pub fn page_of(&self, account_sid: &str, matching: Vec<(u64, CallJson)>) -> CallPageJson {
        let remaining: Vec<(u64, CallJson)> = match self.before_seq {
            Some(before) => matching
                .into_iter()
                .filter(|(seq, _)| *seq < before)
                .collect(),
            None => matching
                .into_iter()
                .skip(self.page.saturating_mul(self.page_size))
                .collect(),
        };
        let has_more = remaining.len() > self.page_size;
        let mut page: Vec<(u64, CallJson)> = remaining;
        page.truncate(self.page_size);
        let next_page_uri = match page.last() {
            Some((last_seq, _)) if has_more => {
                Some(self.page_uri(account_sid, self.page + 1, Some(&format!("PA{last_seq}"))))
            }
            _ => None,
        };
        let start = self.page.saturating_mul(self.page_size);
        CallPageJson {
            end: (start + page.len()).saturating_sub(1).max(start),
            first_page_uri: self.page_uri(account_sid, 0, None),
            next_page_uri,
            page: self.page,
            page_size: self.page_size,
            previous_page_uri: (self.page > 0)
                .then(|| self.page_uri(account_sid, self.page - 1, None)),
            start,
            uri: self.page_uri(account_sid, self.page, self.page_token.as_deref()),
            calls: page.into_iter().map(|(_, call)| call).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, d, h, 0, 0).unwrap()
    }

    fn filter(name: &str, value: &str) -> TimeFilter {
        let q = ListQuery::parse(&pairs(&[(name, value)])).unwrap();
        q.start[0]
    }

    #[test]
    fn day_bounds_follow_the_openapi_description() {
        let after = filter("StartTime>", "2025-03-02");
        assert!(!after.admits(Some(at(1, 23))));
        assert!(after.admits(Some(at(2, 0))));
        let before = filter("StartTime<", "2025-03-02");
        assert!(before.admits(Some(at(1, 23))));
        assert!(!before.admits(Some(at(2, 0))));
        let on_or_before = filter("StartTime<=", "2025-03-02");
        assert!(on_or_before.admits(Some(at(2, 23))));
        assert!(!on_or_before.admits(Some(at(3, 0))));
        let on = filter("StartTime", "2025-03-02");
        assert!(on.admits(Some(at(2, 12))) && !on.admits(Some(at(3, 12))));
        assert!(!on.admits(None));
    }

    #[test]
    fn date_times_are_exact() {
        let after = filter("StartTime>", "2025-03-02T10:00:00Z");
        assert!(after.admits(Some(at(2, 10))));
        assert!(!after.admits(Some(at(2, 9))));
        let before = filter("StartTime<", "Sun, 02 Mar 2025 10:00:00 +0000");
        assert!(before.admits(Some(at(2, 9))));
        assert!(!before.admits(Some(at(2, 10))));
    }

    #[test]
    fn refuses_bad_values() {
        for (k, v) in [
            ("StartTime>", "last tuesday"),
            ("PageSize", "0"),
            ("PageSize", "1001"),
            ("Page", "-1"),
            ("PageToken", "nonsense"),
            ("Status", "initiated"),
        ] {
            let e = ListQuery::parse(&pairs(&[(k, v)])).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (400, 20001), "{k}={v}");
        }
    }

    #[test]
    fn page_uris_keep_the_filters_encoded() {
        let q = ListQuery::parse(&pairs(&[
            ("StartTime>", "2025-03-01"),
            ("To", "+14155550101"),
            ("PageSize", "2"),
            ("Unknown", "x"),
        ]))
        .unwrap();
        assert_eq!(
            q.page_uri("AC1", 1, Some("PA7")),
            "/2010-04-01/Accounts/AC1/Calls.json?StartTime%3E=2025-03-01&To=%2B14155550101&PageSize=2&Page=1&PageToken=PA7"
        );
    }
}
