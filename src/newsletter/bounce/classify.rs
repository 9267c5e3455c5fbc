//! One message from the bounce mailbox → what it says about a delivery.
//!
//! Mail systems report in several shapes, tried in this order:
//! - RFC 3464 delivery status notifications (`multipart/report;
//!   report-type=delivery-status`): Postfix, Exim with DSN, Exchange/Outlook and
//!   Gmail write these, with a `message/delivery-status` part holding an `Action`,
//!   `Status` and `Diagnostic-Code` per recipient, and the original message or its
//!   headers attached;
//! - RFC 5965 ARF complaint reports (`report-type=feedback-report`): a reader
//!   pressed "this is spam" at a provider with a feedback loop;
//! - old-style plain-text bounces (qmail, Exim's default), recognised by their
//!   sender or wording and classified from the SMTP reply or enhanced status code
//!   in their text;
//! - automatic replies (RFC 3834 `Auto-Submitted`, out-of-office): not bounces.
//!
//! Anything else is [`Outcome::Unclassified`] and left for a person.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// What a report means for the subscriber it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// Not about a delivery (an out-of-office reply, a vacation notice).
    AutoReply,
    /// Delivery is delayed (`Action: delayed`, a 4.x.x status): recorded only.
    Delayed,
    /// A permanent failure other than a bad address: counts toward
    /// `newsletter.bounce_after`.
    Soft,
    /// 5.1.x: no such mailbox, bad address or domain. The address is dead.
    Hard,
    /// The reader reported the newsletter as spam.
    Complaint,
    /// Nothing Herald recognises.
    Unclassified,
}

/// What one message of the bounce mailbox says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Report {
    pub outcome: Outcome,
    /// The enhanced status code (`5.1.1`) or, failing that, the SMTP reply code.
    pub status: Option<String>,
    /// The server's words (`Diagnostic-Code`, the quoted reply, the feedback type).
    pub diagnostic: String,
    /// Addresses the report was delivered to or names as the original envelope
    /// sender: where a VERP tag can be.
    pub addressed_to: Vec<String>,
    /// The `Message-ID` of the message the report is about, without brackets.
    pub original_message_id: Option<String>,
}

/// Reads `raw` (a whole message as stored in the mailbox).
pub(crate) fn classify(raw: &[u8]) -> Report {
    let Some(message) = MessageParser::default().parse(raw) else {
        return unclassified(Vec::new());
    };
    let addressed_to = envelope_addresses(&message);
    let report_type = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(str::to_ascii_lowercase);
    let report = match report_type.as_deref() {
        Some("delivery-status") => delivery_status(&message, addressed_to.clone()),
        Some("feedback-report") => feedback_report(&message, addressed_to.clone()),
        _ => None,
    };
    report
        .or_else(|| plain_text_bounce(&message, addressed_to.clone()))
        .or_else(|| auto_reply(&message, addressed_to.clone()))
        .unwrap_or_else(|| unclassified(addressed_to))
}

fn unclassified(addressed_to: Vec<String>) -> Report {
    Report {
        outcome: Outcome::Unclassified,
        status: None,
        diagnostic: String::new(),
        addressed_to,
        original_message_id: None,
    }
}

/// Where the report was delivered: the headers a delivering MTA adds, then `To`.
fn envelope_addresses(message: &Message<'_>) -> Vec<String> {
    let mut found = Vec::new();
    for name in [
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
    ] {
        for value in message.header_values(name) {
            if let Some(text) = value.as_text() {
                found.extend(bare_addresses(text));
            }
        }
    }
    for address in message.to().into_iter().flat_map(|a| a.iter()) {
        if let Some(email) = address.address() {
            found.push(email.to_string());
        }
    }
    found
}

/// The addresses in a header value such as `<a@b>, c@d`.
fn bare_addresses(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split([',', ' ', '\t'])
        .map(|part| part.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|part| part.contains('@'))
        .map(str::to_string)
}

/// The text of the first part whose type is `ctype/subtype`, whatever the parser
/// made of it (text, binary, or a nested message).
fn part_text(message: &Message<'_>, ctype: &str, subtypes: &[&str]) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let ct = part.content_type()?;
        let subtype = ct.subtype()?;
        if !ct.ctype().eq_ignore_ascii_case(ctype)
            || !subtypes.iter().any(|s| s.eq_ignore_ascii_case(subtype))
        {
            return None;
        }
        Some(match &part.body {
            PartType::Message(nested) => String::from_utf8_lossy(nested.raw_message()).into_owned(),
            _ => String::from_utf8_lossy(part.contents()).into_owned(),
        })
    })
}

/// `Name: value` fields of an RFC 3464 / RFC 5965 body, in groups separated by
/// blank lines; continuation lines are unfolded.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim().is_empty() {
            if !groups.last().is_some_and(Vec::is_empty) {
                groups.push(Vec::new());
            }
            continue;
        }
        let group = groups.last_mut().expect("never empty");
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The attached original (a whole message or its headers): its Message-ID, and
/// the envelope sender a receiving MTA recorded in `Return-Path`.
fn original_message(message: &Message<'_>) -> (Option<String>, Vec<String>) {
    let Some(text) = part_text(
        message,
        "message",
        &["rfc822", "global", "rfc822-headers", "global-headers"],
    )
    .or_else(|| part_text(message, "text", &["rfc822-headers"])) else {
        return (None, Vec::new());
    };
    let headers = text.split("\n\n").next().unwrap_or(&text);
    let headers = headers.split("\r\n\r\n").next().unwrap_or(headers);
    (header_in_text(headers, "message-id"), return_paths(headers))
}

/// The value of header `name` in plain header text (first occurrence), brackets
/// removed for a Message-ID.
fn header_in_text(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| {
                value
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|v| !v.is_empty())
    })
}

fn return_paths(headers: &str) -> Vec<String> {
    headers
        .lines()
        .filter_map(|line| {
            let (n, value) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case("return-path")
                .then(|| bare_addresses(value).collect::<Vec<_>>())
        })
        .flatten()
        .collect()
}

/// An RFC 3463 enhanced status code (`5.1.1`) in `text`.
fn enhanced_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'2' | b'4' | b'5') || bytes.get(i + 1) != Some(&b'.') {
            continue;
        }
        if i > 0 && (bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.') {
            continue;
        }
        let rest = &text[i + 2..];
        let subject_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&subject_len) || rest.as_bytes().get(subject_len) != Some(&b'.') {
            continue;
        }
        let detail = &rest[subject_len + 1..];
        let detail_len = detail.bytes().take_while(u8::is_ascii_digit).count();
        let after = detail.as_bytes().get(detail_len);
        if (1..=3).contains(&detail_len) && !after.is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        {
            return Some(text[i..i + 2 + subject_len + 1 + detail_len].to_string());
        }
    }
    None
}

/// A three-digit SMTP reply code (`550`) standing on its own in `text`.
fn reply_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        let code = &bytes[i..i + 3];
        let starts = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let ends = bytes
            .get(i + 3)
            .is_none_or(|c| matches!(c, b' ' | b'-' | b'\r' | b'\n' | b'\t'));
        (starts
            && ends
            && matches!(code[0], b'4' | b'5')
            && code[1].is_ascii_digit()
            && code[2].is_ascii_digit())
        .then(|| text[i..i + 3].to_string())
    })
}

/// What a status code means: class 5 subject 1 is a dead address, other class 5
/// a permanent failure, class 4 a delay.
fn outcome_of_status(status: &str) -> Option<Outcome> {
    let mut parts = status.split('.');
    let class = parts.next()?;
    if parts.next().is_none() {
        // A bare reply code: 5xx is permanent, but says nothing of the address.
        return match class.as_bytes().first()? {
            b'5' => Some(Outcome::Soft),
            b'4' => Some(Outcome::Delayed),
            _ => None,
        };
    }
    let subject = status.split('.').nth(1)?;
    match (class, subject) {
        ("5", "1") => Some(Outcome::Hard),
        ("5", _) => Some(Outcome::Soft),
        ("4", _) => Some(Outcome::Delayed),
        _ => None,
    }
}

fn delivery_status(message: &Message<'_>, mut addressed_to: Vec<String>) -> Option<Report> {
    let text = part_text(
        message,
        "message",
        &["delivery-status", "global-delivery-status"],
    )
    .or_else(|| part_text(message, "text", &["delivery-status"]))?;
    let (original_message_id, return_paths) = original_message(message);
    addressed_to.extend(return_paths);
    // The first group is about the message; each further one about a recipient.
    // Herald's messages have one recipient, so the most severe group decides.
    let mut best: Option<(Outcome, Option<String>, String)> = None;
    for group in field_groups(&text) {
        let Some(action) = field(&group, "action") else {
            continue;
        };
        let action = action.to_ascii_lowercase();
        let diagnostic = field(&group, "diagnostic-code")
            .map(|d| {
                d.split_once(';')
                    .map_or(d, |(_, rest)| rest)
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        let status = field(&group, "status")
            .and_then(enhanced_code)
            .filter(|s| !s.ends_with(".0.0"))
            .or_else(|| enhanced_code(&diagnostic))
            .or_else(|| field(&group, "status").and_then(enhanced_code))
            .or_else(|| reply_code(&diagnostic));
        let outcome = match action.as_str() {
            "delayed" => Some(Outcome::Delayed),
            "failed" => Some(
                status
                    .as_deref()
                    .and_then(outcome_of_status)
                    .filter(|o| *o != Outcome::Delayed)
                    .unwrap_or(Outcome::Soft),
            ),
            _ => None,
        };
        if let Some(outcome) = outcome
            && best.as_ref().is_none_or(|(o, ..)| outcome > *o)
        {
            best = Some((outcome, status, diagnostic));
        }
    }
    let (outcome, status, diagnostic) = best?;
    Some(Report {
        outcome,
        status,
        diagnostic,
        addressed_to,
        original_message_id,
    })
}

fn feedback_report(message: &Message<'_>, mut addressed_to: Vec<String>) -> Option<Report> {
    let text = part_text(message, "message", &["feedback-report"])?;
    let fields: Vec<(String, String)> = field_groups(&text).into_iter().flatten().collect();
    let feedback_type = field(&fields, "feedback-type")
        .unwrap_or("abuse")
        .to_string();
    let (original_message_id, return_paths) = original_message(message);
    addressed_to.extend(return_paths);
    Some(Report {
        outcome: Outcome::Complaint,
        status: None,
        diagnostic: format!("feedback report: {feedback_type}"),
        addressed_to,
        original_message_id,
    })
}

/// Where an old-style bounce's copy of the original message begins.
const COPY_MARKERS: [&str; 4] = [
    "--- below this line is a copy of the message",
    "------ this is a copy of the message",
    "----- original message -----",
    "------ this is a copy of your message",
];

fn plain_text_bounce(message: &Message<'_>, addressed_to: Vec<String>) -> Option<Report> {
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or("")
        .to_ascii_lowercase();
    let from_daemon = ["mailer-daemon@", "postmaster@"]
        .iter()
        .any(|p| from.starts_with(p));
    let subject = message.subject().unwrap_or("").to_ascii_lowercase();
    let bounce_subject = [
        "failure notice",
        "undeliver",
        "delivery status notification",
        "mail delivery failed",
        "returned mail",
        "delivery failure",
    ]
    .iter()
    .any(|s| subject.contains(s));
    let body = message.body_text(0)?.into_owned();
    let lower = body.to_ascii_lowercase();
    let bounce_wording = lower.contains("qmail-send program")
        || lower.contains("could not be delivered to one or more")
        || lower.contains("wasn't able to deliver your message");
    if !(from_daemon || bounce_subject || bounce_wording) {
        return None;
    }
    let cut = COPY_MARKERS
        .iter()
        .filter_map(|m| lower.find(m))
        .min()
        .unwrap_or(body.len());
    let (report_text, copy) = body.split_at(cut);
    let status = enhanced_code(report_text).or_else(|| reply_code(report_text));
    let report_lower = &lower[..cut];
    let outcome = match status.as_deref().and_then(outcome_of_status) {
        Some(outcome) => outcome,
        None if report_lower.contains("permanent error") => Outcome::Soft,
        None if report_lower.contains("temporary") || report_lower.contains("delayed") => {
            Outcome::Delayed
        }
        None => return None,
    };
    let diagnostic = report_text
        .lines()
        .map(str::trim)
        .find(|l| status.as_deref().is_some_and(|s| l.contains(s)))
        .unwrap_or_default()
        .to_string();
    Some(Report {
        outcome,
        status,
        diagnostic,
        addressed_to,
        original_message_id: header_in_text(copy, "message-id"),
    })
}

fn auto_reply(message: &Message<'_>, addressed_to: Vec<String>) -> Option<Report> {
    let header = |name: &str| {
        message
            .header_values(name)
            .filter_map(|v| v.as_text())
            .map(|t| t.trim().to_ascii_lowercase())
            .next()
    };
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| v != "no");
    let marked = header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("Precedence").is_some_and(|v| v == "auto_reply");
    let subject = message.subject().unwrap_or("").to_lowercase();
    let out_of_office = [
        "out of office",
        "automatic reply",
        "autoreply",
        "auto:",
        "自動回覆",
    ]
    .iter()
    .any(|s| subject.starts_with(s) || subject.contains(&format!(": {s}")));
    (auto_submitted || marked || out_of_office).then(|| Report {
        outcome: Outcome::AutoReply,
        status: None,
        diagnostic: String::new(),
        addressed_to,
        original_message_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_found_on_their_own_only() {
        assert_eq!(
            enhanced_code("smtp; 550 5.1.1 <a@b>: Recipient address rejected").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(enhanced_code("Status: 4.4.7").as_deref(), Some("4.4.7"));
        assert_eq!(enhanced_code("version 10.5.1.2 of the server"), None);
        assert_eq!(enhanced_code("at 12:5.1 o'clock"), None);
        assert_eq!(reply_code("said: 552 mailbox full").as_deref(), Some("552"));
        assert_eq!(reply_code("id 45512 queued"), None);
        assert_eq!(reply_code("code 250 ok"), None);
    }

    #[test]
    fn classes_and_subjects_decide_the_outcome() {
        assert_eq!(outcome_of_status("5.1.1"), Some(Outcome::Hard));
        assert_eq!(outcome_of_status("5.1.10"), Some(Outcome::Hard));
        assert_eq!(outcome_of_status("5.2.2"), Some(Outcome::Soft));
        assert_eq!(outcome_of_status("5.7.1"), Some(Outcome::Soft));
        assert_eq!(outcome_of_status("4.2.2"), Some(Outcome::Delayed));
        assert_eq!(outcome_of_status("550"), Some(Outcome::Soft));
        assert_eq!(outcome_of_status("421"), Some(Outcome::Delayed));
        assert_eq!(outcome_of_status("2.0.0"), None);
    }

    #[test]
    fn folded_fields_are_unfolded_and_grouped() {
        let groups = field_groups(
            "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; a@b\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 5.1.1\r\n  no such user\r\n",
        );
        assert_eq!(groups.len(), 2);
        assert_eq!(
            field(&groups[1], "diagnostic-code"),
            Some("smtp; 550 5.1.1 no such user")
        );
    }
}
