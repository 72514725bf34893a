/**
 * @quicpush/client: the browser client of quicpush. See README.md.
 *
 * The wire codec is exported separately as `@quicpush/client/codec`.
 *
 * @module
 */
export {
  Client,
  type ClientEvents,
  type ClientState,
  type ConnectedEvent,
  type ConnectingEvent,
  type DatagramStats,
  type DisconnectedEvent,
  type JoinLeaveEvent,
  type Message,
  type MessageHandler,
  type MessageKind,
  messageJSON,
  type NotRecoveredEvent,
  type Presence,
  type RecoveredEvent,
  type RoomMember,
  type StreamRef,
  type SubscribedEvent,
  type UnsubscribedEvent,
} from "./client.js";
export type { StreamPosition } from "./resume.js";
export { Code, CodeRange, codeName, isDisconnectCode, shouldReconnect } from "./codes.js";
export { ClientCode, QuicpushError } from "./errors.js";
export {
  DEFAULT_BACKOFF_MAX_MS,
  DEFAULT_BACKOFF_MIN_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_WEBTRANSPORT_TIMEOUT_MS,
  type BackoffOptions,
  type ClientOptions,
  type Endpoints,
  type TokenSource,
} from "./options.js";
export { backoffDelay } from "./backoff.js";
export type { TransportKind } from "./transport.js";
