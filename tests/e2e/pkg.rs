//! Tiny real Debian packages, built by the tests with dpkg-buildpackage.

use crate::Env;
use std::path::PathBuf;
use std::process::Command;

/// A native package to build: name, Makefile build line, extra files.
pub struct Package {
    pub name: String,
    /// The Makefile's build command (compiles hello.c into `hello`).
    pub compile: String,
    /// Extra binary packages: (name, Architecture).
    pub extra_binaries: Vec<(String, String)>,
    /// Extra files in the source tree: (path, content).
    pub files: Vec<(String, String)>,
    /// Appended to `Build-Depends: debhelper-compat (= 13)`.
    pub build_depends: String,
    /// The (native) version, 1.0 unless set.
    pub version: String,
}

/// What dpkg-buildpackage produced.
pub struct Built {
    pub log: PathBuf,
    pub dsc: Option<PathBuf>,
    pub changes: PathBuf,
    pub debs: Vec<PathBuf>,
}

impl Package {
    pub fn new(name: &str) -> Package {
        Package {
            name: name.to_string(),
            compile: "$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o hello hello.c".into(),
            extra_binaries: Vec::new(),
            files: Vec::new(),
            build_depends: String::new(),
            version: "1.0".into(),
        }
    }

    /// Builds version `version` instead of 1.0.
    pub fn version(mut self, version: &str) -> Self {
        self.version = version.to_string();
        self
    }

    /// Adds build-dependencies (`pkg-a, pkg-b <!nocheck>`).
    pub fn build_depends(mut self, depends: &str) -> Self {
        self.build_depends = format!(", {depends}");
        self
    }

    pub fn compile(mut self, line: &str) -> Self {
        self.compile = line.to_string();
        self
    }

    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.to_string(), content.to_string()));
        self
    }

    pub fn binary(mut self, name: &str, arch: &str) -> Self {
        self.extra_binaries
            .push((name.to_string(), arch.to_string()));
        self
    }

    /// Only the source package (`dpkg-source -b`); returns its .dsc.
    pub fn source(&self, env: &Env) -> PathBuf {
        let src = self.write_tree(env);
        let out = Command::new("dpkg-source")
            .arg("-b")
            .arg(src.file_name().expect("tree name"))
            .current_dir(env.dir.path())
            .output()
            .expect("dpkg-source");
        assert!(
            out.status.success(),
            "dpkg-source failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env.path(&format!("{}_{}.dsc", self.name, self.version))
    }

    /// Builds binaries only (`-b`) or source and binaries.
    pub fn build(&self, env: &Env, with_source: bool) -> Built {
        let src = self.write_tree(env);
        self.build_binaries(env, &src, with_source)
    }

    /// Writes the source tree `NAME-VERSION/`; returns its path.
    fn write_tree(&self, env: &Env) -> PathBuf {
        let name = &self.name;
        let version = &self.version;
        let src = env.path(&format!("{name}-{version}"));
        std::fs::create_dir_all(src.join("debian/source")).unwrap();
        let w = |rel: &str, text: &str| {
            let path = src.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        w(
            "hello.c",
            "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
        );
        let mut makefile = format!(
            "all:\n\t{}\ninstall:\n\tinstall -D hello $(DESTDIR)/usr/bin/{name}\n",
            self.compile
        );
        for (binary, _) in &self.extra_binaries {
            // Each extra package ships a data file, routed by its .install.
            makefile.push_str(&format!(
                "\tinstall -D -m644 hello.c $(DESTDIR)/usr/share/{binary}/hello.c\n"
            ));
            w(
                &format!("debian/{binary}.install"),
                &format!("usr/share/{binary}/*\n"),
            );
        }
        if !self.extra_binaries.is_empty() {
            w(&format!("debian/{name}.install"), "usr/bin/*\n");
        }
        w("Makefile", &makefile);
        let mut control = format!(
            "Source: {name}\nSection: devel\nPriority: optional\nMaintainer: taskhost tests <tests@taskhost.invalid>\n\
             Build-Depends: debhelper-compat (= 13){}\nStandards-Version: 4.6.2\n\n\
             Package: {name}\nArchitecture: any\nDepends: ${{shlibs:Depends}}, ${{misc:Depends}}\n\
             Description: taskhost test package\n Built by the taskhost tests.\n",
            self.build_depends
        );
        for (binary, arch) in &self.extra_binaries {
            control.push_str(&format!(
                "\nPackage: {binary}\nArchitecture: {arch}\nDepends: ${{misc:Depends}}\n\
                 Description: taskhost test data\n Built by the taskhost tests.\n"
            ));
        }
        w("debian/control", &control);
        w(
            "debian/changelog",
            &format!(
                "{name} ({version}) unstable; urgency=low\n\n  * Test build.\n\n -- taskhost tests <tests@taskhost.invalid>  Mon, 23 Nov 2026 12:00:00 +0000\n"
            ),
        );
        w("debian/rules", "#!/usr/bin/make -f\n%:\n\tdh $@\n");
        w("debian/source/format", "3.0 (native)\n");
        for (path, content) in &self.files {
            w(path, content);
        }
        let status = Command::new("chmod")
            .arg("+x")
            .arg(src.join("debian/rules"))
            .status()
            .unwrap();
        assert!(status.success());
        src
    }

    fn build_binaries(&self, env: &Env, src: &std::path::Path, with_source: bool) -> Built {
        let (name, version) = (&self.name, &self.version);
        let mut cmd = Command::new("dpkg-buildpackage");
        cmd.args(["-us", "-uc"]).current_dir(src);
        if !with_source {
            cmd.arg("-b");
        }
        let out = cmd.output().expect("dpkg-buildpackage");
        let arch = String::from_utf8(
            Command::new("dpkg")
                .arg("--print-architecture")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let arch = arch.trim();
        let log = env.path(&format!("{name}_{version}_{arch}.build"));
        let mut text = out.stdout;
        text.extend_from_slice(&out.stderr);
        std::fs::write(&log, &text).unwrap();
        assert!(
            out.status.success(),
            "dpkg-buildpackage failed:\n{}",
            String::from_utf8_lossy(&text)
        );

        let changes = env.path(&format!("{name}_{version}_{arch}.changes"));
        let dsc = with_source.then(|| env.path(&format!("{name}_{version}.dsc")));
        let mut debs: Vec<PathBuf> = std::fs::read_dir(env.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "deb")
                    && !p.to_string_lossy().contains("-dbgsym_")
            })
            .collect();
        debs.sort();
        Built {
            log,
            dsc,
            changes,
            debs,
        }
    }
}
