//! `taskrouter.*` from Unix milliseconds, in UTC, with integer arithmetic only.

use crate::ast::ClockField;
use crate::val::Val;

const TWO_DIGITS: [&str; 60] = [
    "00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15",
    "16", "17", "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31",
    "32", "33", "34", "35", "36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46", "47",
    "48", "49", "50", "51", "52", "53", "54", "55", "56", "57", "58", "59",
];

/// Monday first.
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The value of a `taskrouter.*` field at this instant.
pub(crate) fn field(field: ClockField, unix_millis: i64) -> Val<'static> {
    // Floor division, so instants before 1970 land in the right (earlier) day.
    let seconds = unix_millis.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let hour = second_of_day / 3600;
    let minute = second_of_day % 3600 / 60;
    match field {
        ClockField::CurrentTime => Val::Num((hour * 100 + minute) as f64),
        ClockField::CurrentHour => Val::str(two_digits(hour)),
        ClockField::CurrentMin => Val::str(two_digits(minute)),
        // 1970-01-01 was a Thursday (index 3).
        ClockField::DayOfWeek => Val::str(day_name((days + 3).rem_euclid(7))),
    }
}

fn two_digits(n: i64) -> &'static str {
    usize::try_from(n)
        .ok()
        .and_then(|i| TWO_DIGITS.get(i))
        .copied()
        .unwrap_or("00")
}

fn day_name(n: i64) -> &'static str {
    usize::try_from(n)
        .ok()
        .and_then(|i| DAYS.get(i))
        .copied()
        .unwrap_or("Mon")
}
