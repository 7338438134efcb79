//! The bodhi directive through the real `runtask` binary: a formula
//! downloads the RPMs of a Bodhi update (tests/servers/bodhi.py) from the
//! koji hub test server. See koji.rs for how exports are read.

use crate::koji::{Formulas, TARGET, grant, origin, paths, strings};
use crate::servers::{Bodhi, KojiHub, UPDATE};

/// One bodhi action exporting `out`, with `params` (YAML lines) added to
/// the servers' URLs and the target dir.
fn bodhi_action(bodhi: &Bodhi, hub: &KojiHub, params: &str) -> String {
    let mut yaml = format!(
        "  - name: download\n    bodhi:\n      action: download\n      bodhi_url: {}\n      koji_url: {}\n      \
         pkgs_url: {}\n      target_dir: {TARGET}\n",
        bodhi.url, hub.url, hub.topurl
    );
    for line in params.lines().filter(|l| !l.trim().is_empty()) {
        yaml.push_str(&format!("      {}\n", line.trim()));
    }
    yaml.push_str("    export: out\n");
    yaml
}

/// `{bodhi_url}updates/`, whether the URL ends in `/` or not.
fn updates(bodhi: &Bodhi) -> String {
    format!("{}/updates/", bodhi.url.trim_end_matches('/'))
}

fn grants(bodhi: &Bodhi, hub: &KojiHub) -> Vec<String> {
    let mut urls = grant(hub);
    urls.push(updates(bodhi));
    urls
}

#[test]
fn downloads_the_rpms_of_an_update() {
    let (hub, bodhi) = (KojiHub::start(), Bodhi::start());
    let f = Formulas::new();
    let policy = f.policy(&[("bodhi", grants(&bodhi, &hub))]);
    // The same RPMs as `bodhi updates download --arch i686` (servers.rs).
    let run = f.run(
        UPDATE,
        "bodhi_update",
        &policy,
        &bodhi_action(&bodhi, &hub, "update_id: ${bodhi_update}\narch: i386"),
    );
    let want = [
        "taskhost-demo-1.0-1.fc40.i686.rpm",
        "taskhost-demo-docs-1.0-1.fc40.noarch.rpm",
    ];
    let out = run.export();
    assert_eq!(strings(&out["downloaded_rpms"]), paths(&want));
    assert_eq!(out.as_object().map(|o| o.len()), Some(1), "{out}");
    run.assert_fixture_rpms(&want);

    let run = f.run(
        UPDATE,
        "bodhi_update",
        &policy,
        &bodhi_action(
            &bodhi,
            &hub,
            "update_id: ${bodhi_update}\narch: [x86_64]\nsrc: true",
        ),
    );
    let want = [
        "taskhost-demo-1.0-1.fc40.src.rpm",
        "taskhost-demo-1.0-1.fc40.x86_64.rpm",
        "taskhost-demo-docs-1.0-1.fc40.noarch.rpm",
    ];
    assert_eq!(strings(&run.export()["downloaded_rpms"]), paths(&want));
    run.assert_fixture_rpms(&want);
}

#[test]
fn an_unknown_update_fails_naming_it() {
    let (hub, bodhi) = (KojiHub::start(), Bodhi::start());
    let f = Formulas::new();
    let policy = f.policy(&[("bodhi", grants(&bodhi, &hub))]);
    let run = f.run(
        "FEDORA-2024-0000000000",
        "bodhi_update",
        &policy,
        &bodhi_action(&bodhi, &hub, "update_id: ${bodhi_update}\narch: x86_64"),
    );
    let error = run.error_of("download");
    assert!(
        error.contains(&format!(
            "bodhi update FEDORA-2024-0000000000 does not exist at {}FEDORA-2024-0000000000 \
             (bodhi says: Invalid update id)",
            updates(&bodhi)
        )),
        "{error}"
    );

    let run = f.run(
        "../../kojihub",
        "bodhi_update",
        &policy,
        &bodhi_action(&bodhi, &hub, "update_id: ${bodhi_update}\narch: x86_64"),
    );
    let error = run.error_of("download");
    assert!(
        error.contains("param `update_id` must be a Bodhi update id"),
        "{error}"
    );
}

#[test]
fn a_koji_hub_the_policy_does_not_grant_is_refused_naming_the_grant() {
    let (hub, bodhi) = (KojiHub::start(), Bodhi::start());
    let f = Formulas::new();
    // Bodhi's updates only: the hub is on another port.
    let policy = f.policy(&[("bodhi", vec![updates(&bodhi)])]);
    let run = f.run(
        UPDATE,
        "bodhi_update",
        &policy,
        &bodhi_action(&bodhi, &hub, "update_id: ${bodhi_update}\narch: x86_64"),
    );
    let error = run.error_of("download");
    assert!(
        error.contains(&format!("plugin 'bodhi' may not access `{}`", hub.url)),
        "{error}"
    );
    assert!(
        error.contains(&format!("urls = [\"{}\"]", origin(&hub.url))),
        "{error}"
    );
    assert_eq!(run.files(), Vec::<String>::new());
}
