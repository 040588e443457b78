use contacts_domain::EmailAddress;
use contacts_test_support::MailCatcher;

use super::*;

fn settings(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        tls: SmtpTls::None,
        from: "Contacts <noreply@contacts.test>".into(),
    }
}

fn email(to: &str) -> Email {
    Email::confirmation(
        EmailAddress::parse("email", to).unwrap(),
        "ada",
        "http://app.test/api/auth/confirmed_email/abc.def-ghi_jkl",
    )
}

#[tokio::test]
async fn delivers_a_text_and_html_mail_over_smtp() {
    let catcher = MailCatcher::start().await;
    let mailer = SmtpMailer::new(&settings(catcher.port())).unwrap();
    mailer.send(email("ada@example.org"), "7.1700000000000000").await.unwrap();

    let mail = catcher.wait_for("ada@example.org").await;
    assert_eq!(mail.from, "noreply@contacts.test");
    assert!(mail.header("Subject").unwrap().contains("Confirm your email"));
    assert!(mail.text().lines().any(|l| l == "http://app.test/api/auth/confirmed_email/abc.def-ghi_jkl"));
    assert!(mail.html().contains("href=\"http://app.test/api/auth/confirmed_email/abc.def-ghi_jkl\""));
    // Named by the mail's key, in the sender's domain: the same for every attempt of it.
    assert_eq!(mail.header("Message-ID").expect("a Message-ID"), "<7.1700000000000000@contacts.test>");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_hang() {
    let port = contacts_test_support::unused_port();
    let mailer = AnyMailer::Smtp(SmtpMailer::new(&settings(port)).unwrap());
    assert!(matches!(mailer.send(email("ada@example.org"), "1.1").await, Err(Error::Unexpected(_))));
}

/// A mail server for one connection on a free port, answering as `answer` says: given each
/// line the client sends (`None` before the first, for the greeting), how long to wait and what
/// to answer, or nothing (a line of the message itself).
async fn scripted_server(mut answer: impl FnMut(Option<&str>) -> Option<(u64, &'static [u8])> + Send + 'static) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut line = None;
        loop {
            if let Some((pause, text)) = answer(line.as_deref()) {
                tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
                if write.write_all(text).await.is_err() {
                    break;
                }
            }
            match lines.next_line().await {
                Ok(Some(next)) => line = Some(next),
                _ => break,
            }
        }
    });
    port
}

#[tokio::test]
async fn a_server_slow_at_every_step_is_given_up_after_the_send_timeout_as_a_whole() {
    // Each answer comes after 4 s, within the per-step timeout: the conversation as a whole
    // would take over 20 s.
    let port =
        scripted_server(|line| Some((4, if line.is_none() { b"220 slow.test ESMTP\r\n" } else { b"250 ok\r\n" })))
            .await;
    let started = std::time::Instant::now();
    let (step, whole) = (std::time::Duration::from_secs(10), std::time::Duration::from_secs(10));
    let mailer = SmtpMailer::with_timeouts(&settings(port), step, whole).unwrap();
    let outcome = mailer.send(email("ada@example.org"), "1.1").await;
    let Err(Error::Unexpected(reason)) = outcome else { panic!("expected a timeout, got {outcome:?}") };
    assert!(reason.to_string().contains("more than 10 s"), "{reason}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "given up at the timeout, not at the end");
}

/// A server that scans a mail before it answers its end (RFC 5321 4.5.3.2.6 gives that answer
/// 10 minutes) took it already: the send waits, so the mail is not sent again.
#[tokio::test]
async fn a_server_slow_to_answer_the_message_itself_is_waited_for() {
    let mut in_data = false;
    let port = scripted_server(move |line| match line {
        None => Some((0, b"220 scanner.test ESMTP\r\n")),
        Some("DATA") => {
            in_data = true;
            Some((0, b"354 go on\r\n"))
        }
        Some(".") if in_data => {
            in_data = false;
            Some((12, b"250 queued after a scan\r\n"))
        }
        Some(_) if in_data => None,
        Some("QUIT") => Some((0, b"221 bye\r\n")),
        Some(_) => Some((0, b"250 ok\r\n")),
    })
    .await;
    let mailer = SmtpMailer::new(&settings(port)).unwrap();
    mailer.send(email("ada@example.org"), "1.1").await.expect("the answer after 12 s is waited for");
}

#[tokio::test]
async fn the_log_mailer_always_succeeds() {
    assert!(AnyMailer::Log(LogMailer).send(email("ada@example.org"), "1.1").await.is_ok());
}

#[test]
fn tls_modes_parse_from_their_names() {
    assert_eq!("none".parse::<SmtpTls>().unwrap(), SmtpTls::None);
    assert_eq!("starttls".parse::<SmtpTls>().unwrap(), SmtpTls::StartTls);
    assert_eq!("tls".parse::<SmtpTls>().unwrap(), SmtpTls::Tls);
    assert!("ssl".parse::<SmtpTls>().is_err());
}

#[tokio::test]
async fn a_bad_sender_address_is_refused() {
    let mut bad = settings(25);
    bad.from = "not an address".into();
    assert!(SmtpMailer::new(&bad).is_err());
    for tls in [SmtpTls::StartTls, SmtpTls::Tls] {
        let mut ok = settings(587);
        ok.tls = tls;
        ok.username = Some("user".into());
        ok.password = Some("secret".into());
        assert!(SmtpMailer::new(&ok).is_ok());
    }
}
