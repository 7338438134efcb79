//! The tests every [`ArtifactStore`](super::ArtifactStore) passes: the
//! local store and the shared one run the same suite. A store's test
//! module supplies `type Store`, `new_store() -> (TempDir, Store)`,
//! `reopen(&Store) -> Store` (a second handle with its own connections)
//! and `snapshot(&Store)` (all the state a refused request must leave
//! unchanged), then invokes `conformance!()` in a module of its own.

macro_rules! conformance {
    () => {
        #[allow(unused_imports)]
    use $crate::store::{
        Artifact, ArtifactId, ArtifactStore, CollectionItem, FileEntry, ItemFilter, ListFilter,
        NewArtifact, NewItem, Relation, RelationEntry, RunRecord, StoreError,
    };
    use serde_json::json;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        path
    }

    fn sha(content: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(content))
    }

    fn log_artifact(dir: &Path, content: &[u8]) -> NewArtifact {
        NewArtifact::new("debian:package-build-log", json!({"source": "hello"}))
            .with_file("build.log", write(dir, "build.log", content))
    }

    fn assert_invalid(r: Result<Artifact, StoreError>, needle: &str) {
        match r {
            Err(StoreError::Invalid(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Invalid containing {needle:?}, got {other:?}"),
        }
    }

    /// A create that must be refused, and the store unchanged after it.
    fn assert_refused_unchanged(store: &Store, new: NewArtifact, needle: &str) {
        let before = snapshot(store);
        assert_invalid(store.create(new), needle);
        assert_eq!(snapshot(store), before, "a refused create changed the store");
    }

    fn artifact(store: &dyn ArtifactStore) -> u64 {
        store
            .create(NewArtifact::new("debian:lintian", json!({})))
            .unwrap()
            .id
    }

    fn invalid(r: Result<impl std::fmt::Debug, StoreError>) -> String {
        match r {
            Err(StoreError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

        #[test]
        fn create_then_get_round_trips() {
            let (dir, store) = new_store();
            let mut new = log_artifact(dir.path(), b"hello log\n").with_file(
                "sub/dir/data.bin",
                write(dir.path(), "data", &[0, 1, 2, 255]),
            );
            new.created_by = Some("run-1".into());
            let created = store.create(new).unwrap();
            let got = store.get(created.id).unwrap();
            assert_eq!(got.id, created.id);
            assert_eq!(got.category, "debian:package-build-log");
            assert_eq!(got.data, json!({"source": "hello"}));
            assert_eq!(got.created_by.as_deref(), Some("run-1"));
            assert_eq!(got.created_at, created.created_at);
            assert_eq!(got.files, created.files);
            assert_eq!(
                got.files,
                vec![
                    FileEntry {
                        name: "build.log".into(),
                        size: 10,
                        sha256: sha(b"hello log\n")
                    },
                    FileEntry {
                        name: "sub/dir/data.bin".into(),
                        size: 4,
                        sha256: sha(&[0, 1, 2, 255])
                    },
                ]
            );
            assert!(got.relations.is_empty());
            assert_eq!(got.file("build.log").map(|f| f.size), Some(10));
        }

        #[test]
        fn created_at_is_rfc3339_utc() {
            let (dir, store) = new_store();
            let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
            assert!(a.created_at.ends_with('Z'), "{}", a.created_at);
            let shape: String = a
                .created_at
                .chars()
                .map(|c| if c.is_ascii_digit() { 'D' } else { c })
                .collect();
            assert_eq!(shape, "DDDD-DD-DDTDD:DD:DDZ");
        }

        #[test]
        fn an_artifact_without_files_is_fine() {
            let (_dir, store) = new_store();
            let a = store
                .create(NewArtifact::new("debusine:test", json!({})))
                .unwrap();
            assert!(store.get(a.id).unwrap().files.is_empty());
        }

        #[test]
        fn empty_and_large_files_hash_correctly() {
            let (dir, store) = new_store();
            let big: Vec<u8> = (0..(3 * 64 * 1024 + 17))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let a = store
                .create(
                    NewArtifact::new("t:files", json!({}))
                        .with_file("empty", write(dir.path(), "empty", b""))
                        .with_file("big", write(dir.path(), "big", &big)),
                )
                .unwrap();
            assert_eq!(a.file("empty").unwrap().sha256, sha(b""));
            assert_eq!(a.file("big").unwrap().size, big.len() as u64);
            assert_eq!(a.file("big").unwrap().sha256, sha(&big));
            assert_eq!(
                fs::read(store.file_path(a.id, "big").unwrap()).unwrap(),
                big
            );
        }

        #[test]
        fn ids_increase_and_list_is_ordered_by_id() {
            let (dir, store) = new_store();
            let ids: Vec<_> = (0..5)
                .map(|i| store.create(log_artifact(dir.path(), &[i])).unwrap().id)
                .collect();
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
            let listed: Vec<_> = store
                .list(&ListFilter::default())
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect();
            assert_eq!(listed, ids);
        }

        #[test]
        fn list_filters_by_category_and_creator() {
            let (_dir, store) = new_store();
            let mk = |cat: &str, by: Option<&str>| {
                let mut n = NewArtifact::new(cat, json!({}));
                n.created_by = by.map(String::from);
                store.create(n).unwrap().id
            };
            let a = mk("debian:a", Some("r1"));
            let b = mk("debian:b", Some("r1"));
            let c = mk("debian:a", Some("r2"));
            let d = mk("debian:a", None);
            let ids = |f: ListFilter| {
                store
                    .list(&f)
                    .unwrap()
                    .into_iter()
                    .map(|x| x.id)
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(ListFilter::default()), vec![a, b, c, d]);
            assert_eq!(
                ids(ListFilter {
                    category: Some("debian:a".into()),
                    created_by: None
                }),
                vec![a, c, d]
            );
            assert_eq!(
                ids(ListFilter {
                    category: None,
                    created_by: Some("r1".into())
                }),
                vec![a, b]
            );
            assert_eq!(
                ids(ListFilter {
                    category: Some("debian:a".into()),
                    created_by: Some("r2".into())
                }),
                vec![c]
            );
            assert!(
                ids(ListFilter {
                    category: Some("nope:x".into()),
                    created_by: None
                })
                .is_empty()
            );
        }

        #[test]
        fn get_of_a_missing_artifact_is_not_found() {
            let (_dir, store) = new_store();
            assert!(matches!(store.get(1), Err(StoreError::NotFound(1))));
            assert!(matches!(store.get(0), Err(StoreError::NotFound(0))));
            assert!(matches!(
                store.get(u64::MAX),
                Err(StoreError::NotFound(u64::MAX))
            ));
        }

        #[test]
        fn refuses_malformed_categories() {
            let (_dir, store) = new_store();
            for cat in ["", "no-namespace", "ns:", "a:b:c"] {
                assert_refused_unchanged(&store, NewArtifact::new(cat, json!({})), "namespace:name");
            }
        }

        #[test]
        fn refuses_data_that_is_not_an_object() {
            let (_dir, store) = new_store();
            for data in [json!(null), json!([1]), json!("x"), json!(3)] {
                assert_refused_unchanged(&store, NewArtifact::new("t:x", data), "JSON object");
            }
        }

        #[test]
        fn refuses_dotdot_file_names() {
            let (dir, store) = new_store();
            let src = write(dir.path(), "f", b"x");
            for name in ["../escape", "a/../../b", ".."] {
                assert_refused_unchanged(
                    &store,
                    NewArtifact::new("t:x", json!({})).with_file(name, &src),
                    "`..`",
                );
            }
        }

        #[test]
        fn refuses_other_bad_file_names() {
            let (dir, store) = new_store();
            let src = write(dir.path(), "f", b"x");
            for (name, needle) in [
                ("", "empty"),
                ("/etc/passwd", "relative"),
                ("./a", "`.`"),
                ("a\0b", "NUL"),
                ("a//b", "empty path component"),
            ] {
                assert_refused_unchanged(
                    &store,
                    NewArtifact::new("t:x", json!({})).with_file(name, &src),
                    needle,
                );
            }
        }

        #[test]
        fn refuses_duplicate_file_names() {
            let (dir, store) = new_store();
            let src = write(dir.path(), "f", b"x");
            let new = NewArtifact::new("t:x", json!({}))
                .with_file("a", &src)
                .with_file("a", &src);
            assert_refused_unchanged(&store, new, "twice");
        }

        #[test]
        fn refuses_a_name_used_as_both_file_and_directory() {
            let (dir, store) = new_store();
            let src = write(dir.path(), "f", b"x");
            let new = NewArtifact::new("t:x", json!({}))
                .with_file("a", &src)
                .with_file("a/b", &src);
            assert_refused_unchanged(&store, new, "both a file and a directory");
        }

        #[test]
        fn refuses_a_directory_as_source() {
            let (dir, store) = new_store();
            let new = NewArtifact::new("t:x", json!({})).with_file("d", dir.path());
            assert_refused_unchanged(&store, new, "not a regular file");
        }

        #[cfg(target_os = "linux")]
        #[test]
        fn refuses_a_device_as_source() {
            let (_dir, store) = new_store();
            let new = NewArtifact::new("t:x", json!({})).with_file("null", "/dev/null");
            assert_refused_unchanged(&store, new, "not a regular file");
        }

        #[cfg(unix)]
        #[test]
        fn refuses_a_symlink_as_source() {
            let (dir, store) = new_store();
            let target = write(dir.path(), "real", b"secret");
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let new = NewArtifact::new("t:x", json!({})).with_file("l", &link);
            assert_refused_unchanged(&store, new, "symlink");
        }

        #[test]
        fn a_missing_source_is_an_io_error_and_changes_nothing() {
            let (dir, store) = new_store();
            let good = write(dir.path(), "good", b"good");
            let new = NewArtifact::new("t:x", json!({}))
                .with_file("good", &good)
                .with_file("gone", dir.path().join("does-not-exist"));
            let before = snapshot(&store);
            match store.create(new) {
                Err(e @ StoreError::Io { .. }) => {
                    assert!(e.to_string().contains("does-not-exist"), "{e}")
                }
                other => panic!("expected Io, got {other:?}"),
            }
            assert_eq!(snapshot(&store), before);
        }

        #[test]
        fn refuses_a_missing_relation_target() {
            let (_dir, store) = new_store();
            let new = NewArtifact::new("t:x", json!({})).with_relation(Relation::Extends, 99);
            assert_refused_unchanged(&store, new, "artifact 99 does not exist");
            let new = NewArtifact::new("t:x", json!({})).with_relation(Relation::Extends, u64::MAX);
            assert_refused_unchanged(&store, new, "does not exist");
        }

        #[test]
        fn file_path_of_an_unknown_file_is_no_such_file() {
            let (dir, store) = new_store();
            let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
            match store.file_path(a.id, "nope") {
                Err(StoreError::NoSuchFile { id, name }) => {
                    assert_eq!((id, name.as_str()), (a.id, "nope"))
                }
                other => panic!("expected NoSuchFile, got {other:?}"),
            }
            assert!(matches!(
                store.file_path(a.id + 1, "build.log"),
                Err(StoreError::NotFound(_))
            ));
            assert!(matches!(
                store.file_path(u64::MAX, "x"),
                Err(StoreError::NotFound(u64::MAX))
            ));
        }

        #[test]
        fn export_copies_files_into_subdirectories() {
            let (dir, store) = new_store();
            let a = store
                .create(
                    log_artifact(dir.path(), b"log")
                        .with_file("pool/main/h/hello.deb", write(dir.path(), "deb", b"deb")),
                )
                .unwrap();
            let out = dir.path().join("out/nested");
            let written = store.export(a.id, &out).unwrap();
            assert_eq!(
                written,
                vec![out.join("build.log"), out.join("pool/main/h/hello.deb")]
            );
            assert_eq!(fs::read(&written[0]).unwrap(), b"log");
            assert_eq!(fs::read(&written[1]).unwrap(), b"deb");
            // Exported copies are ordinary writable files, and exporting again replaces them.
            assert!(!fs::metadata(&written[0]).unwrap().permissions().readonly());
            fs::write(&written[0], b"changed").unwrap();
            store.export(a.id, &out).unwrap();
            assert_eq!(fs::read(&written[0]).unwrap(), b"log");
            assert_eq!(
                fs::read(store.file_path(a.id, "build.log").unwrap()).unwrap(),
                b"log"
            );
        }

        #[test]
        fn export_of_a_missing_artifact_is_not_found() {
            let (dir, store) = new_store();
            assert!(matches!(
                store.export(5, &dir.path().join("o")),
                Err(StoreError::NotFound(5))
            ));
        }

        #[cfg(unix)]
        #[test]
        fn export_never_follows_symlinks_in_the_destination() {
            use std::os::unix::fs::symlink;
            let (dir, store) = new_store();
            let a = store
                .create(log_artifact(dir.path(), b"log").with_file("sub/f", write(dir.path(), "f", b"f")))
                .unwrap();
            let victim = write(dir.path(), "victim", b"precious");
            let outside = dir.path().join("outside");
            fs::create_dir(&outside).unwrap();
            let out = dir.path().join("out");
            fs::create_dir(&out).unwrap();
            symlink(&victim, out.join("build.log")).unwrap();
            symlink(&outside, out.join("sub")).unwrap();

            let err = store.export(a.id, &out).unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(ref m) if m.contains("not a directory")),
                "{err}"
            );
            assert_eq!(fs::read(&victim).unwrap(), b"precious");
            assert!(
                !out.join("build.log").is_symlink(),
                "the file symlink was replaced, not followed"
            );
            assert!(fs::read_dir(&outside).unwrap().next().is_none());
        }

        #[test]
        fn export_refuses_a_directory_in_the_way() {
            let (dir, store) = new_store();
            let a = store.create(log_artifact(dir.path(), b"log")).unwrap();
            let out = dir.path().join("out");
            fs::create_dir_all(out.join("build.log")).unwrap();
            let err = store.export(a.id, &out).unwrap_err();
            assert!(
                matches!(err, StoreError::Invalid(ref m) if m.contains("is a directory")),
                "{err}"
            );
        }

        #[test]
        fn create_with_relations_records_them() {
            let (_dir, store) = new_store();
            let src = store
                .create(NewArtifact::new("debian:source-package", json!({})))
                .unwrap();
            let env = store
                .create(NewArtifact::new("debian:environment", json!({})))
                .unwrap();
            let bin = store
                .create(
                    NewArtifact::new("debian:binary-package", json!({}))
                        .with_relation(Relation::BuiltUsing, env.id)
                        .with_relation(Relation::RelatesTo, src.id)
                        .with_relation(Relation::BuiltUsing, env.id),
                )
                .unwrap();
            assert_eq!(
                store.get(bin.id).unwrap().relations,
                vec![
                    RelationEntry {
                        relation: Relation::RelatesTo,
                        target: src.id
                    },
                    RelationEntry {
                        relation: Relation::BuiltUsing,
                        target: env.id
                    },
                ]
            );
            assert_eq!(bin.relations, store.get(bin.id).unwrap().relations);
        }

        #[test]
        fn relate_requires_both_artifacts() {
            let (_dir, store) = new_store();
            let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
            assert!(matches!(
                store.relate(a, 77, Relation::Extends),
                Err(StoreError::NotFound(77))
            ));
            assert!(matches!(
                store.relate(78, a, Relation::Extends),
                Err(StoreError::NotFound(78))
            ));
            assert!(matches!(
                store.relate(a, u64::MAX, Relation::Extends),
                Err(StoreError::NotFound(u64::MAX))
            ));
            assert!(store.get(a).unwrap().relations.is_empty());
        }

        #[test]
        fn relate_is_idempotent() {
            let (_dir, store) = new_store();
            let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
            let b = store.create(NewArtifact::new("t:b", json!({}))).unwrap().id;
            store.relate(a, b, Relation::RelatesTo).unwrap();
            store.relate(a, b, Relation::RelatesTo).unwrap();
            store.relate(a, b, Relation::Extends).unwrap();
            let rels = store.get(a).unwrap().relations;
            assert_eq!(rels.len(), 2, "{rels:?}");
            assert!(
                store.get(b).unwrap().relations.is_empty(),
                "relations are directed"
            );
        }

        #[test]
        fn relate_refuses_an_artifact_relating_to_itself() {
            let (_dir, store) = new_store();
            let a = store.create(NewArtifact::new("t:a", json!({}))).unwrap().id;
            assert!(matches!(
                store.relate(a, a, Relation::Extends),
                Err(StoreError::Invalid(_))
            ));
            assert!(store.get(a).unwrap().relations.is_empty());
        }

        #[test]
        fn is_usable_as_a_shared_trait_object() {
            let (dir, store) = new_store();
            let store: Arc<dyn ArtifactStore> = Arc::new(store);
            let a = store.create(log_artifact(dir.path(), b"x")).unwrap();
            assert_eq!(store.get(a.id).unwrap().id, a.id);
        }

        #[test]
        fn a_collection_is_unique_per_category_and_name() {
            let (_d, s) = new_store();
            let a = s
                .create_collection("debian:suite", "bookworm", json!({"components": ["main"]}))
                .unwrap();
            assert_eq!(a.label(), "bookworm@debian:suite");
            s.create_collection("debian:suite-lintian", "bookworm", json!({}))
                .unwrap();
            let m = invalid(s.create_collection("debian:suite", "bookworm", json!({})));
            assert!(m.contains("already exists"), "{m}");
            assert_eq!(
                s.find_collection("debian:suite", "bookworm").unwrap(),
                Some(a.clone())
            );
            assert_eq!(s.find_collection("debian:suite", "sid").unwrap(), None);
            assert_eq!(s.collections(Some("debian:suite")).unwrap(), vec![a]);
            assert_eq!(s.collections(None).unwrap().len(), 2);
            assert!(
                invalid(s.create_collection("debian:suite", "x", json!([]))).contains("JSON object")
            );
            assert!(invalid(s.create_collection("suite", "x", json!({}))).contains("namespace"));
            assert!(invalid(s.collection(99)).contains("collection 99 does not exist"));
        }

        #[test]
        fn one_active_item_per_name_and_replacing_keeps_the_history() {
            let (_d, s) = new_store();
            let c = s
                .create_collection("debian:suite-lintian", "b", json!({}))
                .unwrap();
            let (a1, a2) = (artifact(&s), artifact(&s));
            let first = s
                .add_item(
                    c.id,
                    NewItem::artifact("hello_1_amd64", a1, json!({"derived_from": [1]})),
                )
                .unwrap();
            assert_eq!(first.category, "debian:lintian");
            let m = invalid(s.add_item(c.id, NewItem::artifact("hello_1_amd64", a2, json!({}))));
            assert!(m.contains("already has an active item"), "{m}");
            let second = s
                .add_item(
                    c.id,
                    NewItem {
                        replace: true,
                        created_by: Some("run-2".into()),
                        ..NewItem::artifact("hello_1_amd64", a2, json!({}))
                    },
                )
                .unwrap();
            let active = s.items(c.id, &ItemFilter::default()).unwrap();
            assert_eq!(active, vec![second.clone()]);
            let all = s
                .items(
                    c.id,
                    &ItemFilter {
                        include_removed: true,
                        ..ItemFilter::default()
                    },
                )
                .unwrap();
            assert_eq!(all.len(), 2);
            assert_eq!(all[0].id, first.id);
            assert!(all[0].removed_at.is_some());
            assert_eq!(all[0].removed_by.as_deref(), Some("run-2"));
            assert_eq!(all[0].derived_from(), vec![1]);

            let removed = s.remove_item(c.id, "hello_1_amd64", Some("cli")).unwrap();
            assert!(!removed.is_active());
            assert!(s.items(c.id, &ItemFilter::default()).unwrap().is_empty());
            let m = invalid(s.remove_item(c.id, "hello_1_amd64", None));
            assert!(m.contains("no active item"), "{m}");
            // The name is free again.
            s.add_item(c.id, NewItem::artifact("hello_1_amd64", a1, json!({})))
                .unwrap();
        }

        #[test]
        fn bad_items_are_refused_and_change_nothing() {
            let (_d, s) = new_store();
            let c = s.create_collection("debian:suite", "b", json!({})).unwrap();
            assert!(matches!(
                s.add_item(c.id, NewItem::artifact("x", 404, json!({}))),
                Err(StoreError::NotFound(404))
            ));
            let a = artifact(&s);
            assert!(
                invalid(s.add_item(c.id, NewItem::artifact("x", a, json!(1)))).contains("JSON object")
            );
            assert!(invalid(s.add_item(c.id, NewItem::artifact("../x", a, json!({})))).contains("`/`"));
            assert!(
                invalid(s.add_item(99, NewItem::artifact("x", a, json!({}))))
                    .contains("does not exist")
            );
            let bare = NewItem {
                artifact: None,
                ..NewItem::artifact("note", a, json!({}))
            };
            assert!(
                invalid(s.add_item(c.id, bare.clone())).contains("neither an artifact nor a category")
            );
            let item = s
                .add_item(
                    c.id,
                    NewItem {
                        category: Some("debusine:promise".into()),
                        ..bare
                    },
                )
                .unwrap();
            assert_eq!(
                (item.artifact, item.category.as_str()),
                (None, "debusine:promise")
            );
            assert_eq!(s.items(c.id, &ItemFilter::default()).unwrap().len(), 1);
        }

        #[test]
        fn a_batch_of_changes_is_applied_whole_or_not_at_all() {
            let (_d, s) = new_store();
            let c = s.create_collection("debian:suite", "b", json!({})).unwrap();
            let a = artifact(&s);
            s.add_item(c.id, NewItem::artifact("old", a, json!({})))
                .unwrap();
            let adds = vec![
                NewItem::artifact("one", a, json!({})),
                NewItem::artifact("two", a, json!({})),
            ];
            // The second add fails: nothing of the batch happens.
            let bad = [adds.clone(), vec![NewItem::artifact("one", a, json!({}))]].concat();
            assert!(
                invalid(s.update_items(c.id, &bad, &["old".into()], Some("t"))).contains("already has")
            );
            let names = |s: &dyn ArtifactStore| -> Vec<String> {
                s.items(c.id, &ItemFilter::default())
                    .unwrap()
                    .into_iter()
                    .map(|i| i.name)
                    .collect()
            };
            assert_eq!(names(&s), ["old"]);
            s.update_items(c.id, &adds, &["old".into()], Some("t"))
                .unwrap();
            assert_eq!(names(&s), ["one", "two"]);
        }

        #[test]
        fn concurrent_adders_of_one_name_leave_one_active_item() {
            let (_d, s) = new_store();
            let c = s
                .create_collection("debian:suite-lintian", "b", json!({}))
                .unwrap();
            let a = artifact(&s);
            let wins: usize = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..4)
                    .map(|_| {
                        // Separate handles: separate connections.
                        let s = reopen(&s);
                        scope.spawn(move || {
                            s.add_item(c.id, NewItem::artifact("same", a, json!({})))
                                .is_ok()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| usize::from(h.join().unwrap()))
                    .sum()
            });
            assert_eq!(wins, 1);
            assert_eq!(s.items(c.id, &ItemFilter::default()).unwrap().len(), 1);
        }

        #[test]
        fn finished_runs_are_found_by_task_and_params_once() {
            let (_d, s) = new_store();
            let run = |id: &str, status: &str| RunRecord {
                id: id.into(),
                task: "lintian".into(),
                params: "abc".into(),
                parent: Some("parent-1".into()),
                status: status.into(),
                finished_at: "2026-12-02T00:00:00Z".into(),
            };
            s.record_run(&run("r1", "error")).unwrap();
            s.record_run(&run("r2", "success")).unwrap();
            assert!(matches!(
                s.record_run(&run("r1", "success")),
                Err(StoreError::Invalid(_))
            ));
            let found = s.find_runs("lintian", "abc").unwrap();
            assert_eq!(found, vec![run("r1", "error"), run("r2", "success")]);
            assert!(s.find_runs("lintian", "abd").unwrap().is_empty());
            assert!(s.find_runs("blhc", "abc").unwrap().is_empty());
            assert_eq!(s.run_record("r2").unwrap(), Some(run("r2", "success")));
            assert_eq!(s.run_record("r3").unwrap(), None);
        }
    };
}

pub(crate) use conformance;
