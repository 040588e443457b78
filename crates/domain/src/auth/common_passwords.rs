//! The list of commonly used passwords that the password rules refuse, shipped inside the
//! binary so the check needs no file or network at run time.

use std::collections::HashSet;
use std::sync::LazyLock;

/// The list's text: a header of `#` lines naming its source and licence, then one lower-case
/// password a line.
const LIST: &str = include_str!("common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| LIST.lines().filter(|line| !line.is_empty() && *line != "#" && !line.starts_with("# ")).collect());

/// Whether `password`, ignoring case, is on the list.
pub(crate) fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_at_least_ten_thousand_passwords_and_no_header_line() {
        assert!(COMMON.len() >= 10_000, "{} entries", COMMON.len());
        assert!(!COMMON.iter().any(|p| p.starts_with("# ") || p.contains("Licence")));
    }

    #[test]
    fn well_known_passwords_are_found_ignoring_case() {
        for common in ["password", "Password1", "12345678", "QWERTYUIOP", "iloveyou1", "#1pimp"] {
            assert!(is_common(common), "{common}");
        }
        assert!(!is_common("correct horse battery"));
    }
}
