//! Command-line patterns (`blhc --debian **`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::PolicyError;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Arg {
    /// Matches exactly this argument.
    Literal(String),
    /// `*`: matches exactly one argument.
    Any,
}

/// A pattern over an argv, matched token by token.
///
/// * the first token is the program, matched literally (no `PATH` lookup);
/// * a literal token matches exactly that argument;
/// * `*` matches exactly one argument, whatever its value;
/// * a trailing `**` matches zero or more remaining arguments (`**`
///   anywhere else is an error).
///
/// To match a literal `*` or `**` argument, write it with one leading
/// backslash (`\*`, `\**`; one more backslash for each literal one).
///
/// Written as a shell-words string (`"sh -c 'echo hi'"`) or as a list of
/// tokens. [`Display`](fmt::Display) shell-quotes and round-trips through
/// [`ExecPattern::parse`].
///
/// A manifest may also declare `* **`, any command line
/// ([`ExecPattern::parse_declared`]), for a plugin whose programs the
/// operator picks (the `shell` directive): then only the grants decide,
/// and grants always name their program.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExecPattern {
    program: String,
    args: Vec<Arg>,
    /// Ends in `**`.
    rest: bool,
    /// `* **`: any program, any arguments (manifests only).
    any_program: bool,
}

impl ExecPattern {
    /// Parses a pattern written with shell-words quoting rules.
    pub fn parse(s: &str) -> Result<Self, PolicyError> {
        let tokens = shell_words::split(s).map_err(|e| invalid(s, &e.to_string()))?;
        Self::build(tokens).map_err(|why| invalid(s, &why))
    }

    /// Parses a pattern a manifest declares: as [`ExecPattern::parse`], and
    /// also `* **`, any command line.
    pub fn parse_declared(s: &str) -> Result<Self, PolicyError> {
        match shell_words::split(s) {
            Ok(tokens) if tokens == ["*", "**"] => Ok(Self {
                program: "*".into(),
                args: Vec::new(),
                rest: true,
                any_program: true,
            }),
            _ => Self::parse(s),
        }
    }

    /// The pattern matching exactly `argv` (every token literal).
    pub fn exact(argv: &[String]) -> Option<Self> {
        let (program, args) = argv.split_first()?;
        Some(Self {
            program: program.clone(),
            args: args.iter().cloned().map(Arg::Literal).collect(),
            rest: false,
            any_program: false,
        })
    }

    /// Builds a pattern from already split tokens.
    pub fn from_tokens(v: Vec<String>) -> Result<Self, PolicyError> {
        let shown = shell_words::join(&v);
        Self::build(v).map_err(|why| invalid(&shown, &why))
    }

    fn build(tokens: Vec<String>) -> Result<Self, String> {
        let last = tokens.len().saturating_sub(1);
        let mut tokens = tokens.into_iter();
        let program = match tokens.next() {
            None => return Err("the pattern is empty".into()),
            Some(p) if p == "*" || p == "**" => {
                return Err("the program (first token) must be literal, not a wildcard".into());
            }
            Some(p) if p.is_empty() => return Err("the program (first token) is empty".into()),
            Some(p) => unescape(p),
        };
        if program.contains('\0') {
            return Err("tokens may not contain NUL bytes".into());
        }
        let mut args = Vec::new();
        let mut rest = false;
        for (i, tok) in tokens.enumerate() {
            if tok.contains('\0') {
                return Err("tokens may not contain NUL bytes".into());
            }
            match tok.as_str() {
                "*" => args.push(Arg::Any),
                "**" if i + 1 == last => rest = true,
                "**" => return Err("`**` is only allowed as the last token".into()),
                _ => args.push(Arg::Literal(unescape(tok))),
            }
        }
        Ok(Self {
            program,
            args,
            rest,
            any_program: false,
        })
    }

    /// True when `argv` matches this pattern.
    pub fn matches(&self, argv: &[String]) -> bool {
        let Some((program, args)) = argv.split_first() else {
            return false;
        };
        if self.any_program {
            return true;
        }
        if *program != self.program {
            return false;
        }
        let len_ok = if self.rest {
            args.len() >= self.args.len()
        } else {
            args.len() == self.args.len()
        };
        len_ok
            && self.args.iter().zip(args).all(|(p, a)| match p {
                Arg::Any => true,
                Arg::Literal(l) => l == a,
            })
    }

    /// True when some argv matches both patterns.
    pub fn overlaps(&self, other: &ExecPattern) -> bool {
        if self.any_program || other.any_program {
            return true;
        }
        let (a, b) = (self.args.len(), other.args.len());
        let lengths = match (self.rest, other.rest) {
            (false, false) => a == b,
            (true, false) => b >= a,
            (false, true) => a >= b,
            (true, true) => true,
        };
        self.program == other.program
            && lengths
            && self.args.iter().zip(&other.args).all(|pair| match pair {
                (Arg::Literal(x), Arg::Literal(y)) => x == y,
                _ => true,
            })
    }

    /// True when every argv `other` matches, this pattern matches too.
    pub fn covers(&self, other: &ExecPattern) -> bool {
        if self.any_program {
            return true;
        }
        if other.any_program || self.program != other.program {
            return false;
        }
        let (a, b) = (self.args.len(), other.args.len());
        let lengths = match (self.rest, other.rest) {
            (false, false) => a == b,
            (true, _) => a <= b,
            (false, true) => false,
        };
        lengths
            && self.args.iter().zip(&other.args).all(|pair| match pair {
                (Arg::Any, _) => true,
                (Arg::Literal(x), Arg::Literal(y)) => x == y,
                (Arg::Literal(_), Arg::Any) => false,
            })
    }

    /// The program (argv\[0\]) this pattern is about.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// True for a manifest's `* **`: any command line.
    pub fn is_any_program(&self) -> bool {
        self.any_program
    }

    /// True for `PROG **`: every invocation of the program.
    pub fn is_whole_program(&self) -> bool {
        self.args.is_empty() && self.rest
    }
}

fn invalid(shown: &str, why: &str) -> PolicyError {
    PolicyError::Invalid {
        path: None,
        message: format!("invalid exec pattern `{shown}`: {why}"),
    }
}

/// `\*` -> `*`, `\\**` -> `\**`; anything else unchanged.
fn unescape(tok: String) -> String {
    if tok.starts_with('\\') && is_wild_after_backslashes(&tok) {
        tok[1..].to_owned()
    } else {
        tok
    }
}

/// Inverse of [`unescape`] for a literal.
fn escape(lit: &str) -> String {
    if is_wild_after_backslashes(lit) {
        format!("\\{lit}")
    } else {
        lit.to_owned()
    }
}

fn is_wild_after_backslashes(s: &str) -> bool {
    matches!(s.trim_start_matches('\\'), "*" | "**")
}

impl fmt::Display for ExecPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.any_program {
            return f.write_str("* **");
        }
        f.write_str(&shell_words::quote(&escape(&self.program)))?;
        for arg in &self.args {
            match arg {
                Arg::Any => f.write_str(" *")?,
                Arg::Literal(l) => write!(f, " {}", shell_words::quote(&escape(l)))?,
            }
        }
        if self.rest {
            f.write_str(" **")?;
        }
        Ok(())
    }
}

impl FromStr for ExecPattern {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ExecPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Accepts a shell-words string or a sequence of token strings.
impl<'de> Deserialize<'de> for ExecPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExecPattern;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an exec pattern: a string like \"prog --flag **\" or an array of strings",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ExecPattern, E> {
                ExecPattern::parse(s).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExecPattern, A::Error> {
                let mut tokens = Vec::new();
                while let Some(t) = seq.next_element::<String>()? {
                    tokens.push(t);
                }
                ExecPattern::from_tokens(tokens).map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}
