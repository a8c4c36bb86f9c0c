//! Calendar dates (`YYYY-MM-DD`, proleptic Gregorian, UTC) without a date library.

/// First year a statement's date may name (docs/SECURITY.md: dates outside 1900–2200 are refused as
/// implausible, so year 0000 or 9999 never reaches a report or a JSON encoder).
pub const MIN_YEAR: i64 = 1900;
/// Last year a statement's date may name.
pub const MAX_YEAR: i64 = 2200;

/// Days since 1970-01-01 of a valid `YYYY-MM-DD` in years [`MIN_YEAR`]..=[`MAX_YEAR`], or None.
pub fn parse_date(s: &str) -> Option<i64> {
    parse_any_date(s).filter(|d| in_window(*d))
}

/// Whether a day number lies in the plausible window [`MIN_YEAR`]-01-01 ..= [`MAX_YEAR`]-12-31.
pub fn in_window(day: i64) -> bool {
    (days_from_civil(MIN_YEAR, 1, 1)..=days_from_civil(MAX_YEAR, 12, 31)).contains(&day)
}

/// Days since 1970-01-01 of any valid `YYYY-MM-DD` (years 0000–9999).
fn parse_any_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        s.get(r).filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?.parse().ok()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's days_from_civil.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "years 0000-9999 (four digits), months 1-12, days 1-31: every intermediate is far inside i64"
)]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// `YYYY-MM-DD` of a day number.
#[allow(
    clippy::arithmetic_side_effects,
    reason = "day numbers come from dates or from millisecond times divided by 86,400,000 (|days| < 1.1e11): every intermediate is far inside i64"
)]
pub fn format_date(days: i64) -> String {
    let z = days + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// A calendar day in the plausible window, parsed once from `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    /// Parse `YYYY-MM-DD` in years [`MIN_YEAR`]..=[`MAX_YEAR`], or refuse it naming `field`.
    pub fn parse(field: &str, s: &str) -> crate::Result<Self> {
        parse_date(s)
            .map(Day)
            .ok_or_else(|| crate::Refusal::invalid(field, format!("{s:?} is not a date of the form YYYY-MM-DD")))
    }
    /// An optional day: empty text is `None`.
    pub fn parse_opt(field: &str, s: &str) -> crate::Result<Option<Self>> {
        if s.is_empty() {
            Ok(None)
        } else {
            Self::parse(field, s).map(Some)
        }
    }
    /// The day of a day number, if it lies in the plausible window.
    pub fn from_days(days: i64) -> Option<Self> {
        in_window(days).then_some(Day(days))
    }
    /// Days since 1970-01-01.
    pub fn days(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_date(self.0))
    }
}

/// Serialised as `YYYY-MM-DD`, the text it was parsed from.
impl serde::Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from `YYYY-MM-DD` in the plausible window; any other text is an error (never a default day).
impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Day::parse("date", &s).map_err(|e| serde::de::Error::custom(e.rule))
    }
}

/// Day number of a Unix time in milliseconds.
pub fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29").map(format_date).as_deref(), Some("2024-02-29"));
        for bad in ["2023-02-29", "2026-13-01", "2026-1-01", "20260101", "2026-00-10", "+026-01-01"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        // Years 0000..=9999, the range YYYY can express.
        for d in -719_528..2_932_897i64 {
            if d % 997 == 0 {
                assert_eq!(parse_any_date(&format_date(d)), Some(d));
            }
        }
        // Only 1900..=2200 is plausible for a statement.
        for bad in ["0000-01-01", "1899-12-31", "2201-01-01", "9999-12-31"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert!(parse_date("1900-01-01").is_some() && parse_date("2200-12-31").is_some());
    }
}
