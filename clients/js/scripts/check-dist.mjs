// Fails when the committed dist/ is not what the sources build to. The Go
// server embeds dist/ without running npm, so it must be kept in step.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(pkg, "dist");
const tmp = mkdtempSync(join(tmpdir(), "quicpush-dist-"));

function files(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

try {
  execFileSync(process.execPath, [join(pkg, "scripts", "build.mjs"), tmp], { stdio: "inherit" });
  const want = files(tmp);
  const have = files(dist);
  const problems = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing: dist/${f}`);
    else if (!readFileSync(join(tmp, f)).equals(readFileSync(join(dist, f)))) problems.push(`stale: dist/${f}`);
  }
  for (const f of have) if (!want.includes(f)) problems.push(`extra: dist/${f}`);
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    console.error("dist/ is out of date: run `npm run build` in clients/js and commit dist/.");
    process.exitCode = 1;
  } else {
    console.log(`dist/ is up to date (${want.length} files)`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
