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

    /// Byte offset of a 1-based line and character column.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let start = self.line_start(line);
        let rest = &self.text[start..];
        rest.char_indices().nth(col.saturating_sub(1)).map_or(self.text.len(), |(i, _)| start + i)
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
}
