//! Compile-fail and compile-pass cases of the macros (trybuild).
//!
//! The `.stderr` files hold rustc 1.95's exact output, so the cases run on
//! that compiler only. Regenerate with `TRYBUILD=overwrite cargo test --test
//! ui`, then read every `.stderr`: the first line of each error names the fix.

use std::process::Command;

const RUSTC: &str = "rustc 1.95.";

#[test]
fn ui() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(RUSTC) {
        eprintln!(
            "skipping the UI tests: their .stderr files are for {RUSTC}x, this is {version:?}"
        );
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
