//! UTF-8 checks done with SIMD instructions (`simdutf8`). A build checks every
//! article's text several times over (the seed, the stored article, each rendered
//! page); on CJK text, where no byte is ASCII, the standard library's check is a
//! visible part of a build and this one is several times faster.

/// `bytes` as text, or `None` when they are not UTF-8.
pub(crate) fn str_from_utf8(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

/// `bytes` as a `String` without copying them, or `None` when they are not UTF-8.
pub(crate) fn string_from_utf8(bytes: Vec<u8>) -> Option<String> {
    str_from_utf8(&bytes)?;
    // SAFETY: `str_from_utf8` just found every byte to be valid UTF-8.
    Some(unsafe { String::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_passes_and_broken_sequences_do_not() {
        let text = "華爾街聊什麼 — Wall Street, 2026";
        assert_eq!(str_from_utf8(text.as_bytes()), Some(text));
        assert_eq!(
            string_from_utf8(text.as_bytes().to_vec()).as_deref(),
            Some(text)
        );
        let mut broken = text.as_bytes().to_vec();
        broken.truncate(2);
        assert_eq!(str_from_utf8(&broken), None);
        assert_eq!(string_from_utf8(vec![b'a', 0xff, b'b']), None);
        assert_eq!(
            string_from_utf8(vec![0xed, 0xa0, 0x80]),
            None,
            "a surrogate"
        );
    }
}
