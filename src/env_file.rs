//! `--env-file` contents: `NAME=value` lines, read the way docker compose reads them.
//!
//! - blank lines and `# comments` are skipped; `export NAME=value` is accepted; a UTF-8
//!   byte order mark at the start is ignored;
//! - an unquoted value runs to the end of the line, trimmed; ` #` starts a comment;
//! - a `'single-quoted'` value is literal: no `$` references, no escapes;
//! - a `"double-quoted"` value takes `\n`, `\r`, `\t`, `\\`, `\"` and `\$` escapes;
//!   quoted values may span lines;
//! - unquoted and double-quoted values expand `$NAME`, `${NAME}`, `${NAME:-default}`,
//!   `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`, `${NAME:+other}` and
//!   `${NAME+other}`; `$$` and `\$` are a literal `$`, and a `$` before anything that
//!   cannot start a name stays as written.
//!
//! Unlike compose (which warns and substitutes an empty string), a reference to a variable
//! that is not set is an error pointing at it: a password such as `pa$word1` written
//! unquoted must not silently become `pa`. Every error carries the byte range of the
//! offending text, so it is shown at its real line and column.

use std::collections::HashMap;
use std::ops::Range;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

/// Why an env file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    /// A line starts with something that is not a variable name.
    #[error("`{text}` is not a variable name")]
    BadName {
        /// The offending text.
        text: String,
        /// Where it is.
        at: Range<usize>,
    },
    /// A name is not followed by `=`.
    #[error("expected `=` after `{name}`")]
    MissingEquals {
        /// The name before it.
        name: String,
        /// What follows the name instead (empty at the end of the line).
        at: Range<usize>,
    },
    /// A quoted value has no closing quote.
    #[error("the value of `{name}` opens a quote (`{quote}`) that is never closed")]
    Unclosed {
        /// The variable.
        name: String,
        /// `'` or `"`.
        quote: char,
        /// The opening quote.
        at: Range<usize>,
    },
    /// Text after a closing quote that is not a comment.
    #[error("unexpected text after the quoted value of `{name}`")]
    AfterQuote {
        /// The variable.
        name: String,
        /// The text.
        at: Range<usize>,
    },
    /// `${` without a name and a closing `}`.
    #[error("`{text}` is not a variable reference")]
    BadReference {
        /// The offending text.
        text: String,
        /// Where it is.
        at: Range<usize>,
    },
    /// A reference to a variable that is not set (no silent empty string).
    #[error("`{reference}` reads `{name}`, which is not set")]
    Unset {
        /// The variable read.
        name: String,
        /// The reference as written (`$name`, `${name}`).
        reference: String,
        /// Where it is.
        at: Range<usize>,
    },
    /// `${NAME:?message}` or `${NAME?message}` with `NAME` unset (or empty, with `:`).
    #[error("`{name}` is required: {message}")]
    Required {
        /// The variable.
        name: String,
        /// The message written after `?`.
        message: String,
        /// The reference.
        at: Range<usize>,
    },
}

impl EnvFileError {
    /// The byte range of the offending text.
    pub fn range(&self) -> Range<usize> {
        match self {
            EnvFileError::BadName { at, .. }
            | EnvFileError::MissingEquals { at, .. }
            | EnvFileError::Unclosed { at, .. }
            | EnvFileError::AfterQuote { at, .. }
            | EnvFileError::BadReference { at, .. }
            | EnvFileError::Unset { at, .. }
            | EnvFileError::Required { at, .. } => at.clone(),
        }
    }

    /// The diagnostic, pointing into `file` (the env file's text, as parsed).
    pub fn diagnostic(&self, file: FileId) -> Diagnostic {
        let (label, help) = match self {
            EnvFileError::BadName { .. } => (
                "not a name",
                "names use letters, digits, `_` and `.`, and start with a letter or `_`".to_string(),
            ),
            EnvFileError::MissingEquals { .. } => (
                "expected `=` here",
                "lines look like NAME=value, NAME=\"quoted value\" or # comments".into(),
            ),
            EnvFileError::Unclosed { quote, .. } => {
                ("opened here", format!("close it with `{quote}` (quoted values may span lines)"))
            }
            EnvFileError::AfterQuote { .. } => (
                "after the closing quote",
                "put everything inside the quotes, or start a comment with ` #`".into(),
            ),
            EnvFileError::BadReference { .. } => {
                ("not a reference", "write `${NAME}` to use a variable, or `$$` for a literal `$`".into())
            }
            EnvFileError::Unset { name, .. } => (
                "not set",
                format!(
                    "`$` reads a variable: for a literal `$` write `$$` or `\\$`, or put the value in \
                     single quotes ('...'); or set `{name}` (earlier in the file or in the environment)"
                ),
            ),
            EnvFileError::Required { name, .. } => ("required", format!("set `{name}`")),
        };
        let at = self.range();
        Diagnostic::usage(Code::BadEnvFile, self.to_string())
            .at(Span::new(file, at.start, at.end), label)
            .help(help)
    }
}

/// How deep `${…}` references may nest in one another's defaults.
const MAX_NESTING: usize = 16;

/// The byte order mark some editors write at the start of UTF-8 files.
const BOM: char = '\u{feff}';

/// Reads `NAME=value` pairs from `text`, in order. `$` references read, first, `lookup`
/// (the environment baton runs in), then the entries earlier in this text.
pub fn parse(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let mut parser = Parser { text, pos: 0, earlier: HashMap::new(), lookup: &lookup };
    if text.starts_with(BOM) {
        parser.pos = BOM.len_utf8();
    }
    let mut out = Vec::new();
    while let Some((name, value)) = parser.entry()? {
        parser.earlier.insert(name.clone(), value.clone());
        out.push((name, value));
    }
    Ok(out)
}

/// One character of a value after quoting, with where it was written.
#[derive(Debug, Clone, Copy)]
struct Char {
    c: char,
    /// Byte offset of the text it was written as.
    at: usize,
    /// Bytes of that text (2 for an escape such as `\$`).
    len: usize,
    /// Escaped (`\$`), or inside single quotes: never starts a reference.
    literal: bool,
}

struct Parser<'t, 'l> {
    text: &'t str,
    pos: usize,
    earlier: HashMap<String, String>,
    lookup: &'l dyn Fn(&str) -> Option<String>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_inline_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl<'t> Parser<'t, '_> {
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_inline_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches(is_inline_space).len();
    }

    /// The end of the current line (before `\n`, and before a `\r` ahead of it).
    fn line_end(&self) -> usize {
        let end = self.rest().find('\n').map_or(self.text.len(), |i| self.pos + i);
        if self.text[..end].ends_with('\r') { end - 1 } else { end }
    }

    /// Moves past the end of the current line.
    fn next_line(&mut self) {
        self.pos = self.rest().find('\n').map_or(self.text.len(), |i| self.pos + i + 1);
    }

    /// The range `from..to` with trailing whitespace left out.
    fn trimmed(&self, from: usize, to: usize) -> Range<usize> {
        from..from + self.text[from..to].trim_end().len()
    }

    /// The next entry, skipping blank lines and comments; `None` at the end.
    fn entry(&mut self) -> Result<Option<(String, String)>, EnvFileError> {
        loop {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start().len();
            match self.peek() {
                None => return Ok(None),
                Some('#') => self.next_line(),
                Some(_) => break,
            }
        }
        let mut name = self.name()?;
        self.skip_inline_space();
        // `export NAME=value`, as shells write it; `export=1` is a variable named export.
        if name == "export" && self.peek().is_some_and(is_name_start) {
            name = self.name()?;
            self.skip_inline_space();
        }
        if self.peek() != Some('=') {
            let end = self.line_end().max(self.pos);
            return Err(EnvFileError::MissingEquals { name, at: self.trimmed(self.pos, end) });
        }
        self.pos += 1;
        let after_equals = self.pos;
        self.skip_inline_space();
        let value = match self.peek() {
            Some(quote @ ('\'' | '"')) => self.quoted(&name, quote)?,
            _ => self.unquoted(self.pos > after_equals)?,
        };
        Ok(Some((name, value)))
    }

    fn name(&mut self) -> Result<String, EnvFileError> {
        let rest = self.rest();
        let len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        if !rest.starts_with(is_name_start) {
            let line_end = self.line_end();
            let token = rest[..line_end - self.pos].find(|c: char| c == '=' || c.is_whitespace());
            let end = token
                .map_or(line_end, |i| self.pos + i)
                .max(self.pos + rest.chars().next().map_or(0, char::len_utf8));
            return Err(EnvFileError::BadName {
                text: self.text[self.pos..end].to_string(),
                at: self.pos..end,
            });
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    /// An unquoted value: to the end of the line or a ` #` comment, trimmed. `spaced`:
    /// whitespace came between `=` and the value, so a `#` right here starts a comment
    /// (`A= # note`), while `A=#x` is the value `#x`, not an empty one.
    fn unquoted(&mut self, spaced: bool) -> Result<String, EnvFileError> {
        let end = self.line_end();
        let mut chars = Vec::new();
        let mut iter = self.text[self.pos..end].char_indices().peekable();
        let mut previous_space = spaced;
        while let Some((i, c)) = iter.next() {
            let at = self.pos + i;
            if c == '#' && previous_space {
                break;
            }
            previous_space = is_inline_space(c);
            if c == '\\' && iter.peek().is_some_and(|&(_, n)| n == '$') {
                iter.next();
                chars.push(Char { c: '$', at, len: 2, literal: true });
            } else {
                chars.push(Char { c, at, len: c.len_utf8(), literal: false });
            }
        }
        while chars.last().is_some_and(|c| c.c.is_whitespace() && !c.literal) {
            chars.pop();
        }
        self.next_line();
        self.expand(&chars)
    }

    /// A quoted value, from the opening quote at `self.pos`.
    fn quoted(&mut self, name: &str, quote: char) -> Result<String, EnvFileError> {
        let open = self.pos;
        self.pos += 1;
        let mut chars = Vec::new();
        let mut iter = self.rest().char_indices().peekable();
        let base = self.pos;
        let mut close = None;
        while let Some((i, c)) = iter.next() {
            let at = base + i;
            if c == quote {
                close = Some(at);
                break;
            }
            if c == '\r' && iter.peek().is_some_and(|&(_, n)| n == '\n') {
                continue; // CRLF files: a line break inside a value is `\n`.
            }
            if quote == '"' && c == '\\' {
                let escaped = match iter.peek().map(|&(_, n)| n) {
                    Some('n') => Some('\n'),
                    Some('r') => Some('\r'),
                    Some('t') => Some('\t'),
                    Some(n @ ('\\' | '"' | '$')) => Some(n),
                    _ => None,
                };
                if let Some(e) = escaped {
                    iter.next();
                    chars.push(Char { c: e, at, len: 2, literal: true });
                    continue;
                }
            }
            chars.push(Char { c, at, len: c.len_utf8(), literal: quote == '\'' });
        }
        let Some(close) = close else {
            return Err(EnvFileError::Unclosed { name: name.to_string(), quote, at: open..open + 1 });
        };
        self.pos = close + 1;
        self.skip_inline_space();
        let end = self.line_end();
        if self.pos < end && self.peek() != Some('#') {
            return Err(EnvFileError::AfterQuote { name: name.to_string(), at: self.trimmed(self.pos, end) });
        }
        self.next_line();
        self.expand(&chars)
    }

    /// The value with its `$` references replaced.
    fn expand(&self, chars: &[Char]) -> Result<String, EnvFileError> {
        self.expand_until(chars, &mut 0, 0, true)
    }

    /// Expands from `chars[*i]` to the end or, inside `depth` braces, to an unmatched `}`
    /// (left at `*i`). Without `evaluate` only the syntax is checked: the default of a set
    /// variable is never read, so an unset name inside it is no error.
    fn expand_until(
        &self,
        chars: &[Char],
        i: &mut usize,
        depth: usize,
        evaluate: bool,
    ) -> Result<String, EnvFileError> {
        let mut out = String::new();
        while let Some(&ch) = chars.get(*i) {
            if depth > 0 && ch.c == '}' && !ch.literal {
                return Ok(out);
            }
            let next = chars.get(*i + 1).filter(|n| !n.literal).map(|n| n.c);
            if ch.c != '$' || ch.literal {
                out.push(ch.c);
                *i += 1;
                continue;
            }
            match next {
                Some('$') => {
                    out.push('$');
                    *i += 2;
                }
                Some('{') => out.push_str(&self.braced(chars, i, depth + 1, evaluate)?),
                Some(n) if is_name_start(n) => {
                    let start = *i;
                    *i += 1;
                    let name = take_name(chars, i);
                    let at = ch.at..end_of(chars, *i);
                    if evaluate {
                        let value = self.value_of(&name).ok_or_else(|| EnvFileError::Unset {
                            reference: chars[start..*i].iter().map(|c| c.c).collect(),
                            name,
                            at,
                        })?;
                        out.push_str(&value);
                    }
                }
                _ => {
                    out.push('$');
                    *i += 1;
                }
            }
        }
        Ok(out)
    }

    /// `${…}` from the `$` at `chars[*i]`; leaves `*i` after the closing `}`.
    fn braced(
        &self,
        chars: &[Char],
        i: &mut usize,
        depth: usize,
        evaluate: bool,
    ) -> Result<String, EnvFileError> {
        let start = *i;
        *i += 2;
        let name = take_name(chars, i);
        // What is not a reference is shown up to its `}`, or to the end of the value.
        let bad = |from: usize| {
            let close = chars[from..].iter().position(|c| c.c == '}').map_or(chars.len(), |p| from + p + 1);
            let at = chars[start].at..end_of(chars, close);
            EnvFileError::BadReference { text: self.text[at.clone()].to_string(), at }
        };
        // Defaults nest (`${A:-${B}}`), but not without bound: the parser recurses.
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || depth > MAX_NESTING {
            return Err(bad(*i));
        }
        let op: String =
            chars[*i..].iter().take_while(|c| ":-?+".contains(c.c)).take(2).map(|c| c.c).collect();
        let op = match op.as_str() {
            ":-" | ":?" | ":+" => op,
            o if o.starts_with(['-', '?', '+']) => o[..1].to_string(),
            _ => String::new(),
        };
        *i += op.len();
        let current = self.value_of(&name);
        // With `:`, an empty value counts as unset.
        let present = current.as_ref().is_some_and(|v| !(op.starts_with(':') && v.is_empty()));
        let word = if op.is_empty() {
            String::new()
        } else {
            // Only the branch taken reads variables: a set variable's default is not read.
            let word_used = if op.ends_with('+') { present } else { !present };
            self.expand_until(chars, i, depth, evaluate && word_used)?
        };
        if chars.get(*i).is_none_or(|c| c.c != '}' || c.literal) {
            return Err(bad(*i));
        }
        *i += 1;
        let at = chars[start].at..end_of(chars, *i);
        if !evaluate {
            return Ok(String::new());
        }
        match (op.as_str(), current) {
            ("", Some(value)) => Ok(value),
            ("", None) => Err(EnvFileError::Unset { reference: self.text[at.clone()].to_string(), name, at }),
            (":-" | "-", value) => Ok(if present { value.unwrap_or_default() } else { word }),
            (":?" | "?", Some(value)) if present => Ok(value),
            (":?" | "?", _) => Err(EnvFileError::Required {
                name,
                message: if word.is_empty() { "it is not set".into() } else { word },
                at,
            }),
            _ => Ok(if present { word } else { String::new() }),
        }
    }

    fn value_of(&self, name: &str) -> Option<String> {
        (self.lookup)(name).or_else(|| self.earlier.get(name).cloned())
    }
}

/// Where `chars[..i]` ends in the text.
fn end_of(chars: &[Char], i: usize) -> usize {
    match i.checked_sub(1).and_then(|last| chars.get(last)) {
        Some(c) => c.at + c.len,
        None => chars.first().map_or(0, |c| c.at),
    }
}

/// Takes `[A-Za-z0-9_]*` from `chars[*i]` on (escaped characters end a name).
fn take_name(chars: &[Char], i: &mut usize) -> String {
    let mut name = String::new();
    while let Some(c) = chars.get(*i).filter(|c| !c.literal && (c.c.is_ascii_alphanumeric() || c.c == '_')) {
        name.push(c.c);
        *i += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(String, String)> {
        read_with(text, &[]).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn read_with(text: &str, env: &[(&str, &str)]) -> Result<Vec<(String, String)>, EnvFileError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse(text, |n| env.get(n).cloned())
    }

    fn value(text: &str) -> String {
        read(text).pop().map(|(_, v)| v).unwrap_or_else(|| panic!("{text:?}: no entry"))
    }

    /// The error and the text it points at.
    fn refused(text: &str) -> (EnvFileError, &str) {
        let err = read_with(text, &[]).expect_err(text);
        let at = err.range();
        (err, &text[at])
    }

    #[test]
    fn names_values_comments_and_export() {
        let text =
            "# settings\n\nA=1\n  B = two words  \nexport C=3\nexport=4\nD=\nE= # nothing\nF=x#y # z\nG=#x\n";
        let got = read(text);
        let pairs: Vec<(&str, &str)> = got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "3"),
                ("export", "4"),
                ("D", ""),
                ("E", ""),
                ("F", "x#y"),
                ("G", "#x"),
            ],
            "a `#` starts a comment only after whitespace"
        );
    }

    #[test]
    fn a_dollar_in_single_quotes_or_escaped_is_literal() {
        assert_eq!(value("PW='pa$word1'"), "pa$word1");
        assert_eq!(value("PW=pa$$word1"), "pa$word1");
        assert_eq!(value(r"PW=pa\$word1"), "pa$word1");
        assert_eq!(value(r#"PW="pa\$word1""#), "pa$word1");
        assert_eq!(value(r#"PW="pa$$word1""#), "pa$word1");
        assert_eq!(value("PW='${X} and \\n stay'"), "${X} and \\n stay");
        // A `$` that cannot start a name stays as written.
        assert_eq!(value("PW=a$1 b$ $-c $"), "a$1 b$ $-c $");
    }

    #[test]
    fn an_unset_variable_is_an_error_at_the_reference_never_an_empty_string() {
        let (err, at) = refused("USER=me\nPW=pa$word1\n");
        assert_eq!(at, "$word1");
        assert_eq!(err.to_string(), "`$word1` reads `word1`, which is not set");
        let (_, at) = refused("PW=\"x ${secret} y\"");
        assert_eq!(at, "${secret}");
        // The help says how to write a literal `$`.
        let d = err.diagnostic(0);
        assert!(d.help.as_deref().is_some_and(|h| h.contains("$$") && h.contains("single quotes")), "{d:?}");
    }

    #[test]
    fn references_read_the_environment_first_then_earlier_entries() {
        let got =
            read_with("HOST=file\nURL=http://$HOST/${PATH_PART}\n", &[("PATH_PART", "api")]).expect("ok");
        assert_eq!(got[1].1, "http://file/api");
        let got = read_with("HOST=file\nURL=$HOST\n", &[("HOST", "env")]).expect("ok");
        assert_eq!(got[1].1, "env", "as compose and env(): the environment wins");
        let (_, at) = refused("URL=$LATER\nLATER=1\n");
        assert_eq!(at, "$LATER", "only entries above count");
    }

    #[test]
    fn braced_forms_give_defaults_alternatives_and_required_values() {
        let env = [("SET", "v"), ("EMPTY", "")];
        let v = |text: &str| read_with(text, &env).map(|mut p| p.remove(0).1);
        assert_eq!(v("A=${SET:-d}").expect("ok"), "v");
        assert_eq!(v("A=${UNSET:-d}").expect("ok"), "d");
        assert_eq!(v("A=${EMPTY:-d}").expect("ok"), "d");
        assert_eq!(v("A=${EMPTY-d}").expect("ok"), "");
        assert_eq!(v("A=${UNSET-${SET}x}").expect("ok"), "vx", "nested");
        assert_eq!(v("A=${SET:-$UNSET}").expect("ok"), "v", "an unused default is not read");
        assert_eq!(v("A=${SET:+alt}").expect("ok"), "alt");
        assert_eq!(v("A=${EMPTY:+alt}").expect("ok"), "");
        assert_eq!(v("A=${EMPTY+alt}").expect("ok"), "alt");
        assert_eq!(v("A=${SET:?needed}").expect("ok"), "v");
        let err = v("A=x${UNSET:?set it in CI}").expect_err("required");
        assert_eq!(err.to_string(), "`UNSET` is required: set it in CI");
        let err = v("A=${UNSET:-$ALSO_UNSET}").expect_err("a used default is read");
        assert!(matches!(err, EnvFileError::Unset { ref name, .. } if name == "ALSO_UNSET"), "{err}");
    }

    #[test]
    fn double_quotes_take_escapes_and_quoted_values_span_lines() {
        assert_eq!(value(r#"A="a\tb\n\"c\" \\ \q""#), "a\tb\n\"c\" \\ \\q");
        assert_eq!(
            value("KEY=\"-----BEGIN-----\nline\n-----END-----\"\n"),
            "-----BEGIN-----\nline\n-----END-----"
        );
        assert_eq!(value("KEY='one\r\ntwo'\r\n"), "one\ntwo", "CRLF inside a value is a line break");
        assert_eq!(value("A=\"x\" # comment"), "x");
        assert_eq!(value("A=1\r\n"), "1", "CRLF line ends");
    }

    #[test]
    fn a_byte_order_mark_at_the_start_is_ignored() {
        assert_eq!(read("\u{feff}A=1\nB=2\n"), [("A".into(), "1".into()), ("B".into(), "2".into())]);
        let (_, at) = refused("\u{feff}9A=1");
        assert_eq!(at, "9A");
    }

    #[test]
    fn errors_point_at_the_offending_text_on_its_own_line() {
        let (err, at) = refused("# settings\nGOOD=1\nthis is not valid\nAFTER=2\n");
        assert_eq!(at, "is not valid");
        assert_eq!(err.to_string(), "expected `=` after `this`");
        assert_eq!(err.range().start, "# settings\nGOOD=1\nthis ".len());
        let (_, at) = refused("ALONE\n");
        assert_eq!(at, "", "at the end of the line");
        let text = "A=1\nB=\"never closed\nC=2\n";
        let (err, at) = refused(text);
        assert_eq!((at, err.range().start), ("\"", 6), "the opening quote, not the end of the file");
        let (_, at) = refused("A='x' y\n");
        assert_eq!(at, "y");
        let (_, at) = refused("1A=x\n");
        assert_eq!(at, "1A");
        let (_, at) = refused("-=x\n");
        assert_eq!(at, "-");
        let (_, at) = refused("A=${not closed\n");
        assert_eq!(at, "${not closed");
        let (_, at) = refused("A=${}x\n");
        assert_eq!(at, "${}");
        let (_, at) = refused(r#"A="\$${X}""#);
        assert_eq!(at, "${X}");
        let deep = format!("A={}x{}", "${A:-".repeat(100), "}".repeat(100));
        assert!(matches!(refused(&deep).0, EnvFileError::BadReference { .. }), "nesting is bounded");
    }

    #[test]
    fn arbitrary_text_never_panics_and_errors_stay_on_the_text() {
        // A small deterministic generator over the characters the parser treats specially.
        let alphabet: Vec<char> = "A_b9=$${}:-?+'\"\\#\n\r\t é€\u{feff}x".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let text: String =
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let text = format!("A={text}");
            if let Err(e) = read_with(&text, &[("x", "1")]) {
                let at = e.range();
                assert!(at.start <= at.end && at.end <= text.len(), "{text:?}: {at:?}");
                assert!(text.is_char_boundary(at.start) && text.is_char_boundary(at.end), "{text:?}: {at:?}");
                let _ = e.diagnostic(0);
            }
        }
    }

    #[test]
    fn the_readme_example_means_what_its_comments_say() {
        let readme = include_str!("../README.md");
        let section = readme.split("### Env files").nth(1).expect("section");
        let block = section.split("```sh\n").nth(1).and_then(|s| s.split("```").next()).expect("sh block");
        let got = read(block);
        let expected: Vec<(String, String)> = block
            .lines()
            .filter_map(|l| {
                let (entry, comment) = l.split_once("# → ")?;
                let name = entry.trim_start_matches("export ").split('=').next()?.to_string();
                // The value ends where two spaces start the explanation.
                Some((name, comment.split("  ").next()?.to_string()))
            })
            .collect();
        assert_eq!(expected.len(), 7, "{block}");
        assert_eq!(got, expected);
    }
}
