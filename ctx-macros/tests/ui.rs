//! Compile-fail and compile-pass cases of the macros (trybuild).
//!
//! The `.stderr` files hold rustc 1.95's exact output, so the suite runs on
//! that compiler only; on any other it is not compiled at all, and
//! `ui_needs_rustc_1_95` says so in the test list instead of passing.
//! Regenerate with `TRYBUILD=overwrite cargo test -p goctx-macros --test ui`,
//! then read every `.stderr`: each error must let the user find the fix.

#[rustversion::all(stable, since(1.95), before(1.96))]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

#[rustversion::not(all(stable, since(1.95), before(1.96)))]
#[test]
#[ignore = "the .stderr files are rustc 1.95's output: run the UI suite on rustc 1.95"]
fn ui_needs_rustc_1_95() {}
