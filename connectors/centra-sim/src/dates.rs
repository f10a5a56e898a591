//! Dates in the instance zone (Europe/Stockholm): PHP-style `format` output
//! and the input forms Centra accepts in `DateRange`.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDateTime, Offset as _, TimeZone, Timelike, Utc,
};
use chrono_tz::Europe::Stockholm;

/// Default format of order and event dates, e.g. `2022-11-09T13:15:11+01:00`.
pub const FORMAT_P: &str = "Y-m-d\\TH:i:sP";

/// Formats `t` in Europe/Stockholm with a PHP `date()` format string.
///
/// Supported: `d D j l N w z W F m M n t L Y y a A g G h H i s u v e T P O p Z U c r`
/// and `\` escapes; other characters are copied.
pub fn php_format(t: DateTime<Utc>, format: &str) -> String {
    let l = t.with_timezone(&Stockholm);
    let offset = l.offset().fix();
    let secs = offset.local_minus_utc();
    let mut out = String::with_capacity(format.len() * 2);
    let mut chars = format.chars();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const LDAYS: [&str; 7] =
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    use std::fmt::Write as _;
    while let Some(c) = chars.next() {
        // Writing to a String cannot fail.
        let _ = match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
                Ok(())
            }
            'd' => write!(out, "{:02}", l.day()),
            'D' => write!(out, "{}", DAYS[l.weekday().num_days_from_monday() as usize]),
            'j' => write!(out, "{}", l.day()),
            'l' => write!(out, "{}", LDAYS[l.weekday().num_days_from_monday() as usize]),
            'N' => write!(out, "{}", l.weekday().number_from_monday()),
            'w' => write!(out, "{}", l.weekday().num_days_from_sunday()),
            'z' => write!(out, "{}", l.ordinal0()),
            'W' => write!(out, "{:02}", l.iso_week().week()),
            'F' => write!(out, "{}", MONTHS[l.month0() as usize]),
            'm' => write!(out, "{:02}", l.month()),
            'M' => write!(out, "{}", &MONTHS[l.month0() as usize][..3]),
            'n' => write!(out, "{}", l.month()),
            't' => write!(out, "{}", days_in_month(l.year(), l.month())),
            'L' => write!(out, "{}", u8::from(is_leap(l.year()))),
            'Y' => write!(out, "{}", l.year()),
            'y' => write!(out, "{:02}", l.year().rem_euclid(100)),
            'a' => write!(out, "{}", if l.hour() < 12 { "am" } else { "pm" }),
            'A' => write!(out, "{}", if l.hour() < 12 { "AM" } else { "PM" }),
            'g' => write!(out, "{}", (l.hour() + 11) % 12 + 1),
            'G' => write!(out, "{}", l.hour()),
            'h' => write!(out, "{:02}", (l.hour() + 11) % 12 + 1),
            'H' => write!(out, "{:02}", l.hour()),
            'i' => write!(out, "{:02}", l.minute()),
            's' => write!(out, "{:02}", l.second()),
            'u' => write!(out, "{:06}", l.nanosecond() / 1000),
            'v' => write!(out, "{:03}", l.nanosecond() / 1_000_000),
            'e' => write!(out, "Europe/Stockholm"),
            'T' => write!(out, "{}", if secs == 7200 { "CEST" } else { "CET" }),
            'P' => write!(out, "{}", offset_str(secs, true)),
            'p' => {
                if secs == 0 {
                    write!(out, "Z")
                } else {
                    write!(out, "{}", offset_str(secs, true))
                }
            }
            'O' => write!(out, "{}", offset_str(secs, false)),
            'Z' => write!(out, "{secs}"),
            'U' => write!(out, "{}", t.timestamp()),
            'c' => write!(out, "{}", php_format(t, "Y-m-d\\TH:i:sP")),
            'r' => write!(out, "{}", php_format(t, "D, d M Y H:i:s O")),
            'I' => write!(out, "{}", u8::from(secs == 7200)),
            other => {
                out.push(other);
                Ok(())
            }
        };
    }
    out
}

fn offset_str(secs: i32, colon: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.abs();
    if colon {
        format!("{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}", a / 3600, (a % 3600) / 60)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// How the bounds of a `DateRange` filter are read. Centra documents naive
/// instance-local times (`"2021-10-23 00:00:00"`); whether it honours an
/// offset on a bound is not verified, so the simulator can do either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DateFilterReading {
    /// An offset (`+00:00`, `+0100`, `Z`) names the instant exactly.
    #[default]
    HonourOffset,
    /// An offset is dropped and the digits are read as Europe/Stockholm
    /// wall-clock time, as a PHP backend that parses into the instance zone
    /// would (inferred).
    IgnoreOffset,
}

impl DateFilterReading {
    /// The CLI spelling: `honour-offset`, `ignore-offset`.
    pub fn as_str(self) -> &'static str {
        match self {
            DateFilterReading::HonourOffset => "honour-offset",
            DateFilterReading::IgnoreOffset => "ignore-offset",
        }
    }
}

impl std::fmt::Display for DateFilterReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DateFilterReading {
    type Err = crate::ratelimit::ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [DateFilterReading::HonourOffset, DateFilterReading::IgnoreOffset]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                crate::ratelimit::ParseNameError::new(
                    "date filter reading",
                    s,
                    "honour-offset, ignore-offset",
                )
            })
    }
}

/// Parses a `DateTimeTz` input: RFC 3339 / ISO 8601 with an offset
/// (`+01:00`, `+0100`, `Z`), or an instance-local `Y-m-d H:i:s`, `Y-m-dTH:i:s`
/// or `Y-m-d` (Europe/Stockholm; in the autumn DST overlap the earlier instant).
pub fn parse_input(s: &str) -> Option<DateTime<Utc>> {
    parse_input_with(s, DateFilterReading::HonourOffset)
}

/// Parses a `DateTimeTz` filter bound the way `reading` says. Naive strings
/// are Stockholm wall-clock time either way; with
/// [`DateFilterReading::IgnoreOffset`] an offset is dropped and its digits
/// are read as Stockholm time too. An ambiguous autumn time is the earlier
/// instant and a time in the spring gap the first instant after the gap.
pub fn parse_input_with(s: &str, reading: DateFilterReading) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(match reading {
            DateFilterReading::HonourOffset => t.with_timezone(&Utc),
            DateFilterReading::IgnoreOffset => stockholm_local(t.naive_local())?,
        });
    }
    for f in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(match reading {
                DateFilterReading::HonourOffset => t.with_timezone(&Utc),
                DateFilterReading::IgnoreOffset => stockholm_local(t.naive_local())?,
            });
        }
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M"))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    stockholm_local(naive)
}

/// A Stockholm wall-clock time as an instant: in the autumn overlap the
/// earlier instant; in the spring gap the first instant after the gap.
fn stockholm_local(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    match Stockholm.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        // A local time in the spring DST gap (02:00-02:59:59): the first
        // instant after the gap, 03:00 CEST.
        LocalResult::None => {
            let hour_start = naive.date().and_hms_opt(naive.time().hour(), 0, 0)?;
            Stockholm
                .from_local_datetime(&(hour_start + chrono::Duration::hours(1)))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid test date").with_timezone(&Utc)
    }

    #[test]
    fn formats_winter_and_summer_offsets() {
        assert_eq!(php_format(utc("2022-11-09T12:15:11Z"), FORMAT_P), "2022-11-09T13:15:11+01:00");
        assert_eq!(
            php_format(utc("2022-07-09T12:15:11Z"), "Y-m-d\\TH:i:sO T"),
            "2022-07-09T14:15:11+0200 CEST"
        );
        assert_eq!(
            php_format(utc("2022-01-03T08:05:01Z"), "D j M n G U"),
            "Mon 3 Jan 1 9 1641197101"
        );
    }

    #[test]
    fn dst_switch_in_march() {
        // 2025-03-30 01:59:59 UTC is 03:59:59 CEST; one second earlier it was 01:59:59 CET... checked both sides.
        assert_eq!(php_format(utc("2025-03-30T00:59:59Z"), "H:i:s P"), "01:59:59 +01:00");
        assert_eq!(php_format(utc("2025-03-30T01:00:00Z"), "H:i:s P"), "03:00:00 +02:00");
    }

    #[test]
    fn parses_local_and_offset_inputs() {
        assert_eq!(parse_input("2021-10-23 00:00:00"), Some(utc("2021-10-22T22:00:00Z")));
        assert_eq!(parse_input("2021-12-23 00:00:00"), Some(utc("2021-12-22T23:00:00Z")));
        assert_eq!(parse_input("2021-12-31T13:44:23+0100"), Some(utc("2021-12-31T12:44:23Z")));
        assert_eq!(parse_input("2021-12-31T13:44:23+01:00"), Some(utc("2021-12-31T12:44:23Z")));
        assert_eq!(parse_input("yesterday-ish"), None);
    }

    fn check(input: &str, reading: DateFilterReading, expected: &str) {
        assert_eq!(parse_input_with(input, reading), Some(utc(expected)), "{input} {reading}");
    }

    #[test]
    fn honour_offset_reads_offsets_exactly_and_naive_as_stockholm() {
        let h = DateFilterReading::HonourOffset;
        check("2026-03-29T01:30:00+00:00", h, "2026-03-29T01:30:00Z");
        check("2026-10-25T00:30:00Z", h, "2026-10-25T00:30:00Z");
        check("2026-10-25 01:30:00", h, "2026-10-24T23:30:00Z");
        // Naive times around the DST changes are Stockholm time in both modes.
        check("2026-03-29 02:30:00", h, "2026-03-29T01:00:00Z");
        check("2026-10-25 02:30:00", h, "2026-10-25T00:30:00Z");
    }

    #[test]
    fn ignore_offset_reads_the_digits_as_stockholm_time_around_both_2026_dst_changes() {
        let i = DateFilterReading::IgnoreOffset;
        // Winter and summer: the offset is dropped whatever it says.
        check("2026-01-10T12:00:00+00:00", i, "2026-01-10T11:00:00Z");
        check("2026-01-10T12:00:00+0500", i, "2026-01-10T11:00:00Z");
        check("2026-07-10T12:00:00Z", i, "2026-07-10T10:00:00Z");
        // 29 March 2026: 01:59:59 CET is the last second before the gap.
        check("2026-03-29T01:59:59+00:00", i, "2026-03-29T00:59:59Z");
        // 02:00-02:59:59 does not exist: the first instant after the gap (03:00 CEST).
        check("2026-03-29T02:00:00+00:00", i, "2026-03-29T01:00:00Z");
        check("2026-03-29T02:30:00+00:00", i, "2026-03-29T01:00:00Z");
        check("2026-03-29T03:00:00+00:00", i, "2026-03-29T01:00:00Z");
        // 25 October 2026: 02:00-02:59:59 happens twice; the earlier (CEST) instant.
        check("2026-10-25T02:30:00+00:00", i, "2026-10-25T00:30:00Z");
        check("2026-10-25 02:30:00", i, "2026-10-25T00:30:00Z");
        check("2026-10-25T03:00:00+00:00", i, "2026-10-25T02:00:00Z");
        check("2026-10-25T01:59:59+00:00", i, "2026-10-24T23:59:59Z");
    }

    #[test]
    fn readings_parse_and_print() {
        for r in [DateFilterReading::HonourOffset, DateFilterReading::IgnoreOffset] {
            assert_eq!(r.as_str().parse::<DateFilterReading>(), Ok(r));
        }
        assert_eq!(DateFilterReading::default(), DateFilterReading::HonourOffset);
        assert_eq!(
            "utc".parse::<DateFilterReading>().map_err(|e| e.to_string()),
            Err(r#"unknown date filter reading "utc" (expected one of honour-offset, ignore-offset)"#.to_string())
        );
    }
}
