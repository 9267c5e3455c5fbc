//! A Maildir as a source of reports. Unread messages are those in `new/`, and
//! those in `cur/` without the `S` (seen) flag. A processed message is moved to
//! `cur/` with `S` added to its flags (`:2,S`), as a mail client would; `delete`
//! removes it. Nothing else in the folder is touched.

use std::path::{Path, PathBuf};

use super::{BounceError, ReportSource};
use crate::config::Processed;

pub(crate) struct Maildir {
    root: PathBuf,
    processed: Processed,
}

impl Maildir {
    pub(crate) fn open(root: &Path, processed: Processed) -> Result<Maildir, BounceError> {
        for sub in ["new", "cur"] {
            let dir = root.join(sub);
            if !dir.is_dir() {
                return Err(BounceError::Mailbox(format!(
                    "{} is not a Maildir (it has no {sub}/ folder)",
                    root.display()
                )));
            }
        }
        Ok(Maildir {
            root: root.to_path_buf(),
            processed,
        })
    }

    fn io(&self, what: &str, path: &Path, e: std::io::Error) -> BounceError {
        BounceError::Mailbox(format!("cannot {what} {}: {e}", path.display()))
    }
}

/// The flags of a `cur/` name (`NAME:2,FS`), if it has an info part.
fn flags(name: &str) -> Option<&str> {
    name.rsplit_once(":2,").map(|(_, flags)| flags)
}

impl ReportSource for Maildir {
    type Ref = PathBuf;

    fn pending(&mut self) -> Result<Vec<PathBuf>, BounceError> {
        let mut found = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let entries = std::fs::read_dir(&dir).map_err(|e| self.io("read", &dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| self.io("read", &dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                if sub == "cur" && flags(&name).is_some_and(|f| f.contains('S')) {
                    continue;
                }
                found.push(entry.path());
            }
        }
        // Maildir names begin with the delivery time: oldest first.
        found.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        Ok(found)
    }

    fn label(&self, path: &PathBuf) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    fn read(&mut self, path: &PathBuf) -> Result<Vec<u8>, BounceError> {
        std::fs::read(path).map_err(|e| self.io("read", path, e))
    }

    fn processed(&mut self, path: &PathBuf) -> Result<(), BounceError> {
        match self.processed {
            Processed::Delete => std::fs::remove_file(path).map_err(|e| self.io("delete", path, e)),
            Processed::Seen | Processed::Move => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let (base, mut flags) = match name.rsplit_once(":2,") {
                    Some((base, flags)) => (base.to_string(), flags.to_string()),
                    None => (name.clone(), String::new()),
                };
                if !flags.contains('S') {
                    flags.push('S');
                }
                let mut sorted: Vec<char> = flags.chars().collect();
                sorted.sort_unstable();
                let flags: String = sorted.into_iter().collect();
                let target = self.root.join("cur").join(format!("{base}:2,{flags}"));
                std::fs::rename(path, &target).map_err(|e| self.io("move", path, e))
            }
        }
    }
}
