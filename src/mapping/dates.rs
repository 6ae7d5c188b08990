//! Date parsing for the `date(FORMAT)` filter: the common document date forms to ISO 8601.
//!
//! FORMAT is an input hint. `auto` tries, in order: ISO `YYYY-MM-DD` (a time part after it is
//! ignored), day-first `DD.MM.YYYY` / `DD/MM/YYYY` / `DD-MM-YYYY`, `YYYY/MM/DD`, `YYYYMMDD`,
//! `DD MMM YYYY` (English month abbreviations, as printed on passports) and MRZ `YYMMDD`.
//! Day-first wins for slashed dates because almost every identity document outside the US
//! prints them that way; a US form needs the explicit `MM/DD/YYYY` hint.
//!
//! Two-digit years (MRZ `YYMMDD`) get the century that puts the year within 50 years before and
//! 49 after today. Birth dates must never lie in the future, so the `-past` variants
//! (`auto-past`, `YYMMDD-past`) pick the latest date that is not after today instead.

use chrono::{Datelike, NaiveDate};

/// A parsed FORMAT hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateFormat {
    shape: Shape,
    /// Two-digit years resolve to a date not after today (birth dates).
    past: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Auto,
    Iso,
    DayMonthYear(char),
    MonthDayYear(char),
    Compact8,
    Compact6,
}

/// The FORMAT hints accepted, for error messages and docs.
pub(crate) const FORMATS: &str = "auto, auto-past, YYYY-MM-DD, DD.MM.YYYY, DD/MM/YYYY, DD-MM-YYYY, MM/DD/YYYY, YYYYMMDD, YYMMDD, YYMMDD-past";

impl DateFormat {
    /// Parses a FORMAT hint (see [`FORMATS`]).
    pub fn parse(hint: &str) -> Option<DateFormat> {
        let (base, past) = match hint.strip_suffix("-past") {
            Some(base) => (base, true),
            None => (hint, false),
        };
        let shape = match base {
            "auto" => Shape::Auto,
            "YYYY-MM-DD" => Shape::Iso,
            "DD.MM.YYYY" => Shape::DayMonthYear('.'),
            "DD/MM/YYYY" => Shape::DayMonthYear('/'),
            "DD-MM-YYYY" => Shape::DayMonthYear('-'),
            "MM/DD/YYYY" => Shape::MonthDayYear('/'),
            "YYYYMMDD" => Shape::Compact8,
            "YYMMDD" => Shape::Compact6,
            _ => return None,
        };
        // `-past` only changes two-digit years, so it is only accepted where they occur.
        if past && !matches!(shape, Shape::Auto | Shape::Compact6) {
            return None;
        }
        Some(DateFormat { shape, past })
    }

    /// The `auto` hint.
    pub fn auto() -> DateFormat {
        DateFormat {
            shape: Shape::Auto,
            past: false,
        }
    }

    /// Parses `text` per this hint; `today` resolves two-digit years. `None` when it does not fit.
    pub fn read(self, text: &str, today: NaiveDate) -> Option<NaiveDate> {
        let t = text.trim();
        match self.shape {
            Shape::Iso => iso(t),
            Shape::DayMonthYear(sep) => day_month_year(t, sep, false),
            Shape::MonthDayYear(sep) => day_month_year(t, sep, true),
            Shape::Compact8 => compact8(t),
            Shape::Compact6 => compact6(t, today, self.past),
            Shape::Auto => iso(t)
                .or_else(|| {
                    ['.', '/', '-']
                        .iter()
                        .find_map(|&sep| day_month_year(t, sep, false))
                })
                .or_else(|| year_first_slashed(t))
                .or_else(|| compact8(t))
                .or_else(|| day_month_name_year(t))
                .or_else(|| compact6(t, today, self.past)),
        }
    }
}

fn num(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
    if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn ymd(y: u32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d)
}

/// `YYYY-MM-DD`, optionally followed by `T…` or ` …` (a time part).
fn iso(t: &str) -> Option<NaiveDate> {
    let date = t.get(..10)?;
    let tail = t.get(10..)?;
    if !(tail.is_empty() || tail.starts_with('T') || tail.starts_with(' ')) {
        return None;
    }
    let mut it = date.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    ymd(num(y, 4, 4)?, num(m, 2, 2)?, num(d, 2, 2)?)
}

fn day_month_year(t: &str, sep: char, month_first: bool) -> Option<NaiveDate> {
    let mut it = t.split(sep);
    let (a, b, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let (a, b, y) = (num(a, 1, 2)?, num(b, 1, 2)?, num(y, 4, 4)?);
    if month_first {
        ymd(y, a, b)
    } else {
        ymd(y, b, a)
    }
}

fn year_first_slashed(t: &str) -> Option<NaiveDate> {
    let sep = if t.contains('/') { '/' } else { '.' };
    let mut it = t.split(sep);
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    ymd(num(y, 4, 4)?, num(m, 1, 2)?, num(d, 1, 2)?)
}

fn compact8(t: &str) -> Option<NaiveDate> {
    num(t, 8, 8)?;
    ymd(
        num(&t[..4], 4, 4)?,
        num(&t[4..6], 2, 2)?,
        num(&t[6..], 2, 2)?,
    )
}

fn compact6(t: &str, today: NaiveDate, past: bool) -> Option<NaiveDate> {
    num(t, 6, 6)?;
    let (yy, m, d) = (
        num(&t[..2], 2, 2)?,
        num(&t[2..4], 2, 2)?,
        num(&t[4..], 2, 2)?,
    );
    let this_year = u32::try_from(today.year()).ok()?;
    let century = this_year / 100 * 100;
    let mut year = century + yy;
    if past {
        // Latest candidate not after today; 29 February may only exist in the other century.
        let candidate = ymd(year, m, d);
        if candidate.is_none_or(|c| c > today) {
            year = year.checked_sub(100)?;
        }
    } else if year > this_year + 49 {
        year -= 100;
    } else if year + 50 < this_year {
        year += 100;
    }
    ymd(year, m, d)
}

fn day_month_name_year(t: &str) -> Option<NaiveDate> {
    const MONTHS: [&str; 12] = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ];
    let mut it = t.split_whitespace();
    let (d, m, y) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let month_name = m.get(..3)?.to_ascii_uppercase();
    let month = MONTHS.iter().position(|&n| n == month_name)?;
    ymd(num(y, 4, 4)?, u32::try_from(month).ok()? + 1, num(d, 1, 2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default()
    }

    fn auto(text: &str) -> Option<String> {
        DateFormat::auto()
            .read(text, today())
            .map(|d| d.to_string())
    }

    #[test]
    fn auto_reads_the_common_document_forms() {
        assert_eq!(auto("2002-09-04").as_deref(), Some("2002-09-04"));
        assert_eq!(auto("2002-09-04T10:00:00Z").as_deref(), Some("2002-09-04"));
        assert_eq!(auto(" 04.09.2002 ").as_deref(), Some("2002-09-04"));
        assert_eq!(
            auto("04/09/2002").as_deref(),
            Some("2002-09-04"),
            "day first"
        );
        assert_eq!(auto("4-9-2002").as_deref(), Some("2002-09-04"));
        assert_eq!(auto("2002/09/04").as_deref(), Some("2002-09-04"));
        assert_eq!(auto("20020904").as_deref(), Some("2002-09-04"));
        assert_eq!(auto("04 SEP 2002").as_deref(), Some("2002-09-04"));
        assert_eq!(auto("020904").as_deref(), Some("2002-09-04"));
    }

    #[test]
    fn auto_refuses_impossible_or_unknown_dates() {
        for bad in [
            "2002-02-30",
            "31.04.2002",
            "2002-9-4x",
            "yesterday",
            "",
            "13/13/2020",
            "1234567",
            "ééé",
        ] {
            assert_eq!(auto(bad), None, "{bad}");
        }
    }

    #[test]
    fn two_digit_years_use_a_window_around_today_or_the_past() {
        let window = DateFormat::parse("YYMMDD").unwrap_or(DateFormat::auto());
        let past = DateFormat::parse("YYMMDD-past").unwrap_or(DateFormat::auto());
        let read = |f: DateFormat, t: &str| f.read(t, today()).map(|d| d.to_string());
        assert_eq!(
            read(window, "350101").as_deref(),
            Some("2035-01-01"),
            "expiry ahead"
        );
        assert_eq!(read(window, "800101").as_deref(), Some("1980-01-01"));
        assert_eq!(
            read(past, "350101").as_deref(),
            Some("1935-01-01"),
            "birth never in the future"
        );
        assert_eq!(
            read(past, "261122").as_deref(),
            Some("2026-11-22"),
            "today is not the future"
        );
        assert_eq!(read(past, "261123").as_deref(), Some("1926-11-23"));
    }

    #[test]
    fn explicit_hints_are_strict_and_us_order_needs_its_hint() {
        let us = DateFormat::parse("MM/DD/YYYY").unwrap_or(DateFormat::auto());
        assert_eq!(
            us.read("09/04/2002", today())
                .map(|d| d.to_string())
                .as_deref(),
            Some("2002-09-04")
        );
        let iso = DateFormat::parse("YYYY-MM-DD").unwrap_or(DateFormat::auto());
        assert_eq!(iso.read("04.09.2002", today()), None);
        assert_eq!(DateFormat::parse("DD.MM.YYYY-past"), None);
        assert_eq!(DateFormat::parse("yyyy"), None);
    }
}
