//! The Sources and Packages indices, read as a hostile repository may
//! write them: every name, path and sum is checked before it is used.

use std::str::FromStr;

use super::release::Checksum;

/// A source package of a Sources index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SourcePackage {
    pub(crate) name: String,
    pub(crate) version: String,
    /// Where its files are, relative to the repository's base.
    pub(crate) directory: String,
    /// File name (one path component) and checksum, the .dsc first.
    pub(crate) files: Vec<(String, Checksum)>,
    pub(crate) section: Option<String>,
}

impl SourcePackage {
    /// Its item name in a `debian:suite`.
    pub(crate) fn item_name(&self) -> String {
        format!("{}_{}", self.name, self.version)
    }
}

/// A binary package of a Packages index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BinaryPackage {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
    /// The source package's name.
    pub(crate) source: String,
    /// The .deb, relative to the repository's base.
    pub(crate) filename: String,
    pub(crate) checksum: Checksum,
    pub(crate) section: Option<String>,
    pub(crate) priority: Option<String>,
}

impl BinaryPackage {
    /// Its item name in a `debian:suite`.
    pub(crate) fn item_name(&self) -> String {
        format!("{}_{}_{}", self.name, self.version, self.architecture)
    }

    /// The .deb's file name, the last component of `filename`.
    pub(crate) fn file_name(&self) -> &str {
        self.filename.rsplit('/').next().unwrap_or(&self.filename)
    }
}

/// The paragraphs of an index, each with a label for errors.
fn paragraphs(text: &str) -> Result<Vec<Fields>, String> {
    let parsed =
        deb822_lossless::Deb822::from_str(text).map_err(|e| format!("not a deb822 index: {e}"))?;
    Ok(parsed
        .paragraphs()
        .enumerate()
        .map(|(i, p)| Fields {
            number: i + 1,
            paragraph: p,
        })
        .collect())
}

struct Fields {
    number: usize,
    paragraph: deb822_lossless::Paragraph,
}

impl Fields {
    fn optional(&self, name: &str) -> Option<String> {
        self.paragraph.get(name).map(|v| v.trim().to_string())
    }

    fn required(&self, name: &str) -> Result<String, String> {
        self.optional(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.error(format!("it has no {name} field")))
    }

    fn error(&self, message: String) -> String {
        match self.optional("Package") {
            Some(package) => format!("paragraph {} (Package: {package}): {message}", self.number),
            None => format!("paragraph {}: {message}", self.number),
        }
    }

    /// Package, Version and Architecture-like fields, checked to be
    /// safe in item and file names.
    fn word(&self, name: &str, allowed: fn(char) -> bool) -> Result<String, String> {
        let value = self.required(name)?;
        if value.len() > 200 || !value.chars().all(allowed) {
            return Err(self.error(format!(
                "its {name} {value:?} has characters a {name} cannot have"
            )));
        }
        Ok(value)
    }

    fn package(&self) -> Result<String, String> {
        self.word("Package", is_package_char)
    }

    fn version(&self) -> Result<String, String> {
        self.word("Version", |c| {
            c.is_ascii_alphanumeric() || ".+~:-".contains(c)
        })
    }
}

fn is_package_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || ".+-".contains(c)
}

/// Reads a Sources index.
pub(crate) fn sources(text: &str) -> Result<Vec<SourcePackage>, String> {
    let mut packages = Vec::new();
    for fields in paragraphs(text)? {
        let name = fields.package()?;
        let version = fields.version()?;
        let directory = fields.required("Directory")?;
        relative_path(&directory).map_err(|e| fields.error(format!("its Directory: {e}")))?;
        let mut files = Vec::new();
        let listed = fields.required("Checksums-Sha256")?;
        for line in listed.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let [sha256, size, file] = line.split_whitespace().collect::<Vec<_>>()[..] else {
                return Err(fields.error(format!("malformed Checksums-Sha256 line {line:?}")));
            };
            let bad = |e: String| fields.error(format!("Checksums-Sha256 line {line:?}: {e}"));
            relative_path(file).map_err(bad)?;
            if file.contains('/') {
                return Err(bad("a file name, not a path, was expected".into()));
            }
            files.push((
                file.to_string(),
                Checksum::parse(sha256, size).map_err(bad)?,
            ));
        }
        let dscs = files.iter().filter(|(f, _)| f.ends_with(".dsc")).count();
        if dscs != 1 {
            return Err(fields.error(format!("it lists {dscs} .dsc files, not one")));
        }
        files.sort_by_key(|(f, _)| !f.ends_with(".dsc"));
        packages.push(SourcePackage {
            name,
            version,
            directory,
            files,
            section: fields.optional("Section"),
        });
    }
    Ok(packages)
}

/// Reads a Packages index.
pub(crate) fn packages(text: &str) -> Result<Vec<BinaryPackage>, String> {
    let mut packages = Vec::new();
    for fields in paragraphs(text)? {
        let name = fields.package()?;
        let version = fields.version()?;
        let architecture = fields.word("Architecture", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
        let source = match fields.optional("Source") {
            Some(field) => {
                let source = source_name(&field);
                if source.is_empty() || !source.chars().all(is_package_char) {
                    return Err(fields.error(format!("its Source {field:?} is not a package name")));
                }
                source.to_string()
            }
            None => name.clone(),
        };
        let filename = fields.required("Filename")?;
        relative_path(&filename).map_err(|e| fields.error(format!("its Filename: {e}")))?;
        let checksum = Checksum::parse(&fields.required("SHA256")?, &fields.required("Size")?)
            .map_err(|e| fields.error(e))?;
        packages.push(BinaryPackage {
            name,
            version,
            architecture,
            source,
            filename,
            checksum,
            section: fields.optional("Section"),
            priority: fields.optional("Priority"),
        });
    }
    Ok(packages)
}

/// The name in a `Source:` field: `NAME` or `NAME (VERSION)`.
pub(crate) fn source_name(field: &str) -> &str {
    field.split_once('(').map_or(field, |(name, _)| name).trim()
}

/// Accepts only a plain relative path: `/`-separated components that
/// are not empty, `.` or `..`, without control characters or `\`.
pub(crate) fn relative_path(path: &str) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("{path:?} is not a plain relative path: {why}"));
    if path.is_empty() {
        return refuse("it is empty");
    }
    if path.len() > crate::store::MAX_FILE_NAME_LEN {
        return refuse("it is too long");
    }
    if path.starts_with('/') {
        return refuse("it is absolute");
    }
    if path.chars().any(|c| c.is_control() || c == '\\') {
        return refuse("it has a control character or a backslash");
    }
    for component in path.split('/') {
        match component {
            "" => return refuse("it has an empty component"),
            "." | ".." => return refuse("it has a `.` or `..` component"),
            c if c.len() > crate::store::MAX_FILE_NAME_COMPONENT_LEN => {
                return refuse("a component is too long");
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

    fn packages_text(extra: &str) -> String {
        format!(
            "Package: hello-doc\nSource: hello (1.0-1)\nVersion: 1.0-1+b1\nArchitecture: all\n\
             Filename: pool/main/h/hello/hello-doc_1.0-1+b1_all.deb\nSize: 1234\nSHA256: {SUM}\n\
             Section: doc\nPriority: optional\n{extra}\n\
             Package: hello\nVersion: 1.0-1\nArchitecture: amd64\n\
             Filename: pool/main/h/hello/hello_1.0-1_amd64.deb\nSize: 99\nSHA256: {SUM}\n"
        )
    }

    #[test]
    fn the_source_field_names_the_source_with_or_without_a_version() {
        assert_eq!(source_name("hello"), "hello");
        assert_eq!(source_name("hello (1.0-1)"), "hello");
        assert_eq!(source_name(" hello  (1:2.0) "), "hello");
        let bins = packages(&packages_text("")).unwrap();
        assert_eq!(bins[0].source, "hello");
        assert_eq!(bins[0].item_name(), "hello-doc_1.0-1+b1_all");
        assert_eq!(bins[0].file_name(), "hello-doc_1.0-1+b1_all.deb");
        assert_eq!(bins[0].section.as_deref(), Some("doc"));
        assert_eq!(
            bins[0].checksum,
            Checksum {
                size: 1234,
                sha256: SUM.into()
            }
        );
        // Without Source:, the binary is its own source.
        assert_eq!(bins[1].source, "hello");
        assert_eq!(bins[1].priority, None);
    }

    #[test]
    fn sources_list_their_files_dsc_first() {
        let text = format!(
            "Package: hello\nVersion: 1.0-1\nDirectory: pool/main/h/hello\nSection: devel\n\
             Checksums-Sha256:\n {SUM} 100 hello_1.0.orig.tar.gz\n {SUM} 20 hello_1.0-1.dsc\n"
        );
        let sources = sources(&text).unwrap();
        assert_eq!(sources[0].item_name(), "hello_1.0-1");
        assert_eq!(sources[0].directory, "pool/main/h/hello");
        let names: Vec<_> = sources[0].files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["hello_1.0-1.dsc", "hello_1.0.orig.tar.gz"]);
        assert_eq!(sources[0].section.as_deref(), Some("devel"));
    }

    #[test]
    fn paths_that_leave_the_repository_are_refused() {
        for good in [
            "pool/main/h/hello/hello_1.0_all.deb",
            "hello.dsc",
            "a/b+c~d",
        ] {
            relative_path(good).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "pool/../../x",
            "a//b",
            "a/./b",
            "a/",
            "a\\..\\b",
            "a\nb",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?}");
        }
        let e = packages(
            &packages_text("")
                .replace("pool/main/h/hello/hello_1.0-1_amd64.deb", "../../etc/x.deb"),
        )
        .unwrap_err();
        assert!(
            e.contains("paragraph 2 (Package: hello): its Filename"),
            "{e}"
        );
        let text = format!(
            "Package: p\nVersion: 1\nDirectory: /srv\nChecksums-Sha256:\n {SUM} 1 p_1.dsc\n"
        );
        assert!(sources(&text).unwrap_err().contains("its Directory"));
        let text = format!(
            "Package: p\nVersion: 1\nDirectory: pool\nChecksums-Sha256:\n {SUM} 1 p_1.dsc\n {SUM} 1 ../p.tar\n"
        );
        assert!(
            sources(&text)
                .unwrap_err()
                .contains("not a plain relative path")
        );
        let text = format!(
            "Package: p\nVersion: 1\nDirectory: pool\nChecksums-Sha256:\n {SUM} 1 p_1.dsc\n {SUM} 1 sub/p.tar\n"
        );
        assert!(
            sources(&text)
                .unwrap_err()
                .contains("a file name, not a path")
        );
    }

    #[test]
    fn names_that_would_break_item_names_are_refused() {
        let e = packages(&packages_text("").replace("Version: 1.0-1\n", "Version: 1.0/../x\n"))
            .unwrap_err();
        assert!(e.contains("its Version"), "{e}");
        let e =
            packages(&packages_text("").replace("Package: hello\n", "Package: a@b\n")).unwrap_err();
        assert!(e.contains("its Package"), "{e}");
        let e = packages(&packages_text("").replace("Source: hello (1.0-1)", "Source: Bad Name"))
            .unwrap_err();
        assert!(e.contains("its Source"), "{e}");
    }

    #[test]
    fn missing_fields_and_bad_sums_are_named() {
        let e = packages(&packages_text("").replace("Size: 99\n", "")).unwrap_err();
        assert!(e.contains("(Package: hello): it has no Size field"), "{e}");
        let e = packages(&packages_text("").replacen(&format!("SHA256: {SUM}"), "SHA256: 12", 1))
            .unwrap_err();
        assert!(
            e.contains("(Package: hello-doc): \"12\" is not a SHA-256 sum"),
            "{e}"
        );
        let text =
            format!("Package: p\nVersion: 1\nDirectory: pool\nChecksums-Sha256:\n {SUM} 1 p.tar\n");
        assert!(sources(&text).unwrap_err().contains("lists 0 .dsc files"));
    }
}
