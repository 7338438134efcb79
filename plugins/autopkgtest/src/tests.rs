use taskhost_debian::autopkgtest::{FIXED, OUTPUT_DIR, SUMMARY};

#[test]
fn the_manifest_grant_pins_the_fixed_options() {
    let manifest = include_str!("../taskhost.toml");
    let pinned = format!("\"autopkgtest {} **\"", FIXED.join(" "));
    assert!(manifest.contains(&pinned), "{pinned} not in the manifest");
    assert!(FIXED.contains(&format!("--output-dir={OUTPUT_DIR}").as_str()));
    assert!(FIXED.contains(&format!("--summary={SUMMARY}").as_str()));
}
