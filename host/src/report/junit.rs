//! JUnit XML for CI dashboards.
//!
//! One `<testsuite name=TASK>` with one `<testcase classname=CHECKNAME
//! name=ITEM>` per result: FAILED/NEEDS_INSPECTION get `<failure>`,
//! ABORTED/CRASHED get `<error>`; note, artifact and keyvals go to
//! `<system-out>`. A synthetic `<testcase classname=TASK name="run">`
//! carries the run status when there are no results, when the run ended in
//! error/crashed/refused, or when it failed but no result shows it.
//! Per-result `time` is `0.000` (not measured); the synthetic case gets the
//! run duration.

use std::borrow::Cow;
use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesStart, BytesText, Event};

use super::{Outcome, Report, ReportError, Status};

// Kinds of testcase verdicts.
enum Verdict {
    Pass,
    Failure,
    Error,
    Skipped,
}

struct Case {
    classname: String,
    name: String,
    time: String,
    verdict: Verdict,
    kind: String,
    message: Option<String>,
    out: String,
}

/// Writes `report` as JUnit XML.
pub fn to_string(report: &Report) -> Result<String, ReportError> {
    let cases = cases(report);
    let count =
        |f: fn(&Verdict) -> bool| cases.iter().filter(|c| f(&c.verdict)).count().to_string();
    let tests = cases.len().to_string();
    let failures = count(|v| matches!(v, Verdict::Failure));
    let errors = count(|v| matches!(v, Verdict::Error));
    let skipped = count(|v| matches!(v, Verdict::Skipped));
    let time = seconds(report.duration_ms);

    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    let mut suites = BytesStart::new("testsuites");
    let mut suite = BytesStart::new("testsuite");
    for el in [&mut suites, &mut suite] {
        attr(el, "name", &report.task);
        attr(el, "tests", &tests);
        attr(el, "failures", &failures);
        attr(el, "errors", &errors);
        attr(el, "skipped", &skipped);
        attr(el, "time", &time);
    }
    if !report.started_at.is_empty() {
        attr(&mut suite, "timestamp", &report.started_at);
    }

    w.write_event(Event::Start(suites.borrow()))?;
    w.write_event(Event::Start(suite.borrow()))?;
    write_properties(&mut w, report)?;
    for c in &cases {
        write_case(&mut w, c)?;
    }
    w.write_event(Event::End(suite.to_end()))?;
    w.write_event(Event::End(suites.to_end()))?;

    let bytes = w.into_inner().into_inner();
    // Only &str went in, so this is UTF-8; map the impossible case anyway.
    String::from_utf8(bytes).map_err(|e| ReportError::Xml(std::io::Error::other(e)))
}

fn cases(report: &Report) -> Vec<Case> {
    let mut out: Vec<Case> = report
        .results
        .iter()
        .map(|r| {
            let verdict = match r.outcome {
                Outcome::Passed | Outcome::Info => Verdict::Pass,
                Outcome::Failed | Outcome::NeedsInspection => Verdict::Failure,
                Outcome::Aborted | Outcome::Crashed => Verdict::Error,
            };
            let mut text = format!("outcome: {}\n", r.outcome);
            if let Some(n) = &r.note {
                text.push_str(&format!("note: {n}\n"));
            }
            if let Some(a) = &r.artifact {
                text.push_str(&format!("artifact: {a}\n"));
            }
            for (k, v) in &r.keyvals {
                text.push_str(&format!("{k}: {v}\n"));
            }
            Case {
                classname: r.checkname.clone(),
                name: r.item.clone(),
                time: "0.000".into(),
                verdict,
                kind: r.outcome.to_string(),
                message: Some(r.note.clone().unwrap_or_else(|| r.outcome.to_string())),
                out: text,
            }
        })
        .collect();

    let failing = report.results.iter().any(|r| !r.outcome.is_ok());
    let synthetic = report.results.is_empty()
        || matches!(
            report.status,
            Status::Error | Status::Crashed | Status::Refused
        )
        || (report.status == Status::Failure && !failing);
    if synthetic {
        let verdict = match report.status {
            Status::Success => Verdict::Pass,
            Status::Failure => Verdict::Failure,
            Status::Skipped => Verdict::Skipped,
            Status::Error | Status::Crashed | Status::Refused => Verdict::Error,
        };
        let message = match (&report.failed_stage, &report.error) {
            (Some(s), Some(e)) => format!("{} in stage '{s}': {e}", report.status),
            (Some(s), None) => format!("{} in stage '{s}'", report.status),
            (None, Some(e)) => format!("{}: {e}", report.status),
            (None, None) => report.status.to_string(),
        };
        out.push(Case {
            classname: report.task.clone(),
            name: "run".into(),
            time: seconds(report.duration_ms),
            verdict,
            kind: report.status.to_string(),
            message: Some(message),
            out: format!("run_id: {}\nstatus: {}\n", report.run_id, report.status),
        });
    }
    out
}

fn write_properties(w: &mut Writer<Cursor<Vec<u8>>>, report: &Report) -> std::io::Result<()> {
    let mut props = vec![
        ("run_id", report.run_id.clone()),
        ("status", report.status.to_string()),
    ];
    if let Some(id) = report.log_artifact {
        props.push(("log_artifact", id.to_string()));
    }
    if let Some(p) = &report.results_file {
        props.push(("results_file", p.display().to_string()));
    }
    w.create_element("properties").write_inner_content(|w| {
        for (name, value) in &props {
            let mut p = BytesStart::new("property");
            attr(&mut p, "name", name);
            attr(&mut p, "value", value);
            w.write_event(Event::Empty(p))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_case(w: &mut Writer<Cursor<Vec<u8>>>, c: &Case) -> std::io::Result<()> {
    let mut tc = BytesStart::new("testcase");
    attr(&mut tc, "classname", &c.classname);
    attr(&mut tc, "name", &c.name);
    attr(&mut tc, "time", &c.time);
    w.write_event(Event::Start(tc.borrow()))?;
    let tag = match c.verdict {
        Verdict::Pass => None,
        Verdict::Failure => Some("failure"),
        Verdict::Error => Some("error"),
        Verdict::Skipped => Some("skipped"),
    };
    if let Some(tag) = tag {
        let mut el = BytesStart::new(tag);
        if let Some(m) = &c.message {
            attr(&mut el, "message", m);
        }
        if !matches!(c.verdict, Verdict::Skipped) {
            attr(&mut el, "type", &c.kind);
        }
        w.write_event(Event::Empty(el))?;
    }
    if !c.out.is_empty() {
        let text = clean(&c.out);
        w.create_element("system-out")
            .write_text_content(BytesText::new(&text))?;
    }
    w.write_event(Event::End(tc.to_end()))?;
    Ok(())
}

// Adds an escaped attribute; also escapes whitespace that XML would normalize.
fn attr(el: &mut BytesStart<'_>, key: &str, value: &str) {
    let value = quick_xml::escape::escape(clean(value))
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;");
    el.push_attribute(Attribute::from((key.as_bytes(), value.as_bytes())));
}

// Replaces characters not allowed in XML 1.0 (e.g. ESC from ANSI codes).
fn clean(s: &str) -> Cow<'_, str> {
    let bad = |c: char| !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
    if s.chars().any(bad) {
        Cow::Owned(
            s.chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{report, result};
    use quick_xml::Reader;
    use std::collections::BTreeMap;

    // Parsed element: name, attributes, and text of its direct content.
    #[derive(Debug)]
    struct El {
        name: String,
        attrs: BTreeMap<String, String>,
        text: String,
    }

    // Parses the whole document strictly, returning every element in order.
    fn parse_xml(xml: &str) -> Vec<El> {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        let mut els: Vec<El> = Vec::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut raw = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                ev @ (Event::Start(_) | Event::Empty(_)) => {
                    let (e, is_empty) = match &ev {
                        Event::Start(e) => (e, false),
                        Event::Empty(e) => (e, true),
                        _ => unreachable!(),
                    };
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            let k = String::from_utf8(a.key.as_ref().to_vec()).expect("utf8");
                            (k, a.unescape_value().expect("unescape").into_owned())
                        })
                        .collect();
                    let name = String::from_utf8(e.name().as_ref().to_vec()).expect("utf8");
                    els.push(El {
                        name,
                        attrs,
                        text: String::new(),
                    });
                    if !is_empty {
                        stack.push(els.len() - 1);
                        raw.clear();
                    }
                }
                Event::Text(t) => raw.push_str(&t.decode().expect("utf8")),
                Event::GeneralRef(r) => {
                    raw.push('&');
                    raw.push_str(&r.decode().expect("utf8"));
                    raw.push(';');
                }
                Event::End(_) => {
                    let i = stack.pop().expect("balanced");
                    if els[i].text.is_empty() {
                        els[i].text = quick_xml::escape::unescape(raw.trim())
                            .expect("entities")
                            .into_owned();
                    }
                    raw.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert!(stack.is_empty());
        els
    }

    fn find<'a>(els: &'a [El], name: &str) -> Vec<&'a El> {
        els.iter().filter(|e| e.name == name).collect()
    }

    #[test]
    fn junit_parses_back_with_the_right_counts() {
        use Outcome::*;
        let r = report(
            Status::Success,
            &[Passed, Info, Failed, NeedsInspection, Aborted, Crashed],
        );
        let xml = to_string(&r).expect("xml");
        let els = parse_xml(&xml);
        assert_eq!(els[0].name, "testsuites");
        let suite = find(&els, "testsuite")[0];
        assert_eq!(suite.attrs["name"], "rpmlint");
        assert_eq!(suite.attrs["tests"], "6");
        assert_eq!(suite.attrs["failures"], "2");
        assert_eq!(suite.attrs["errors"], "2");
        assert_eq!(suite.attrs["skipped"], "0");
        assert_eq!(suite.attrs["time"], "1.500");
        let cases = find(&els, "testcase");
        assert_eq!(cases.len(), 6);
        assert_eq!(cases[0].attrs["classname"], "dist.rpmlint");
        assert_eq!(cases[0].attrs["name"], "xchat-0.5-1.fc20");
        assert_eq!(find(&els, "failure").len(), 2);
        assert_eq!(find(&els, "error").len(), 2);
        assert_eq!(find(&els, "failure")[1].attrs["type"], "NEEDS_INSPECTION");
    }

    #[test]
    fn junit_escapes_markup_in_notes_and_keyvals() {
        let nasty = "a <b> & \"c\" 'd'\nline2 \u{1b}[31m";
        let mut res = result(Outcome::Failed);
        res.note = Some(nasty.into());
        res.item = "<item&>".into();
        res.keyvals.insert("k<&>".into(), "</system-out>]]>".into());
        let mut r = report(Status::Success, &[]);
        r.task = "t\"&<".into();
        r.results = vec![res];
        let xml = to_string(&r).expect("xml");
        assert!(!xml.contains('\u{1b}'));
        let els = parse_xml(&xml);
        assert_eq!(find(&els, "testsuite")[0].attrs["name"], "t\"&<");
        assert_eq!(find(&els, "testcase")[0].attrs["name"], "<item&>");
        let msg = &find(&els, "failure")[0].attrs["message"];
        assert_eq!(msg, &nasty.replace('\u{1b}', "\u{FFFD}"));
        let out = &find(&els, "system-out")[0].text;
        assert!(out.contains("k<&>: </system-out>]]>"), "{out}");
        assert!(out.contains("note: a <b> & \"c\""), "{out}");
    }

    #[test]
    fn a_run_without_results_gets_one_case_from_its_status() {
        let want = [
            (Status::Success, None, "0", "0", "0"),
            (Status::Failure, Some("failure"), "1", "0", "0"),
            (Status::Error, Some("error"), "0", "1", "0"),
            (Status::Crashed, Some("error"), "0", "1", "0"),
            (Status::Refused, Some("error"), "0", "1", "0"),
            (Status::Skipped, Some("skipped"), "0", "0", "1"),
        ];
        for (status, tag, failures, errors, skipped) in want {
            let mut r = report(status, &[]);
            r.failed_stage = Some("prepare".into());
            r.error = Some("disk <full>".into());
            let els = parse_xml(&to_string(&r).expect("xml"));
            let suite = find(&els, "testsuite")[0];
            assert_eq!(suite.attrs["tests"], "1", "{status}");
            assert_eq!(suite.attrs["failures"], failures, "{status}");
            assert_eq!(suite.attrs["errors"], errors, "{status}");
            assert_eq!(suite.attrs["skipped"], skipped, "{status}");
            let case = find(&els, "testcase")[0];
            assert_eq!(case.attrs["classname"], "rpmlint");
            assert_eq!(case.attrs["name"], "run");
            if let Some(tag) = tag {
                let el = find(&els, tag)[0];
                assert!(el.attrs["message"].contains("disk <full>"), "{status}");
                assert!(el.attrs["message"].contains("prepare"), "{status}");
            }
        }
    }

    #[test]
    fn an_errored_run_with_results_adds_a_run_case() {
        let r = report(Status::Error, &[Outcome::Passed]);
        let els = parse_xml(&to_string(&r).expect("xml"));
        assert_eq!(find(&els, "testcase").len(), 2);
        assert_eq!(find(&els, "testsuite")[0].attrs["errors"], "1");
        let r = report(Status::Success, &[Outcome::Passed]);
        let els = parse_xml(&to_string(&r).expect("xml"));
        assert_eq!(find(&els, "testcase").len(), 1);
    }
}
