//! Call analytics: totals by status, success and error rates, average talk time, and a
//! day-by-day breakdown in any time zone, for every call, or one client's, agent's or
//! campaign's.
//!
//! The database groups calls into 15-minute buckets of their creation time (plain
//! integer division, the same on SQLite and PostgreSQL); the buckets are then put on
//! local days here with `chrono-tz`. Every time zone in use today is offset from UTC by
//! a multiple of 15 minutes, so a bucket never straddles a local midnight, and the
//! database never needs to know about time zones.

use super::rows::millis;
use super::{error, SqlStore, StoreError};
use callvisor_actors::domain::{AgentId, CallStatus, CampaignId, ClientId};
use callvisor_actors::monitors::ERROR_STATUSES;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// Bucket width, in milliseconds.
const BUCKET_MS: i64 = 15 * 60 * 1000;

/// Whose calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Client(ClientId),
    Agent(AgentId),
    Campaign(CampaignId),
}

/// Calls made on the local days `start..=end` in `tz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub tz: Tz,
}

impl DayRange {
    /// The first instant of a local day (the earliest, where a clock change repeats it;
    /// the first that exists, where one skips midnight).
    fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        let mut local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
        for _ in 0..4 {
            if let Some(t) = self.tz.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            local += chrono::Duration::minutes(15);
        }
        local.and_utc()
    }

    /// `[from, until)` in UTC.
    pub fn bounds(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let after_end = self.end.succ_opt().unwrap_or(self.end);
        (self.day_start(self.start), self.day_start(after_end))
    }
}

/// What a set of calls adds up to.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub total: u64,
    /// Calls per status; every status is present.
    pub by_status: BTreeMap<&'static str, u64>,
    /// Calls that reached a final status.
    pub ended: u64,
    /// Completed calls as a share of ended ones (absent with none ended).
    pub success_rate: Option<f64>,
    /// Failed and timed-out calls as a share of ended ones.
    pub error_rate: Option<f64>,
    /// Mean talk time of completed calls that report one.
    pub average_duration_seconds: Option<f64>,
    #[serde(skip)]
    duration_sum: i64,
    #[serde(skip)]
    duration_count: i64,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            total: 0,
            by_status: CallStatus::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
            ended: 0,
            success_rate: None,
            error_rate: None,
            average_duration_seconds: None,
            duration_sum: 0,
            duration_count: 0,
        }
    }
}

impl Tally {
    fn add(&mut self, status: CallStatus, n: u64, duration_sum: i64, duration_count: i64) {
        self.total += n;
        *self.by_status.entry(status.as_str()).or_default() += n;
        if status.is_final() {
            self.ended += n;
        }
        if status == CallStatus::Completed {
            self.duration_sum += duration_sum;
            self.duration_count += duration_count;
        }
    }

    /// Works the rates out from the counts.
    fn finish(mut self) -> Self {
        let count = |s: CallStatus| self.by_status.get(s.as_str()).copied().unwrap_or(0);
        if self.ended > 0 {
            let errors: u64 = ERROR_STATUSES.into_iter().map(count).sum();
            self.success_rate = Some(count(CallStatus::Completed) as f64 / self.ended as f64);
            self.error_rate = Some(errors as f64 / self.ended as f64);
        }
        if self.duration_count > 0 {
            self.average_duration_seconds =
                Some(self.duration_sum as f64 / self.duration_count as f64);
        }
        self
    }
}

/// One local day of a breakdown.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub tally: Tally,
}

/// Totals over a range and its days.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub timezone: String,
    pub totals: Tally,
    /// Every day of the range, oldest first, days without calls included.
    pub daily: Vec<Day>,
}

/// One bucket as the database returns it.
struct Bucket {
    start_ms: i64,
    status: CallStatus,
    count: u64,
    duration_sum: i64,
    duration_count: i64,
}

impl SqlStore {
    /// The analytics of `scope`'s calls made within `range`.
    pub async fn call_analytics(
        &self,
        scope: Scope,
        range: DayRange,
    ) -> Result<Report, StoreError> {
        let (from, until) = range.bounds();
        let buckets = self.buckets(scope, from, until).await?;
        Ok(report(range, buckets))
    }

    async fn buckets(
        &self,
        scope: Scope,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Bucket>, StoreError> {
        let (filter, id) = match scope {
            Scope::All => ("", None),
            Scope::Client(c) => (" AND client_id = $3", Some(c.to_string())),
            Scope::Agent(a) => (" AND agent_id = $3", Some(a.to_string())),
            Scope::Campaign(c) => (" AND campaign_id = $3", Some(c.to_string())),
        };
        let sql = format!(
            "SELECT created_at / {BUCKET_MS} AS bucket, status, COUNT(*) AS n, \
             CAST(COALESCE(SUM(duration_seconds), 0) AS BIGINT) AS duration_sum, \
             COUNT(duration_seconds) AS duration_n \
             FROM calls WHERE created_at >= $1 AND created_at < $2{filter} \
             GROUP BY bucket, status"
        );
        let mut query = sqlx::query(&sql).bind(millis(from)).bind(millis(until));
        if let Some(id) = id {
            query = query.bind(id);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| error("reading call analytics", e))?;
        let read = |e: sqlx::Error| error("reading call analytics", e);
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status").map_err(read)?;
                Ok(Bucket {
                    start_ms: row.try_get::<i64, _>("bucket").map_err(read)? * BUCKET_MS,
                    status: status
                        .parse()
                        .map_err(|e| StoreError(format!("calls.status: {e}")))?,
                    count: row.try_get::<i64, _>("n").map_err(read)?.max(0) as u64,
                    duration_sum: row.try_get("duration_sum").map_err(read)?,
                    duration_count: row.try_get("duration_n").map_err(read)?,
                })
            })
            .collect()
    }
}

/// Puts buckets on the local days of `range`.
fn report(range: DayRange, buckets: Vec<Bucket>) -> Report {
    let (from, until) = range.bounds();
    let mut days: BTreeMap<NaiveDate, Tally> = range
        .start
        .iter_days()
        .take_while(|d| *d <= range.end)
        .map(|d| (d, Tally::default()))
        .collect();
    let mut totals = Tally::default();
    for b in buckets {
        let Some(start) = DateTime::from_timestamp_millis(b.start_ms) else {
            continue;
        };
        let day = start.with_timezone(&range.tz).date_naive();
        totals.add(b.status, b.count, b.duration_sum, b.duration_count);
        if let Some(tally) = days.get_mut(&day) {
            tally.add(b.status, b.count, b.duration_sum, b.duration_count);
        }
    }
    Report {
        from,
        until,
        timezone: range.tz.name().to_string(),
        totals: totals.finish(),
        daily: days
            .into_iter()
            .map(|(date, tally)| Day {
                date,
                tally: tally.finish(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_local_day_starts_at_local_midnight() {
        let range = DayRange {
            start: date(2026, 3, 1),
            end: date(2026, 3, 2),
            tz: chrono_tz::Asia::Kolkata,
        };
        let (from, until) = range.bounds();
        assert_eq!(from.to_rfc3339(), "2026-02-28T18:30:00+00:00");
        assert_eq!(until.to_rfc3339(), "2026-03-02T18:30:00+00:00");
    }

    #[test]
    fn a_day_with_a_clock_change_is_23_hours_long() {
        let range = DayRange {
            start: date(2026, 3, 8),
            end: date(2026, 3, 8),
            tz: chrono_tz::America::New_York,
        };
        let (from, until) = range.bounds();
        assert_eq!((until - from).num_hours(), 23);
    }

    #[test]
    fn buckets_land_on_their_local_day() {
        let range = DayRange {
            start: date(2026, 3, 1),
            end: date(2026, 3, 2),
            tz: chrono_tz::Asia::Kolkata,
        };
        // 18:45 UTC on 1 March is 00:15 on 2 March in Kolkata.
        let late = Utc.with_ymd_and_hms(2026, 3, 1, 18, 45, 0).unwrap();
        let early = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
        let bucket = |at: DateTime<Utc>, status, count, sum| Bucket {
            start_ms: at.timestamp_millis(),
            status,
            count,
            duration_sum: sum,
            duration_count: if status == CallStatus::Completed {
                count as i64
            } else {
                0
            },
        };
        let r = report(
            range,
            vec![
                bucket(early, CallStatus::Completed, 3, 90),
                bucket(early, CallStatus::Failed, 1, 0),
                bucket(late, CallStatus::Completed, 1, 60),
            ],
        );
        assert_eq!(r.daily.len(), 2);
        assert_eq!((r.daily[0].tally.total, r.daily[1].tally.total), (4, 1));
        assert_eq!(r.daily[0].tally.error_rate, Some(0.25));
        assert_eq!(r.totals.average_duration_seconds, Some(37.5));
        assert_eq!(r.totals.success_rate, Some(0.8));
    }
}
