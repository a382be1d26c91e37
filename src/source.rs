//! Source files and positions.
//!
//! Every authored value carries a [`Span`]: a file id plus a byte range. Line and
//! column are derived only when something is rendered, so spans stay small and cheap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in a [`SourceMap`].
pub type FileId = u32;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file this span points into.
    pub file: FileId,
    /// First byte.
    pub start: usize,
    /// One past the last byte (may equal `start` for a point).
    pub end: usize,
}

impl Span {
    /// A span inside `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start, end: end.max(start) }
    }

    /// A sub-range `[from, to)` relative to the start of this span, clamped to it.
    pub fn sub(&self, from: usize, to: usize) -> Span {
        let start = (self.start + from).min(self.end);
        let end = (self.start + to).min(self.end).max(start);
        Span::new(self.file, start, end)
    }
}

/// A name as written (a mapping key, a header or variable name) with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The text.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// One loaded file: its display name and text.
#[derive(Debug)]
pub struct SourceFile {
    /// Path as the user gave it (used in messages).
    pub path: PathBuf,
    /// The absolute path when it could be resolved (identifies the file in persisted state).
    pub canonical: PathBuf,
    /// The full text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(path: PathBuf, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        SourceFile { path, canonical, text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(self.text.len())
    }

    /// Byte offset of a 1-based line and character column; a column past the line's end
    /// is the end of that line (never a position on a later line).
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let start = self.line_start(line);
        let line = self.text[start..].split_inclusive('\n').next().unwrap_or("");
        let end = start + line.strip_suffix('\n').unwrap_or(line).len();
        line.char_indices().nth(col.saturating_sub(1)).map_or(end, |(i, _)| start + i)
    }

    /// The byte range of the whole lines that `span` touches.
    pub fn line_range(&self, span: Span) -> (usize, std::ops::Range<usize>) {
        let (first, _) = self.line_col(span.start);
        let (last, _) = self.line_col(span.end.max(span.start));
        let start = self.line_start(first);
        let end = self.line_starts.get(last).map_or(self.text.len(), |&next| next.saturating_sub(1));
        (first, start..end.max(start))
    }
}

/// All files loaded during one run. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<Arc<SourceFile>>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: impl AsRef<Path>, text: String) -> FileId {
        self.files.push(Arc::new(SourceFile::new(path.as_ref().to_path_buf(), text)));
        FileId::try_from(self.files.len() - 1).unwrap_or(FileId::MAX)
    }

    /// The file behind an id.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id as usize).map(|f| &**f)
    }

    /// `path:line:col` for a span (tests check positions with it).
    pub fn position(&self, span: Span) -> String {
        match self.get(span.file) {
            Some(f) => {
                let (l, c) = f.line_col(span.start);
                format!("{}:{l}:{c}", f.path.display())
            }
            None => "<unknown>".to_string(),
        }
    }

    /// The source text a span covers, or "" when the span is unknown.
    pub fn text(&self, span: Span) -> &str {
        self.get(span.file).and_then(|f| f.text.get(span.start..span.end)).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let mut map = SourceMap::default();
        let id = map.add("a.yaml", "name: é\nurl: x\n".to_string());
        let f = map.get(id).expect("file");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(9), (2, 1));
        assert_eq!(f.line_col(14), (2, 6));
        assert_eq!(f.offset_of(2, 6), 14);
    }

    fn file(text: &str) -> (SourceMap, FileId) {
        let mut map = SourceMap::default();
        let id = map.add("t.yaml", text.to_string());
        (map, id)
    }

    #[test]
    fn a_span_never_ends_before_it_starts() {
        let span = Span::new(0, 7, 3);
        assert_eq!((span.start, span.end), (7, 7));
    }

    #[test]
    fn sub_spans_are_relative_and_clamped_to_the_parent() {
        let (map, id) = file("url: \"{{ base }}/x\"\n");
        let value = Span::new(id, 5, 20);
        assert_eq!(map.text(value.sub(1, 11)), "{{ base }}");
        let past = value.sub(10, 99);
        assert_eq!((past.start, past.end), (15, 20), "clamped to the parent's end");
        let inverted = value.sub(8, 2);
        assert_eq!(inverted.start, inverted.end, "an inverted range is empty, not reversed");
    }

    #[test]
    fn line_col_past_the_end_is_the_last_position() {
        let (map, id) = file("a: 1\nb: 2");
        let f = map.get(id).expect("file");
        assert_eq!(f.line_col(999), (2, 5));
        assert_eq!(f.line_start(99), f.text.len(), "a line past the end starts at the end");
    }

    #[test]
    fn offset_of_a_column_past_the_line_end_stays_on_that_line() {
        let (map, id) = file("ab\ncd\n");
        let f = map.get(id).expect("file");
        assert_eq!(f.offset_of(1, 3), 2, "the newline itself");
        assert_eq!(f.offset_of(1, 40), 2, "not a position on the next line");
        assert_eq!(f.offset_of(2, 2), 4);
    }

    #[test]
    fn line_range_covers_the_whole_lines_a_span_touches() {
        let (map, id) = file("one\ntwo two\nthree\nfour");
        let f = map.get(id).expect("file");
        // From inside line 2 to inside line 3: both lines whole, without the final newline.
        let (first, range) = f.line_range(Span::new(id, 6, 12));
        assert_eq!(first, 2);
        assert_eq!(&f.text[range], "two two\nthree");
        // The last line has no newline to stop at.
        let (first, range) = f.line_range(Span::new(id, 20, 21));
        assert_eq!((first, &f.text[range]), (4, "four"));
    }

    #[test]
    fn unknown_files_and_spans_render_as_nothing_rather_than_panicking() {
        let (map, id) = file("abc");
        assert_eq!(map.text(Span::new(id + 1, 0, 1)), "");
        assert_eq!(map.text(Span::new(id, 2, 9)), "", "a range past the text");
        assert_eq!(map.position(Span::new(id + 1, 0, 0)), "<unknown>");
        assert!(map.get(id + 1).is_none());
    }
}
