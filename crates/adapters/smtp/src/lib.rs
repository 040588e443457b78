//! Mail adapter: delivers the domain's [`Email`]s over SMTP with lettre (plain, STARTTLS or
//! implicit TLS, optional credentials), or writes them to the log when no SMTP server is
//! configured, which is handy in development.
#![deny(missing_docs)]

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use contacts_domain::Error;
use contacts_domain::mail::{Email, Mailer};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text, for a local relay or a test server.
    None,
    /// Upgrade with STARTTLS (usually port 587).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::StartTls),
            "tls" => Ok(Self::Tls),
            other => Err(format!("unknown TLS mode {other:?}: expected none, starttls or tls")),
        }
    }
}

/// Where and how to deliver mail.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Login name, if the server wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Connection security.
    pub tls: SmtpTls,
    /// The `From` address of every mail.
    pub from: String,
}

/// Sends mail through an SMTP server, reusing connections from a small pool.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    whole: Duration,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("from", &self.from.to_string()).finish()
    }
}

/// A mail configuration that cannot work (bad sender address, bad host name for TLS).
#[derive(Debug, thiserror::Error)]
#[error("invalid mail settings")]
pub struct MailSettingsError(#[source] Box<dyn std::error::Error + Send + Sync>);

/// How long the mail server may take over one step of the conversation. RFC 5321 4.5.3.2 gives
/// minutes, 10 for the answer to the message itself: a server that scans a mail before it
/// answers took it already, and a send given up then would be sent twice.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// How long one delivery may take, all of it, before it is given up (and retried later): under
/// the outbox's lease (4 minutes), so a mail being sent is never claimed by another instance.
const SEND_TIMEOUT: Duration = Duration::from_secs(180);

impl SmtpMailer {
    /// A mailer for `settings`. No connection is made until the first mail.
    pub fn new(settings: &SmtpSettings) -> Result<Self, MailSettingsError> {
        Self::with_timeouts(settings, STEP_TIMEOUT, SEND_TIMEOUT)
    }

    /// [`new`](Self::new) with other bounds on a step and on a whole delivery (for tests).
    pub fn with_timeouts(settings: &SmtpSettings, step: Duration, whole: Duration) -> Result<Self, MailSettingsError> {
        fn invalid(e: impl std::error::Error + Send + Sync + 'static) -> MailSettingsError {
            MailSettingsError(Box::new(e))
        }
        let from: Mailbox = settings.from.parse().map_err(invalid)?;
        let builder = match settings.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host).map_err(invalid)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(invalid)?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(step));
        if let Some(username) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self { transport: builder.build(), from, whole })
    }

    fn message(&self, email: Email, key: &str) -> Result<Message, Error> {
        let to: Mailbox = email.to.as_str().parse().map_err(Error::unexpected)?;
        // A `Message-ID` (RFC 5322 asks for one; spam filters count its absence against a mail),
        // the same for every attempt of one mail, in the sender's domain.
        let id = format!("<{key}@{}>", self.from.email.domain());
        let mut builder = Message::builder().from(self.from.clone()).to(to).subject(email.subject).message_id(Some(id));
        // Extra headers (RFC 8058 unsubscribe) are ASCII by construction; the value is sent as is.
        for (name, value) in email.headers {
            let name = HeaderName::new_from_ascii(name).map_err(Error::unexpected)?;
            builder = builder.raw_header(HeaderValue::new(name, value));
        }
        builder.multipart(MultiPart::alternative_plain_html(email.text, email.html)).map_err(Error::unexpected)
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, email: Email, key: &str) -> Result<(), Error> {
        let message = self.message(email, key)?;
        // lettre's timeout bounds each step of the conversation; this bounds the whole of it,
        // so a mail server that answers every step slowly cannot outlast the outbox's lease.
        match tokio::time::timeout(self.whole, self.transport.send(message)).await {
            Ok(sent) => sent.map(|_| ()).map_err(Error::unexpected),
            Err(_) => Err(Error::unexpected(format!("the mail server took more than {} s", self.whole.as_secs()))),
        }
    }
}

/// Writes mails to the log instead of sending them: the development default, so a new user
/// can copy the confirmation link from the server's output.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

impl Mailer for LogMailer {
    async fn send(&self, email: Email, _key: &str) -> Result<(), Error> {
        tracing::info!(to = %email.to, subject = %email.subject, "mail not sent (SMTP_HOST is unset):\n{}", email.text);
        Ok(())
    }
}

/// The mailer chosen by configuration.
#[derive(Debug, Clone)]
pub enum AnyMailer {
    /// Deliver over SMTP.
    Smtp(SmtpMailer),
    /// Write to the log.
    Log(LogMailer),
}

impl Mailer for AnyMailer {
    async fn send(&self, email: Email, key: &str) -> Result<(), Error> {
        match self {
            Self::Smtp(mailer) => mailer.send(email, key).await,
            Self::Log(mailer) => mailer.send(email, key).await,
        }
    }
}

#[cfg(test)]
mod tests;
