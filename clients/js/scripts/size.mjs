// Prints the size of the JavaScript in dist/: what a browser downloads to run
// the client (every module index.js imports) and the codec alone, raw and
// gzipped (level 9, each file on its own, as a server compresses them).
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");

/** The modules `entry` loads, itself included, following relative imports. */
function graph(entry, seen = new Set()) {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const src = readFileSync(join(dist, entry), "utf8");
  for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s+"\.\/([^"]+)"/g)) graph(m[1], seen);
  return seen;
}

function measure(files) {
  let raw = 0;
  let gz = 0;
  for (const f of files) {
    const b = readFileSync(join(dist, f));
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  const all = Buffer.concat([...files].map((f) => readFileSync(join(dist, f))));
  return { files: files.size ?? files.length, raw, gzip: gz, gzipConcatenated: gzipSync(all, { level: 9 }).length };
}

const js = readdirSync(dist).filter((f) => f.endsWith(".js"));
const rows = {
  "client (index.js and its imports)": measure(graph("index.js")),
  "codec only (codec.js)": measure(graph("codec.js")),
  "all of dist/*.js": measure(js),
};
console.log("bundle".padEnd(36), "files", "bytes".padStart(7), "gzip".padStart(7), "gzip as one file".padStart(17));
for (const [name, r] of Object.entries(rows)) {
  console.log(name.padEnd(36), String(r.files).padStart(5), String(r.raw).padStart(7), String(r.gzip).padStart(7), String(r.gzipConcatenated).padStart(17));
}
