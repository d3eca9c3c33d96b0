//! Times as people read them: "3 minutes ago", with the exact UTC time for a tooltip.

use chrono::NaiveDateTime;

pub fn exact(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn ago(at: NaiveDateTime, now: NaiveDateTime) -> String {
    let seconds = (now - at).num_seconds();
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit} ago") } else { format!("{n} {unit}s ago") };
    match seconds {
        s if s < 45 => "just now".into(),
        s if s < 90 => "a minute ago".into(),
        s if s < 3600 => plural((s + 30) / 60, "minute"),
        s if s < 86_400 => plural((s + 1800) / 3600, "hour"),
        s if s < 30 * 86_400 => plural((s + 43_200) / 86_400, "day"),
        _ => at.format("on %Y-%m-%d").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn reads_like_a_person_would_say_it() {
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(ago(now - Duration::seconds(10), now), "just now");
        assert_eq!(ago(now - Duration::minutes(3), now), "3 minutes ago");
        assert_eq!(ago(now - Duration::hours(1), now), "1 hour ago");
        assert_eq!(ago(now - Duration::days(2), now), "2 days ago");
    }
}
