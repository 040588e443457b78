//! The emails the service sends, as plain data (templates); the mail adapter only delivers them.

use crate::email::EmailAddress;

/// One email with a text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipient.
    pub to: EmailAddress,
    /// Subject line.
    pub subject: String,
    /// The plain-text part; links stand on lines of their own.
    pub text: String,
    /// The HTML part.
    pub html: String,
    /// Extra header lines (name, value), such as RFC 8058's `List-Unsubscribe`; usually none.
    pub headers: Vec<(String, String)>,
}

/// Subject of the confirmation mail.
const CONFIRMATION_SUBJECT: &str = "Confirm your email";
/// Subject of the password-reset mail.
const RESET_SUBJECT: &str = "Reset your password";

impl Email {
    /// The email that asks a new user to confirm their address by following `link`.
    pub fn confirmation(to: EmailAddress, username: &str, link: &str) -> Self {
        let text = format!(
            "Hello {username},\n\nplease confirm your email address by opening this link:\n\n{link}\n\n\
             If you did not create an account, ignore this email.\n"
        );
        let html = format!(
            "<!doctype html><html><body><p>Hello {name},</p>\
             <p>please confirm your email address:</p>\
             <p><a href=\"{href}\">Confirm my email</a></p>\
             <p>If you did not create an account, ignore this email.</p></body></html>",
            name = escape_html(username),
            href = escape_html(link),
        );
        Self { to, subject: CONFIRMATION_SUBJECT.to_owned(), text, html, headers: Vec::new() }
    }
}

impl Email {
    /// The email that carries a password-reset link.
    pub fn password_reset(to: EmailAddress, username: &str, link: &str) -> Self {
        let text = format!(
            "Hello {username},\n\nsomeone asked to reset the password of your account. To choose a new one, open:\n\n\
             {link}\n\nThe link works once. If you did not ask for it, ignore this email: your password stays as it is.\n"
        );
        let html = format!(
            "<!doctype html><html><body><p>Hello {name},</p>\
             <p>someone asked to reset the password of your account.</p>\
             <p><a href=\"{href}\">Choose a new password</a></p>\
             <p>The link works once. If you did not ask for it, ignore this email.</p></body></html>",
            name = escape_html(username),
            href = escape_html(link),
        );
        Self { to, subject: RESET_SUBJECT.to_owned(), text, html, headers: Vec::new() }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_puts_the_link_on_its_own_line_and_escapes_html() {
        let to = EmailAddress::parse("email", "a@b.co").unwrap();
        let mail = Email::confirmation(to, "<ada>", "http://x.test/confirm/T?a=1&b=2");
        assert!(mail.text.lines().any(|l| l == "http://x.test/confirm/T?a=1&b=2"));
        assert!(mail.html.contains("&lt;ada&gt;"));
        assert!(mail.html.contains("href=\"http://x.test/confirm/T?a=1&amp;b=2\""));
    }
}
