// Builds dist/ (or the directory given as the first argument) with tsc:
// declarations keep their doc comments, the JavaScript is emitted again
// without comments, so that browsers load less.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = resolve(pkg, process.argv[2] ?? "dist");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(out, { recursive: true, force: true });
const run = (...args) =>
  execFileSync(process.execPath, [tsc, "-p", join(pkg, "tsconfig.json"), "--outDir", out, ...args], { stdio: "inherit" });
run();
run("--removeComments", "--declaration", "false");
