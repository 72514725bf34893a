// Loads docs/protocol-vectors.json, found from the package root (../../docs),
// wherever the compiled test runs from.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** A member of a revision-5 member list, `info` as text. */
export interface VectorMember {
  user: string;
  conn_key: string;
  info: string;
}
export interface VectorFrame {
  name: string;
  op: string;
  seq: number;
  decode_only?: boolean;
  note?: string;
  fields: Record<string, string | number | boolean | VectorMember[]>;
  hex: string;
}
export interface VectorStream {
  name: string;
  frames: string[];
  incomplete_tail: number;
  hex: string;
}
export interface VectorInvalid {
  name: string;
  max_frame: number;
  error: "malformed" | "too_large";
  hex: string;
}
export interface Vectors {
  version: number;
  revision: number;
  limits: Record<string, number>;
  ops: Record<string, number>;
  codes: Record<string, number>;
  code_ranges: Record<string, [number, number]>;
  frames: VectorFrame[];
  streams: VectorStream[];
  invalid: VectorInvalid[];
}

/** The directory holding package.json, above this file. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("package.json not found above " + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export function loadVectors(): Vectors {
  const path = join(packageRoot(), "..", "..", "docs", "protocol-vectors.json");
  return JSON.parse(readFileSync(path, "utf8")) as Vectors;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0) throw new Error("odd hex length");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
