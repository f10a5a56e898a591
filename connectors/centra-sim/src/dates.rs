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

/// Parses a `DateTimeTz` input: RFC 3339 / ISO 8601 with an offset
/// (`+01:00`, `+0100`, `Z`), or an instance-local `Y-m-d H:i:s`, `Y-m-dTH:i:s`
/// or `Y-m-d` (Europe/Stockholm; in the autumn DST overlap the earlier instant).
pub fn parse_input(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
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
    match Stockholm.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        // A local time in the spring DST gap: move past the gap like PHP does.
        LocalResult::None => Stockholm
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc)),
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
}
