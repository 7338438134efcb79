//! Where each key of a task_data file is, so an error about a key points
//! at the user's file (`task.yaml:3:14: extra_flags: ...`), not at the
//! JSON the host hands the plugin.

use std::collections::HashMap;

/// A line and column, from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The positions of a task_data file's keys and values, by key path as
/// errors write them (`input.artifact`, `extra_flags[1]`).
#[derive(Clone, Debug, Default)]
pub struct TaskDataSource {
    file: String,
    keys: HashMap<String, Position>,
    values: HashMap<String, Position>,
}

impl TaskDataSource {
    /// Reads the positions in `text` (YAML or JSON) of the file `file`;
    /// text that does not parse gives an empty map (the caller reports
    /// the parse error itself).
    pub fn new(file: &str, text: &str) -> Self {
        let mut source = TaskDataSource {
            file: file.to_owned(),
            ..Default::default()
        };
        if let Ok(root) = marked_yaml::parse_yaml(0, text) {
            source.walk("", &root);
        }
        source
    }

    fn walk(&mut self, path: &str, node: &marked_yaml::Node) {
        if let Some(at) = position(node.span()) {
            self.values.insert(path.to_owned(), at);
        }
        match node {
            marked_yaml::Node::Mapping(map) => {
                for (key, value) in map.iter() {
                    let child = if path.is_empty() {
                        key.as_str().to_owned()
                    } else {
                        format!("{path}.{}", key.as_str())
                    };
                    if let Some(at) = position(key.span()) {
                        self.keys.insert(child.clone(), at);
                    }
                    self.walk(&child, value);
                }
            }
            marked_yaml::Node::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(&format!("{path}[{i}]"), item);
                }
            }
            marked_yaml::Node::Scalar(_) => {}
        }
    }

    /// `message` (an error about task_data, from the plugin or the host)
    /// prefixed with `FILE:LINE:COLUMN:` of the key it names, and without
    /// a position in the host's JSON; unchanged when it names no key of
    /// the file.
    pub fn locate(&self, message: &str) -> String {
        match self.place(message) {
            Some((at, text)) => format!("{at}: {text}"),
            None => message.to_owned(),
        }
    }

    /// `FILE:LINE:COLUMN` of the key `message` names, and the message
    /// without a position in the host's JSON.
    pub fn place(&self, message: &str) -> Option<(String, String)> {
        let (prefix, rest) = match message.find("task_data: ") {
            Some(i) => message.split_at(i + "task_data: ".len()),
            None => ("", message),
        };
        let (path, key) = self.path_in(rest)?;
        let at = if key {
            self.keys.get(&path)
        } else {
            self.values.get(&path).or_else(|| self.keys.get(&path))
        }?;
        let text = format!("{prefix}{}", strip_json_position(rest));
        Some((format!("{}:{}:{}", self.file, at.line, at.column), text))
    }

    /// The key path an error names, and whether it is about the key
    /// itself (an unknown key) rather than its value.
    fn path_in(&self, rest: &str) -> Option<(String, bool)> {
        if let Some(after) = rest.strip_prefix("unknown key '") {
            let path = after.split('\'').next()?;
            return Some((path.to_owned(), true));
        }
        let (path, _) = rest.split_once(": ")?;
        let known = self.values.contains_key(path) || self.keys.contains_key(path);
        known.then(|| (path.to_owned(), false))
    }
}

fn position(span: &marked_yaml::Span) -> Option<Position> {
    span.start().map(|m| Position {
        line: m.line(),
        column: m.column(),
    })
}

/// Drops serde_json's ` at line N column M` (a place in the host's JSON).
fn strip_json_position(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => &text[..i],
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "input:\n  artifact: 7\nextra_flags:\n  - --all\n  - --bogus\nbackend: 3\n";

    #[test]
    fn a_value_error_points_at_the_value_in_the_file() {
        let s = TaskDataSource::new("task.yaml", YAML);
        assert_eq!(
            s.locate("blhc: task_data: backend: invalid type: integer `3`, expected a string at line 1 column 70"),
            "task.yaml:6:10: blhc: task_data: backend: invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            s.locate("task_data: extra_flags[1]: unsupported flag"),
            "task.yaml:5:5: task_data: extra_flags[1]: unsupported flag"
        );
        assert_eq!(
            s.locate("input.artifact: unexpected artifact category: 'x'"),
            "task.yaml:2:13: input.artifact: unexpected artifact category: 'x'"
        );
    }

    #[test]
    fn an_unknown_key_points_at_the_key() {
        let s = TaskDataSource::new("task.yaml", "input:\n  artifact: 7\n  extra: 1\n");
        assert_eq!(
            s.locate("task_data: unknown key 'input.extra' (extra fields not permitted)"),
            "task.yaml:3:3: task_data: unknown key 'input.extra' (extra fields not permitted)"
        );
    }

    #[test]
    fn json_files_are_located_too_and_other_messages_stay() {
        let s = TaskDataSource::new("task.json", "{\n  \"input\": {\"artifact\": \"x\"}\n}\n");
        assert_eq!(
            s.locate("task_data: input.artifact: bad"),
            "task.json:2:25: task_data: input.artifact: bad"
        );
        assert_eq!(
            s.locate("blhc refused its arguments"),
            "blhc refused its arguments"
        );
        assert_eq!(
            s.locate("task_data: nothere: bad"),
            "task_data: nothere: bad"
        );
    }
}
