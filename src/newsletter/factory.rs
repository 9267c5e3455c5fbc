//! What is the same for every message of an edition, and the exact bytes of each
//! recipient's copy: personalised, VERP-addressed and DKIM-signed.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::message::{Mailbox, dkim_sign};

use crate::config::Config;
use crate::newsletter::delivery::DeliveryError;
use crate::newsletter::encoding::EditionPart;
use crate::newsletter::message::{
    Envelope, ListHeaders, MessageError, compose, deterministic_message_id,
};
use crate::newsletter::token::{TokenKey, with_token};
use crate::render::digest::{Digest, UNSUBSCRIBE_PLACEHOLDER, unsubscribe_values};
use crate::store::journal::Job;

/// Everything that is the same for every message of an edition.
pub(crate) struct MessageFactory {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// `newsletter.bounce_address`: the base of each message's VERP envelope sender.
    bounce_address: Option<lettre::Address>,
    domain: String,
    list_id: String,
    unsubscribe_base: String,
    unsubscribe_mailto: Option<String>,
    keys: TokenKey,
    dkim: Option<DkimConfig>,
    date: SystemTime,
}

impl MessageFactory {
    pub(crate) fn new(
        config: &Config,
        keys: TokenKey,
        now: DateTime<Utc>,
    ) -> Result<MessageFactory, DeliveryError> {
        let n = &config.newsletter;
        let domain = config.site_domain().to_string();
        Ok(MessageFactory {
            from: n.from.clone(),
            reply_to: n.reply_to.clone(),
            bounce_address: n.bounce_address.clone(),
            list_id: match &n.list_id {
                Some(id) => id.clone(),
                None => format!("<newsletter.{domain}>"),
            },
            unsubscribe_base: n.unsubscribe_url.clone(),
            unsubscribe_mailto: n.unsubscribe_mailto.clone(),
            dkim: load_dkim(config)?,
            domain,
            keys,
            date: now.into(),
        })
    }

    pub(crate) fn unsubscribe_url(&self, email: &str) -> String {
        with_token(&self.unsubscribe_base, &self.keys.unsubscribe_token(email))
    }

    /// The edition of `digest`, ready to build each recipient's message.
    pub(crate) fn edition<'a>(&'a self, digest: &'a Digest) -> EditionMessages<'a> {
        EditionMessages {
            factory: self,
            digest,
            html: EditionPart::new(&digest.html, UNSUBSCRIBE_PLACEHOLDER),
            text: EditionPart::new(&digest.text, UNSUBSCRIBE_PLACEHOLDER),
        }
    }
}

/// Everything that is the same for every message of one edition, with the parts of
/// its bodies that every copy shares encoded once.
pub(crate) struct EditionMessages<'a> {
    factory: &'a MessageFactory,
    digest: &'a Digest,
    html: EditionPart,
    text: EditionPart,
}

impl EditionMessages<'_> {
    /// The exact bytes and envelope for one recipient.
    pub(crate) fn build(
        &self,
        job: &Job,
    ) -> Result<(lettre::address::Envelope, Vec<u8>), MessageError> {
        let (factory, digest) = (self.factory, self.digest);
        let address = job
            .email
            .parse()
            .map_err(|e: lettre::address::AddressError| MessageError::Address {
                field: "subscriber".into(),
                value: job.email.clone(),
                reason: e.to_string(),
            })?;
        let name = (!job.name.is_empty()).then(|| job.name.clone());
        let to = Mailbox::new(name, address);
        let envelope_sender = match &factory.bounce_address {
            Some(base) => {
                Some(factory.verp_sender(base, &digest.week.to_string(), job.subscriber_id)?)
            }
            None => None,
        };
        let unsubscribe_url = factory.unsubscribe_url(&job.email);
        let (in_html, in_text) = unsubscribe_values(&unsubscribe_url);
        let (html, text) = (self.html.body(&in_html), self.text.body(in_text));
        let mut message = compose(
            &digest.subject,
            Envelope {
                from: &factory.from,
                reply_to: factory.reply_to.as_ref(),
                to,
                message_id: deterministic_message_id(
                    &digest.week.to_string(),
                    &job.email,
                    &factory.domain,
                ),
                date: factory.date,
                list: Some(ListHeaders {
                    list_id: factory.list_id.clone(),
                    unsubscribe_url,
                    unsubscribe_mailto: factory.unsubscribe_mailto.clone(),
                }),
            },
            html,
            text,
        )?;
        if let Some(dkim) = &factory.dkim {
            dkim_sign(&mut message, dkim);
        }
        let envelope = match envelope_sender {
            Some(sender) => {
                lettre::address::Envelope::new(Some(sender), message.envelope().to().to_vec())
                    .map_err(|e| MessageError::Build(e.to_string()))?
            }
            None => message.envelope().clone(),
        };
        Ok((envelope, message.formatted()))
    }
}

impl MessageFactory {
    /// `bounces+<tag>@domain` for `base` = `bounces@domain`: the envelope sender a
    /// delivery report comes back to, naming edition `week` and the subscriber.
    fn verp_sender(
        &self,
        base: &lettre::Address,
        week: &str,
        subscriber_id: i64,
    ) -> Result<lettre::Address, MessageError> {
        let tag = self.keys.bounce_tag(week, subscriber_id);
        let user = format!("{}+{tag}", base.user());
        lettre::Address::new(&user, base.domain()).map_err(|e| MessageError::Address {
            field: "newsletter.bounce_address".into(),
            value: format!("{user}@{}", base.domain()),
            reason: e.to_string(),
        })
    }
}

/// Headers the DKIM signature covers: lettre's defaults, Reply-To (signed even
/// when absent, so none can be added in transit) and MIME-Version, plus the ones
/// RFC 8058 requires for one-click unsubscribe to be trusted. The top-level
/// Content-Type cannot be listed: lettre writes a multipart's Content-Type with
/// the body, outside the headers its signer sees, so listing it would sign it as
/// absent and break every signature (the parts it describes are covered by the
/// body hash).
const DKIM_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

fn load_dkim(config: &Config) -> Result<Option<DkimConfig>, DeliveryError> {
    let (Some(dkim), Some(signing_domain)) = (&config.dkim, config.dkim_domain()) else {
        return Ok(None);
    };
    let path = dkim.key_file.display().to_string();
    let err = |message: String| DeliveryError::Dkim {
        path: path.clone(),
        message,
    };
    crate::support::permissions::warn_if_readable_by_others(&dkim.key_file);
    let pem = std::fs::read_to_string(&dkim.key_file).map_err(|e| err(e.to_string()))?;
    let algorithm = if pem.contains("BEGIN RSA PRIVATE KEY") {
        DkimSigningAlgorithm::Rsa
    } else {
        DkimSigningAlgorithm::Ed25519
    };
    let key = DkimSigningKey::new(pem.trim(), algorithm).map_err(|e| err(format!("{e:?}")))?;
    Ok(Some(DkimConfig::new(
        dkim.selector.clone(),
        signing_domain.to_string(),
        key,
        DKIM_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect(),
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    )))
}
