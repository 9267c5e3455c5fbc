//! Tera templates: embedded defaults, each overridable by a file of the same name in
//! the configured templates folder.
//!
//! Templates whose names end in `.html` or `.xml` are auto-escaped by Tera, so seed
//! text can never become markup; `.txt` templates are not.

use std::path::{Path, PathBuf};

use crate::support::utf8::string_from_utf8;
use tera::{Context, Kwargs, State, Tera, TeraResult};

/// The templates Herald knows, with their embedded defaults.
pub(crate) const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("archive.html", include_str!("../../templates/archive.html")),
    (
        "article_list.html",
        include_str!("../../templates/article_list.html"),
    ),
    (
        "year_nav.html",
        include_str!("../../templates/year_nav.html"),
    ),
    ("article.html", include_str!("../../templates/article.html")),
    ("tag.html", include_str!("../../templates/tag.html")),
    ("tags.html", include_str!("../../templates/tags.html")),
    ("content.html", include_str!("../../templates/content.html")),
    ("digest.html", include_str!("../../templates/digest.html")),
    ("digest.txt", include_str!("../../templates/digest.txt")),
    (
        "newsletter_index.html",
        include_str!("../../templates/newsletter_index.html"),
    ),
    (
        "subscribe_form.html",
        include_str!("../../templates/subscribe_form.html"),
    ),
    (
        "subscribe.html",
        include_str!("../../templates/subscribe.html"),
    ),
    ("confirm.html", include_str!("../../templates/confirm.html")),
    (
        "unsubscribe.html",
        include_str!("../../templates/unsubscribe.html"),
    ),
    ("message.html", include_str!("../../templates/message.html")),
    (
        "confirm_email.txt",
        include_str!("../../templates/confirm_email.txt"),
    ),
    (
        "confirm_email.html",
        include_str!("../../templates/confirm_email.html"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error(
        "template {path}: cannot read it: {source}\n  hint: fix its permissions or delete it to use the built-in default"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "paths.templates: {path} is not a folder\n  hint: point paths.templates at the folder that holds template overrides"
    )]
    NotAFolder { path: PathBuf },
    #[error(
        "templates: {message}\n  hint: fix the template named above, or delete it from the templates folder to use the built-in default"
    )]
    Parse { message: String },
    #[error(
        "template {name}: {message}\n  hint: check the variable named above against the documented context in README.md"
    )]
    Render { name: String, message: String },
}

/// A loaded set of templates; cheap to share across renders.
pub struct Templates {
    tera: Tera,
    /// Hash of every template's source: outputs rendered from the same sources and
    /// data are the same, so they need not be rendered again.
    fingerprint: String,
}

impl Templates {
    /// Loads the embedded defaults, replacing each with `dir/<name>` when that exists.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        if dir.exists() && !dir.is_dir() {
            return Err(TemplateError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        let mut sources = Vec::with_capacity(EMBEDDED.len());
        for (name, default) in EMBEDDED {
            let path = dir.join(name);
            let source = match std::fs::read_to_string(&path) {
                Ok(text) => {
                    if text != *default {
                        tracing::info!("template {}: overrides the built-in one", path.display());
                    }
                    text
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => default.to_string(),
                Err(source) => return Err(TemplateError::Read { path, source }),
            };
            sources.push((*name, source));
        }
        let mut tera = Tera::new();
        tera.register_filter("wrap", wrap_filter);
        tera.add_raw_templates(sources.iter().map(|(n, s)| (*n, s.as_str())))
            .map_err(|e| TemplateError::Parse {
                message: error_chain(&e),
            })?;
        let fingerprint = crate::support::fingerprint::fingerprint(
            sources
                .iter()
                .flat_map(|(name, source)| [name.as_bytes(), source.as_bytes()]),
        );
        Ok(Templates { tera, fingerprint })
    }

    pub(crate) fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub(crate) fn render(&self, name: &str, context: &Context) -> Result<String, TemplateError> {
        let bytes = self.render_bytes(name, context)?;
        // Tera writes only text, so this never fails; it is what `Tera::render`
        // checks too, faster.
        string_from_utf8(bytes).ok_or_else(|| TemplateError::Render {
            name: name.to_string(),
            message: "the output is not UTF-8".to_string(),
        })
    }

    /// [`render`](Self::render) for a page that goes straight to a file: the same
    /// bytes, without checking that the template's output is UTF-8.
    pub(crate) fn render_bytes(
        &self,
        name: &str,
        context: &Context,
    ) -> Result<Vec<u8>, TemplateError> {
        let mut page = Vec::new();
        self.tera
            .render_to(name, context, &mut page)
            .map_err(|e| TemplateError::Render {
                name: name.to_string(),
                message: error_chain(&e),
            })?;
        Ok(page)
    }

    /// Adds a template given as a string (the subject line from config, say), so it
    /// is parsed once and errors show at load time.
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.tera
            .add_raw_template(name, source)
            .map_err(|e| TemplateError::Parse {
                message: format!("{name}: {}", error_chain(&e)),
            })
    }
}

/// `{{ text | wrap(width=72) }}`: fills text to a column width for plain-text mail.
/// Widths are display columns (a CJK character is two), and lines may break
/// between CJK characters as well as at spaces.
fn wrap_filter(text: &str, kwargs: Kwargs, _: &State) -> TeraResult<String> {
    let width = kwargs.get::<usize>("width")?.unwrap_or(72).max(8);
    let options = textwrap::Options::new(width)
        .word_separator(textwrap::WordSeparator::UnicodeBreakProperties)
        .break_words(true);
    Ok(text
        .split('\n')
        .map(|line| textwrap::fill(line, &options))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Escapes text for HTML (and XML) element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len() + 16);
    // Writing into a Vec cannot fail.
    let _ = tera::escape_html(text, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Tera's message and its causes on one line each: the causes carry the line and
/// the variable.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str("\n  ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
