//! What a user sees when `config.toml` is wrong: one line naming the key (and the
//! TOML line), and for an unknown key the closest known one.

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::smtp::RelayConfig;
use super::{BouncesConfig, SiteConfig, SmtpConfig};
use super::{DkimConfig, NewsletterConfig, PathsConfig, RawConfig, SeedRules, ServeConfig};

/// The keys of one table, as its struct declares them to serde: the list cannot
/// drift from the structs because it is read from them.
fn known_keys(table: &str) -> Option<&'static [&'static str]> {
    Some(match table {
        "" => fields_of::<RawConfig>(),
        "site" => fields_of::<SiteConfig>(),
        "paths" => fields_of::<PathsConfig>(),
        "seed" => fields_of::<SeedRules>(),
        "newsletter" => fields_of::<NewsletterConfig>(),
        "smtp" => fields_of::<SmtpConfig>(),
        "smtp.relays" => fields_of::<RelayConfig>(),
        "dkim" => fields_of::<DkimConfig>(),
        "serve" => fields_of::<ServeConfig>(),
        "bounces" => fields_of::<BouncesConfig>(),
        "websub" => fields_of::<super::WebSubConfig>(),
        _ => return None,
    })
}

/// The field names `T`'s derived `Deserialize` asks for: a deserializer that
/// answers the first `deserialize_struct` call by recording its field list.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

struct FieldNames<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Recorded;

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Recorded
    }
}

impl<'de> de::Deserializer<'de> for FieldNames<'_> {
    type Error = Recorded;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Recorded> {
        *self.0 = fields;
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        enum identifier ignored_any
    }
}

/// `LINE: `table.key`: what is wrong`, from TOML's multi-line report.
pub(super) fn one_line_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    let Some(span) = error.span() else {
        return message;
    };
    let start = span.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let lines: Vec<&str> = text.lines().collect();
    let table = lines[..line_no.min(lines.len())]
        .iter()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            // `[table]` or `[[array.of.tables]]`.
            let inner = l.strip_prefix('[')?.strip_suffix(']')?;
            let inner =
                (inner.strip_prefix('[').and_then(|r| r.strip_suffix(']'))).unwrap_or(inner);
            Some(inner.trim().to_string())
        })
        .unwrap_or_default();
    let join = |k: &str| {
        if table.is_empty() {
            k.to_string()
        } else {
            format!("{table}.{k}")
        }
    };
    let key = if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        Some(join(field))
    } else {
        lines
            .get(line_no - 1)
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| join(k.trim()))
    };
    match key {
        Some(key) => format!("line {line_no}: key `{key}`: {message}"),
        None => format!("line {line_no}: {message}"),
    }
}

/// The warning for an unknown key path such as `site.titel`.
pub(super) fn unknown_key_warning(path: &str) -> String {
    let (table, key) = path.rsplit_once('.').unwrap_or(("", path));
    let entries = table.split_once('[').map_or(table, |(name, _)| name);
    let closest = known_keys(entries).and_then(|keys| {
        keys.iter()
            .map(|k| (strsim::jaro_winkler(k, key), *k))
            .filter(|(score, _)| *score > 0.7)
            .max_by(|a, b| a.0.total_cmp(&b.0))
    });
    let full = |k: &str| {
        if table.is_empty() {
            k.to_string()
        } else {
            format!("{table}.{k}")
        }
    };
    match closest {
        Some((_, k)) => format!("unknown key `{path}` ignored; did you mean `{}`?", full(k)),
        None => format!("unknown key `{path}` ignored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_come_from_the_structs() {
        let top = known_keys("").unwrap();
        for table in [
            "site",
            "paths",
            "seed",
            "newsletter",
            "smtp",
            "dkim",
            "serve",
            "bounces",
            "websub",
        ] {
            assert!(top.contains(&table), "{table} missing from {top:?}");
            assert!(!known_keys(table).unwrap().is_empty(), "{table}");
        }
        assert!(known_keys("site").unwrap().contains(&"index_items"));
        assert!(
            known_keys("newsletter")
                .unwrap()
                .contains(&"unsubscribe_url")
        );
        assert!(known_keys("smtp").unwrap().contains(&"retry_base_ms"));
        assert!(known_keys("smtp.relays").unwrap().contains(&"weight"));
        assert!(known_keys("websub").unwrap().contains(&"hub"));
        assert!(known_keys("nothing").is_none());
    }

    #[test]
    fn an_unknown_key_suggests_the_closest_known_one() {
        assert_eq!(
            unknown_key_warning("serve.listne"),
            "unknown key `serve.listne` ignored; did you mean `serve.listen`?"
        );
        assert_eq!(
            unknown_key_warning("dkim.zzzz"),
            "unknown key `dkim.zzzz` ignored"
        );
    }
}
