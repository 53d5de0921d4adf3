//! Page sizes and filters of the admin lists: what a caller may ask for, checked before any query.

use crate::DomainError;
use crate::repo::{AuditQuery, MemberQuery};

/// Largest page any list returns.
pub const MAX_PAGE: u64 = 200;

fn check_first(first: u64) -> Result<(), DomainError> {
    if (1..=MAX_PAGE).contains(&first) {
        Ok(())
    } else {
        Err(DomainError::bad_input("first", format!("use 1 to {MAX_PAGE}")))
    }
}

impl MemberQuery {
    /// The query, if its page size is allowed.
    pub fn checked(mut self) -> Result<Self, DomainError> {
        check_first(self.first)?;
        self.search = self.search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if self.search.as_ref().is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
            return Err(DomainError::bad_input("search", format!("at most {MAX_SEARCH_CHARS} characters")));
        }
        Ok(self)
    }
}

/// Longest member search accepted.
pub const MAX_SEARCH_CHARS: usize = 100;

impl AuditQuery {
    /// The query with an empty action filter dropped, if its page size and time range are allowed.
    pub fn checked(mut self) -> Result<Self, DomainError> {
        check_first(self.first)?;
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(DomainError::bad_input("to", "must be after from"));
        }
        for filter in [&mut self.action, &mut self.actor, &mut self.target, &mut self.involving] {
            *filter = filter.take().filter(|value| !value.is_empty());
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn field_of(err: DomainError) -> String {
        match err {
            DomainError::BadInput { field, .. } => field,
            other => panic!("expected BadInput, got {other:?}"),
        }
    }

    #[test]
    fn page_sizes_run_from_one_to_the_maximum() {
        for first in [1, 50, MAX_PAGE] {
            assert!(MemberQuery { first, ..Default::default() }.checked().is_ok(), "{first}");
        }
        for first in [0, MAX_PAGE + 1] {
            assert_eq!(field_of(MemberQuery { first, ..Default::default() }.checked().unwrap_err()), "first");
            assert_eq!(field_of(AuditQuery { first, ..Default::default() }.checked().unwrap_err()), "first");
        }
    }

    #[test]
    fn searches_are_trimmed_and_bounded() {
        let search = |s: &str| MemberQuery { first: 10, search: Some(s.into()), ..Default::default() }.checked();
        assert_eq!(search("  Bob ").unwrap().search.as_deref(), Some("Bob"));
        assert_eq!(search("   ").unwrap().search, None, "a blank search lists everyone");
        assert!(search(&"x".repeat(MAX_SEARCH_CHARS)).is_ok());
        assert_eq!(field_of(search(&"x".repeat(MAX_SEARCH_CHARS + 1)).unwrap_err()), "search");
    }

    #[test]
    fn audit_ranges_must_move_forward_and_empty_actions_mean_any() {
        let now = Utc::now();
        let backwards = AuditQuery { first: 10, from: Some(now), to: Some(now), ..Default::default() };
        assert_eq!(field_of(backwards.checked().unwrap_err()), "to");
        let forward = AuditQuery {
            first: 10,
            from: Some(now - Duration::hours(1)),
            to: Some(now),
            action: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(forward.checked().unwrap().action, None);
    }
}
