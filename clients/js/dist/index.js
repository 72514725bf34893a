export { Client, messageJSON, } from "./client.js";
export { Code, CodeRange, codeName, isDisconnectCode, shouldReconnect } from "./codes.js";
export { ClientCode, QuicpushError } from "./errors.js";
export { DEFAULT_BACKOFF_MAX_MS, DEFAULT_BACKOFF_MIN_MS, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_WEBTRANSPORT_TIMEOUT_MS, } from "./options.js";
export { backoffDelay } from "./backoff.js";
