//! Human-readable sizes ("512 MiB") and durations ("1h30m").

use std::time::Duration;

use super::PolicyError;

/// Parses a byte size: a plain byte count (`"1048576"`) or a number with a
/// unit (`"512 MiB"`, `"1G"`, `"1.5GiB"`, `"64 MB"`).
///
/// Units are case-insensitive. `K`/`M`/`G`/`T` and `KiB`/`MiB`/... are
/// binary (powers of 1024); `KB`/`MB`/... are decimal (powers of 1000).
/// Fractions are rounded down to whole bytes.
pub fn parse_size(text: &str) -> Result<u64, PolicyError> {
    size(text).map_err(|message| PolicyError::Invalid {
        path: None,
        message,
    })
}

/// Parses a duration written as one or more `<integer><unit>` parts, e.g.
/// `"90s"`, `"30m"`, `"2h"`, `"1h30m"`, `"1d 2h"`, `"500ms"`.
///
/// Units: `ms`, `s`/`sec`, `m`/`min`, `h`/`hr`/`hour`, `d`/`day` (plural
/// forms accepted). A bare number is rejected because its unit is ambiguous.
pub fn parse_duration(text: &str) -> Result<Duration, PolicyError> {
    duration(text).map_err(|message| PolicyError::Invalid {
        path: None,
        message,
    })
}

pub(crate) fn size(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!("invalid size {text:?}: {why} (expected e.g. \"512 MiB\", \"1G\" or a byte count)")
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad("missing number"));
    }
    if frac.contains('.') || frac.len() > 9 {
        return Err(bad("malformed number"));
    }
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "ki" | "kib" => 1 << 10,
        "m" | "mi" | "mib" => 1 << 20,
        "g" | "gi" | "gib" => 1 << 30,
        "t" | "ti" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad(&format!("unknown unit {unit:?}"))),
    };
    // Digits of the whole number, scaled by 10^frac.len().
    let mut mantissa: u128 = 0;
    for c in int.chars().chain(frac.chars()) {
        let d = u128::from(c.to_digit(10).ok_or_else(|| bad("malformed number"))?);
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(d))
            .ok_or_else(|| bad("too large"))?;
    }
    let scale = 10u128.pow(frac.len() as u32);
    let bytes = mantissa
        .checked_mul(multiplier)
        .ok_or_else(|| bad("too large"))?
        / scale;
    u64::try_from(bytes).map_err(|_| bad("too large"))
}

pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!("invalid duration {text:?}: {why} (expected e.g. \"90s\", \"30m\", \"1h30m\")")
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let secs_per = match unit.to_ascii_lowercase().as_str() {
            "ms" | "msec" | "msecs" => None,
            "s" | "sec" | "secs" | "second" | "seconds" => Some(1),
            "m" | "min" | "mins" | "minute" | "minutes" => Some(60),
            "h" | "hr" | "hrs" | "hour" | "hours" => Some(3_600),
            "d" | "day" | "days" => Some(86_400),
            "" => return Err(bad("missing unit")),
            _ => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        let part = match secs_per {
            None => Some(Duration::from_millis(n)),
            Some(k) => n.checked_mul(k).map(Duration::from_secs),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(total)
}
