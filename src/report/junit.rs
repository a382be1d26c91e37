//! JUnit XML: a testsuite per collection, a testcase per step; failures for
//! expectations and snapshots, errors for runtime problems, skipped for skipped steps.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::problems;
use crate::event::{CollectionOutcome, StepResult};
use crate::secret::Masker;
use crate::source::SourceMap;

/// The JUnit XML text for a run (masked).
pub fn render(outcomes: &[CollectionOutcome], sources: &SourceMap, masker: &Masker) -> String {
    let mut report = Report::new("baton");
    let total: std::time::Duration = outcomes.iter().map(|o| o.elapsed).sum();
    report.set_time(total);
    for o in outcomes {
        let mut suite = TestSuite::new(o.name.as_str());
        suite.set_time(o.elapsed);
        if let Some(d) = &o.description {
            suite.add_property(quick_junit::Property::new("description", d.as_str()));
        }
        let file = o.path.display().to_string();
        for s in &o.steps {
            let found = problems(s, sources);
            let mut status = match &s.result {
                StepResult::Skipped(reason) => {
                    let mut st = TestCaseStatus::skipped();
                    st.set_message(reason.as_str());
                    st
                }
                _ if found.is_empty() => TestCaseStatus::success(),
                _ => {
                    let kind = if found.iter().any(|p| p.is_error) {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    TestCaseStatus::non_success(kind)
                }
            };
            if let Some(first) = found.first() {
                status.set_message(first.message.as_str());
                let description: Vec<String> = found
                    .iter()
                    .map(|p| {
                        let at = p
                            .position
                            .as_ref()
                            .map_or_else(String::new, |p| format!("{}:{}:{}: ", p.file, p.line, p.column));
                        format!("{at}{}\n{}", p.message, p.detail)
                    })
                    .collect();
                status.set_description(description.join("\n\n"));
            }
            let mut case = TestCase::new(s.name.as_str(), status);
            let response: Vec<String> = s
                .description
                .iter()
                .map(|d| format!("description: {}", crate::printable::line(d)))
                .chain(s.notes_text().map(|n| format!("note: {}", crate::printable::line(&n))))
                .chain(s.challenge.iter().map(|c| crate::printable::line(c).into_owned()))
                .chain(
                    s.body_excerpt.as_ref().map(|b| format!("response body: {}", crate::printable::line(b))),
                )
                .collect();
            if !response.is_empty() {
                case.set_system_out(response.join("\n"));
            }
            case.set_classname(file.as_str());
            case.set_time(s.elapsed);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    masker.mask(&report.to_string().unwrap_or_default())
}
