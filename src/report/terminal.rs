//! The terminal report: one line per step, failures with context, a summary line.
//!
//! Colour only on a TTY (`anstream` strips it otherwise and honours `NO_COLOR`).
//! `-v` adds the exchanges on stderr. Everything is masked before it is written.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::diagnostic::{Code, Diagnostic};
use crate::event::{CollectionOutcome, Event, Sink, StepOutcome, StepResult, StepVerdict, human_duration};
use crate::exit::Exit;
use crate::model::Role;
use crate::printable::{block, line};
use crate::secret::Masker;
use crate::snapshot::Verdict;
use crate::source::SourceMap;

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// Longest body shown in `-v` traces.
const TRACE_BODY_LIMIT: usize = 4096;

/// Writes the human report.
pub struct Terminal {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    masker: Masker,
    sources: SourceMap,
    verbose: bool,
    name_width: usize,
}

/// A buffered writer that also flushes when its last flush is 100 ms old.
struct Batched<W: Write> {
    inner: std::io::BufWriter<W>,
    flushed: std::time::Instant,
}

impl<W: Write> Batched<W> {
    fn new(inner: W) -> Self {
        Batched {
            inner: std::io::BufWriter::with_capacity(64 * 1024, inner),
            flushed: std::time::Instant::now(),
        }
    }
}

impl<W: Write> Write for Batched<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.flushed.elapsed() >= std::time::Duration::from_millis(100) {
            self.flush()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flushed = std::time::Instant::now();
        self.inner.flush()
    }
}

impl Terminal {
    /// A report on stdout (trace and diagnostics on stderr).
    pub fn new(masker: Masker, sources: SourceMap, verbose: bool) -> Self {
        use std::io::IsTerminal;
        // A person watching sees each line as it comes; a pipe or a file gets the lines in
        // blocks, at least every 100 ms, instead of one write per step.
        // The colour choice is made for the real stdout; the styles are stripped before the
        // block buffer, so a block reaches the line-buffered stdout as one write, not two
        // per line.
        let out: Box<dyn Write + Send> = if std::io::stdout().is_terminal() {
            Box::new(anstream::stdout())
        } else {
            let choice = anstream::AutoStream::choice(&std::io::stdout());
            let batched: Box<dyn Write + Send> = Box::new(Batched::new(std::io::stdout()));
            Box::new(anstream::AutoStream::new(batched, choice))
        };
        Terminal::with_writers(masker, sources, verbose, out, Box::new(anstream::stderr()))
    }

    /// A report into the given writers (parallel runs buffer each file's output).
    pub fn with_writers(
        masker: Masker,
        sources: SourceMap,
        verbose: bool,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Self {
        Terminal { out, err, masker, sources, verbose, name_width: 0 }
    }

    fn print(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}", self.masker.mask(text));
    }

    fn eprint(&mut self, text: &str) {
        // What went to stdout first comes first when both land in one log.
        let _ = self.out.flush();
        let _ = writeln!(self.err, "{}", self.masker.mask(text));
    }

    fn step_line(&mut self, s: &StepOutcome) {
        let (mark, style) = match s.verdict() {
            StepVerdict::Passed | StepVerdict::Reused => ("✓", GREEN),
            StepVerdict::Skipped => ("-", YELLOW),
            StepVerdict::Failed | StepVerdict::Error => ("✗", RED),
        };
        let role = if s.role == Role::Auth { " (auth)" } else { "" };
        // An unnamed step is named after its method and URL, which the line shows anyway.
        let label = if s.named { format!("{}{role}", line(&s.name)) } else { role.trim_start().to_string() };
        let width = unicode_width::UnicodeWidthStr::width(label.as_str());
        let pad = self.name_width.saturating_sub(width);
        let detail = match (&s.result, &s.url) {
            (StepResult::Skipped(reason), _) => format!("{DIM}skipped: {}{DIM:#}", line(reason)),
            (StepResult::Reused(how), _) => format!("{DIM}{}{DIM:#}", line(how)),
            (_, Some(url)) => {
                let url = line(url);
                let status = s.status.map_or_else(|| "---".to_string(), |c| c.to_string());
                format!(
                    "{:<6} {url} {BOLD}{status}{BOLD:#} {DIM}{}{DIM:#}",
                    s.method,
                    human_duration(s.elapsed)
                )
            }
            (_, None) => s.method.clone(),
        };
        let note = s.notes_text().map_or_else(String::new, |n| format!(" {DIM}({}){DIM:#}", line(&n)));
        let gap = if label.is_empty() && pad == 0 { "" } else { "  " };
        if width > self.name_width && self.name_width > 0 {
            // A name longer than the column: alone on its line, the request under the column.
            self.print(&format!("  {style}{mark}{style:#} {label}"));
            self.print(&format!("    {:w$}{detail}{note}", "", w = self.name_width + 2));
        } else {
            self.print(&format!("  {style}{mark}{style:#} {label}{:pad$}{gap}{detail}{note}", ""));
        }
        match &s.result {
            StepResult::Failed(failures) => {
                for f in failures {
                    let (subject, expected) = (line(&f.subject), line(&f.expected));
                    let d =
                        Diagnostic::error(Code::ExpectationFailed, format!("{subject}: expected {expected}"))
                            .at(f.span, format!("expected {expected}"))
                            .note(format!("actual: {}", line(&f.actual)));
                    self.diagnostic(&d);
                }
                if let Some(c) = &s.challenge {
                    self.print(&format!("    {}", line(c)));
                }
                if let Some(b) = &s.body_excerpt {
                    let status = s.status.map_or_else(String::new, |c| format!(" {c}"));
                    let what = if s.role == Role::Auth {
                        format!("auth step `{}` failed with{status}; response body", line(&s.name))
                    } else {
                        format!("response{status} body")
                    };
                    let body = if b.is_empty() { "(empty)".into() } else { line(b) };
                    self.print(&format!("    {what}: {body}"));
                }
            }
            StepResult::Error(e) => {
                let mut d = Diagnostic::error(Code::RequestFailed, line(&e.message).into_owned())
                    .with_exit(Exit::Runtime);
                if let Some(span) = e.span {
                    d = d.at(span, "this request");
                }
                let d = d.help_opt(e.help.clone());
                self.diagnostic(&d);
            }
            _ => {}
        }
        if let Some((path, verdict)) = &s.snapshot {
            self.snapshot(path, verdict);
        }
    }

    fn snapshot(&mut self, path: &std::path::Path, verdict: &Verdict) {
        let path = path.display();
        match verdict {
            Verdict::Matched => {}
            Verdict::Created => self.print(&format!("    {DIM}snapshot written: {path}{DIM:#}")),
            Verdict::Updated => self.print(&format!("    {YELLOW}snapshot updated: {path}{YELLOW:#}")),
            Verdict::Missing => self.print(&format!(
                "    {RED}snapshot missing: {path}{RED:#}\n    {DIM}not written in CI; run with --update-snapshots (or BATON_UPDATE=new) to record it{DIM:#}"
            )),
            Verdict::Mismatch(diff) => {
                self.print(&format!("    {RED}snapshot mismatch: {path}{RED:#}"));
                for l in block(diff).lines() {
                    let style = match l.as_bytes().first() {
                        Some(b'-') if !l.starts_with("---") => RED,
                        Some(b'+') if !l.starts_with("+++") => GREEN,
                        Some(b'@') => DIM,
                        _ => Style::new(),
                    };
                    self.print(&format!("    {style}{l}{style:#}"));
                }
                self.print(&format!("    {DIM}accept the new response with --update-snapshots{DIM:#}"));
            }
        }
    }

    fn diagnostic(&mut self, d: &Diagnostic) {
        let text = d.render(&self.sources, true);
        let indented: String = text.lines().map(|l| format!("    {l}\n")).collect();
        let _ = write!(self.out, "{}", self.masker.mask(&indented));
    }

    fn summary_line(&mut self, o: &CollectionOutcome) {
        let (p, f, e, s) = o.counts();
        let total = o.steps.len();
        let mut parts = vec![format!("{p} passed")];
        if f > 0 {
            parts.push(format!("{f} failed"));
        }
        if e > 0 {
            parts.push(format!("{e} {}", if e == 1 { "error" } else { "errors" }));
        }
        if s > 0 {
            parts.push(format!("{s} skipped"));
        }
        let style = if f + e > 0 { RED } else { GREEN };
        let steps = if total == 1 { "step" } else { "steps" };
        self.print(&format!(
            "{style}{}{style:#}: {total} {steps}, {} {DIM}in {}{DIM:#}",
            o.name,
            parts.join(", "),
            human_duration(o.elapsed)
        ));
    }

    /// Prints the line that closes a run of several collections.
    pub fn finish(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }

    /// Prints the line that closes a run of several collections.
    pub fn total(&mut self, outcomes: &[CollectionOutcome]) {
        if outcomes.len() < 2 {
            return;
        }
        let (p, f, e, s) = outcomes
            .iter()
            .map(CollectionOutcome::counts)
            .fold((0, 0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2, a.3 + c.3));
        self.print(&format!(
            "{BOLD}total{BOLD:#}: {} collections, {} steps: {p} passed, {f} failed, {e} errors, {s} skipped",
            outcomes.len(),
            p + f + e + s
        ));
    }

    fn trace(
        &mut self,
        request: &crate::exchange::ResolvedRequest,
        response: Option<&crate::exchange::Exchange>,
    ) {
        let mut t = format!("{BOLD}> {} {}{BOLD:#}\n", request.method, line(&request.url));
        // What went out, the headers the client adds included; before an answer (a
        // refused connection), what the step asked for.
        let headers = response.map(|r| &r.sent).filter(|h| !h.is_empty()).unwrap_or(&request.headers);
        for (n, v) in headers {
            t.push_str(&format!("> {}: {}\n", line(n), line(v)));
        }
        if let Some(body) = request.body.preview() {
            t.push_str(">\n");
            for l in block(&self.masker.excerpt(&body, TRACE_BODY_LIMIT)).lines() {
                t.push_str(&format!("> {l}\n"));
            }
        }
        if let Some(r) = response {
            // Each redirect followed, and the cookies the hops set (the last answer's
            // own `set-cookie` headers are shown with its headers).
            for to in &r.redirects {
                t.push_str(&format!("{DIM}< redirected to {}{DIM:#}\n", line(to)));
            }
            if !r.redirects.is_empty() && !r.cookies.is_empty() {
                let set: Vec<String> = r.cookies.iter().map(|c| format!("{}={}", c.name, c.value)).collect();
                t.push_str(&format!("{DIM}< cookies set on the way: {}{DIM:#}\n", line(&set.join("; "))));
            }
            t.push_str(&format!(
                "{BOLD}< {} {}{BOLD:#} {DIM}({}){DIM:#}\n",
                r.version,
                r.status,
                human_duration(r.elapsed)
            ));
            for (n, v) in &r.headers {
                t.push_str(&format!("< {}: {}\n", line(n), line(v)));
            }
            if !r.body.is_empty() {
                t.push_str("<\n");
                let body = match r.json() {
                    Some(j) => serde_json::to_string_pretty(j).unwrap_or_default(),
                    None => r.text().into_owned(),
                };
                for l in block(&self.masker.excerpt(&body, TRACE_BODY_LIMIT)).lines() {
                    t.push_str(&format!("< {l}\n"));
                }
            }
        }
        self.eprint(t.trim_end());
    }
}

impl Sink for Terminal {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::CollectionStarted { name, path, name_width } => {
                self.name_width = (*name_width).min(40);
                self.print(&format!("{BOLD}{}{BOLD:#} {DIM}({}){DIM:#}", line(name), path.display()));
            }
            Event::Exchange { request, response } => {
                if self.verbose {
                    self.trace(request, *response);
                }
            }
            Event::StepFinished(s) => self.step_line(s),
            Event::Notice(text) => self.eprint(&format!("  → {}", line(text))),
            Event::CollectionFinished(o) => self.summary_line(o),
        }
    }
}
