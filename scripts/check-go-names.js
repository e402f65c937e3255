// Checks that a Go programmer finds ctx on docs.rs by Go's names: searching
// the `ctx` crate's documentation for each name of Go's `context` package
// below finds its counterpart, by name (`WithTimeout` is `with_timeout` to
// rustdoc's search) or by a search alias (`#[doc(alias = "CancelFunc")]`).
// The search is rustdoc's own (the generated `static.files/search-*.js`,
// on the generated `search.index/`), as the search box of the docs runs it.
//
// Usage: node scripts/check-go-names.js [DOC_DIR]   (default target/doc,
// after `cargo doc --workspace --no-deps --all-features`). Prints each
// name with what it finds; exits 1 if one finds no alias in `ctx`.
"use strict";

const fs = require("fs");
const path = require("path");

const CRATE = "ctx";
// Go's name, and the item of `ctx` its search must find (`Parent::item`
// for methods and variants).
const GO_NAMES = {
  Background: "Context::background",
  TODO: "Context::todo",
  WithCancel: "Context::with_cancel",
  WithCancelCause: "Context::with_cancel_cause",
  WithDeadline: "Context::with_deadline",
  WithDeadlineCause: "Context::with_deadline_cause",
  WithTimeout: "Context::with_timeout",
  WithTimeoutCause: "Context::with_timeout_cause",
  WithValue: "Context::with_value",
  WithoutCancel: "Context::without_cancel",
  AfterFunc: "Context::after_func",
  CancelFunc: "CancelHandle",
  CancelCauseFunc: "CancelCauseHandle",
  Cause: "Context::cause",
  Err: "Context::err",
  Done: "Context::done",
  Deadline: "Context::deadline",
  Value: "Context::value",
  Canceled: "Error::Canceled",
  DeadlineExceeded: "Error::DeadlineExceeded",
};

const doc = path.resolve(process.argv[2] || "target/doc");
const staticFiles = path.join(doc, "static.files");
const searchIndex = path.join(doc, "search.index");

/** The one generated file of `static.files` whose name starts with `prefix`. */
function staticFile(prefix) {
  const found = fs.readdirSync(staticFiles).filter((f) => f.startsWith(prefix) && f.endsWith(".js"));
  if (found.length !== 1) {
    throw new Error(`expected one ${prefix}*.js in ${staticFiles}, found ${found.length}`);
  }
  return path.join(staticFiles, found[0]);
}

// In a browser, rustdoc's pages define this helper before the search runs.
globalThis.nonnull = (value, message) => {
  if (value === null || value === undefined) {
    throw new Error(message || "unexpected null");
  }
  return value;
};

const { Stringdex, RoaringBitmap } = require(staticFile("stringdex-"));
const { initSearch } = require(staticFile("search-"));

// The index's files are scripts calling the loader's callbacks (`rr_`,
// `rn_`, `rd_`, ...) by name, as globals of the page.
let callbacks = null;
function runIndexFile(file) {
  const names = Object.keys(callbacks);
  new Function(...names, fs.readFileSync(file, "utf8"))(...names.map((n) => callbacks[n]));
}

async function main() {
  const { docSearch, DocSearch } = await initSearch(Stringdex, RoaringBitmap, {
    loadRoot: (loaded) => {
      callbacks = loaded;
      runIndexFile(path.join(searchIndex, "root.js"));
    },
    loadTreeByHash: (hash) => runIndexFile(path.join(searchIndex, `${hash}.js`)),
    loadDataByNameAndHash: (name, hash) => runIndexFile(path.join(searchIndex, name, `${hash}.js`)),
  });

  const missing = [];
  for (const [name, expected] of Object.entries(GO_NAMES)) {
    const results = await docSearch.execQuery(DocSearch.parseQuery(name), CRATE, CRATE);
    let rank = 0;
    let found = null;
    for await (const result of results.others) {
      rank += 1;
      const item = result.parent ? `${result.parent.name}::${result.item.name}` : result.item.name;
      if (item === expected && result.item.crate === CRATE) {
        found = `${CRATE}::${item} (result ${rank}${result.is_alias ? ", by its alias" : ""})`;
        break;
      }
    }
    if (found === null) {
      missing.push(name);
    }
    console.log(`${name}: ${found || `MISSING (${CRATE}::${expected} not among ${rank} results)`}`);
  }
  if (missing.length > 0) {
    console.log(`error: searching the docs of \`${CRATE}\` for Go's ${missing.join(", ")} does not find ctx's counterpart`);
    process.exit(1);
  }
  console.log(`each of Go's ${Object.keys(GO_NAMES).length} names finds its counterpart in \`${CRATE}\``);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
