// Lists the licence of every npm package a package-lock.json (lockfileVersion
// 2 or 3, which record each package's "license") ships, and exits 1 when one
// is not allowed by the policy (scripts/licences.txt; its header says what is
// checked and why). Called by scripts/licences.sh:
//   node scripts/licences-npm.mjs POLICY PACKAGE-LOCK
// Shipped: the root's dependencies, optional and peer dependencies, and
// everything they depend on (dependencies, optional dependencies, non-optional
// peers), found in the lock as npm resolves them (nested node_modules first).
// Every other package in the lock is a dev dependency: listed, not enforced.
import { readFileSync } from "node:fs";

const [policyFile, lockFile] = process.argv.slice(2);
if (!policyFile || !lockFile) {
  console.error("usage: licences-npm.mjs POLICY PACKAGE-LOCK");
  process.exit(2);
}

const allow = new Set();
const deny = new Map();
const stated = new Map();
for (const line of readFileSync(policyFile, "utf8").split("\n")) {
  const [kind, a, b, ...rest] = line.trim().split(/\s+/);
  if (kind === "allow") allow.add(a);
  else if (kind === "deny") deny.set(a, [b, ...rest].join(" "));
  else if (kind === "module") stated.set(a, b);
}

// allowed evaluates an SPDX expression: OR needs one allowed side, AND both;
// "X WITH exception" is judged by X. Anything unparsable is not allowed.
function allowed(expr) {
  const tokens = expr.match(/\(|\)|[^\s()]+/g) ?? [];
  let i = 0;
  const atom = () => {
    const t = tokens[i++];
    if (t === "(") {
      const v = or();
      if (tokens[i++] !== ")") throw new Error("unbalanced");
      return v;
    }
    if (t === undefined || t === ")" || t === "AND" || t === "OR") throw new Error("unexpected " + t);
    if (tokens[i] === "WITH") i += 2;
    return allow.has(t) && !deny.has(t);
  };
  const and = () => {
    let v = atom();
    while (tokens[i] === "AND") {
      i++;
      v = atom() && v;
    }
    return v;
  };
  const or = () => {
    let v = and();
    while (tokens[i] === "OR") {
      i++;
      v = and() || v;
    }
    return v;
  };
  try {
    const v = or();
    return i === tokens.length && v;
  } catch {
    return false;
  }
}

const lock = JSON.parse(readFileSync(lockFile, "utf8"));
const pkgs = lock.packages;
if (!pkgs || !pkgs[""]) {
  console.error(`licences: ${lockFile} has no "packages" (lockfileVersion 2 or 3 needed)`);
  process.exit(2);
}

// resolve finds the entry npm would load for name required from location loc.
function resolve(loc, name) {
  for (;;) {
    const key = (loc ? loc + "/" : "") + "node_modules/" + name;
    if (pkgs[key]) return key;
    if (!loc) return undefined;
    const cut = loc.lastIndexOf("/node_modules/");
    loc = cut < 0 ? "" : loc.slice(0, cut);
  }
}

const shipped = new Set();
const queue = [""];
while (queue.length > 0) {
  const loc = queue.shift();
  const p = pkgs[loc];
  const optionalPeer = (n) => loc !== "" && p.peerDependenciesMeta?.[n]?.optional;
  const names = [
    ...Object.keys(p.dependencies ?? {}),
    ...Object.keys(p.optionalDependencies ?? {}),
    ...Object.keys(p.peerDependencies ?? {}).filter((n) => !optionalPeer(n)),
  ];
  for (const name of names) {
    const key = resolve(loc, name);
    if (key !== undefined && !shipped.has(key)) {
      shipped.add(key);
      queue.push(key);
    }
  }
}

let failed = false;
const rows = { shipped: [], dev: [] };
for (const [key, p] of Object.entries(pkgs)) {
  if (key === "" || p.link) continue;
  const name = key.slice(key.lastIndexOf("node_modules/") + "node_modules/".length);
  let lic = p.license ?? "Unknown";
  let note = "";
  if (stated.has(name) && (lic === "Unknown" || !allowed(lic))) {
    lic = stated.get(name);
    note = " (stated in the policy)";
  }
  let verdict = "ok";
  if (!allowed(lic)) {
    const denied = deny.get(lic);
    verdict = denied ? `FAIL (denied: ${denied})` : "FAIL (not in the policy)";
  }
  const isShipped = shipped.has(key);
  if (!isShipped && verdict !== "ok") verdict = verdict.replace("FAIL", "not enforced");
  if (isShipped && verdict !== "ok") failed = true;
  rows[isShipped ? "shipped" : "dev"].push(`  ${(name + "@" + p.version).padEnd(50)} ${lic.padEnd(30)} ${verdict}${note}`);
}
console.log(`shipped (${rows.shipped.length}):`);
for (const r of rows.shipped.sort()) console.log(r);
console.log(`dev, not shipped (${rows.dev.length}):`);
for (const r of rows.dev.sort()) console.log(r);
process.exit(failed ? 1 : 0);
