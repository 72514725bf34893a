// Builds dist/ (or the directory given as the first argument) with tsc:
//   - the browser client (tsconfig.json): declarations keep their doc
//     comments, the JavaScript is emitted again without comments, so that
//     browsers load less;
//   - the push API client for Node backends (tsconfig.api.json, dist/api/):
//     one pass, comments kept (size does not matter on a server, and the
//     generated code's /*@__PURE__*/ marks help bundlers drop what is unused).
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(pkg, process.argv[2] ?? "dist");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(out, { recursive: true, force: true });
const run = (config, ...args) =>
  execFileSync(process.execPath, [tsc, "-p", join(pkg, config), "--outDir", out, ...args], { stdio: "inherit" });
run("tsconfig.json");
run("tsconfig.json", "--removeComments", "--declaration", "false");
run("tsconfig.api.json");
