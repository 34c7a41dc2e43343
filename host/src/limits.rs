//! Per-compile sandbox limits and the size and time syntax the CLI accepts.

use std::time::Duration;

/// Hard limits on one sandboxed compile. Each one hit gives its own
/// [`crate::LimitKind`] and leaves the host serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline for one compile. By default 120 s.
    pub timeout: Duration,
    /// Largest the guest's linear memory may grow, in bytes. By default 3 GiB:
    /// the largest Sightglass module needs well under 1 GiB.
    pub max_memory: u64,
    /// Largest artifact accepted, in bytes. By default 256 MiB.
    pub max_output: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(120),
            max_memory: 3 << 30,
            max_output: 256 << 20,
        }
    }
}

/// Parses a size: plain bytes (`1048576`), or a number with a unit
/// (`512KiB`, `64MiB`, `2GiB`, also `K`, `M`, `G`, `KB`, `MB`, `GB` as
/// powers of 1024).
///
/// # Errors
///
/// A message naming the problem when the text is not such a size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: expected a number such as 512MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

/// The longest time limit [`parse_timeout`] accepts: a week. A compile
/// that needs longer is no compile a service should run, and a limit this
/// size still fits every clock and counter the deadline is kept in (a
/// limit of 10³⁰ s would not).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Parses a time limit in seconds (`120`, `0.5`, `1e3`): more than zero
/// and at most [`MAX_TIMEOUT`].
///
/// # Errors
///
/// A message naming the problem when the text is no such number (`nan`,
/// `inf`, zero and negative numbers included).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    timeout_from_secs(seconds)
}

/// A time limit of `seconds`, held to [`parse_timeout`]'s rule (the
/// service's `[limits] timeout_s` is a number already).
///
/// # Errors
///
/// A message naming the problem when `seconds` is NaN, not more than
/// zero, or more than [`MAX_TIMEOUT`].
pub fn timeout_from_secs(seconds: f64) -> Result<Duration, String> {
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(format!(
            "a time limit must be more than 0 seconds, not `{seconds}`"
        ));
    }
    if seconds > MAX_TIMEOUT.as_secs_f64() {
        return Err(format!(
            "a time limit of `{seconds}` seconds is more than the most accepted, {} s (a week)",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_parse_and_nonsense_is_refused_not_panicked_on() {
        assert_eq!(parse_timeout("120"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout(" 0.5 "), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(parse_timeout("604800"), Ok(MAX_TIMEOUT));
        for bad in [
            "0", "-1", "nan", "NaN", "inf", "-inf", "1e30", "604801", "", "2m", "ten",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_timeout("1e30").unwrap_err().contains("a week"));
        assert!(parse_timeout("nan").unwrap_err().contains("more than 0"));
    }

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("16 k"), Ok(16 << 10));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
