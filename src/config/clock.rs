//! The time retention counts its periods back from: the system's, or one a test fixes (so a
//! synthetic history of backups is thinned exactly as expected, without sleeping). Operators
//! have no setting for it: a server always runs on the system clock.

use chrono::{NaiveDateTime, Utc};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    fixed: Option<NaiveDateTime>,
}

impl Clock {
    /// A clock that always says `at` (UTC).
    pub fn fixed(at: NaiveDateTime) -> Clock {
        Clock { fixed: Some(at) }
    }

    /// Now, in UTC.
    pub fn now(&self) -> NaiveDateTime {
        self.fixed.unwrap_or_else(|| Utc::now().naive_utc())
    }
}
