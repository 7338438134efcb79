//! A small XML-RPC client (Koji's hub speaks XML-RPC), over [`taskhost_sdk::http`].
//!
//! ```no_run
//! use taskhost_fedora::xmlrpc::{self, Value};
//! # fn main() -> taskhost_sdk::Result<()> {
//! let build = xmlrpc::call("https://koji.fedoraproject.org/kojihub", "getBuild",
//!                          &[Value::from("xchat-2.8.8-21.fc20")])?;
//! # Ok(())
//! # }
//! ```
//!
//! Values cover the XML-RPC spec plus the extensions Python servers use:
//! `<nil/>` and 64-bit `<i8>`. A fault becomes [`Error::Failed`] naming the
//! method, the fault code and the fault string.
//!
//! quick-xml parses the XML; this module only maps it to XML-RPC.
//! `serde_xmlrpc` (0.2.3, 0.3.0-alpha.2) is not used: it leaves `&amp;` and
//! `&lt;` escaped in `<string>`s and struct member names, and refuses the
//! base64 Python sends (wrapped in newlines).

use quick_xml::Reader;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use std::collections::BTreeMap;
use std::fmt;
use taskhost_sdk::{Error, Result, http};

/// An XML-RPC value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `<nil/>` (Python's `None`).
    Nil,
    Bool(bool),
    /// `<int>`, `<i4>` or `<i8>`.
    Int(i64),
    Double(f64),
    String(String),
    /// `<dateTime.iso8601>`, as sent.
    DateTime(String),
    /// `<base64>`, as sent (whitespace removed, not decoded).
    Base64(String),
    Array(Vec<Value>),
    Struct(BTreeMap<String, Value>),
}

/// A fault the server answered instead of a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault {}: {}", self.code, self.message)
    }
}

/// A decoded `methodResponse`.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Value(Value),
    Fault(Fault),
}

impl Value {
    /// The member `key` of a struct.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A struct built from `(key, value)` pairs.
    pub fn structure<K: Into<String>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Struct(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// The value as JSON: nil is `null`, a double that is not finite is
    /// `null`, dates and base64 stay strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Double(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
            Value::String(s) | Value::DateTime(s) | Value::Base64(s) => J::String(s.clone()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Struct(m) => {
                J::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// A value from JSON: `null` is nil, integers that fit `i64` are ints,
    /// other numbers doubles.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::String(s.clone()),
            J::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            J::Object(m) => Value::Struct(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(d: f64) -> Value {
        Value::Double(d)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}

// ---- encoding ----

/// The `methodCall` document for `method(params...)`. Fails on a method
/// name or string that XML cannot carry (control characters).
pub fn encode_call(method: &str, params: &[Value]) -> Result<Vec<u8>> {
    let mut w = quick_xml::Writer::new(Vec::new());
    let io = |e: std::io::Error| Error::Failed(format!("writing the XML-RPC call: {e}"));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    open(&mut w, "methodCall").map_err(io)?;
    check_text(method, "the method name")?;
    leaf(&mut w, "methodName", method).map_err(io)?;
    open(&mut w, "params").map_err(io)?;
    for p in params {
        open(&mut w, "param").map_err(io)?;
        write_value(&mut w, p)?;
        close(&mut w, "param").map_err(io)?;
    }
    close(&mut w, "params").map_err(io)?;
    close(&mut w, "methodCall").map_err(io)?;
    Ok(w.into_inner())
}

type Writer = quick_xml::Writer<Vec<u8>>;

fn open(w: &mut Writer, name: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))
}

fn close(w: &mut Writer, name: &str) -> std::io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

fn leaf(w: &mut Writer, name: &str, text: &str) -> std::io::Result<()> {
    open(w, name)?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    close(w, name)
}

/// XML 1.0 cannot carry most control characters, not even escaped.
fn check_text(s: &str, what: &str) -> Result<()> {
    match s
        .chars()
        .find(|&c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
    {
        Some(c) => Err(Error::Invalid(format!(
            "{what} {s:?} holds the control character U+{:04X}, which XML-RPC cannot send",
            c as u32
        ))),
        None => Ok(()),
    }
}

fn write_value(w: &mut Writer, v: &Value) -> Result<()> {
    let io = |e: std::io::Error| Error::Failed(format!("writing the XML-RPC call: {e}"));
    open(w, "value").map_err(io)?;
    match v {
        Value::Nil => w
            .write_event(Event::Empty(BytesStart::new("nil")))
            .map(|_| ())
            .map_err(io)?,
        Value::Bool(b) => leaf(w, "boolean", if *b { "1" } else { "0" }).map_err(io)?,
        Value::Int(i) if i32::try_from(*i).is_ok() => leaf(w, "int", &i.to_string()).map_err(io)?,
        Value::Int(i) => leaf(w, "i8", &i.to_string()).map_err(io)?,
        Value::Double(d) => leaf(w, "double", &format!("{d:?}")).map_err(io)?,
        Value::String(s) => {
            check_text(s, "the string")?;
            leaf(w, "string", s).map_err(io)?
        }
        Value::DateTime(s) => {
            check_text(s, "the date")?;
            leaf(w, "dateTime.iso8601", s).map_err(io)?
        }
        Value::Base64(s) => {
            check_text(s, "the base64 text")?;
            leaf(w, "base64", s).map_err(io)?
        }
        Value::Array(items) => {
            open(w, "array").map_err(io)?;
            open(w, "data").map_err(io)?;
            for item in items {
                write_value(w, item)?;
            }
            close(w, "data").map_err(io)?;
            close(w, "array").map_err(io)?;
        }
        Value::Struct(members) => {
            open(w, "struct").map_err(io)?;
            for (k, item) in members {
                check_text(k, "the struct member name")?;
                open(w, "member").map_err(io)?;
                leaf(w, "name", k).map_err(io)?;
                write_value(w, item)?;
                close(w, "member").map_err(io)?;
            }
            close(w, "struct").map_err(io)?;
        }
    }
    close(w, "value").map_err(io)
}

// ---- decoding ----

/// Why a response is not XML-RPC.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Nesting deeper than this is refused (a hostile server could otherwise
/// exhaust the stack).
const MAX_DEPTH: usize = 200;

/// A parsed XML element: its local name and children.
#[derive(Debug)]
struct Element {
    name: String,
    children: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Element(Element),
    Text(String),
}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// Parses `xml` into its root element.
fn parse_tree(xml: &[u8]) -> std::result::Result<Element, DecodeError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let xml_err = |reader: &Reader<&[u8]>, e: &dyn fmt::Display| {
        bad(format!(
            "malformed XML at byte {}: {e}",
            reader.buffer_position()
        ))
    };
    loop {
        let event = reader.read_event().map_err(|e| xml_err(&reader, &e))?;
        let text = match event {
            Event::Eof => break,
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(bad("content after the root element"));
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(bad(format!("elements nested deeper than {MAX_DEPTH}")));
                }
                stack.push(Element {
                    name: local_name(&e),
                    children: Vec::new(),
                });
                continue;
            }
            Event::Empty(e) => {
                let element = Element {
                    name: local_name(&e),
                    children: Vec::new(),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(element)),
                    None => root = Some(element),
                }
                continue;
            }
            Event::End(_) => {
                let Some(done) = stack.pop() else {
                    return Err(bad("an end tag with no start tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Node::Element(done)),
                    None => root = Some(done),
                }
                continue;
            }
            Event::Text(t) => t
                .xml10_content()
                .map_err(|e| xml_err(&reader, &e))?
                .into_owned(),
            Event::CData(t) => t.decode().map_err(|e| xml_err(&reader, &e))?.into_owned(),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|e| xml_err(&reader, &e))? {
                    c.to_string()
                } else {
                    let name = r.decode().map_err(|e| xml_err(&reader, &e))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => s.to_string(),
                        None => return Err(bad(format!("unknown entity &{name};"))),
                    }
                }
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => continue,
        };
        match stack.last_mut() {
            Some(parent) => match parent.children.last_mut() {
                Some(Node::Text(prev)) => prev.push_str(&text),
                _ => parent.children.push(Node::Text(text)),
            },
            None if text.trim().is_empty() => {}
            None => return Err(bad("text outside the root element")),
        }
    }
    if let Some(open) = stack.last() {
        return Err(bad(format!("the document ends inside <{}>", open.name)));
    }
    root.ok_or_else(|| bad("the body holds no XML element"))
}

/// `ex:nil` is `nil`: namespaces are not checked.
fn local_name(e: &BytesStart) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

impl Element {
    /// Child elements; text between them must be whitespace.
    fn elements(&self) -> std::result::Result<Vec<&Element>, DecodeError> {
        let mut out = Vec::new();
        for child in &self.children {
            match child {
                Node::Element(e) => out.push(e),
                Node::Text(t) if t.trim().is_empty() => {}
                Node::Text(t) => {
                    return Err(bad(format!(
                        "unexpected text {:?} in <{}>",
                        shorten(t),
                        self.name
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The only child element, named `name`.
    fn only(&self, name: &str) -> std::result::Result<&Element, DecodeError> {
        match self.elements()?.as_slice() {
            [one] if one.name == name => Ok(one),
            [one] => Err(bad(format!(
                "<{}> holds <{}>, not <{name}>",
                self.name, one.name
            ))),
            _ => Err(bad(format!(
                "<{}> must hold exactly one <{name}>",
                self.name
            ))),
        }
    }

    /// The text content; child elements are an error.
    fn text(&self) -> std::result::Result<String, DecodeError> {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => {
                    return Err(bad(format!(
                        "<{}> holds <{}> where text belongs",
                        self.name, e.name
                    )));
                }
            }
        }
        Ok(out)
    }
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

fn decode_value(v: &Element) -> std::result::Result<Value, DecodeError> {
    if v.name != "value" {
        return Err(bad(format!("expected <value>, found <{}>", v.name)));
    }
    // A value with no type element is a string.
    if !v.children.iter().any(|c| matches!(c, Node::Element(_))) {
        return Ok(Value::String(v.text()?));
    }
    let typed = match v.elements()?.as_slice() {
        [] => return Err(bad("an empty <value>")),
        [one] => *one,
        _ => return Err(bad("<value> holds more than one element")),
    };
    let text = || typed.text();
    let number = |what: &str| -> std::result::Result<String, DecodeError> {
        let t = typed.text()?;
        let t = t.trim();
        if t.is_empty() {
            return Err(bad(format!("an empty <{what}>")));
        }
        Ok(t.to_string())
    };
    Ok(match typed.name.as_str() {
        "string" => Value::String(text()?),
        "int" | "i4" | "i8" | "i2" | "i1" => {
            let t = number(&typed.name)?;
            Value::Int(t.parse().map_err(|_| {
                bad(format!(
                    "<{}>{}</{}> is not an integer",
                    typed.name,
                    shorten(&t),
                    typed.name
                ))
            })?)
        }
        "boolean" => match number("boolean")?.as_str() {
            "1" | "true" => Value::Bool(true),
            "0" | "false" => Value::Bool(false),
            other => {
                return Err(bad(format!(
                    "<boolean>{}</boolean> is not 0 or 1",
                    shorten(other)
                )));
            }
        },
        "double" => {
            let t = number("double")?;
            Value::Double(
                t.parse().map_err(|_| {
                    bad(format!("<double>{}</double> is not a number", shorten(&t)))
                })?,
            )
        }
        "nil" => Value::Nil,
        "dateTime.iso8601" => Value::DateTime(text()?.trim().to_string()),
        "base64" => Value::Base64(text()?.split_whitespace().collect()),
        "array" => {
            let data = typed.only("data")?;
            Value::Array(
                data.elements()?
                    .into_iter()
                    .map(decode_value)
                    .collect::<std::result::Result<_, _>>()?,
            )
        }
        "struct" => {
            let mut members = BTreeMap::new();
            for member in typed.elements()? {
                if member.name != "member" {
                    return Err(bad(format!(
                        "<struct> holds <{}>, not <member>",
                        member.name
                    )));
                }
                let parts = member.elements()?;
                let name = parts.iter().find(|e| e.name == "name");
                let value = parts.iter().find(|e| e.name == "value");
                let (Some(name), Some(value), 2) = (name, value, parts.len()) else {
                    return Err(bad("a <member> must hold one <name> and one <value>"));
                };
                members.insert(name.text()?, decode_value(value)?);
            }
            Value::Struct(members)
        }
        other => return Err(bad(format!("unknown value type <{other}>"))),
    })
}

/// Decodes a `methodResponse` document.
pub fn decode_response(xml: &[u8]) -> std::result::Result<Response, DecodeError> {
    let root = parse_tree(xml)?;
    if root.name != "methodResponse" {
        return Err(bad(format!(
            "the root element is <{}>, not <methodResponse>",
            root.name
        )));
    }
    let body = match root.elements()?.as_slice() {
        [one] => *one,
        _ => {
            return Err(bad(
                "<methodResponse> must hold one <params> or one <fault>",
            ));
        }
    };
    match body.name.as_str() {
        "params" => {
            let param = body.only("param")?;
            Ok(Response::Value(decode_value(param.only("value")?)?))
        }
        "fault" => {
            let fault = decode_value(body.only("value")?)?;
            let code = fault.get("faultCode").and_then(Value::as_i64);
            let message = fault.get("faultString").and_then(Value::as_str);
            match (code, message) {
                (Some(code), Some(message)) => Ok(Response::Fault(Fault {
                    code,
                    message: message.to_string(),
                })),
                _ => Err(bad(
                    "a <fault> without an integer faultCode and a string faultString",
                )),
            }
        }
        other => Err(bad(format!(
            "<methodResponse> holds <{other}>, not <params> or <fault>"
        ))),
    }
}

// ---- calling ----

/// Calls `method(params...)` at `url` and returns the result. A fault is
/// [`Error::Failed`] with `METHOD: fault CODE: STRING`; an answer that is
/// not XML-RPC names the URL.
pub fn call(url: &str, method: &str, params: &[Value]) -> Result<Value> {
    let body = encode_call(method, params)?;
    let response = http::Request::post(url, "text/xml", body).send()?;
    if !response.ok() {
        return Err(Error::Failed(format!(
            "{url} answered HTTP {} to the XML-RPC call {method}: {}",
            response.status,
            shorten(&response.text())
        )));
    }
    match decode_response(&response.body) {
        Ok(Response::Value(v)) => Ok(v),
        Ok(Response::Fault(f)) => Err(Error::Failed(format!("{method} at {url}: {f}"))),
        Err(e) => Err(Error::Failed(format!(
            "{url} did not answer {method} with XML-RPC: {e}"
        ))),
    }
}

/// [`call`], with the result decoded into `T` through its JSON form.
pub fn call_as<T: serde::de::DeserializeOwned>(
    url: &str,
    method: &str,
    params: &[Value],
) -> Result<T> {
    let value = call(url, method, params)?;
    serde_json::from_value(value.to_json()).map_err(|e| {
        Error::Failed(format!(
            "{url} answered {method} with an unexpected shape: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    fn value(xml: &str) -> Value {
        let doc = format!("<methodResponse><params><param>{xml}</param></params></methodResponse>");
        match decode_response(doc.as_bytes()) {
            Ok(Response::Value(v)) => v,
            other => panic!("{xml}: {other:?}"),
        }
    }

    fn refused(doc: &str) -> String {
        match decode_response(doc.as_bytes()) {
            Err(e) => e.0,
            other => panic!("{doc}: accepted as {other:?}"),
        }
    }

    #[test]
    fn encodes_every_type() {
        let kwargs = Value::structure([
            ("__starstar", Value::Bool(true)),
            ("arches", vec!["x86_64", "noarch"].into()),
        ]);
        let call = encode_call(
            "listRPMs",
            &[
                Value::Nil,
                Value::Int(7),
                Value::Int(1 << 40),
                Value::Bool(false),
                Value::Double(1.5),
                Value::from("a<b & \"c\""),
                kwargs,
            ],
        )
        .unwrap();
        assert_eq!(
            text(call),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><methodCall><methodName>listRPMs</methodName><params>\
             <param><value><nil/></value></param>\
             <param><value><int>7</int></value></param>\
             <param><value><i8>1099511627776</i8></value></param>\
             <param><value><boolean>0</boolean></value></param>\
             <param><value><double>1.5</double></value></param>\
             <param><value><string>a&lt;b &amp; &quot;c&quot;</string></value></param>\
             <param><value><struct>\
             <member><name>__starstar</name><value><boolean>1</boolean></value></member>\
             <member><name>arches</name><value><array><data>\
             <value><string>x86_64</string></value><value><string>noarch</string></value>\
             </data></array></value></member>\
             </struct></value></param>\
             </params></methodCall>"
        );
    }

    #[test]
    fn refuses_control_characters() {
        let e = encode_call("m", &[Value::from("a\u{1}b")]).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid(m) if m.contains("U+0001")),
            "{e:?}"
        );
        assert!(encode_call("m", &[Value::from("tab\tnew\nline")]).is_ok());
    }

    #[test]
    fn round_trips_through_its_own_encoding() {
        let v = Value::structure([
            (
                "a",
                Value::Array(vec![Value::Int(-3), Value::Nil, Value::from("x y")]),
            ),
            ("b", Value::Struct(BTreeMap::new())),
            ("c", Value::Double(-0.25)),
            ("d", Value::from("ünïcödé &amp; <tags>")),
        ]);
        let call = text(encode_call("m", std::slice::from_ref(&v)).unwrap());
        let inner = call
            .split("<param>")
            .nth(1)
            .and_then(|s| s.split("</param>").next())
            .unwrap();
        assert_eq!(value(inner), v);
    }

    #[test]
    fn decodes_values() {
        assert_eq!(value("<value>plain</value>"), Value::from("plain"));
        assert_eq!(
            value("<value>  spaced  </value>"),
            Value::from("  spaced  ")
        );
        assert_eq!(value("<value><string></string></value>"), Value::from(""));
        assert_eq!(value("<value><string/></value>"), Value::from(""));
        assert_eq!(value("<value></value>"), Value::from(""));
        assert_eq!(value("<value><i4> 42 </i4></value>"), Value::Int(42));
        assert_eq!(
            value("<value><i8>-9007199254740993</i8></value>"),
            Value::Int(-9007199254740993)
        );
        assert_eq!(
            value("<value><ex:i8 xmlns:ex=\"x\">5</ex:i8></value>"),
            Value::Int(5)
        );
        assert_eq!(
            value("<value><boolean>1</boolean></value>"),
            Value::Bool(true)
        );
        assert_eq!(
            value("<value><double>1715600000.0</double></value>"),
            Value::Double(1715600000.0)
        );
        assert_eq!(value("<value><nil/></value>"), Value::Nil);
        assert_eq!(value("<value><ex:nil/></value>"), Value::Nil);
        assert_eq!(
            value("<value><dateTime.iso8601>20240513T10:00:00</dateTime.iso8601></value>"),
            Value::DateTime("20240513T10:00:00".into())
        );
        assert_eq!(
            value("<value><base64>aGVs\n bG8=</base64></value>"),
            Value::Base64("aGVsbG8=".into())
        );
        assert_eq!(
            value(
                "<value><string>a &lt;&amp;&gt; &#233;&#x4e2d; <![CDATA[<raw>]]>\r\nz</string></value>"
            ),
            Value::from("a <&> é中 <raw>\nz")
        );
        let v = value(
            "<value>\n <struct>\n  <member>\n   <name>id</name>\n   <value><int>2002</int></value>\n  </member>\n  \
             <member><name>arches</name><value><array>\n<data>\n<value>x86_64</value>\n<value><nil/></value></data></array></value></member>\
             <member><name>empty</name><value><array><data/></array></value></member>\
             </struct>\n</value>",
        );
        assert_eq!(v.get("id"), Some(&Value::Int(2002)));
        assert_eq!(
            v.get("arches"),
            Some(&Value::Array(vec![Value::from("x86_64"), Value::Nil]))
        );
        assert_eq!(v.get("empty"), Some(&Value::Array(vec![])));
        assert_eq!(
            v.to_json(),
            serde_json::json!({"id": 2002, "arches": ["x86_64", null], "empty": []})
        );
    }

    #[test]
    fn decodes_faults() {
        let doc = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
                   <member>\n<name>faultCode</name>\n<value><int>1000</int></value>\n</member>\n\
                   <member>\n<name>faultString</name>\n<value><string>No such build: x-1-1</string></value>\n</member>\n\
                   </struct></value>\n</fault>\n</methodResponse>\n";
        assert_eq!(
            decode_response(doc.as_bytes()).unwrap(),
            Response::Fault(Fault {
                code: 1000,
                message: "No such build: x-1-1".into()
            })
        );
        assert!(refused("<methodResponse><fault><value><string>oops</string></value></fault></methodResponse>")
            .contains("faultCode"));
    }

    #[test]
    fn refuses_what_is_not_xmlrpc() {
        for (doc, want) in [
            ("", "no XML element"),
            ("<html><body>502 Bad Gateway</body></html>", "<html>"),
            (
                "<methodResponse><params><param><value><int>x</int></value></param></params></methodResponse>",
                "not an integer",
            ),
            (
                "<methodResponse><params><param><value><int></int></value></param></params></methodResponse>",
                "empty <int>",
            ),
            (
                "<methodResponse><params><param><value><boolean>2</boolean></value></param></params></methodResponse>",
                "not 0 or 1",
            ),
            (
                "<methodResponse><params><param><value><blob>1</blob></value></param></params></methodResponse>",
                "unknown value type <blob>",
            ),
            (
                "<methodResponse><params><param><value><string>a</string><int>1</int></value></param></params></methodResponse>",
                "more than one",
            ),
            (
                "<methodResponse><params><param><value>x<int>1</int></value></param></params></methodResponse>",
                "unexpected text",
            ),
            (
                "<methodResponse><params><param><value><string>&bogus;</string></value></param></params></methodResponse>",
                "&bogus;",
            ),
            (
                "<methodResponse><params><param><value><string>a</value></param></params></methodResponse>",
                "malformed XML",
            ),
            (
                "<methodResponse><params><param><value><string>a</string></value></param></params>",
                "ends inside <methodResponse>",
            ),
            (
                "<methodResponse><params></params></methodResponse>",
                "exactly one <param>",
            ),
            (
                "<methodResponse><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodResponse>",
                "one <name> and one <value>",
            ),
            ("<methodResponse/><x/>", "after the root"),
        ] {
            let got = refused(doc);
            assert!(got.contains(want), "{doc:?}: want {want:?} in {got:?}");
        }
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = "<value><array><data>".repeat(200) + &"</data></array></value>".repeat(200);
        let doc =
            format!("<methodResponse><params><param>{deep}</param></params></methodResponse>");
        assert!(refused(&doc).contains("nested deeper"));
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"a": [1, 2.5, null, true, "s"], "big": u64::MAX});
        let v = Value::from_json(&j);
        assert_eq!(v.get("big"), Some(&Value::Double(u64::MAX as f64)));
        assert_eq!(
            v.get("a").unwrap(),
            &Value::Array(vec![
                Value::Int(1),
                Value::Double(2.5),
                Value::Nil,
                Value::Bool(true),
                Value::from("s")
            ])
        );
        assert_eq!(Value::Double(f64::NAN).to_json(), serde_json::Value::Null);
    }
}
