//! A timeline's `.history` file: the timelines it descends from and where each one ended, as
//! PostgreSQL's `readTimeLineHistory` reads it. Lines are `parentTLI<TAB>switchpoint<TAB>reason`;
//! blank lines and `#` comments are skipped. The file comes back from a destination, so anything
//! else is refused with the line that is wrong.

use super::names::Lsn;

/// Timeline `parent` ended at `switch_at`, where its child timeline began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimelineSwitch {
    pub parent: u32,
    pub switch_at: Lsn,
}

/// Parses the history file of `timeline`: its ancestors, oldest first.
pub fn parse_history(timeline: u32, text: &str) -> Result<Vec<TimelineSwitch>, String> {
    let mut switches: Vec<TimelineSwitch> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let wrong = |why: &str| {
            let shown: String = line.chars().filter(|c| !c.is_control()).take(80).collect();
            format!("the history of timeline {timeline} is damaged at line {} (“{shown}”): {why}", index + 1)
        };
        let mut fields = line.split_whitespace();
        let parent: u32 = fields
            .next()
            .and_then(|f| f.parse().ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| wrong("it does not start with a timeline number"))?;
        let switch_at: Lsn = fields
            .next()
            .ok_or_else(|| wrong("it has no switch point"))?
            .parse()
            .map_err(|_| wrong("its switch point is not a WAL position"))?;
        if parent >= timeline {
            return Err(wrong("a timeline can only descend from an older one"));
        }
        if let Some(last) = switches.last() {
            if parent <= last.parent {
                return Err(wrong("timeline numbers must increase from line to line"));
            }
            if switch_at < last.switch_at {
                return Err(wrong("switch points must not go backwards"));
            }
        }
        switches.push(TimelineSwitch { parent, switch_at });
    }
    Ok(switches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(text: &str) -> Lsn {
        text.parse().expect("lsn")
    }

    #[test]
    fn a_history_as_postgresql_writes_it() {
        let text = "1\t0/3000000\tno recovery target specified\n\n\
                    # a comment\n\
                    2\t0/5000158\tbefore 2024-01-01 12:00:00+00\n";
        let parsed = parse_history(3, text).expect("history");
        assert_eq!(
            parsed,
            [
                TimelineSwitch { parent: 1, switch_at: lsn("0/3000000") },
                TimelineSwitch { parent: 2, switch_at: lsn("0/5000158") },
            ]
        );
    }

    #[test]
    fn a_reason_is_optional_and_timelines_may_skip() {
        let parsed = parse_history(5, "1\t0/3000000\n3\t1/A0\n").expect("history");
        assert_eq!(parsed[1], TimelineSwitch { parent: 3, switch_at: lsn("1/A0") });
        assert_eq!(parse_history(2, "").expect("empty"), []);
    }

    #[test]
    fn damaged_histories_say_where() {
        let cases = [
            ("x\t0/3000000\treason", "line 1", "timeline number"),
            ("1\n", "line 1", "no switch point"),
            ("1\tnowhere\n", "line 1", "not a WAL position"),
            ("2\t0/1\n1\t0/2\n", "line 2", "increase"),
            ("1\t0/5\n2\t0/4\n", "line 2", "backwards"),
            ("3\t0/5\n", "line 1", "older one"),
            ("0\t0/5\n", "line 1", "timeline number"),
            ("<html>", "line 1", "timeline number"),
        ];
        for (text, at, why) in cases {
            let error = parse_history(3, text).expect_err(text);
            assert!(error.contains(at) && error.contains(why) && error.contains("timeline 3"), "{text}: {error}");
        }
    }
}
