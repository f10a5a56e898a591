//! The `updatedAt` windows of the incremental streams: the upper bound from
//! the server's clock (trusted only within `max_clock_skew_secs` of the
//! local one), the lower bound `lookback_secs` before the stored cursor, and
//! both written the way Centra reads dates: as naive wall-clock time in the
//! instance's time zone.
//!
//! # Dates in either reading
//!
//! Centra documents `DateRange` bounds as naive instance-local times
//! (`2021-10-23 00:00:00`); whether it honours an offset such as `+00:00`
//! is not verified. A UTC time with `+00:00`, read with its offset ignored,
//! shifts a window by the instance's UTC offset, and when that offset drops
//! at the autumn DST change two consecutive windows leave a gap of up to an
//! hour, which the lookback does not cover. So we send naive local time in
//! the instance's zone (`timezone`): with or without offset handling it
//! names the same wall-clock time.
//!
//! Naive local time is ambiguous in one hour a year, the autumn fold, when
//! each wall-clock time names two instants an hour apart, and Centra may
//! pick either. The window's instants are therefore chosen so that either
//! pick is safe:
//!
//! - `from` is stepped back by the fold while the *later* instant its local
//!   time names is after the intended start: the window then starts at or
//!   before it in every reading (it reads up to an hour more, once a year).
//! - `to` is the *earliest* instant its local time names, and that is the
//!   instant the window counts as read (the stored cursor): a reading that
//!   picks the later instant reads more than is counted, never less.
//!
//! The spring gap needs nothing: no real instant's local time falls into
//! it, so no bound we send names a time that does not exist. The lookback
//! stays a span of real time (`cursor - lookback`, in instants), and no
//! longer has to cover a DST shift.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::orders::Window;

/// The form of a date Centra reads as instance-local: `2026-10-25 02:30:00`.
const LOCAL_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// How a stream's `updatedAt` windows are bounded and written.
#[derive(Debug, Clone, Copy)]
pub struct WindowPolicy {
    /// How far before the stored cursor a window starts.
    pub lookback: Duration,
    /// The Centra instance's time zone.
    pub timezone: Tz,
    /// The largest distance between the server's `Date` and the local
    /// clock at which the server's clock still bounds a window.
    pub max_clock_skew: Duration,
}

impl WindowPolicy {
    /// `at` as Centra reads a `DateTimeTz` input: naive instance-local time.
    pub fn date_variable(&self, at: DateTime<Utc>) -> String {
        self.local(at).format(LOCAL_FORMAT).to_string()
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.timezone).naive_local()
    }

    /// The earliest and latest instants `local` names (equal outside the
    /// autumn fold; `None` in the spring gap).
    fn resolutions(&self, local: NaiveDateTime) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let candidates = self.timezone.from_local_datetime(&local);
        let earliest = candidates.earliest()?.with_timezone(&Utc);
        let latest = candidates.latest()?.with_timezone(&Utc);
        Some((earliest, latest))
    }

    /// The window's lower bound after `cursor`: `cursor - lookback`, stepped
    /// back by the fold while the later instant its local time names is
    /// after it. `None` (from the beginning) without a cursor, or when the
    /// lookback reaches before the calendar.
    pub fn from(&self, cursor: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let lookback = TimeDelta::from_std(self.lookback).ok()?;
        let intended = cursor?.checked_sub_signed(lookback)?;
        let mut at = intended;
        // One step leaves the fold; the bound guards against a zone
        // database with stacked transitions.
        for _ in 0..4 {
            match self.resolutions(self.local(at)) {
                Some((earliest, latest)) if latest > intended => {
                    at = at.checked_sub_signed(latest - earliest)?;
                }
                _ => break,
            }
        }
        Some(at)
    }

    /// The instant a window ending at `end` counts as read: the earliest
    /// instant `end`'s local time names (`end` itself outside the fold).
    pub fn to(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        self.resolutions(self.local(end)).map_or(end, |(earliest, _)| earliest.min(end))
    }

    /// The server's clock if it can bound a window: present, and within
    /// `max_clock_skew` of `local`. Else why not.
    pub fn server_clock(
        &self,
        server: Option<SystemTime>,
        local: SystemTime,
    ) -> Result<DateTime<Utc>, String> {
        let Some(server) = server else {
            return Err("centra sent no Date header".into());
        };
        let skew = match server.duration_since(local) {
            Ok(ahead) => ahead,
            Err(behind) => behind.duration(),
        };
        if skew > self.max_clock_skew {
            let side = if server > local { "ahead of" } else { "behind" };
            return Err(format!(
                "centra's Date header ({}) is {} s {side} the local clock, more than max_clock_skew_secs = {}",
                httpdate::fmt_http_date(server),
                skew.as_secs(),
                self.max_clock_skew.as_secs()
            ));
        }
        Ok(DateTime::<Utc>::from(server))
    }

    /// The next window after `cursor`, by the server's clock `server` (the
    /// probe's `Date` header) and the local clock `local`.
    ///
    /// Bounded: `[from(cursor), to(server - 1 s)]`, never ending before
    /// `cursor` (in the fold the earliest reading of the end can precede a
    /// cursor set just before; the window then ends at the cursor, which
    /// stays). Open-ended (`to: None`), with the reason: the server sent no
    /// `Date`, or one beyond `max_clock_skew` (a clock that far off would
    /// set the cursor into the future and skip every update until then),
    /// or one behind the stored cursor (the window would be inverted or
    /// the cursor move back).
    pub fn next_window(
        &self,
        cursor: Option<DateTime<Utc>>,
        server: Option<SystemTime>,
        local: SystemTime,
    ) -> (Window, Option<String>) {
        let from = self.from(cursor);
        let to = self.server_clock(server, local).and_then(|now| {
            // updatedAt has whole seconds: everything changed from the
            // server's `now` on carries updatedAt >= now, beyond `to`.
            let end = now - TimeDelta::seconds(1);
            match cursor {
                Some(cursor) if end < cursor => {
                    Err(format!("centra's clock ({now}) is behind the stored cursor ({cursor})"))
                }
                _ => Ok(cursor.map_or(self.to(end), |cursor| self.to(end).max(cursor))),
            }
        });
        match to {
            Ok(to) => (Window { from, to: Some(to) }, None),
            Err(reason) => (Window { from, to: None }, Some(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::LocalResult;
    use chrono_tz::Europe::Stockholm;

    fn policy(lookback_secs: u64) -> WindowPolicy {
        WindowPolicy {
            lookback: Duration::from_secs(lookback_secs),
            timezone: Stockholm,
            max_clock_skew: Duration::from_secs(300),
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_go_out_as_naive_stockholm_time() {
        let p = policy(300);
        assert_eq!(p.date_variable(utc("2026-11-28T07:00:00Z")), "2026-11-28 08:00:00");
        assert_eq!(p.date_variable(utc("2026-07-01T07:00:00Z")), "2026-07-01 09:00:00");
        // The autumn fold: two instants, one wall-clock time.
        assert_eq!(p.date_variable(utc("2026-10-25T00:30:00Z")), "2026-10-25 02:30:00");
        assert_eq!(p.date_variable(utc("2026-10-25T01:30:00Z")), "2026-10-25 02:30:00");
    }

    #[test]
    fn in_the_fold_from_steps_back_and_to_counts_the_earlier_instant() {
        let p = policy(0);
        // 02:30 CEST (00:30Z): its local time also names 02:30 CET (01:30Z).
        let first = utc("2026-10-25T00:30:00Z");
        assert_eq!(p.from(Some(first)), Some(utc("2026-10-24T23:30:00Z")));
        assert_eq!(p.to(first), first);
        // 02:30 CET (01:30Z): the earlier reading is 00:30Z.
        let second = utc("2026-10-25T01:30:00Z");
        assert_eq!(p.from(Some(second)), Some(second));
        assert_eq!(p.to(second), first);
        // Outside the fold, nothing moves.
        let plain = utc("2026-10-25T03:00:00Z");
        assert_eq!((p.from(Some(plain)), p.to(plain)), (Some(plain), plain));
    }

    /// Regression (fidelity review S4): a server clock far ahead set the
    /// window's end, and so the cursor, into the future.
    #[test]
    fn a_server_clock_far_off_or_absent_leaves_the_window_open_ended() {
        let p = policy(300);
        let local = SystemTime::from(utc("2026-12-04T12:00:00Z"));
        let cursor = Some(utc("2026-12-04T11:00:00Z"));
        let from = Some(utc("2026-12-04T10:55:00Z"));
        let ahead = local + Duration::from_secs(86_400 * 365);
        let (window, reason) = p.next_window(cursor, Some(ahead), local);
        assert_eq!(window, Window { from, to: None });
        assert_eq!(
            reason.unwrap(),
            "centra's Date header (Sat, 04 Dec 2027 12:00:00 GMT) is 31536000 s ahead of the local clock, more than max_clock_skew_secs = 300"
        );
        let behind = local - Duration::from_secs(301);
        let (window, reason) = p.next_window(cursor, Some(behind), local);
        assert_eq!(window.to, None);
        assert!(reason.unwrap().contains("301 s behind the local clock"));
        let (window, reason) = p.next_window(cursor, None, local);
        assert_eq!(
            (window, reason.as_deref()),
            (Window { from, to: None }, Some("centra sent no Date header"))
        );
        // Within the bound, the server's clock sets the end.
        let (window, reason) = p.next_window(cursor, Some(local + Duration::from_secs(299)), local);
        assert_eq!(window.to, Some(utc("2026-12-04T12:04:58Z")));
        assert_eq!(reason, None);
    }

    /// A server clock behind the stored cursor (the clock was set back, or
    /// the cursor came from updatedAt ahead of it) neither inverts the
    /// window nor moves the cursor back: the window is open-ended.
    #[test]
    fn a_server_clock_behind_the_cursor_neither_inverts_the_window_nor_moves_the_cursor_back() {
        let p = policy(300);
        let cursor = utc("2026-12-04T12:00:00Z");
        for behind in [1, 299, 3_600] {
            let now = SystemTime::from(cursor) - Duration::from_secs(behind);
            let (window, reason) = p.next_window(Some(cursor), Some(now), now);
            assert_eq!(window, Window { from: Some(utc("2026-12-04T11:55:00Z")), to: None });
            assert!(reason.unwrap().contains("behind the stored cursor"), "{behind}");
        }
        // The server's `now - 1 s` equal to the cursor is a normal window.
        let now = SystemTime::from(cursor) + Duration::from_secs(1);
        assert_eq!(p.next_window(Some(cursor), Some(now), now).0.to, Some(cursor));
    }

    /// How Centra might read a date we send: the offset honoured or
    /// ignored; a time in the fold as its earlier or later instant, perhaps
    /// differently for `from` and `to`; a time in the spring gap moved past
    /// it, as PHP does.
    #[derive(Debug, Clone, Copy)]
    struct Reading {
        honour_offset: bool,
        later_from: bool,
        later_to: bool,
    }

    impl Reading {
        fn from(self, text: &str) -> DateTime<Utc> {
            self.read(text, self.later_from)
        }

        fn to(self, text: &str) -> DateTime<Utc> {
            self.read(text, self.later_to)
        }

        fn read(self, text: &str, later_in_fold: bool) -> DateTime<Utc> {
            let with_offset = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%:z");
            if let (true, Ok(at)) = (self.honour_offset, with_offset) {
                return at.with_timezone(&Utc);
            }
            let naive = text.get(..19).unwrap().replace('T', " ");
            let naive = NaiveDateTime::parse_from_str(&naive, LOCAL_FORMAT).unwrap();
            match Stockholm.from_local_datetime(&naive) {
                LocalResult::Single(at) => at.with_timezone(&Utc),
                LocalResult::Ambiguous(earlier, later) => {
                    if later_in_fold { later } else { earlier }.with_timezone(&Utc)
                }
                LocalResult::None => Stockholm
                    .from_local_datetime(&(naive + TimeDelta::hours(1)))
                    .earliest()
                    .unwrap()
                    .with_timezone(&Utc),
            }
        }
    }

    /// Runs consecutive windows every `step` from `start` to `end` (the
    /// server's clock at each run), each starting from the last one's
    /// cursor, and returns the first instant not covered by the union of
    /// the windows as `reading` reads them, between the first window's
    /// start and the last cursor, or a window read as starting after its
    /// cursor minus the lookback (`None`: neither). `format` writes a bound.
    fn first_gap(
        p: &WindowPolicy,
        format: &dyn Fn(DateTime<Utc>) -> String,
        reading: Reading,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step: TimeDelta,
    ) -> Option<DateTime<Utc>> {
        let mut cursor = Some(start);
        let mut covered = Vec::new();
        let mut now = start + step;
        while now <= end {
            let at = SystemTime::from(now);
            let (window, reason) = p.next_window(cursor, Some(at), at);
            assert_eq!(reason, None, "at {now}");
            let (from, to) = (window.from.unwrap(), window.to.unwrap());
            assert!(from <= to, "inverted window {window:?}");
            let read = (reading.from(&format(from)), reading.to(&format(to)));
            // The lookback keeps its meaning: every reading starts at or
            // before `cursor - lookback`.
            let intended = cursor.unwrap() - TimeDelta::from_std(p.lookback).unwrap();
            if read.0 > intended {
                return Some(intended);
            }
            covered.push(read);
            assert!(to >= cursor.unwrap(), "the cursor moved back at {now}");
            cursor = Some(to);
            now += step;
        }
        covered.sort();
        let mut reach = covered.first()?.0;
        for (lo, hi) in covered {
            if lo > reach + TimeDelta::seconds(1) {
                return Some(reach + TimeDelta::seconds(1));
            }
            reach = reach.max(hi);
        }
        (reach < cursor.unwrap()).then_some(reach + TimeDelta::seconds(1))
    }

    /// Consecutive windows across both 2026 DST changes in Stockholm (29
    /// March, 25 October), run every few seconds to every few hours, cover
    /// every instant in all eight readings, each starting at or before its
    /// cursor minus the lookback; the old form (UTC with `+00:00`) leaves
    /// the documented gap when the offset is ignored.
    #[test]
    fn consecutive_windows_cover_every_instant_across_dst_in_every_reading() {
        let days = [
            (utc("2026-03-28T22:00:00Z"), utc("2026-03-29T04:00:00Z")),
            (utc("2026-10-24T22:00:00Z"), utc("2026-10-25T04:00:00Z")),
        ];
        let steps = [7, 59, 61, 600, 1_799, 3_600, 3_601, 5_400, 7_200].map(TimeDelta::seconds);
        let readings = (0..8).map(|bits| Reading {
            honour_offset: bits & 1 != 0,
            later_from: bits & 2 != 0,
            later_to: bits & 4 != 0,
        });
        for lookback in [0, 300, 5_400] {
            let p = policy(lookback);
            let naive_local = |at| p.date_variable(at);
            let utc_offset = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
            for reading in readings.clone() {
                for (start, end) in days {
                    for step in steps {
                        for offset in [0, 17, 1_800, 2_999] {
                            let start = start + TimeDelta::seconds(offset);
                            assert_eq!(
                                first_gap(&p, &naive_local, reading, start, end, step),
                                None,
                                "lookback {lookback}, {reading:?}, from {start} every {step}"
                            );
                        }
                    }
                }
            }
            // The form sent before: with the offset ignored, the autumn
            // windows miss most of an hour.
            let ignored = Reading { honour_offset: false, later_from: false, later_to: false };
            let (start, end) = days[1];
            let gap = first_gap(&p, &utc_offset, ignored, start, end, TimeDelta::seconds(600));
            assert!(gap.is_some(), "lookback {lookback}: the old form should leave a gap");
        }
    }
}
