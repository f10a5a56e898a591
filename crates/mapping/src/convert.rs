//! Value conversions that must be exact: money from minor units and an ISO
//! 4217 currency, decimals from JSON number text, and every date form the
//! sources send to a UTC instant.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// ISO 4217 currencies with two decimals (the common case), sorted.
const TWO_DECIMALS: &[[u8; 3]] = &[
    *b"AED", *b"AFN", *b"ALL", *b"AMD", *b"ANG", *b"AOA", *b"ARS", *b"AUD", *b"AWG", *b"AZN",
    *b"BAM", *b"BBD", *b"BDT", *b"BGN", *b"BMD", *b"BND", *b"BOB", *b"BOV", *b"BRL", *b"BSD",
    *b"BTN", *b"BWP", *b"BYN", *b"BZD", *b"CAD", *b"CDF", *b"CHE", *b"CHF", *b"CHW", *b"CNY",
    *b"COP", *b"COU", *b"CRC", *b"CUC", *b"CUP", *b"CVE", *b"CZK", *b"DKK", *b"DOP", *b"DZD",
    *b"EGP", *b"ERN", *b"ETB", *b"EUR", *b"FJD", *b"FKP", *b"GBP", *b"GEL", *b"GHS", *b"GIP",
    *b"GMD", *b"GTQ", *b"GYD", *b"HKD", *b"HNL", *b"HRK", *b"HTG", *b"HUF", *b"IDR", *b"ILS",
    *b"INR", *b"IRR", *b"JMD", *b"KES", *b"KGS", *b"KHR", *b"KPW", *b"KYD", *b"KZT", *b"LAK",
    *b"LBP", *b"LKR", *b"LRD", *b"LSL", *b"MAD", *b"MDL", *b"MGA", *b"MKD", *b"MMK", *b"MNT",
    *b"MOP", *b"MRU", *b"MUR", *b"MVR", *b"MWK", *b"MXN", *b"MXV", *b"MYR", *b"MZN", *b"NAD",
    *b"NGN", *b"NIO", *b"NOK", *b"NPR", *b"NZD", *b"PAB", *b"PEN", *b"PGK", *b"PHP", *b"PKR",
    *b"PLN", *b"QAR", *b"RON", *b"RSD", *b"RUB", *b"SAR", *b"SBD", *b"SCR", *b"SDG", *b"SEK",
    *b"SGD", *b"SHP", *b"SLE", *b"SLL", *b"SOS", *b"SRD", *b"SSP", *b"STN", *b"SVC", *b"SYP",
    *b"SZL", *b"THB", *b"TJS", *b"TMT", *b"TOP", *b"TRY", *b"TTD", *b"TWD", *b"TZS", *b"UAH",
    *b"USD", *b"USN", *b"UYU", *b"UZS", *b"VED", *b"VES", *b"WST", *b"XCD", *b"XCG", *b"YER",
    *b"ZAR", *b"ZMW", *b"ZWG", *b"ZWL",
];

/// The number of decimals of a currency's minor unit, or `None` for a code
/// that is not an ISO 4217 currency.
pub fn currency_exponent(code: &str) -> Option<u32> {
    // Codes compare as three-byte arrays: this runs for every money value.
    let &[a, b, c] = code.as_bytes() else { return None };
    match &[a, b, c] {
        b"SEK" | b"EUR" | b"USD" | b"GBP" | b"DKK" | b"NOK" | b"CHF" => Some(2),
        b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG" | b"RWF"
        | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => Some(0),
        b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => Some(3),
        b"CLF" | b"UYW" => Some(4),
        key => TWO_DECIMALS.binary_search(key).ok().map(|_| 2),
    }
}

/// Money from minor units: `minor_units` / 10^exponent, exactly.
pub fn money(minor_units: i64, exponent: u32) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(minor_units), exponent)
}

/// Money from an amount written as decimal text (`"12.3"`), exactly; shown
/// with at least the currency's `exponent` decimals (`12.30`), never
/// rounded to it: an amount finer than the minor unit keeps its digits.
pub fn money_decimal(text: &str, exponent: u32) -> Option<Decimal> {
    let d = decimal(text)?;
    if d.scale() >= exponent {
        return Some(d);
    }
    let mut scaled = d;
    scaled.rescale(exponent);
    // Rescaling up only appends zeros; keep the amount as written if the
    // mantissa had no room for them.
    Some(if scaled == d { scaled } else { d })
}

/// A decimal from JSON number text (or a numeric string), exactly as written.
pub fn decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    Decimal::from_str(t).ok().or_else(|| Decimal::from_scientific(t).ok())
}

/// An integer from JSON number text or a numeric string; `3.0` is accepted,
/// `3.5` is not.
pub fn integer(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(i);
    }
    let d = decimal(t)?;
    if d.fract().is_zero() { i64::try_from(d.trunc()).ok() } else { None }
}

pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" => Some(true),
        "false" | "0" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

/// Parses every date-time form sources send into a UTC instant:
/// `2022-11-09T13:15:11+01:00`, `2021-12-31T13:44:23+0100`, `…Z`, fractions of
/// a second, a space instead of the `T`, and `2021-10-23 00:00:00` or
/// `2021-10-23` without an offset, which is local time of the source's zone.
pub fn timestamp(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.len() < 10 || !t.is_char_boundary(10) {
        return None;
    }
    let normalized;
    let t = if t.len() > 10 && t.as_bytes()[10] == b' ' {
        normalized = format!("{}T{}", &t[..10], &t[11..]);
        normalized.as_str()
    } else {
        t
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    if let Ok(dt) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(dt.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M").ok())
        .or_else(|| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    local_to_utc(naive, zone)
}

/// Local wall time to UTC. An ambiguous time (the hour repeated when clocks
/// go back) takes the earlier instant; a time that does not exist (skipped
/// when clocks go forward) is read as PHP does, with the offset in force
/// before the change.
fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    if let Some(dt) = zone.from_local_datetime(&naive).earliest() {
        return Some(dt.with_timezone(&Utc));
    }
    let before = naive.checked_sub_signed(chrono::Duration::hours(3))?;
    let offset = *zone.from_local_datetime(&before).earliest()?.offset();
    let shift =
        chrono::Duration::seconds(i64::from(chrono::Offset::fix(&offset).local_minus_utc()));
    Some(Utc.from_utc_datetime(&naive.checked_sub_signed(shift)?))
}

/// The calendar date of a date or date-time text as written (its local date).
pub fn date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let head = t.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(money(12345, currency_exponent("SEK").unwrap()).to_string(), "123.45");
        assert_eq!(money(12345, currency_exponent("JPY").unwrap()).to_string(), "12345");
        assert_eq!(money(12345, currency_exponent("KWD").unwrap()).to_string(), "12.345");
        assert_eq!(money(-5, currency_exponent("EUR").unwrap()).to_string(), "-0.05");
        assert_eq!(money(1, currency_exponent("ISK").unwrap()).to_string(), "1");
        assert_eq!(currency_exponent("XXQ"), None);
        assert_eq!(money_decimal("12.3", 2).unwrap().to_string(), "12.30");
        assert_eq!(money_decimal("12.345", 2).unwrap().to_string(), "12.345");
        assert_eq!(money_decimal("7", 0).unwrap().to_string(), "7");
        assert_eq!(money_decimal("-0.5", 3).unwrap().to_string(), "-0.500");
        assert_eq!(money_decimal("1e2", 2).unwrap().to_string(), "100.00");
        assert_eq!(money_decimal("abc", 2), None);
        assert_eq!(currency_exponent("BHD"), Some(3));
        assert_eq!(currency_exponent("sek"), None);
        assert!(TWO_DECIMALS.windows(2).all(|w| w[0] < w[1]), "sorted for binary search");
        assert_eq!(currency_exponent("ZAR"), Some(2));
        assert_eq!(currency_exponent("AED"), Some(2));
    }

    #[test]
    fn every_date_form_is_one_instant() {
        let z = chrono_tz::Europe::Stockholm;
        let want = utc("2022-11-09T12:15:11Z");
        for form in [
            "2022-11-09T13:15:11+01:00",
            "2022-11-09T13:15:11+0100",
            "2022-11-09 13:15:11",
            "2022-11-09T13:15:11",
            "2022-11-09 13:15:11+01:00",
            "2022-11-09T12:15:11Z",
            " 2022-11-09T13:15:11+01:00 ",
        ] {
            assert_eq!(timestamp(form, z), Some(want), "{form}");
        }
        assert_eq!(timestamp("2022-07-01 12:00:00", z), Some(utc("2022-07-01T10:00:00Z")));
        assert_eq!(
            timestamp("2022-11-09T13:15:11.123456+01:00", z),
            Some(utc("2022-11-09T12:15:11.123456Z"))
        );
        assert_eq!(timestamp("2021-10-23", z), Some(utc("2021-10-22T22:00:00Z")));
        assert_eq!(
            timestamp("2021-10-23 00:00:00", chrono_tz::UTC),
            Some(utc("2021-10-23T00:00:00Z"))
        );
        for bad in ["", "yesterday", "2022-13-01 00:00:00", "2022-11-09X13", "ééééééééééé"]
        {
            assert_eq!(timestamp(bad, z), None, "{bad}");
        }
    }

    #[test]
    fn daylight_saving_edges_do_not_fail() {
        let z = chrono_tz::Europe::Stockholm;
        // clocks go back at 03:00 CEST on 2022-10-30: 02:30 happens twice, take the first
        assert_eq!(timestamp("2022-10-30 02:30:00", z), Some(utc("2022-10-30T00:30:00Z")));
        // clocks go forward at 02:00 CET on 2022-03-27: 02:30 does not exist
        assert_eq!(timestamp("2022-03-27 02:30:00", z), Some(utc("2022-03-27T01:30:00Z")));
    }

    #[test]
    fn numbers_are_exact() {
        assert_eq!(decimal("0.0912").unwrap().to_string(), "0.0912");
        assert_eq!(decimal("1.10").unwrap().to_string(), "1.10");
        assert_eq!(decimal("1e-3").unwrap().to_string(), "0.001");
        assert_eq!(decimal("x"), None);
        assert_eq!(integer("3.0"), Some(3));
        assert_eq!(integer("3.5"), None);
        assert_eq!(integer("99999999999999999999"), None);
        assert_eq!(boolean("TRUE"), Some(true));
        assert_eq!(date("2022-11-09T23:30:00+01:00"), NaiveDate::from_ymd_opt(2022, 11, 9));
    }
}
