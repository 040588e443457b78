//! [`Links`]: the absolute URLs that mails carry, built in one place.
//!
//! The domain decides *which* link a mail needs; the inbound adapter that serves the link owns
//! its route, so it hands the paths over as [`LinkPaths`] (templates with a `{token}`
//! placeholder) when the composition root builds the services.

/// The placeholder a [`LinkPaths`] template carries where the token goes.
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// Route templates of the pages mails link to, relative to the public base URL, each with one
/// `{token}` placeholder (in the path or the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPaths {
    /// Where following a confirmation link lands.
    pub confirm_email: String,
    /// The page where a password is reset.
    pub reset_password: String,
    /// The one-click unsubscribe address of birthday reminder digests.
    pub unsubscribe_reminders: String,
}

/// Builds absolute links from the public base URL (never from a request's Host header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    base_url: String,
    paths: LinkPaths,
}

impl Links {
    /// Links under `base_url` (a trailing slash is dropped) following `paths`.
    pub fn new(base_url: &str, paths: LinkPaths) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_owned(), paths }
    }

    /// The link that confirms an email address with `token`.
    pub fn confirm_email(&self, token: &str) -> String {
        self.fill(&self.paths.confirm_email, token)
    }

    /// The link to the page that resets a password with `token`.
    pub fn reset_password(&self, token: &str) -> String {
        self.fill(&self.paths.reset_password, token)
    }

    /// The one-click link that turns birthday reminders off with `token`.
    pub fn unsubscribe_reminders(&self, token: &str) -> String {
        self.fill(&self.paths.unsubscribe_reminders, token)
    }

    fn fill(&self, template: &str, token: &str) -> String {
        format!("{}{}", self.base_url, template.replace(TOKEN_PLACEHOLDER, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fill_the_token_into_the_paths_under_the_base_url() {
        let paths = LinkPaths {
            confirm_email: "/confirm/{token}".into(),
            reset_password: "/reset?token={token}".into(),
            unsubscribe_reminders: "/off?token={token}".into(),
        };
        let links = Links::new("https://x.test/", paths);
        assert_eq!(links.confirm_email("T1"), "https://x.test/confirm/T1");
        assert_eq!(links.reset_password("T2"), "https://x.test/reset?token=T2");
        assert_eq!(links.unsubscribe_reminders("T3"), "https://x.test/off?token=T3");
    }
}
