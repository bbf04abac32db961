//! View times (Unix milliseconds) as people and scripts read them.

/// `2026-01-01T12:00:00.000Z`; the raw number when it is out of range.
pub fn view_time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| format!("{ms} ms"), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// How long before `now_ms` the view was taken: `12 s ago`, `3 min ago`, ...
pub fn age(ms: u64, now_ms: u64) -> String {
    let Some(seconds) = now_ms.checked_sub(ms).map(|d| d / 1000) else {
        return "in the future: check this machine's clock".to_string();
    };
    match seconds {
        0..120 => format!("{seconds} s ago"),
        120..7200 => format!("{} min ago", seconds / 60),
        7200..172_800 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_ages() {
        assert_eq!(view_time(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(view_time(u64::MAX), format!("{} ms", u64::MAX));
        assert_eq!(age(1_000, 13_999), "12 s ago");
        assert_eq!(age(0, 600_000), "10 min ago");
        assert_eq!(age(0, 3 * 86_400_000), "3 days ago");
        assert!(age(5_000, 1_000).contains("future"));
    }
}
