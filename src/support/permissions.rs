//! File permissions for what must stay private: secrets, keys, the state file.

use std::path::Path;

/// Warns when a secret file can be read by other users.
pub(crate) fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "{} is readable by other users; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Makes `path` readable and writable by its owner only; best effort.
#[cfg(unix)]
pub(crate) fn make_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
pub(crate) fn make_private(_path: &Path) {}

/// A password from the environment variable `env`, else from `file` (warned about
/// when others can read it; a trailing line break is not part of it); `None` when
/// neither is set. The error is the file's.
pub(crate) fn password_from(env: &str, file: Option<&Path>) -> std::io::Result<Option<String>> {
    if let Ok(password) = std::env::var(env) {
        return Ok(Some(password));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    warn_if_readable_by_others(path);
    let text = std::fs::read_to_string(path)?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}
