//! A digest (or a confirmation) + one recipient → the MIME message they receive,
//! built with lettre.
//!
//! `multipart/alternative` with the text part first and the HTML part second (clients
//! show the last part they understand), UTF-8 throughout, the subject RFC 2047-encoded
//! by lettre, and an explicit `Message-ID` (lettre adds none on its own, and Gmail
//! rejects mail without one).

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, HeaderName, HeaderValue};
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
    html: String,
    text: String,
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
                .singlepart(SinglePart::plain(encoded_body(text)))
                .singlepart(SinglePart::html(encoded_body(html))),
        )
        .map_err(|e| MessageError::Build(e.to_string()))
}

/// A body in the shorter of quoted-printable and base64, estimated from the share of
/// non-ASCII bytes (7bit when all ASCII): inlined-CSS HTML is mostly ASCII and goes as
/// quoted-printable, Chinese plain text as base64. lettre's own choice encodes every
/// body as quoted-printable first to compare lengths; for each of the list's
/// recipients that was the most expensive step of building a message.
fn encoded_body(text: String) -> Body {
    let non_ascii = text.bytes().filter(|b| !b.is_ascii()).count();
    if non_ascii == 0 {
        return Body::new(text);
    }
    // Quoted-printable writes three bytes for each non-ASCII byte and each `=`, and
    // a soft line break (`=` CRLF) every 73 characters; base64 four bytes for three,
    // and a CRLF every 76 characters.
    let escaped = non_ascii + text.bytes().filter(|&b| b == b'=').count();
    let quoted_printable = (text.len() + 2 * escaped) * 76 / 73;
    let base64 = text.len().div_ceil(3) * 4 * 78 / 76;
    let encoding = if quoted_printable <= base64 {
        ContentTransferEncoding::QuotedPrintable
    } else {
        ContentTransferEncoding::Base64
    };
    // Both can encode any text; lettre choosing is only the fallback.
    Body::new_with_encoding(text, encoding).unwrap_or_else(Body::new)
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
    fn mostly_ascii_html_is_sent_as_quoted_printable() {
        let html = format!(
            "<td style=\"padding: 24px 32px 8px 32px; color: #333333\">{}</td>",
            "晶片"
        );
        let body = encoded_body(html);
        assert_eq!(body.encoding(), ContentTransferEncoding::QuotedPrintable);
        let encoded = std::str::from_utf8(body.as_ref()).unwrap();
        assert!(encoded.contains("=E6=99=B6"), "{encoded}");
    }

    #[test]
    fn chinese_text_is_sent_as_base64_and_ascii_as_lettre_chooses() {
        let chinese = "晶片戰爭：中國的軟肋與突圍\n第二行".to_string();
        let body = encoded_body(chinese.clone());
        assert_eq!(body.encoding(), ContentTransferEncoding::Base64);
        let decoded = base64_decode(std::str::from_utf8(body.as_ref()).unwrap());
        assert_eq!(decoded, chinese.replace('\n', "\r\n").into_bytes());
        let ascii = encoded_body("Plain words\n".to_string());
        assert_eq!(ascii.encoding(), ContentTransferEncoding::SevenBit);
    }

    /// Decoded with the `base64` crate the project already uses, not with lettre
    /// (the encoder under test).
    fn base64_decode(text: &str) -> Vec<u8> {
        use base64::Engine;
        let joined: String = text.split_ascii_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(joined)
            .unwrap()
    }

    #[test]
    fn bad_addresses_name_their_field() {
        let e = parse_mailbox("newsletter.from", "not an address").unwrap_err();
        assert!(e.to_string().contains("newsletter.from"));
        assert!(parse_mailbox("x", "讀者 <reader@example.com>").is_ok());
    }
}
