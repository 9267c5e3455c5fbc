//! A digest (or a confirmation) + one recipient → the MIME message they receive,
//! built with lettre.
//!
//! `multipart/alternative` with the text part first and the HTML part second (clients
//! show the last part they understand), UTF-8 throughout, the subject RFC 2047-encoded
//! by lettre, and an explicit `Message-ID` (lettre adds none on its own, and Gmail
//! rejects mail without one).

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("`{value}` is not a valid e-mail address for {field}: {reason}")]
    Address {
        field: String,
        value: String,
        reason: String,
    },
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// Parses a mailbox (`Name <addr@host>` or `addr@host`), naming the field on error.
pub(crate) fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, MessageError> {
    value.parse::<Mailbox>().map_err(|e| MessageError::Address {
        field: field.to_string(),
        value: value.to_string(),
        reason: e.to_string(),
    })
}

/// The list headers bulk senders must carry (RFC 2369, RFC 8058).
#[derive(Debug, Clone)]
pub(crate) struct ListHeaders {
    /// `List-Id` value, e.g. `華爾街聊什麼 <newsletter.example.com>`.
    pub list_id: String,
    /// The recipient's own HTTPS unsubscribe URL.
    pub unsubscribe_url: String,
    /// An optional `mailto:` unsubscribe address.
    pub unsubscribe_mailto: Option<String>,
}

/// Everything that varies per message.
pub(crate) struct Envelope<'a> {
    pub from: &'a Mailbox,
    pub reply_to: Option<&'a Mailbox>,
    pub to: Mailbox,
    pub message_id: String,
    pub date: SystemTime,
    pub list: Option<ListHeaders>,
}

/// A Message-ID that is the same every time for the same edition and recipient, so
/// a retried message is recognisably the same message.
pub(crate) fn deterministic_message_id(week: &str, recipient: &str, domain: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(week.as_bytes());
    hasher.update([0]);
    hasher.update(recipient.to_lowercase().as_bytes());
    let hash = crate::support::fingerprint::to_hex(&hasher.finalize()[..12]);
    format!("<{week}.{hash}@{domain}>")
}

/// Builds the message for one recipient from already personalised parts.
pub(crate) fn compose(
    subject: &str,
    envelope: Envelope<'_>,
    html: Body,
    text: Body,
) -> Result<Message, MessageError> {
    let mut builder = Message::builder()
        .from(envelope.from.clone())
        .to(envelope.to)
        .subject(subject)
        .date(envelope.date)
        .message_id(Some(envelope.message_id));
    if let Some(reply_to) = envelope.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    if let Some(list) = envelope.list {
        let mut unsubscribe = format!("<{}>", list.unsubscribe_url);
        if let Some(mailto) = &list.unsubscribe_mailto {
            unsubscribe.push_str(&format!(", <{mailto}>"));
        }
        for (name, value) in [
            ("List-Id", list.list_id),
            ("List-Unsubscribe", unsubscribe),
            (
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_string(),
            ),
        ] {
            if value.contains(['\r', '\n']) {
                return Err(MessageError::Build(format!(
                    "{name} would contain a line break"
                )));
            }
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str(name),
                value,
            ));
        }
    }
    builder
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(text))
                .singlepart(SinglePart::html(html)),
        )
        .map_err(|e| MessageError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_per_edition_and_recipient() {
        let a = deterministic_message_id("2026-W04", "Reader@Example.com", "example.com");
        assert_eq!(
            a,
            deterministic_message_id("2026-W04", "reader@example.com", "example.com")
        );
        assert_ne!(
            a,
            deterministic_message_id("2026-W05", "reader@example.com", "example.com")
        );
        assert_ne!(
            a,
            deterministic_message_id("2026-W04", "other@example.com", "example.com")
        );
        assert!(a.starts_with("<2026-W04.") && a.ends_with("@example.com>"));
    }

    #[test]
    fn bad_addresses_name_their_field() {
        let e = parse_mailbox("newsletter.from", "not an address").unwrap_err();
        assert!(e.to_string().contains("newsletter.from"));
        assert!(parse_mailbox("x", "讀者 <reader@example.com>").is_ok());
    }
}
