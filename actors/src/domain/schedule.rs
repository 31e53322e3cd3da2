//! When a scheduled call runs: a first local time in an IANA time zone, optional business
//! hours, optional recurrence.
//!
//! Occurrences are computed from the first one every time (never by adding to the last),
//! so a monthly call on the 31st stays on the last day of short months and comes back to
//! the 31st after them, and a daily call keeps its local hour across DST changes. A time
//! outside business hours moves to the next opening; occurrences that land on the same
//! opening (a daily call's Saturday and Sunday, both moved to Monday 09:00) are one
//! occurrence, so a callee is never dialed twice for one opening. Pure rules, no I/O.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Hours of the week in which a scheduled call may be dialed, in the schedule's zone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessHours {
    /// Opening time; calls are dialed from this time on.
    pub start: NaiveTime,
    /// Closing time; no call is dialed at or after it.
    pub end: NaiveTime,
    /// Open days, 0 = Sunday … 6 = Saturday.
    pub days_of_week: Vec<u8>,
}

/// How often a scheduled call repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

/// A repeating schedule; it ends at `end_date` or after `max_occurrences` calls, or never.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recurrence {
    pub frequency: Frequency,
    /// Every `interval` days, weeks or months.
    pub interval: u32,
    /// Last local date an occurrence may fall on (before moving into business hours).
    pub end_date: Option<NaiveDate>,
    pub max_occurrences: Option<u32>,
}

/// When a scheduled call, and each of its repetitions, runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// The first run, as a local time in `timezone`.
    pub scheduled_for: NaiveDateTime,
    pub timezone: Tz,
    pub business_hours: Option<BusinessHours>,
    pub recurrence: Option<Recurrence>,
}

/// A schedule that cannot be followed; `field` names the offending request field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct ScheduleError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        field,
        message: message.into(),
    }
}

/// Most repetitions a series may have, and most a lookup walks through.
pub const MAX_OCCURRENCES: u32 = 10_000;
/// Longest gap between repetitions.
pub const MAX_INTERVAL: u32 = 366;

impl Schedule {
    /// Checks the parts against each other: hours that open before they close on at
    /// least one day, sane intervals, an end that is not before the start.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if let Some(hours) = &self.business_hours {
            hours.validate("businessHours")?;
        }
        if let Some(r) = &self.recurrence {
            if !(1..=MAX_INTERVAL).contains(&r.interval) {
                return Err(invalid(
                    "recurrence.interval",
                    format!("must be 1 to {MAX_INTERVAL}"),
                ));
            }
            if let Some(max) = r.max_occurrences {
                if !(1..=MAX_OCCURRENCES).contains(&max) {
                    return Err(invalid(
                        "recurrence.maxOccurrences",
                        format!("must be 1 to {MAX_OCCURRENCES}"),
                    ));
                }
            }
            if r.end_date
                .is_some_and(|end| end < self.scheduled_for.date())
            {
                return Err(invalid(
                    "recurrence.endDate",
                    "is before the first scheduled date",
                ));
            }
        }
        Ok(())
    }

    /// When the first occurrence runs.
    pub fn first_run(&self) -> DateTime<Utc> {
        self.to_utc(self.opening(self.scheduled_for))
    }

    /// The occurrence to follow occurrence `done` (1-based) when `done` runs at `now`:
    /// the first one after `now`, with its number. Occurrences that fell due while nothing
    /// was running are skipped (the one running now stands in for them), so a callee is
    /// not dialed several times in a row after an outage. `None` once the series is over.
    pub fn next_after(&self, done: u32, now: DateTime<Utc>) -> Option<(u32, DateTime<Utc>)> {
        self.runs()
            .skip_while(|(n, _)| *n <= done)
            .find(|(_, at)| *at > now)
    }

    /// Every occurrence, numbered from 1, in order; merged where two land on one opening.
    fn runs(&self) -> impl Iterator<Item = (u32, DateTime<Utc>)> + '_ {
        let mut last: Option<DateTime<Utc>> = None;
        let mut number = 0;
        (0..MAX_OCCURRENCES)
            .map_while(move |step| self.nominal(step))
            .filter_map(move |local| {
                let at = self.to_utc(self.opening(local));
                if last.is_some_and(|previous| at <= previous) {
                    return None;
                }
                last = Some(at);
                number += 1;
                Some((number, at))
            })
            .take_while(|(n, _)| self.max_occurrences().is_none_or(|max| *n <= max))
    }

    fn max_occurrences(&self) -> Option<u32> {
        match &self.recurrence {
            None => Some(1),
            Some(r) => r.max_occurrences,
        }
    }

    /// The local time of repetition `step` (0 = the first) before business hours apply;
    /// `None` past the end date or when the schedule does not repeat.
    fn nominal(&self, step: u32) -> Option<NaiveDateTime> {
        if step == 0 {
            return Some(self.scheduled_for);
        }
        let r = self.recurrence.as_ref()?;
        let amount = step.checked_mul(r.interval)?;
        let first = self.scheduled_for;
        let at = match r.frequency {
            Frequency::Daily => first.checked_add_days(Days::new(amount.into()))?,
            Frequency::Weekly => first.checked_add_days(Days::new(u64::from(amount) * 7))?,
            Frequency::Monthly => first.checked_add_months(Months::new(amount))?,
        };
        match r.end_date {
            Some(end) if at.date() > end => None,
            _ => Some(at),
        }
    }

    /// The first moment at or after `local` that is inside business hours, if any.
    fn opening(&self, local: NaiveDateTime) -> NaiveDateTime {
        match &self.business_hours {
            Some(hours) => hours.opening(local),
            None => local,
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        local_to_utc(self.timezone, local)
    }
}

impl BusinessHours {
    /// Whether `day` is one of the open days.
    fn is_open_day(&self, day: NaiveDate) -> bool {
        let weekday = day.weekday().num_days_from_sunday();
        self.days_of_week.iter().any(|d| u32::from(*d) == weekday)
    }

    /// Whether the local time `local` is inside the hours.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let time = local.time();
        self.is_open_day(local.date()) && time >= self.start && time < self.end
    }

    /// The first local moment at or after `local` that is inside the hours (`local`
    /// itself when it is).
    pub fn opening(&self, local: NaiveDateTime) -> NaiveDateTime {
        let (mut day, mut time) = (local.date(), local.time());
        for _ in 0..8 {
            if self.is_open_day(day) && time < self.end {
                return day.and_time(time.max(self.start));
            }
            day = day.succ_opt().unwrap_or(day);
            time = self.start;
        }
        local // unreachable with at least one open day; kept total
    }

    /// The first instant at or after `at` that is inside the hours as kept in `zone`.
    pub fn next_opening(&self, zone: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&zone).naive_local();
        if self.contains(local) {
            return at;
        }
        local_to_utc(zone, self.opening(local)).max(at)
    }

    /// The instant the hours close after `at` (which is inside them), in `zone`.
    pub fn closing_after(&self, zone: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&zone).naive_local();
        local_to_utc(zone, local.date().and_time(self.end)).max(at)
    }

    /// Checks that the hours open before they close and name real days; `prefix` is the
    /// request field they came from (`businessHours` or `window`).
    pub fn validate(&self, prefix: &'static str) -> Result<(), ScheduleError> {
        let (end_field, days_field) = match prefix {
            "window" => ("window.end", "window.daysOfWeek"),
            _ => ("businessHours.end", "businessHours.daysOfWeek"),
        };
        if self.start >= self.end {
            let message = format!("must be later than {prefix}.start");
            return Err(invalid(end_field, message));
        }
        if self.days_of_week.is_empty() {
            return Err(invalid(days_field, "must name at least one day"));
        }
        if let Some(day) = self.days_of_week.iter().find(|d| **d > 6) {
            return Err(invalid(
                days_field,
                format!("has {day}; days are 0 (Sunday) to 6 (Saturday)"),
            ));
        }
        Ok(())
    }
}

/// The instant of a local time in `zone`. A time that occurs twice (clocks going back)
/// is the first of the two; a time that does not exist (clocks going forward) moves to
/// the first minute that does.
pub fn local_to_utc(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..=180 {
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc)
            }
            LocalResult::None => probe += chrono::Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        local(s).and_utc()
    }

    fn weekdays_9_to_18() -> BusinessHours {
        BusinessHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            days_of_week: vec![1, 2, 3, 4, 5],
        }
    }

    fn kolkata(at: &str) -> Schedule {
        Schedule {
            scheduled_for: local(at),
            timezone: chrono_tz::Asia::Kolkata,
            business_hours: Some(weekdays_9_to_18()),
            recurrence: None,
        }
    }

    #[test]
    fn before_opening_moves_to_the_opening() {
        // Monday 2026-11-23 08:00 IST → 09:00 IST = 03:30 UTC.
        assert_eq!(
            kolkata("2026-11-23 08:00").first_run(),
            utc("2026-11-23 03:30")
        );
    }

    #[test]
    fn after_closing_and_weekends_move_to_the_next_open_day() {
        // Friday 19:00 → Monday 09:00 IST.
        assert_eq!(
            kolkata("2026-11-27 19:00").first_run(),
            utc("2026-11-30 03:30")
        );
        // Saturday noon → Monday 09:00.
        assert_eq!(
            kolkata("2026-11-28 12:00").first_run(),
            utc("2026-11-30 03:30")
        );
        // Inside the hours: unchanged.
        assert_eq!(
            kolkata("2026-11-24 10:15").first_run(),
            utc("2026-11-24 04:45")
        );
    }

    #[test]
    fn a_daily_series_skips_closed_days_and_stops_at_its_maximum() {
        let mut s = kolkata("2026-11-27 08:00"); // a Friday
        s.recurrence = Some(Recurrence {
            frequency: Frequency::Daily,
            interval: 1,
            end_date: None,
            max_occurrences: Some(3),
        });
        let first = s.first_run();
        assert_eq!(first, utc("2026-11-27 03:30"));
        // Saturday, Sunday and Monday all land on Monday 09:00: one occurrence.
        let (n2, second) = s.next_after(1, first).unwrap();
        assert_eq!((n2, second), (2, utc("2026-11-30 03:30")));
        let (n3, third) = s.next_after(2, second).unwrap();
        assert_eq!((n3, third), (3, utc("2026-12-01 03:30")));
        assert_eq!(s.next_after(3, third), None);
    }

    #[test]
    fn occurrences_missed_during_an_outage_are_skipped() {
        let s = Schedule {
            scheduled_for: local("2026-11-01 10:00"),
            timezone: chrono_tz::UTC,
            business_hours: None,
            recurrence: Some(Recurrence {
                frequency: Frequency::Daily,
                interval: 1,
                end_date: None,
                max_occurrences: None,
            }),
        };
        // The 2nd occurrence, due on the 2nd, runs late on the 5th at noon (the process
        // was down): the next is the 6th's, not the 3rd's, 4th's and 5th's in a row.
        let (n, at) = s.next_after(2, utc("2026-11-05 12:00")).unwrap();
        assert_eq!((n, at), (6, utc("2026-11-06 10:00")));
    }

    #[test]
    fn monthly_keeps_the_day_and_clamps_short_months() {
        let s = Schedule {
            scheduled_for: local("2027-01-31 10:00"),
            timezone: chrono_tz::UTC,
            business_hours: None,
            recurrence: Some(Recurrence {
                frequency: Frequency::Monthly,
                interval: 1,
                end_date: Some(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()),
                max_occurrences: None,
            }),
        };
        let first = s.first_run();
        let (_, feb) = s.next_after(1, first).unwrap();
        assert_eq!(feb, utc("2027-02-28 10:00"));
        let (_, mar) = s.next_after(2, feb).unwrap();
        assert_eq!(mar, utc("2027-03-31 10:00"));
        assert_eq!(s.next_after(3, mar), None, "the end date stops the series");
    }

    #[test]
    fn local_hours_hold_across_dst_and_missing_times_move_forward() {
        let mut s = Schedule {
            scheduled_for: local("2026-03-07 09:30"),
            timezone: chrono_tz::America::New_York,
            business_hours: None,
            recurrence: Some(Recurrence {
                frequency: Frequency::Daily,
                interval: 1,
                end_date: None,
                max_occurrences: None,
            }),
        };
        // EST (UTC-5) on the 7th, EDT (UTC-4) from the 8th: 09:30 local both days.
        assert_eq!(s.first_run(), utc("2026-03-07 14:30"));
        let (_, next) = s.next_after(1, s.first_run()).unwrap();
        assert_eq!(next, utc("2026-03-08 13:30"));
        // 02:30 on the 8th does not exist in New York: 03:00 EDT.
        s.scheduled_for = local("2026-03-08 02:30");
        assert_eq!(s.first_run(), utc("2026-03-08 07:00"));
    }

    #[test]
    fn inconsistent_parts_are_refused_with_the_field_named() {
        let mut s = kolkata("2026-11-23 08:00");
        s.business_hours.as_mut().unwrap().end = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
        assert_eq!(s.validate().unwrap_err().field, "businessHours.end");
        let mut s = kolkata("2026-11-23 08:00");
        s.business_hours.as_mut().unwrap().days_of_week = vec![1, 7];
        assert_eq!(s.validate().unwrap_err().field, "businessHours.daysOfWeek");
        let mut s = kolkata("2026-11-23 08:00");
        s.recurrence = Some(Recurrence {
            frequency: Frequency::Weekly,
            interval: 0,
            end_date: None,
            max_occurrences: None,
        });
        assert_eq!(s.validate().unwrap_err().field, "recurrence.interval");
    }
}
