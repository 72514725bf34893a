// A dedicated worker holding one bench client (workers mode). Messages:
// {op: "start", cfg}, {op: "status"|"report"|"close", id} -> {id, value}.
import { startClient } from "./bench-client.js";

let c = null;
self.onmessage = (e) => {
  const { op, id, cfg } = e.data;
  if (op === "start") {
    c = startClient(cfg);
    return;
  }
  const value = c === null ? null : op === "status" ? c.status() : op === "report" ? c.report() : c.close();
  self.postMessage({ id, value: value ?? null });
};
