//! `--report html=PATH`: one self-contained page (no network, no CDN): per collection and
//! step the verdict, a waterfall of the timings, the request, the problems (expected and
//! actual, a snapshot's diff) and the masked body excerpt, filterable by verdict.

use std::fmt::Write as _;

use super::problems;
use crate::event::{CollectionOutcome, StepVerdict, human_duration};
use crate::exit::Exit;
use crate::secret::Masker;
use crate::source::SourceMap;

/// Escapes text for HTML (element content and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}
.summary span{margin-right:1em}
table{border-collapse:collapse;width:100%}
td,th{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.v{font-weight:bold;white-space:nowrap}
.passed .v,.reused .v{color:#1a7f37}.failed .v,.error .v{color:#cf222e}.skipped .v{color:#9a6700}
.bar{height:10px;background:#8ab4f8;min-width:1px}.failed .bar,.error .bar{background:#f28b82}
.track{position:relative;width:240px;height:10px;background:#f4f4f4}
.track .bar{position:absolute;top:0}
pre{background:#f6f8fa;padding:8px;white-space:pre-wrap;word-break:break-all;margin:4px 0}
details summary{cursor:pointer}
.filters label{margin-right:1em}
";

const SCRIPT: &str = "
function apply(){document.querySelectorAll('tr.step').forEach(function(r){
var box=document.getElementById('show-'+r.dataset.verdict);r.style.display=(box&&!box.checked)?'none':'';});}
document.querySelectorAll('.filters input').forEach(function(b){b.addEventListener('change',apply);});
";

/// The page for a run.
pub fn render(outcomes: &[CollectionOutcome], exit: Exit, sources: &SourceMap, masker: &Masker) -> String {
    let t = |s: &str| escape(&masker.mask(s));
    let mut counts = [0usize; 5];
    for o in outcomes {
        for s in &o.steps {
            counts[verdict_index(s.verdict())] += 1;
        }
    }
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>baton report</title><style>{STYLE}</style></head><body>\n<h1>baton report</h1>\n"
    );
    let _ = writeln!(
        h,
        "<p class=\"summary\"><span>exit code {}</span><span>{} collections</span>{}</p>",
        exit.code(),
        outcomes.len(),
        NAMES
            .iter()
            .zip(counts)
            .map(|(n, c)| format!("<span class=\"{n}\">{c} {n}</span>"))
            .collect::<String>()
    );
    h.push_str("<p class=\"filters\">show: ");
    for n in NAMES {
        let _ = write!(h, "<label><input type=\"checkbox\" id=\"show-{n}\" checked> {n}</label>");
    }
    h.push_str("</p>\n");
    for o in outcomes {
        let total = o.steps.iter().map(|s| s.elapsed.as_secs_f64()).sum::<f64>().max(1e-9);
        let _ = writeln!(
            h,
            "<h2>{} <small>({}, {})</small></h2>",
            t(&o.name),
            t(&o.path.display().to_string()),
            human_duration(o.elapsed)
        );
        if let Some(d) = &o.description {
            let _ = writeln!(h, "<p>{}</p>", t(d));
        }
        h.push_str("<table><tr><th>verdict</th><th>step</th><th>request</th><th>status</th><th>time</th><th>waterfall</th></tr>\n");
        let mut start = 0.0;
        for s in &o.steps {
            let v = NAMES[verdict_index(s.verdict())];
            let secs = s.elapsed.as_secs_f64();
            let (left, width) = (100.0 * start / total, (100.0 * secs / total).max(0.5));
            start += secs;
            let request = s.url.as_ref().map_or_else(String::new, |u| format!("{} {}", s.method, u));
            let _ = write!(
                h,
                "<tr class=\"step {v}\" data-verdict=\"{v}\"><td class=\"v\">{v}</td><td>{}",
                t(&s.name)
            );
            let mut details = String::new();
            if let Some(d) = &s.description {
                let _ = write!(details, "<p>{}</p>", t(d));
            }
            for p in problems(s, sources) {
                let at = p
                    .position
                    .as_ref()
                    .map_or_else(String::new, |p| format!("{}:{}:{}: ", p.file, p.line, p.column));
                let _ =
                    write!(details, "<p><b>{}{}</b></p><pre>{}</pre>", t(&at), t(&p.message), t(&p.detail));
            }
            if let crate::event::StepResult::Skipped(reason) | crate::event::StepResult::Reused(reason) =
                &s.result
            {
                let _ = write!(details, "<p>{}</p>", t(reason));
            }
            if let Some(n) = s.notes_text() {
                let _ = write!(details, "<p>note: {}</p>", t(&n));
            }
            if let Some(c) = &s.challenge {
                let _ = write!(details, "<pre>{}</pre>", t(c));
            }
            if let Some(b) = &s.body_excerpt {
                let _ = write!(details, "<p>response body (excerpt):</p><pre>{}</pre>", t(b));
            }
            if !details.is_empty() {
                let _ = write!(h, "<details><summary>details</summary>{details}</details>");
            }
            let _ = writeln!(
                h,
                "</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
                 <td><div class=\"track\"><div class=\"bar\" style=\"left:{left:.2}%;width:{width:.2}%\"></div></div></td></tr>",
                t(&request),
                s.status.map_or_else(String::new, |c| c.to_string()),
                human_duration(s.elapsed)
            );
        }
        h.push_str("</table>\n");
    }
    let _ = write!(h, "<script>{SCRIPT}</script>\n</body></html>\n");
    // A last pass, as every report gets: nothing the server sent slips through.
    masker.mask(&h)
}

const NAMES: [&str; 5] = ["passed", "failed", "error", "skipped", "reused"];

fn verdict_index(v: StepVerdict) -> usize {
    match v {
        StepVerdict::Passed => 0,
        StepVerdict::Failed => 1,
        StepVerdict::Error => 2,
        StepVerdict::Skipped => 3,
        StepVerdict::Reused => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_server_text_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{1b}[31mb"), "a\u{fffd}[31mb");
    }
}
