//! Transfer encodings for message bodies, done once per edition where they can be.
//!
//! Every recipient's copy of a digest is the same text but for their unsubscribe
//! link, which sits near the end. So [`EditionPart`] encodes everything before the
//! first link once, as whole lines, and each message encodes only the rest: for a
//! large edition that is most of a message's building cost, done once instead of
//! once per subscriber. The result is the same valid encoding of the same text that
//! encoding it whole would give (base64: byte for byte; quoted-printable: with its
//! soft line breaks in other places), which `tests` check by decoding.

use base64::Engine;
use lettre::message::Body;
use lettre::message::header::ContentTransferEncoding;

/// Base64 bytes per line: 57 bytes make the 76 characters RFC 2045 allows.
const BASE64_LINE_BYTES: usize = 57;

/// The shorter of quoted-printable and base64 for `text`, estimated from the share
/// of non-ASCII bytes (7bit when all ASCII): inlined-CSS HTML is mostly ASCII and goes
/// as quoted-printable, Chinese plain text as base64. lettre's own choice encodes
/// every body as quoted-printable first to compare lengths.
pub(crate) fn choose_encoding(text: &str) -> ContentTransferEncoding {
    let non_ascii = text.bytes().filter(|b| !b.is_ascii()).count();
    if non_ascii == 0 {
        return ContentTransferEncoding::SevenBit;
    }
    // Quoted-printable writes three bytes for each non-ASCII byte and each `=`, and
    // a soft line break (`=` CRLF) every 73 characters; base64 four bytes for three,
    // and a CRLF every 76 characters.
    let escaped = non_ascii + text.bytes().filter(|&b| b == b'=').count();
    let quoted_printable = (text.len() + 2 * escaped) * 76 / 73;
    let base64 = text.len().div_ceil(3) * 4 * 78 / 76;
    if quoted_printable <= base64 {
        ContentTransferEncoding::QuotedPrintable
    } else {
        ContentTransferEncoding::Base64
    }
}

/// `text` encoded as [`choose_encoding`] decides, for a message built once.
pub(crate) fn encoded_body(text: String) -> Body {
    let encoding = choose_encoding(&text);
    // Both can encode any text; lettre choosing is only the fallback.
    Body::new_with_encoding(text, encoding).unwrap_or_else(Body::new)
}

/// One part of an edition's messages (its HTML or its text) with everything before
/// the first per-recipient `placeholder` already encoded.
pub(crate) struct EditionPart {
    encoding: ContentTransferEncoding,
    /// Encoded whole lines, each ending in CRLF (empty when nothing could be).
    head: Vec<u8>,
    /// The rest, CRLF line endings, still holding the placeholders. Bytes: a base64
    /// head ends on a whole line, which may fall inside a character.
    tail: Vec<u8>,
    placeholder: String,
}

impl EditionPart {
    pub(crate) fn new(text: &str, placeholder: &str) -> EditionPart {
        let encoding = choose_encoding(text);
        let text = with_crlf(text);
        let first = text.find(placeholder).unwrap_or(text.len());
        // Where the common head ends: at a line break for quoted-printable (whose
        // lines restart there), at a whole base64 line for base64, and nowhere for
        // 7bit (which needs no encoding).
        let split = match encoding {
            ContentTransferEncoding::QuotedPrintable => {
                text[..first].rfind("\r\n").map_or(0, |i| i + 2)
            }
            ContentTransferEncoding::Base64 => first / BASE64_LINE_BYTES * BASE64_LINE_BYTES,
            _ => 0,
        };
        let (head, tail) = text.as_bytes().split_at(split);
        let head = match encoding {
            ContentTransferEncoding::QuotedPrintable => quoted_printable::encode(head),
            ContentTransferEncoding::Base64 => {
                let mut lines = base64_lines(head);
                if !lines.is_empty() {
                    lines.extend_from_slice(b"\r\n");
                }
                lines
            }
            _ => Vec::new(),
        };
        EditionPart {
            encoding,
            head,
            tail: tail.to_vec(),
            placeholder: placeholder.to_string(),
        }
    }

    /// The encoded body with `value` in place of each placeholder.
    pub(crate) fn body(&self, value: &str) -> Body {
        let tail = replace_bytes(&self.tail, self.placeholder.as_bytes(), value.as_bytes());
        let mut bytes = Vec::with_capacity(self.head.len() + tail.len() * 2);
        bytes.extend_from_slice(&self.head);
        match self.encoding {
            ContentTransferEncoding::QuotedPrintable => {
                bytes.extend_from_slice(&quoted_printable::encode(&tail));
            }
            ContentTransferEncoding::Base64 => {
                if tail.is_empty() {
                    bytes.truncate(bytes.len().saturating_sub(2));
                }
                bytes.extend_from_slice(&base64_lines(&tail));
            }
            // The whole text, all ASCII, with CRLF line endings already.
            _ => {
                let text = String::from_utf8_lossy(&tail).into_owned();
                return Body::new_with_encoding(text, self.encoding).unwrap_or_else(Body::new);
            }
        }
        Body::dangerous_pre_encoded(bytes, self.encoding)
    }
}

/// `haystack` with every `from` replaced by `to`. On UTF-8 bytes with an ASCII
/// `from`, this is `str::replace`: no byte of a multi-byte character is ASCII.
fn replace_bytes(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len() + to.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// `text` with every line ending CRLF, as a text body is sent.
fn with_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut rest = text;
    while let Some(i) = rest.find('\n') {
        let line = &rest[..i];
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str("\r\n");
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

/// `bytes` in base64, 76 characters a line, lines joined by CRLF (none at the end).
fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4 * 78 / 76);
    for (i, chunk) in bytes.chunks(BASE64_LINE_BYTES).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(chunk)
                .as_bytes(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://unsubscribe.invalid/x";

    fn edition_html() -> String {
        let mut html = String::from("<html><body>\n");
        for i in 0..200 {
            html.push_str(&format!(
                "<p style=\"margin: 0 0 16px; color: #222222; font-family: Helvetica, Arial, \
                 sans-serif; line-height: 1.7\">Paragraph {i}: 晶片 = chips</p>\n"
            ));
        }
        html.push_str(&format!(
            "<a href=\"{LINK}\">取消訂閱</a> <a href=\"{LINK}\">x</a>\n</body></html>"
        ));
        html
    }

    fn edition_text() -> String {
        let mut text = String::new();
        for i in 0..120 {
            text.push_str(&format!("第 {i} 段：晶片戰爭、關稅與市場的下一步。\n"));
        }
        text.push_str(&format!("取消訂閱：{LINK}\n"));
        text
    }

    /// Decoded with the `base64` crate and a quoted-printable decoder, not with
    /// the encoders under test.
    fn decode(body: &Body) -> Vec<u8> {
        let encoded = std::str::from_utf8(body.as_ref()).expect("encoded bodies are ASCII");
        for line in encoded.split("\r\n") {
            assert!(line.len() <= 76, "a line of {} characters", line.len());
            assert!(
                !line.contains('\n') && !line.contains('\r'),
                "a bare line break"
            );
        }
        match body.encoding() {
            ContentTransferEncoding::Base64 => {
                let joined: String = encoded.split("\r\n").collect();
                base64::engine::general_purpose::STANDARD
                    .decode(joined)
                    .unwrap()
            }
            ContentTransferEncoding::QuotedPrintable => {
                quoted_printable::decode(encoded, quoted_printable::ParseMode::Strict).unwrap()
            }
            _ => body.as_ref().to_vec(),
        }
    }

    #[test]
    fn each_copy_decodes_to_the_text_with_its_own_link() {
        for (text, expected) in [
            (edition_html(), ContentTransferEncoding::QuotedPrintable),
            (edition_text(), ContentTransferEncoding::Base64),
            (
                "plain ascii\nlink: ".to_string() + LINK + "\n",
                ContentTransferEncoding::SevenBit,
            ),
        ] {
            let part = EditionPart::new(&text, LINK);
            assert_eq!(part.encoding, expected);
            if expected != ContentTransferEncoding::SevenBit {
                assert!(
                    part.head.len() > text.len() / 2,
                    "most of it is encoded once"
                );
            }
            for reader in [
                "https://example.com/u?t=abc",
                "https://example.com/u?t=a=b&c=d%20",
            ] {
                let body = part.body(reader);
                assert_eq!(body.encoding(), expected);
                let want = with_crlf(&text.replace(LINK, reader));
                assert_eq!(String::from_utf8(decode(&body)).unwrap(), want);
            }
        }
    }

    #[test]
    fn base64_copies_are_what_encoding_the_whole_text_gives() {
        let text = edition_text();
        let part = EditionPart::new(&text, LINK);
        let whole = Body::new_with_encoding(
            text.replace(LINK, "https://e.x/1"),
            ContentTransferEncoding::Base64,
        )
        .unwrap();
        assert_eq!(part.body("https://e.x/1").as_ref(), whole.as_ref());
    }

    #[test]
    fn texts_without_a_placeholder_are_encoded_whole_once() {
        for text in [edition_text().replace(LINK, ""), "晶片".repeat(19)] {
            let part = EditionPart::new(&text, LINK);
            assert_eq!(decode(&part.body("unused")), with_crlf(&text).into_bytes());
        }
        assert_eq!(with_crlf("a\nb\r\nc"), "a\r\nb\r\nc");
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
    fn chinese_text_is_sent_as_base64_and_ascii_as_seven_bit() {
        let chinese = "晶片戰爭：中國的軟肋與突圍\n第二行".to_string();
        let body = encoded_body(chinese.clone());
        assert_eq!(body.encoding(), ContentTransferEncoding::Base64);
        assert_eq!(decode(&body), chinese.replace('\n', "\r\n").into_bytes());
        let ascii = encoded_body("Plain words\n".to_string());
        assert_eq!(ascii.encoding(), ContentTransferEncoding::SevenBit);
    }
}
