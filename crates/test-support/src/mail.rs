//! [`MailCatcher`]: a minimal SMTP server inside the test process that keeps every mail.
//!
//! It speaks enough SMTP for lettre (EHLO, MAIL, RCPT, DATA with dot-stuffing, RSET, NOOP,
//! QUIT), so mail tests go through a real SMTP conversation over TCP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One received mail: envelope and raw message.
#[derive(Debug, Clone, Default)]
pub struct CapturedMail {
    /// Envelope sender.
    pub from: String,
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing removed.
    pub data: String,
}

impl CapturedMail {
    /// The value of the first top-level header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (head, _) = self.data.split_once("\r\n\r\n")?;
        header_in(head, name)
    }

    /// The decoded `text/plain` part.
    pub fn text(&self) -> String {
        self.part("text/plain").unwrap_or_else(|| panic!("no text/plain part in:\n{}", self.data))
    }

    /// The decoded `text/html` part.
    pub fn html(&self) -> String {
        self.part("text/html").unwrap_or_else(|| panic!("no text/html part in:\n{}", self.data))
    }

    /// The first line of the text part that starts with `prefix`: how tests find a link.
    pub fn line_starting_with(&self, prefix: &str) -> Option<String> {
        self.text().lines().find(|l| l.starts_with(prefix)).map(str::to_owned)
    }

    fn part(&self, content_type: &str) -> Option<String> {
        let (head, body) = self.data.split_once("\r\n\r\n")?;
        part_in(head, body, content_type)
    }
}

/// The decoded body of the first part of type `content_type` in the entity `head` + `body`,
/// descending into multiparts. Sections are cut only at the declared boundary: a
/// quoted-printable line may itself start with `--` (a token's `-` at a soft line break).
fn part_in(head: &str, body: &str, content_type: &str) -> Option<String> {
    let declared = header_in(head, "Content-Type").unwrap_or_default();
    if let Some(boundary) = boundary_of(&declared) {
        let delimiter = format!("\r\n--{boundary}");
        // The text before the first delimiter is the preamble, never a part.
        return format!("\r\n{body}").split(delimiter.as_str()).skip(1).find_map(|section| {
            let section = section.strip_prefix("\r\n")?;
            let (head, body) = section.split_once("\r\n\r\n")?;
            part_in(head, body, content_type)
        });
    }
    if !declared.to_ascii_lowercase().starts_with(content_type) {
        return None;
    }
    let body = body.trim_end_matches("\r\n");
    let encoding = header_in(head, "Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let decoded = match encoding.as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).ok()?).ok()?
        }
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.to_owned(),
    };
    Some(decoded.replace("\r\n", "\n"))
}

/// The `boundary` parameter of a `multipart/*` content type, unquoted.
fn boundary_of(content_type: &str) -> Option<&str> {
    if !content_type.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"'))
    })
}

fn header_in(head: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((key, v)) = line.split_once(':')
            && key.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

fn decode_quoted_printable(body: &str) -> String {
    let mut out = Vec::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
            b'=' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An SMTP server on a random local port that stores every mail it receives.
#[derive(Debug, Clone)]
pub struct MailCatcher {
    port: u16,
    mails: Arc<Mutex<Vec<CapturedMail>>>,
}

impl MailCatcher {
    /// Starts listening on `127.0.0.1` at a port the OS picks; serves until the runtime ends.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts listening on a given port: a mail server that comes up after the app did.
    pub async fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind the mail catcher");
        let port = listener.local_addr().expect("a bound address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, store.clone()));
            }
        });
        Self { port, mails }
    }

    /// The port to send mail to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Vec<CapturedMail> {
        self.mails.lock().expect("mail store").clone()
    }

    /// Mails received so far for `recipient`.
    pub fn mails_to(&self, recipient: &str) -> Vec<CapturedMail> {
        self.mails().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(recipient))).collect()
    }

    /// The latest mail for `recipient`, waiting up to ten seconds for one to arrive.
    pub async fn wait_for(&self, recipient: &str) -> CapturedMail {
        for _ in 0..200 {
            if let Some(mail) = self.mails_to(recipient).pop() {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail for {recipient} arrived within 10 s");
    }

    /// The latest mail for `recipient` with a line starting with `prefix` (a link, say), waiting
    /// up to ten seconds for one: mails are sent by a background worker, after the request that
    /// queued them has answered, so an older mail may be all there is for a while.
    pub async fn wait_for_line(&self, recipient: &str, prefix: &str) -> CapturedMail {
        for _ in 0..200 {
            if let Some(mail) =
                self.mails_to(recipient).into_iter().rev().find(|m| m.line_starting_with(prefix).is_some())
            {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail for {recipient} with a line starting {prefix:?} arrived within 10 s");
    }

    /// Every mail for `recipient`, once there are at least `count`, waiting up to ten seconds:
    /// mails are sent by a background worker, after the request that queued them has answered.
    pub async fn wait_for_count(&self, recipient: &str, count: usize) -> Vec<CapturedMail> {
        for _ in 0..200 {
            let mails = self.mails_to(recipient);
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{count} mails for {recipient} did not arrive within 10 s");
    }
}

async fn serve(stream: TcpStream, mails: Arc<Mutex<Vec<CapturedMail>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 mail-catcher ESMTP\r\n").await?;
    let mut mail = CapturedMail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-mail-catcher\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail = CapturedMail { from: address(&command[10..]), ..CapturedMail::default() };
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(address(&command[8..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                mail.data.push_str(unstuffed);
            }
            mails.lock().expect("mail store").push(std::mem::take(&mut mail));
            b"250 OK: queued\r\n"
        } else if upper == "RSET" {
            mail = CapturedMail::default();
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// The address inside `<...>` of a MAIL FROM or RCPT TO argument.
fn address(arg: &str) -> String {
    let arg = arg.trim();
    let inner = arg.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a).unwrap_or(arg);
    inner.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_soft_breaks_and_escapes_are_decoded() {
        assert_eq!(decode_quoted_printable("a=3Db=\r\nc =C3=A9"), "a=bc é");
    }

    /// A mail as lettre writes it: `multipart/alternative`, each part quoted-printable.
    fn alternative(text: &str, html: &str) -> CapturedMail {
        let data = format!(
            "Subject: Confirm\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n \
             boundary=\"b0UND4ry\"\r\n\r\n--b0UND4ry\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n--b0UND4ry\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             {html}\r\n--b0UND4ry--\r\n"
        );
        CapturedMail { data, ..CapturedMail::default() }
    }

    #[test]
    fn a_soft_broken_line_that_starts_with_two_dashes_stays_in_its_part() {
        // A token with "--" where quoted-printable breaks the line: the part goes on.
        let mail = alternative("Confirm:\r\nhttp://x.test/confirm/abc=\r\n--def.ghi\r\nThanks", "<a>link--</a>");
        assert_eq!(mail.text(), "Confirm:\nhttp://x.test/confirm/abc--def.ghi\nThanks");
        assert_eq!(mail.line_starting_with("http://").as_deref(), Some("http://x.test/confirm/abc--def.ghi"));
        assert_eq!(mail.html(), "<a>link--</a>");
    }

    #[test]
    fn a_single_part_mail_is_its_own_text() {
        let data = "Subject: x\r\nContent-Type: text/plain\r\n\r\nline one\r\n--line two\r\n".to_owned();
        let mail = CapturedMail { data, ..CapturedMail::default() };
        assert_eq!(mail.text(), "line one\n--line two");
        assert!(mail.part("text/html").is_none());
    }

    #[test]
    fn headers_are_unfolded() {
        let head = "Subject: one\r\n two\r\nTo: x@y.z";
        assert_eq!(header_in(head, "subject").as_deref(), Some("one two"));
        assert_eq!(header_in(head, "To").as_deref(), Some("x@y.z"));
        assert_eq!(header_in(head, "From"), None);
    }
}
