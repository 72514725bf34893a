#!/usr/bin/env node
// Pushes one message to a room through the push API, as a Node backend does.
//
//   node examples/push-room.mjs [options] [ROOM [TEXT]]
//
//   --api URL          push API base URL ($QUICPUSH_API, default http://127.0.0.1:8080)
//   --key KEY          API key ($QUICPUSH_API_KEY; default: read from --dev-dir)
//   --dev-dir DIR      where `quicpush serve` keeps secrets.json ($QUICPUSH_DEV_DIR,
//                      default .quicpush-dev), used when no key is given
//   --protocol P       connect (default), grpc or grpc-web ($QUICPUSH_PROTOCOL)
//   ROOM               $QUICPUSH_ROOM, default lobby
//   TEXT               $QUICPUSH_TEXT, default {"hello":"from a backend","t":<now in ms>}
//
// It prints the message id and exits 0, or prints the error and exits 1.
// In an application, import from "@quicpush/client/api" in the same way.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { ConnectError, createPushClient } from "@quicpush/client/api";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    api: { type: "string" },
    key: { type: "string" },
    "dev-dir": { type: "string" },
    protocol: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: node examples/push-room.mjs [--api URL] [--key KEY | --dev-dir DIR] [--protocol connect|grpc|grpc-web] [ROOM [TEXT]]");
  process.exit(0);
}

const env = process.env;
const baseUrl = values.api ?? env.QUICPUSH_API ?? "http://127.0.0.1:8080";
const protocol = values.protocol ?? env.QUICPUSH_PROTOCOL ?? "connect";
const room = positionals[0] ?? env.QUICPUSH_ROOM ?? "lobby";
const text = positionals[1] ?? env.QUICPUSH_TEXT ?? JSON.stringify({ hello: "from a backend", t: Date.now() });
let apiKey = values.key ?? env.QUICPUSH_API_KEY;
if (!apiKey) {
  // The development key that `quicpush serve` made up and printed.
  const devDir = values["dev-dir"] ?? env.QUICPUSH_DEV_DIR ?? ".quicpush-dev";
  try {
    apiKey = JSON.parse(readFileSync(join(devDir, "secrets.json"), "utf8")).api_key;
  } catch (e) {
    console.error(`no API key: pass --key or $QUICPUSH_API_KEY (reading ${devDir}/secrets.json: ${e.message})`);
    process.exit(1);
  }
}

try {
  const push = createPushClient({ baseUrl, apiKey, protocol });
  const { messageId } = await push.pushRoom({ room, text });
  console.log(messageId);
} catch (e) {
  // ConnectError carries a code (e.g. unauthenticated for a bad key); a
  // TypeError means a bad option.
  console.error(e instanceof ConnectError ? `push failed: ${e.message}` : String(e));
  process.exit(1);
}
