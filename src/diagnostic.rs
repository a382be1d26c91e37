//! User-facing problems and their one renderer.
//!
//! Parse, validation, template, capture and usage errors all become a [`Diagnostic`]:
//! a message, labelled spans, notes and a hint. They are rendered once, at the edge,
//! rustc-style (`--> file:line:col`, the source line, a caret), so every problem looks
//! the same whatever stage found it.

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::exit::Exit;
use crate::source::{SourceMap, Span};

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $text:literal,)*) => {
        /// The stable code of every problem baton reports, shown as `error[code]`.
        ///
        /// One catalogue: `docs/errors.md` lists them all, and a test keeps it in step.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in catalogue order (the test that keeps `docs/errors.md` complete
            /// reads it).
            #[cfg(test)]
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, e.g. `unknown-field`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }

            /// One line on what the code means.
            #[cfg(test)]
            pub fn description(self) -> &'static str {
                match self {
                    $(Code::$variant => concat!($($doc),*).trim_ascii(),)*
                }
            }
        }
    };
}

codes! {
    /// A capture has no source, two sources, or a source that is not one.
    BadCapture = "bad-capture",
    /// A duration is not a number of seconds or text like `500ms`, `30s`, `2m`.
    BadDuration = "bad-duration",
    /// An environment variable baton reads (`BATON_UPDATE`) has a value it does not take.
    BadEnv = "bad-env",
    /// A line of an `--env-file` is not `NAME=value`, or reads a variable that is not set.
    BadEnvFile = "bad-env-file",
    /// `--jobs` is not a positive number.
    BadJobs = "bad-jobs",
    /// A JSONPath does not parse.
    BadJsonpath = "bad-jsonpath",
    /// `method:` is not an HTTP method.
    BadMethod = "bad-method",
    /// `--allow-origin` is not an http(s) URL.
    BadOrigin = "bad-origin",
    /// A regular expression does not compile.
    BadRegex = "bad-regex",
    /// `--report` is not `junit:PATH` or `json:PATH`.
    BadReport = "bad-report",
    /// `retry:` asks for a count or interval out of range.
    BadRetry = "bad-retry",
    /// `--shard` is not `K/N` with 1 <= K <= N.
    BadShard = "bad-shard",
    /// `--max-body-size` is not a positive size like `10MB`, `512KiB` or a number of bytes.
    BadSize = "bad-size",
    /// A status expectation is not a code 100-599 or a class like `2xx`.
    BadStatus = "bad-status",
    /// `--timeout` is not a duration.
    BadTimeout = "bad-timeout",
    /// `type:` names no JSON type.
    BadTypeName = "bad-type-name",
    /// A URL that is not absolute `http://` or `https://`.
    BadUrl = "bad-url",
    /// A field of an OAuth2 profile has a value it cannot take.
    BadValue = "bad-value",
    /// `--var` is not `NAME=value`.
    BadVar = "bad-var",
    /// A capture or variable name is not an identifier.
    BadVariableName = "bad-variable-name",
    /// A step reads a value that is captured only by itself or a later step.
    CapturedTooLate = "captured-too-late",
    /// A YAML mapping key is a list or a mapping.
    ComplexKey = "complex-key",
    /// Two credentials for one step, or two OAuth2 profiles.
    ConflictingAuth = "conflicting-auth",
    /// A step has more than one body (`json`, `form`, `multipart`, `body`).
    ConflictingBody = "conflicting-body",
    /// (warning) An explicit `Content-Type` header contradicts the body kind.
    ConflictingContentType = "conflicting-content-type",
    /// A YAML mapping has the same key twice.
    DuplicateKey = "duplicate-key",
    /// (warning) A capture replaces a variable that an earlier step reads.
    CaptureShadowsVariable = "capture-shadows-variable",
    /// Two steps of a collection have the same name.
    DuplicateStep = "duplicate-step",
    /// (warning) A step does not verify TLS certificates (`tls: {insecure: true}`).
    InsecureTls = "insecure-tls",
    /// A collection file holds nothing.
    EmptyFile = "empty-file",
    /// A folder given on the command line holds no collection files.
    EmptyFolder = "empty-folder",
    /// A response did not meet an expectation (run time).
    ExpectationFailed = "expectation-failed",
    /// A collection file is larger than baton reads.
    FileTooLarge = "file-too-large",
    /// Recipes include each other in a cycle.
    IncludeCycle = "include-cycle",
    /// Includes nest too deep.
    IncludeDepth = "include-depth",
    /// A field is valid only elsewhere (`expires_in:` on a request, say).
    MisplacedField = "misplaced-field",
    /// A template reads an environment variable that is not set.
    MissingEnv = "missing-env",
    /// An `--env-file` does not exist.
    MissingEnvFile = "missing-env-file",
    /// `--env NAME` names an environment profile that does not exist.
    MissingEnvironment = "missing-environment",
    /// A required field is missing (`url:`, `requests:`, `path:`...).
    MissingField = "missing-field",
    /// An included recipe file does not exist.
    MissingInclude = "missing-include",
    /// A path on the command line does not exist.
    MissingPath = "missing-path",
    /// A collection file is not UTF-8 text.
    NotUtf8 = "not-utf8",
    /// `--tag`, `--skip-tag` and `--step` together leave no request to run.
    NothingSelected = "nothing-selected",
    /// `content_type:` without a raw `body:`.
    OrphanContentType = "orphan-content-type",
    /// A template failed while rendering.
    RenderError = "render-error",
    /// A report file cannot be written.
    Report = "report",
    /// A request could not be made or completed (run time).
    RequestFailed = "request-failed",
    /// The state file cannot be read, locked or written.
    StateFile = "state-file",
    /// A template is invalid in some other way.
    TemplateError = "template-error",
    /// A template does not parse.
    TemplateSyntax = "template-syntax",
    /// A template reads a variable that is not defined.
    UndefinedVariable = "undefined-variable",
    /// A key that baton does not know, with a did-you-mean.
    UnknownField = "unknown-field",
    /// A template uses a filter that does not exist.
    UnknownFilter = "unknown-filter",
    /// A template calls a function that does not exist.
    UnknownFunction = "unknown-function",
    /// An expectation object uses a key that is not a matcher.
    UnknownMatcher = "unknown-matcher",
    /// `secrets:` names neither a variable nor a capture.
    UnknownSecret = "unknown-secret",
    /// A request's `auth:` names no profile of its collection.
    UnknownProfile = "unknown-profile",
    /// `--step` names no request.
    UnknownStep = "unknown-step",
    /// `--tag` / `--skip-tag` names a tag no collection or request has.
    UnknownTag = "unknown-tag",
    /// Variables depend on each other in a cycle.
    VariableCycle = "variable-cycle",
    /// A value has the wrong type (a list where text is expected, say).
    WrongType = "wrong-type",
    /// The file is not valid YAML.
    YamlSyntax = "yaml-syntax",
    /// The YAML exceeds the nesting, alias or size limits.
    YamlTooComplex = "yaml-too-complex",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A labelled span inside a diagnostic.
#[derive(Debug, Clone)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub text: String,
    /// The primary label gets the caret and the `-->` position.
    pub primary: bool,
}

/// One user-facing problem.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Stable short code, e.g. `unknown-field`.
    pub code: Code,
    /// One-line summary.
    pub message: String,
    /// Spans to show.
    pub labels: Vec<Label>,
    /// Extra lines shown as `= note:`.
    pub notes: Vec<String>,
    /// A fix or did-you-mean, shown as `= help:`.
    pub help: Option<String>,
    /// The exit code this diagnostic implies.
    pub exit: Exit,
    /// A warning: shown as `warning[code]`, it stops nothing.
    pub warning: bool,
}

impl Diagnostic {
    /// An error about an invalid collection (exit 3).
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            help: None,
            exit: Exit::Invalid,
            warning: false,
        }
    }

    /// A warning: something that is sent as written but is probably not what was meant.
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Diagnostic { warning: true, exit: Exit::Passed, ..Diagnostic::error(code, message) }
    }

    /// A usage error (exit 2).
    pub fn usage(code: Code, message: impl Into<String>) -> Self {
        Diagnostic::error(code, message).with_exit(Exit::Usage)
    }

    /// Sets the primary span.
    pub fn at(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into(), primary: true });
        self
    }

    /// Adds a secondary span.
    pub fn also(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label { span, text: text.into(), primary: false });
        self
    }

    /// Adds a note line.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sets the hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Sets the help only when there is one.
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// Overrides the exit code.
    pub fn with_exit(mut self, exit: Exit) -> Self {
        self.exit = exit;
        self
    }

    /// Renders the diagnostic; `styled` adds ANSI colour (stripped later when not a TTY).
    pub fn render(&self, sources: &SourceMap, styled: bool) -> String {
        if self.labels.iter().all(|l| sources.get(l.span.file).is_none()) {
            return self.render_plain(styled);
        }
        let level = if self.warning { Level::WARNING } else { Level::ERROR };
        let title = level.primary_title(self.message.as_str()).id(self.code.as_str());
        let mut group = Group::with_title(title);
        // Group labels by file; the primary label's file comes first.
        let mut labels: Vec<&Label> = self.labels.iter().collect();
        labels.sort_by_key(|l| (!l.primary, l.span.file));
        let mut files: Vec<u32> = Vec::new();
        for l in &labels {
            if !files.contains(&l.span.file) && sources.get(l.span.file).is_some() {
                files.push(l.span.file);
            }
        }
        for file in files {
            let Some(src) = sources.get(file) else {
                continue;
            };
            let in_file: Vec<&&Label> = labels.iter().filter(|l| l.span.file == file).collect();
            let lo = in_file.iter().map(|l| l.span.start).min().unwrap_or(0);
            let hi = in_file.iter().map(|l| l.span.end).max().unwrap_or(0);
            let (first_line, range) = src.line_range(Span::new(file, lo, hi));
            let window = &src.text[range.clone()];
            let path = src.path.display().to_string();
            let mut snippet = Snippet::source(window).line_start(first_line).path(path).fold(true);
            for l in in_file {
                // Spans must sit on character boundaries or the renderer would panic.
                let start = floor_char_boundary(window, l.span.start.saturating_sub(range.start));
                let mut end = floor_char_boundary(window, l.span.end.saturating_sub(range.start)).max(start);
                if end == start && end < window.len() {
                    end = next_char_boundary(window, start);
                }
                let kind = if l.primary { AnnotationKind::Primary } else { AnnotationKind::Context };
                snippet = snippet.annotation(kind.span(start..end).label(l.text.as_str()));
            }
            group = group.element(snippet);
        }
        for n in &self.notes {
            group = group.element(Level::NOTE.message(n.as_str()));
        }
        if let Some(h) = &self.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
        renderer.render(&[group])
    }
}

impl Diagnostic {
    /// A diagnostic without source lines: title, notes and help only.
    fn render_plain(&self, styled: bool) -> String {
        let (colour, level) = if self.warning {
            (anstyle::AnsiColor::Yellow, "warning")
        } else {
            (anstyle::AnsiColor::Red, "error")
        };
        let (head, bold) = if styled {
            (colour.on_default().bold(), anstyle::Style::new().bold())
        } else {
            (anstyle::Style::new(), anstyle::Style::new())
        };
        let mut out = format!("{head}{level}[{}]{head:#}{bold}: {}{bold:#}", self.code, self.message);
        for n in &self.notes {
            out.push_str(&format!("\n  = note: {n}"));
        }
        if let Some(h) = &self.help {
            out.push_str(&format!("\n  = help: {h}"));
        }
        out
    }
}

fn floor_char_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn next_char_boundary(s: &str, i: usize) -> usize {
    s[i..].chars().next().map_or(i, |c| i + c.len_utf8())
}

/// Finds the known name closest to `name`, for did-you-mean hints.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for k in known {
        let score = strsim::jaro_winkler(name, k);
        let close = score >= 0.8 || strsim::damerau_levenshtein(name, k) <= name.len().max(3) / 3;
        if close && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, k));
        }
    }
    best.map(|(_, k)| k)
}

/// A `help:` text for an unknown name: a did-you-mean, or the list of valid names.
pub fn suggest(name: &str, known: &[&str]) -> String {
    match did_you_mean(name, known.iter().copied()) {
        Some(k) => format!("did you mean `{k}`?"),
        None => format!("expected one of: {}", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/errors.md` as the catalogue renders it.
    fn catalogue() -> String {
        let mut out = String::from(
            "# Error codes\n\nEvery problem baton reports carries one of these codes, shown as `error[code]`.\n\
             Problems in a collection exit with 3 (nothing is sent), problems on the command line with 2,\n\
             and the two run-time codes appear in reports.\n\n| code | meaning |\n|---|---|\n",
        );
        for c in Code::ALL {
            out.push_str(&format!("| `{c}` | {} |\n", c.description()));
        }
        out
    }

    #[test]
    fn the_error_catalogue_in_docs_lists_every_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md");
        let want = catalogue();
        if std::env::var_os("BATON_WRITE_DOCS").is_some() {
            std::fs::write(&path, &want).expect("write docs/errors.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/errors.md is out of date: run `BATON_WRITE_DOCS=1 cargo test --lib catalogue`"
        );
    }

    #[test]
    fn codes_are_unique_kebab_case_and_compare_with_their_text() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(
                c.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{c}"
            );
            assert!(!c.description().is_empty(), "{c} has no description");
        }
        assert_eq!(Code::UnknownField, "unknown-field");
    }

    #[test]
    fn did_you_mean_finds_typos_and_ignores_strangers() {
        let known = ["method", "url", "headers", "capture"];
        assert_eq!(did_you_mean("methd", known), Some("method"));
        assert_eq!(did_you_mean("header", known), Some("headers"));
        assert_eq!(did_you_mean("captures", known), Some("capture"));
        assert_eq!(did_you_mean("zzz", known), None);
    }

    #[test]
    fn render_points_at_file_line_col_with_caret_and_help() {
        let mut map = SourceMap::default();
        let id = map.add("c.yaml", "name: x\nrequests:\n  - methd: GET\n".to_string());
        let d = Diagnostic::error(Code::UnknownField, "unknown field `methd`")
            .at(Span::new(id, 22, 27), "not a step field")
            .help("did you mean `method`?");
        let out = d.render(&map, false);
        assert!(out.contains("c.yaml:3:5"), "{out}");
        assert!(out.contains("  - methd: GET"), "{out}");
        assert!(out.contains("^^^^^"), "{out}");
        assert!(out.contains("help: did you mean `method`?"), "{out}");
    }

    #[test]
    fn constructors_set_the_exit_code() {
        let e = Diagnostic::error(Code::UnknownField, "x");
        assert_eq!((e.code, e.exit), (Code::UnknownField, Exit::Invalid));
        let u = Diagnostic::usage(Code::BadVar, "x");
        assert_eq!((u.code, u.exit), (Code::BadVar, Exit::Usage));
        assert_eq!(Diagnostic::error(Code::FileTooLarge, "x").with_exit(Exit::Runtime).exit, Exit::Runtime);
    }

    #[test]
    fn help_opt_keeps_an_earlier_help_when_given_none() {
        let d = Diagnostic::error(Code::TemplateError, "m").help("first").help_opt(None);
        assert_eq!(d.help.as_deref(), Some("first"));
        let d = d.help_opt(Some("second".into()));
        assert_eq!(d.help.as_deref(), Some("second"));
    }

    #[test]
    fn without_a_source_it_renders_title_notes_and_help_only() {
        let d = Diagnostic::usage(Code::BadShard, "`--shard 5/4` is not K/N")
            .note("one")
            .note("two")
            .help("use 1/4");
        assert_eq!(
            d.render(&SourceMap::default(), false),
            "error[bad-shard]: `--shard 5/4` is not K/N\n  = note: one\n  = note: two\n  = help: use 1/4"
        );
    }

    #[test]
    fn styled_rendering_adds_ansi_and_plain_has_none() {
        let d = Diagnostic::error(Code::TemplateError, "message");
        assert!(d.render(&SourceMap::default(), true).contains('\u{1b}'));
        assert!(!d.render(&SourceMap::default(), false).contains('\u{1b}'));
    }

    #[test]
    fn labels_in_two_files_show_both_the_primary_file_first() {
        let mut map = SourceMap::default();
        let recipe = map.add("recipe.yaml", "auth:\n  oauth2: {}\n".to_string());
        let main = map.add("main.yaml", "auth:\n  oauth2: {}\n".to_string());
        let d = Diagnostic::error(Code::ConflictingAuth, "two OAuth2 profiles")
            .also(Span::new(recipe, 8, 14), "the recipe's profile")
            .at(Span::new(main, 8, 14), "the collection's profile");
        let out = d.render(&map, false);
        let (m, r) =
            (out.find("main.yaml:2:3").expect("main"), out.find("::: recipe.yaml:2:3").expect("recipe"));
        assert!(m < r, "primary file first:\n{out}");
        assert!(out.contains("the recipe's profile") && out.contains("the collection's profile"), "{out}");
    }

    #[test]
    fn spans_inside_a_multibyte_character_or_at_the_end_do_not_panic() {
        let mut map = SourceMap::default();
        let id = map.add("u.yaml", "name: héllo".to_string());
        // Byte 8 is inside `é`; the caret lands on a character boundary instead.
        let out =
            Diagnostic::error(Code::TemplateError, "m").at(Span::new(id, 8, 9), "here").render(&map, false);
        assert!(out.contains("u.yaml:1:"), "{out}");
        let at_end =
            Diagnostic::error(Code::TemplateError, "m").at(Span::new(id, 12, 12), "end").render(&map, false);
        assert!(at_end.contains("end"), "{at_end}");
    }

    #[test]
    fn a_point_span_still_gets_one_caret() {
        let mut map = SourceMap::default();
        let id = map.add("p.yaml", "url: x\n".to_string());
        let out =
            Diagnostic::error(Code::TemplateError, "m").at(Span::new(id, 5, 5), "here").render(&map, false);
        assert!(out.contains("     ^ here"), "{out}");
    }

    #[test]
    fn did_you_mean_prefers_the_closest_of_several_candidates() {
        let known = ["header", "headers", "method"];
        assert_eq!(did_you_mean("headres", known), Some("headers"));
        assert_eq!(did_you_mean("", known), None);
    }

    #[test]
    fn suggest_lists_every_name_when_nothing_is_close() {
        assert_eq!(suggest("jsno", &["junit", "json"]), "did you mean `json`?");
        assert_eq!(suggest("xml", &["junit", "json"]), "expected one of: junit, json");
    }
}
