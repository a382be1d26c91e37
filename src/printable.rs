//! Untrusted text made safe to print.
//!
//! URLs, header values, bodies and captured values come from servers. Printed raw, a
//! CR or LF writes a fake line (a CI system reads `::error …` at a line start as a
//! command), ESC sequences move the cursor or clear the screen, and bidirectional
//! overrides reorder what a reader sees. Every such character is written as an escape
//! (`\n`, `\r`, `\u{1b}`, `\u{202e}`), so what is printed is what was received.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or log as itself.
fn unsafe_char(c: char, keep_newlines: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !keep_newlines,
        // C0 controls, DEL and C1 controls.
        c if c.is_control() => true,
        // Bidirectional embeddings, overrides and isolates.
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        _ => false,
    }
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| unsafe_char(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' if !keep_newlines => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c, keep_newlines) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text printed on one line: every control character is escaped, newlines included.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// Text printed as lines of its own (a body, a diff): newlines stay, a CR before a
/// newline is dropped (CRLF bodies), every other control character is escaped.
pub fn block(text: &str) -> Cow<'_, str> {
    if text.contains("\r\n") {
        return Cow::Owned(escape(&text.replace("\r\n", "\n"), true).into_owned());
    }
    escape(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_untouched() {
        assert!(matches!(line("GET https://api.example/v1?a=b\tc"), Cow::Borrowed(_)));
        assert!(matches!(block("a\nb"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_captured_newline_cannot_start_a_fake_line() {
        assert_eq!(line("http://h/x\n::error ::forged"), "http://h/x\\n::error ::forged");
        assert_eq!(line("a\r\nb"), "a\\r\\nb");
    }

    #[test]
    fn escape_sequences_and_bidi_overrides_are_written_out() {
        assert_eq!(line("\u{1b}[2Jcleared"), "\\u{1b}[2Jcleared");
        assert_eq!(line("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(line("nul\0"), "nul\\u{0}");
    }

    #[test]
    fn blocks_keep_their_lines_but_not_their_controls() {
        assert_eq!(block("one\r\ntwo\r\n"), "one\ntwo\n");
        assert_eq!(block("one\n\u{1b}]0;title\u{7}"), "one\n\\u{1b}]0;title\\u{7}");
        assert_eq!(block("lone\rcr"), "lone\\rcr");
    }
}
