//! Content fingerprints: what decides whether an output, a seed or a setting changed.

/// SHA-256 (hex) over `parts`, each length-prefixed so that ("ab","c") and
/// ("a","bc") differ.
pub(crate) fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut fingerprint = Fingerprinter::default();
    for part in parts {
        fingerprint.add(part);
    }
    fingerprint.finish()
}

/// [`fingerprint`] taking its parts one by one.
#[derive(Default)]
pub(crate) struct Fingerprinter(sha2::Sha256);

impl Fingerprinter {
    pub(crate) fn add(&mut self, part: &[u8]) {
        use sha2::Digest;
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part);
    }

    pub(crate) fn finish(self) -> String {
        use sha2::Digest;
        to_hex(&self.0.finalize())
    }
}

/// Lower-case hexadecimal.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}
