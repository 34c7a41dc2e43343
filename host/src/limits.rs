//! Per-compile sandbox limits and the size syntax the CLI accepts.

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

#[cfg(test)]
mod tests {
    use super::*;

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
