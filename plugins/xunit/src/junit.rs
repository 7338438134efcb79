//! JUnit XML: `<testsuites>` / `<testsuite>` holding `<testcase>`s whose
//! `<failure>`, `<error>` or `<skipped>` child says how they ended.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// How one test case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Passed,
    Skipped,
    Failed,
    /// `<error>`: the test itself broke.
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    pub name: String,
    pub classname: Option<String>,
    pub status: Status,
    /// The `message` of the failure, error or skip.
    pub message: Option<String>,
}

/// Reads the test cases of a JUnit XML document, in document order.
/// Errors say what is wrong and where (line).
pub fn parse(xml: &str) -> Result<Vec<TestCase>, String> {
    let mut reader = Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut root_seen = false;
    let mut current: Option<TestCase> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            let at = line_of(xml, reader.error_position() as usize);
            format!("not well-formed XML at line {at}: {e}")
        })?;
        let at = || line_of(xml, reader.buffer_position() as usize);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.local_name();
                let name = String::from_utf8_lossy(name.as_ref()).into_owned();
                if !root_seen {
                    root_seen = true;
                    if name != "testsuites" && name != "testsuite" {
                        return Err(format!(
                            "not JUnit XML: the root element is <{name}>, expected <testsuites> or <testsuite>"
                        ));
                    }
                }
                match name.as_str() {
                    "testcase" => {
                        if current.is_some() {
                            return Err(format!("line {}: a <testcase> inside a <testcase>", at()));
                        }
                        let case = TestCase {
                            name: attr(e, "name")
                                .map_err(|m| format!("line {}: {m}", at()))?
                                .ok_or_else(|| {
                                    format!("line {}: a <testcase> has no `name` attribute", at())
                                })?,
                            classname: attr(e, "classname")
                                .map_err(|m| format!("line {}: {m}", at()))?,
                            status: Status::Passed,
                            message: None,
                        };
                        if empty {
                            cases.push(case);
                        } else {
                            current = Some(case);
                        }
                    }
                    "failure" | "error" | "skipped" => {
                        if let Some(case) = current.as_mut() {
                            let status = match name.as_str() {
                                "failure" => Status::Failed,
                                "error" => Status::Error,
                                _ => Status::Skipped,
                            };
                            if status > case.status {
                                case.status = status;
                                case.message = attr(e, "message")
                                    .map_err(|m| format!("line {}: {m}", at()))?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) if e.local_name().as_ref() == b"testcase" => {
                if let Some(case) = current.take() {
                    cases.push(case);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err("not JUnit XML: the document has no elements".into());
    }
    Ok(cases)
}

/// An attribute's unescaped value.
fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    match e.try_get_attribute(name) {
        Ok(None) => Ok(None),
        Ok(Some(a)) => a
            .unescape_value()
            .map(|v| Some(v.into_owned()))
            .map_err(|err| format!("attribute `{name}`: {err}")),
        Err(err) => Err(format!("attribute `{name}`: {err}")),
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="all" tests="5">
  <testsuite name="unit" tests="3">
    <testcase classname="t.unit" name="adds" time="0.1"/>
    <testcase classname="t.unit" name="subtracts">
      <failure message="expected 1, got 2" type="AssertionError">trace &amp; more</failure>
      <system-out>noise</system-out>
    </testcase>
    <testcase name="skips"><skipped message="not on this arch"/></testcase>
  </testsuite>
  <testsuite name="nested">
    <testsuite name="inner">
      <testcase name="errs &lt;1&gt;"><error message="boom"/><failure/></testcase>
      <testcase name="passes"></testcase>
    </testsuite>
  </testsuite>
</testsuites>
"#;

    #[test]
    fn reads_every_case_with_its_status() {
        let cases = parse(SAMPLE).unwrap();
        let got: Vec<(&str, Status, Option<&str>)> = cases
            .iter()
            .map(|c| (c.name.as_str(), c.status, c.message.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("adds", Status::Passed, None),
                ("subtracts", Status::Failed, Some("expected 1, got 2")),
                ("skips", Status::Skipped, Some("not on this arch")),
                ("errs <1>", Status::Error, Some("boom")),
                ("passes", Status::Passed, None),
            ]
        );
        assert_eq!(cases[0].classname.as_deref(), Some("t.unit"));
    }

    #[test]
    fn a_single_testsuite_root_is_fine() {
        let cases = parse("<testsuite name='s'><testcase name='a'/></testsuite>").unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(parse("<testsuite/>").unwrap(), vec![]);
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let e = parse("<html><testcase name='a'/></html>").unwrap_err();
        assert!(e.contains("root element is <html>"), "{e}");
        let e = parse("<testsuite>\n<testcase/>\n</testsuite>").unwrap_err();
        assert_eq!(e, "line 2: a <testcase> has no `name` attribute");
        let e = parse("<testsuite>\n<testcase name='a'>\n</testsuite>").unwrap_err();
        assert!(e.starts_with("not well-formed XML at line "), "{e}");
        assert!(parse("").unwrap_err().contains("no elements"));
        assert!(parse("just text").unwrap_err().contains("no elements"));
        let e = parse("<testsuite><testcase name='a'><testcase name='b'/></testcase></testsuite>")
            .unwrap_err();
        assert!(e.contains("inside a <testcase>"), "{e}");
    }
}
