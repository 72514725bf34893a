import { backoffDelay } from "./backoff.js";
import {
  isEphemeral,
  MAX_ROOM_LEN,
  MAX_TOKEN_LEN,
  Op,
  PushKind,
  Recovery,
  type Frame,
  type JoinLeaveFrame,
  type Member,
  type PushFrame,
  type RoomFrame,
  type SubscribedFrame,
} from "./codec.js";
import { Code, isDisconnectCode, shouldReconnect } from "./codes.js";
import { Connection, type ConnectionEnd, type Pending, type Rejoin } from "./connection.js";
import { Emitter, type Listener } from "./emitter.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { resolveOptions, type ClientOptions, type Endpoints, type ResolvedOptions } from "./options.js";
import { StreamTracker, type ResumeOutcome, type ResumeReply, type StreamPosition } from "./resume.js";
import { abortable, deadline, transportError, type TransportKind } from "./transport.js";
import { webSocketOpener } from "./transport_websocket.js";
import { webTransportOpener } from "./transport_webtransport.js";

/**
 * Where a client is:
 * - `disconnected`: not started, or stopped by a code that forbids
 *   reconnecting (connect() may be called again);
 * - `connecting`: an attempt or the backoff before one is under way;
 * - `connected`: authenticated on a live connection;
 * - `closed`: close() was called; the client is done.
 */
export type ClientState = "disconnected" | "connecting" | "connected" | "closed";

/** How a pushed message was addressed. */
export type MessageKind = "direct" | "room" | "broadcast";

/** A message pushed by the edge. */
export interface Message {
  /** To this connection or user, to a room, or to everyone. */
  kind: MessageKind;
  /** The room of a `room` message; empty otherwise. */
  room: string;
  /** The id the push API returned, unique per message: drop repeats to process a message once. */
  id: string;
  /**
   * The message's position in its stream: the room's for a `room` message,
   * the user's for a `direct` message addressed to the user; 0n and "" when
   * it has none (a push to a connection key, a broadcast, a stream without
   * history).
   */
  offset: bigint;
  epoch: string;
  /** The payload as the backend sent it: a copy the receiver owns. */
  data: Uint8Array;
  /**
   * Superseded state (positions, typing, live scores; revision 4): it has no
   * position, may have come in a WebTransport datagram, may overtake or be
   * overtaken by other messages, and one lost is never replayed.
   */
  ephemeral: boolean;
}

/**
 * Decodes a message's payload as JSON (UTF-8 text, then `JSON.parse`): for a
 * backend that pushed JSON (the push API's JSON-valued `data`, or JSON in
 * `text`). Throws a `SyntaxError` naming the message when it is not JSON.
 */
export function messageJSON<T = unknown>(message: Message): T {
  const text = new TextDecoder().decode(message.data);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new SyntaxError(`message ${message.id}: payload is not JSON: ${(err as Error).message}`);
  }
}

/** What the client read in datagrams, over all its connections. */
export interface DatagramStats {
  /** Ephemeral messages that came in a datagram. */
  received: number;
  /** Datagrams dropped as malformed (the connection stays). */
  malformed: number;
}

/** Handles the messages of one room. */
export type MessageHandler = (message: Message) => void;

/** Emitted when an attempt to connect starts. */
export interface ConnectingEvent {
  /** Retries since the last connection that lasted (0 for the first try). */
  attempt: number;
}

/** Emitted when the edge accepted the token. */
export interface ConnectedEvent {
  transport: TransportKind;
  /** The edge's key of this connection (for PushKeys). */
  connKey: string;
  /** The user id the edge took from the token. */
  user: string;
  /** How often the client pings, as the edge asked. */
  pingIntervalMs: number;
  /**
   * The protocol revision the edge announced: 5 or more for an edge that
   * serves {@link Client.presence}, 0 for one of revision 4 or earlier.
   */
  revision: number;
}

/** Emitted when a connection ends, or an attempt is refused with a code that stops the client. */
export interface DisconnectedEvent {
  /**
   * The edge's disconnect code (3000-3999), or 0 when the connection ended
   * without one (network failure, missed heartbeat, close()).
   */
  code: number;
  reason: string;
  /** Whether the client reconnects on its own. When false it has stopped. */
  reconnect: boolean;
}

/**
 * The stream a resume is about: a room's (the room's messages), or the
 * user's (the direct messages pushed to the user, not to a connection key).
 */
export type StreamRef = { room: string } | { user: string };

/**
 * Emitted when a resume after a reconnect lost nothing: every message the
 * client missed in `stream` since `from` was delivered (as 'message' events
 * and to the room's handler, in order, before this event), or none was
 * missed. Once per stream and resume.
 */
export interface RecoveredEvent {
  stream: StreamRef;
  /** The position the client resumed from: the last one it had seen. */
  from: StreamPosition;
  /** Where the client stands now: the last message replayed, or `from`. */
  position: StreamPosition;
  /** How many missed messages were replayed; 0 when nothing was missed. */
  missed: number;
}

/**
 * Emitted when a resume after a reconnect could not recover what the client
 * missed in `stream` since `from` (the edge no longer holds it, or it was
 * restarted, or too much was missed): nothing was replayed, live messages
 * after `position` follow. Fetch what matters from the backend (the push
 * API's History method). Once per stream and resume.
 */
export interface NotRecoveredEvent {
  stream: StreamRef;
  /** The last position the client had seen: messages after it may be lost. */
  from: StreamPosition;
  /** Where the client stands now: live messages after it follow. */
  position: StreamPosition;
}

/**
 * A connection in a room (protocol revision 5): an entry of a
 * {@link JoinLeaveEvent} and of a {@link Presence}.
 */
export interface RoomMember {
  /** The user id of the connection's token. */
  user: string;
  /** The edge's key of the connection. */
  connKey: string;
  /**
   * The JSON object the connection's token (its `info` claim) or the
   * application's backend attached to it, parsed; undefined when it has none
   * (or when it is not JSON: `infoBytes` still holds it).
   */
  info: unknown;
  /** The info as sent, UTF-8 JSON text; empty for none. A copy the receiver owns. */
  infoBytes: Uint8Array;
}

/**
 * Emitted when the application's backend put this connection in a room
 * (protocol revision 5, the push API's Subscribe): the client now treats it
 * like a joined room. Its messages arrive as 'message' events (and to a
 * handler given with joinRoom), it is listed by rooms() and serverRooms(),
 * and it is rejoined from its position after every reconnect until the
 * backend takes it out ('unsubscribed') or leaveRoom.
 */
export interface SubscribedEvent {
  room: string;
  /**
   * The client's position in the room's stream: where the room stood when
   * the edge put the connection in it (0n and "" for a room without history).
   */
  position: StreamPosition;
}

/**
 * Emitted when the application's backend took the client out of a room
 * (revision 5): the edge took the connection out of it (Unsubscribed, `code`
 * 0; a room the client joined itself too), or refused to let the client
 * rejoin a room the backend had put it in, after a reconnect, because the
 * backend took the user out meanwhile (`code` the edge's request error,
 * typically 101 forbidden). The client has forgotten the room and drops its
 * messages.
 */
export interface UnsubscribedEvent {
  room: string;
  /** 0 for Unsubscribed; the edge's error code when it refused the rejoin. */
  code: number;
  /** The edge's message with a refused rejoin; empty otherwise. */
  reason: string;
}

/**
 * Emitted for a join and leave notice (protocol revision 5) of a room the
 * client is in, when the room's namespace turns notices on: the connections
 * that joined and left since the previous notice (at most one a second per
 * room). Notices are best effort and not replayed after a reconnect; ask
 * {@link Client.presence} for an exact list.
 */
export interface JoinLeaveEvent {
  room: string;
  joined: RoomMember[];
  left: RoomMember[];
  /** How many joins and leaves the notice left out of the two lists. */
  omitted: number;
}

/** Who is in a room (protocol revision 5): the answer of {@link Client.presence}. */
export interface Presence {
  room: string;
  /** The room's connections across the cluster. */
  conns: number;
  /** The room's distinct users across the cluster. */
  users: number;
  /**
   * Whether `members` lists every connection; false when the room has more
   * members than the edge lists (1000 by default) or than fit in one frame.
   */
  complete: boolean;
  members: RoomMember[];
}

/** The events of a {@link Client} and their payloads. */
export interface ClientEvents {
  connecting: ConnectingEvent;
  connected: ConnectedEvent;
  disconnected: DisconnectedEvent;
  message: Message;
  /** A resume lost nothing; see {@link RecoveredEvent}. */
  recovered: RecoveredEvent;
  /** A resume lost messages; see {@link NotRecoveredEvent}. */
  notRecovered: NotRecoveredEvent;
  /** The backend put the connection in a room; see {@link SubscribedEvent}. */
  subscribed: SubscribedEvent;
  /** The client lost a room the backend had put it in; see {@link UnsubscribedEvent}. */
  unsubscribed: UnsubscribedEvent;
  /** Who joined and left a room; see {@link JoinLeaveEvent}. */
  joinLeave: JoinLeaveEvent;
  /**
   * A failed connect attempt, a bad frame, a listener that threw, or a token
   * refresh that failed (code 105 token rejected from the edge, or the token
   * function failing). The client goes on.
   */
  error: QuicpushError;
}

/** A promise's settle functions, with a timer. */
interface Waiter {
  resolve(): void;
  reject(e: QuicpushError): void;
}

/** A room the client means to be in, rejoined on every new connection until leaveRoom. */
interface RoomState {
  name: string;
  /** The room's stream: the last position seen, sent when rejoining. */
  stream: StreamTracker<Connection>;
  handler: MessageHandler | undefined;
  /** The connection the edge confirmed the room on. */
  joinedOn: Connection | null;
  /** The connection a Join for the room awaits an answer on. */
  sentOn: Connection | null;
  /** Joins the edge failed to serve in a row (error 104), retried with backoff. */
  tries: number;
  waiters: Set<Waiter>;
  /** The application's backend put the connection in the room (Subscribed, revision 5). */
  server: boolean;
}

const kindNames: Record<PushKind, MessageKind> = {
  [PushKind.Direct]: "direct",
  [PushKind.Room]: "room",
  [PushKind.Broadcast]: "broadcast",
};

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * A quicpush client for browsers (and Node with a WebSocket constructor). It
 * connects over WebTransport when it can and over WebSocket otherwise,
 * authenticates with a JWT, keeps the session alive with heartbeats, joins
 * rooms and emits every pushed message. When the connection drops it
 * reconnects with full-jitter backoff and rejoins its rooms, until close(), the
 * options' AbortSignal, or a disconnect code of 3500 or more (such as 3500
 * invalid token), after which it stops and reports the code.
 *
 * With a token function, the client also refreshes the token of a live
 * connection when the edge warns that it expires (TokenExpiring, protocol
 * revision 3): it calls the function and sends the fresh token (Refresh), so
 * the connection outlives its token. With a fixed token the edge closes the
 * connection at expiry (3004) and the client reconnects with the same token.
 *
 * With an edge of revision 5, the client also follows the rooms the
 * application's backend puts it in ('subscribed', 'unsubscribed'), emits join
 * and leave notices ('joinLeave') and asks who is in a room
 * ({@link Client.presence}).
 *
 * ```ts
 * const client = new Client(
 *   { webtransport: "https://push.example.com:4433/wt", websocket: "wss://push.example.com/ws" },
 *   { token: () => fetchToken() },
 * );
 * client.on("message", (m) => console.log(m.room, new TextDecoder().decode(m.data)));
 * await client.connect();
 * await client.joinRoom("news");
 * ```
 */
export class Client {
  readonly #endpoints: Endpoints;
  readonly #opts: ResolvedOptions;
  readonly #events: Emitter<ClientEvents>;
  readonly #rooms = new Map<string, RoomState>();
  readonly #connectWaiters = new Set<Waiter>();
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.close();

  #state: ClientState = "disconnected";
  /** The live, authenticated connection. */
  #conn: Connection | null = null;
  /** Aborts the connect loop; null while no loop runs. */
  #loop: AbortController | null = null;
  /** Why the client stopped, until connect() starts it again. */
  #stopError: QuicpushError | null = null;
  /** WebTransport failed and WebSocket worked: skip WebTransport from now on. */
  #preferWebSocket = false;
  #webTransportWorked = false;
  /** The user's stream (direct pushes to the user): the last position seen, sent in Auth. */
  #userStream = new StreamTracker<Connection>();
  /** The user whose stream #userStream follows ("" before the first AuthOK). */
  #streamUser = "";
  /** The connection a token refresh is under way on (one at a time), or null. */
  #refreshing: Connection | null = null;
  /** A TokenExpiring came while a refresh was under way: refresh again after it. */
  #refreshAgain = false;
  readonly #datagrams: DatagramStats = { received: 0, malformed: 0 };

  /**
   * @param endpoints where the edge listens; at least one.
   * @param options the token and tuning; see {@link ClientOptions}.
   * @throws TypeError when an endpoint or option is invalid.
   */
  constructor(endpoints: Endpoints, options: ClientOptions) {
    this.#endpoints = { ...endpoints };
    this.#opts = resolveOptions(endpoints, options);
    this.#events = new Emitter<ClientEvents>((event, e) => {
      if (event !== "error") {
        this.#events.emit("error", new QuicpushError(ClientCode.ListenerFailed, `a '${String(event)}' listener threw`, { cause: e }));
      }
    });
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#state = "closed";
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Where the client is; see {@link ClientState}. */
  get state(): ClientState {
    return this.#state;
  }

  /** The transport of the live connection, or null while not connected. */
  get transport(): TransportKind | null {
    return this.#conn?.kind ?? null;
  }

  /** The edge's key of the live connection, or "" while not connected. */
  get connKey(): string {
    return this.#conn?.connKey ?? "";
  }

  /** The user id of the live connection, or "" while not connected. */
  get user(): string {
    return this.#conn?.user ?? "";
  }

  /**
   * The rooms the client means to be in (joined, or to be joined on the next
   * connection), those the backend put it in included.
   */
  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  /**
   * The rooms the application's backend put the connection in (revision 5;
   * see {@link SubscribedEvent}), a subset of {@link Client.rooms}.
   */
  serverRooms(): string[] {
    return [...this.#rooms.values()].filter((r) => r.server).map((r) => r.name);
  }

  /**
   * The client's position in `room`'s stream (the last message seen, or the
   * position the edge reported on joining), sent with Join when the client
   * rejoins it; undefined for a room the client is not in.
   */
  position(room: string): StreamPosition | undefined {
    return this.#rooms.get(room)?.stream.position;
  }

  /** What the client read in datagrams so far (a copy). */
  datagrams(): DatagramStats {
    return { ...this.#datagrams };
  }

  /**
   * The client's position in its user's stream (direct pushes to the user),
   * sent in Auth on every reconnect; 0n and "" before any.
   */
  userPosition(): StreamPosition {
    return this.#userStream.position;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents, K>): () => void {
    return this.#events.on(event, listener);
  }

  /** Removes a listener added with {@link Client.on}. */
  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents, K>): void {
    this.#events.off(event, listener);
  }

  /**
   * Starts connecting and resolves once the edge has accepted the token.
   * Failed attempts are retried with backoff, so it may wait long while the
   * edge is unreachable; watch 'connecting' and 'error'. It rejects with a
   * {@link QuicpushError}: the disconnect code when the edge refuses the client
   * with a code that forbids reconnecting (3500 invalid token, ...), or
   * ClientCode.Closed on close(). Called while connected, it resolves at once.
   */
  connect(): Promise<void> {
    if (this.#state === "closed") return Promise.reject(closedError());
    if (this.#state === "connected") return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.#connectWaiters.add({ resolve, reject }));
    if (this.#loop === null) {
      this.#stopError = null;
      const loop = new AbortController();
      this.#loop = loop;
      void this.#run(loop.signal);
    }
    return p;
  }

  /**
   * Joins `room` and resolves when the edge confirms. The room is remembered
   * and rejoined after every reconnect, with the last position seen, until
   * leaveRoom. Called before connect() or while reconnecting, it resolves on
   * the next connection. `handler` receives the room's messages (they are
   * emitted as 'message' events too); joining again replaces it.
   *
   * Rejects with a {@link QuicpushError}: the edge's code (101 forbidden, 102
   * too many rooms), after which the room is forgotten (104, the edge
   * failing, is no refusal: the Join is sent again with backoff); 100 for a name that
   * is empty or longer than 255 bytes; ClientCode.Timeout after
   * requestTimeoutMs (the room stays remembered and is joined in the
   * background); ClientCode.Left when leaveRoom came first; ClientCode.Closed;
   * or the code that stopped the client (the room is remembered, and joined
   * when connect() is called again).
   *
   * For a room the backend put the connection in ({@link SubscribedEvent}),
   * it sends nothing and only sets the handler.
   */
  joinRoom(room: string, handler?: MessageHandler): Promise<void> {
    const bad = checkRoom(room);
    if (bad) return Promise.reject(bad);
    if (this.#state === "closed") return Promise.reject(closedError());
    let r = this.#rooms.get(room);
    if (r === undefined) {
      r = newRoom(room, handler);
      this.#rooms.set(room, r);
    } else if (handler !== undefined) {
      r.handler = handler;
    }
    const conn = this.#conn;
    if (conn !== null && r.joinedOn === conn) return Promise.resolve();
    if (this.#stopError !== null) return Promise.reject(this.#stopError);
    const rs = r;
    const p = this.#wait(rs.waiters, `join ${JSON.stringify(room)}`);
    if (conn !== null && rs.sentOn !== conn) this.#sendJoin(conn, rs);
    return p;
  }

  /**
   * Leaves `room`. The client forgets the room at once, so it is not rejoined
   * whatever happens next, and drops its messages from now on. When the room
   * is joined on the live connection it waits for the edge to confirm.
   * Rejects with code 103 (not joined) for a room the client is not in, with
   * the edge's code when it refuses, or with ClientCode.Timeout.
   */
  async leaveRoom(room: string): Promise<void> {
    const bad = checkRoom(room);
    if (bad) throw bad;
    if (this.#state === "closed") throw closedError();
    const r = this.#rooms.get(room);
    if (r === undefined) throw new QuicpushError(Code.NotJoined, `not in room ${JSON.stringify(room)}`);
    this.#rooms.delete(room);
    settle(r.waiters, new QuicpushError(ClientCode.Left, `left room ${JSON.stringify(room)} while joining`));
    const conn = this.#conn;
    if (conn === null || (r.joinedOn !== conn && r.sentOn !== conn)) return;
    let reply: Frame;
    try {
      reply = await this.#timed(conn.request({ op: Op.Leave, seq: 0, room }), `leave ${JSON.stringify(room)}`);
    } catch (e) {
      // A lost connection left the room for us; the next one does not join it.
      if (e instanceof QuicpushError && e.code === ClientCode.TransportFailed) return;
      throw e;
    }
    if (reply.op === Op.Error) throw new QuicpushError(reply.code, reply.message);
  }

  /**
   * Asks the edge who is in `room` (protocol revision 5), a room the client
   * is in: the counts across the cluster and the members the edge lists.
   * Needs a live connection to an edge of revision 5 or later.
   *
   * Rejects with a {@link QuicpushError}: the edge's code (103 not joined,
   * 101 when the room's namespace does not open presence to clients, 104
   * when the edge could not read it: retry with backoff); 100 for a bad room
   * name; ClientCode.Unsupported, without asking, when the edge announced an
   * earlier revision (it would close the connection on the request);
   * ClientCode.TransportFailed while not connected or when the connection is
   * lost; ClientCode.Timeout; ClientCode.Closed.
   *
   * ```ts
   * const p = await client.presence("chat/1");
   * console.log(`${p.users} users`, p.members.map((m) => m.info));
   * ```
   */
  async presence(room: string): Promise<Presence> {
    const bad = checkRoom(room);
    if (bad) throw bad;
    if (this.#state === "closed") throw closedError();
    const conn = this.#conn;
    if (conn === null) throw new QuicpushError(ClientCode.TransportFailed, "presence: not connected");
    if (conn.revision < 5) {
      throw new QuicpushError(ClientCode.Unsupported, `presence needs an edge of protocol revision 5, this one announced ${conn.revision}`);
    }
    const what = `presence ${JSON.stringify(room)}`;
    const reply = await this.#timed(conn.request({ op: Op.PresenceGet, seq: 0, room }), what);
    if (reply.op === Op.Error) throw new QuicpushError(reply.code, reply.message);
    if (reply.op !== Op.PresenceOK) throw new QuicpushError(ClientCode.BadFrame, `${what}: answered with op ${reply.op}`);
    return { room: reply.room, conns: reply.conns, users: reply.users, complete: reply.complete, members: roomMembers(reply.members) };
  }

  /**
   * Closes the connection and stops the client for good. Pending connect,
   * joinRoom and leaveRoom calls reject with ClientCode.Closed. A client that
   * was connected emits 'disconnected' with code 0 and reconnect false.
   */
  close(): void {
    if (this.#state === "closed") return;
    const wasConnected = this.#state === "connected";
    this.#state = "closed";
    this.#signal?.removeEventListener("abort", this.#onAbort);
    const err = closedError();
    this.#loop?.abort(err);
    this.#loop = null;
    const conn = this.#conn;
    this.#conn = null;
    conn?.close("client closed");
    settle(this.#connectWaiters, err);
    for (const r of this.#rooms.values()) settle(r.waiters, err);
    if (wasConnected) this.#events.emit("disconnected", { code: 0, reason: "client closed", reconnect: false });
  }

  /** The connect loop: attempts, backoff, serving a connection until it ends. */
  async #run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let first = true;
    while (!signal.aborted) {
      if (!first) {
        const delay = backoffDelay(attempt, this.#opts.backoffMinMs, this.#opts.backoffMaxMs);
        attempt++;
        if (!(await sleep(delay, signal))) return;
      }
      first = false;
      this.#state = "connecting";
      this.#events.emit("connecting", { attempt });
      if (signal.aborted) return;

      let ended!: (end: ConnectionEnd) => void;
      const end = new Promise<ConnectionEnd>((resolve) => (ended = resolve));
      const conn = new Connection({
        onPush: (c, f) => this.#push(c, f),
        onDatagram: (c, ok) => {
          if (c === this.#conn) this.#datagrams[ok ? "received" : "malformed"]++;
        },
        onTokenExpiring: (c) => this.#tokenExpiring(c),
        onRoomNotice: (c, f) => this.#roomNotice(c, f),
        onEnded: (_, e) => ended(e),
      });
      let rejoined: RoomState[];
      try {
        rejoined = await this.#dial(conn, signal);
      } catch (e) {
        if (signal.aborted) return;
        const err = e instanceof QuicpushError ? e : transportError("connect", e);
        if (isDisconnectCode(err.code) && !shouldReconnect(err.code)) {
          this.#stop(err);
          return;
        }
        this.#events.emit("error", err);
        continue;
      }
      if (signal.aborted) {
        conn.close("client closed");
        return;
      }
      this.#install(conn, rejoined);
      const result = await end;
      if (signal.aborted || this.#conn !== conn) return;
      this.#conn = null;
      this.#connectionGone();
      if (result.error) this.#events.emit("error", result.error);
      const reconnect = shouldReconnect(result.code);
      if (!reconnect) {
        this.#stop(new QuicpushError(result.code, result.reason));
        return;
      }
      this.#state = "connecting";
      this.#events.emit("disconnected", { code: result.code, reason: result.reason, reconnect: true });
      if (signal.aborted) return;
      // The count restarts after a connection that lasted.
      if (Date.now() - conn.openedAt >= this.#opts.backoffMaxMs) attempt = 0;
    }
  }

  /**
   * One connect attempt: a token, then WebTransport (within
   * webTransportTimeoutMs) or WebSocket, then Auth with a Join for every room
   * right behind it; returns the rooms rejoined so.
   */
  async #dial(conn: Connection, signal: AbortSignal): Promise<RoomState[]> {
    const token = await this.#token(signal);
    const o = this.#opts;
    const wtURL = this.#endpoints.webtransport;
    const wsURL = this.#endpoints.websocket;
    let opened = false;
    let wtFailed = false;
    let rejoined: RoomState[] = [];
    if (wtURL !== undefined && o.WebTransport !== null && !this.#preferWebSocket) {
      const d = deadline(signal, o.webTransportTimeoutMs, "opening webtransport");
      try {
        await conn.open(
          webTransportOpener({
            url: wtURL,
            WebTransport: o.WebTransport,
            serverCertificateHashes: o.serverCertificateHashes,
            maxFrame: o.maxFrame,
          }),
          d.signal,
        );
        opened = true;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (wsURL === undefined || o.WebSocket === null) throw transportError("webtransport", e);
        wtFailed = true;
        this.#events.emit("error", transportError("webtransport (falling back to websocket)", e));
      } finally {
        d.done();
      }
    }
    const d = deadline(signal, o.connectTimeoutMs, opened ? "auth" : "opening websocket and auth");
    try {
      if (!opened) {
        if (wsURL === undefined || o.WebSocket === null) {
          throw new QuicpushError(ClientCode.TransportFailed, "no usable transport: WebTransport is unavailable and no websocket endpoint is set");
        }
        await conn.open(webSocketOpener({ url: wsURL, WebSocket: o.WebSocket, maxFrame: o.maxFrame }), d.signal);
      }
      // The user stream's position goes with every Auth, whatever the
      // transport, and every room (server-side ones included) is rejoined
      // from its position in the same flight, its Join counted in Auth's
      // joins (protocol sections 6.1 and 6.8): the edge then resumes the
      // server-side rooms from those positions rather than entering them
      // afresh.
      rejoined = [...this.#rooms.values()];
      const rejoins = rejoined.map((r) => this.#rejoin(conn, r));
      await conn.authenticate(token, this.#userStream.position, rejoins, d.signal);
    } finally {
      d.done();
    }
    if (conn.kind === "webtransport") this.#webTransportWorked = true;
    else if (wtFailed && !this.#webTransportWorked) this.#preferWebSocket = true;
    return rejoined;
  }

  async #token(signal: AbortSignal): Promise<string> {
    const src = this.#opts.token;
    if (typeof src === "string") return src;
    let token: unknown;
    try {
      token = await abortable(Promise.resolve().then(src), signal);
    } catch (e) {
      if (signal.aborted) throw e;
      throw new QuicpushError(ClientCode.TokenFailed, e instanceof Error ? e.message : String(e), { cause: e });
    }
    if (typeof token !== "string") throw new QuicpushError(ClientCode.TokenFailed, "the token function did not return a string");
    return token;
  }

  /**
   * Makes `conn` the live connection: leaves the rooms left while the Joins
   * sent behind Auth were on their way, joins the rooms asked for meanwhile,
   * both before any other request can be written on it, then reports, the
   * user stream's resume included, before the frames that came with AuthOK
   * (a replay among them).
   */
  #install(conn: Connection, rejoined: RoomState[]): void {
    // Auth carried the position #userStream holds: nothing moved it since,
    // as no connection was live.
    const from = this.#userStream.position;
    let reply: ResumeReply = conn.resume;
    if (this.#streamUser !== "" && this.#streamUser !== conn.user) {
      // A token of another user: the position sent was not this user's
      // stream, so the answer says nothing about what this user missed.
      this.#userStream = new StreamTracker();
      reply = { ...reply, recovery: Recovery.None };
    }
    this.#streamUser = conn.user;
    const outcome = this.#userStream.resumed(conn, from, reply);

    this.#conn = conn;
    this.#state = "connected";
    for (const r of rejoined) {
      if (!this.#rooms.has(r.name)) conn.call({ op: Op.Leave, seq: 0, room: r.name }, { resolve: () => {}, reject: () => {} });
    }
    for (const r of this.#rooms.values()) if (r.sentOn !== conn) this.#sendJoin(conn, r);
    this.#events.emit("connected", {
      transport: conn.kind,
      connKey: conn.connKey,
      user: conn.user,
      pingIntervalMs: conn.pingIntervalMs,
      revision: conn.revision,
    });
    if (this.#conn === conn) this.#report({ user: conn.user }, outcome);
    if (this.#conn === conn) settle(this.#connectWaiters);
    // Frames that came with AuthOK are delivered now that the connection is live.
    if (this.#conn === conn) conn.start();
  }

  /**
   * Sends Join for `r` on `conn` with the last position seen in the room
   * (docs/protocol.md, section 11), so that the edge replays what the client
   * missed or says it cannot. The reply is handled as it is read, before the
   * pushes after it: a replay follows JoinOK in the same read.
   */
  #sendJoin(conn: Connection, r: RoomState): void {
    const j = this.#rejoin(conn, r);
    conn.call(j.frame, j.reply);
  }

  /**
   * The Join of `r` on `conn` from the last position seen in the room, and
   * the handling of its answer; marks the Join as sent.
   */
  #rejoin(conn: Connection, r: RoomState): Rejoin {
    r.sentOn = conn;
    const from = r.stream.position;
    return { frame: { op: Op.Join, seq: 0, room: r.name, offset: from.offset, epoch: from.epoch }, reply: this.#joinReply(conn, r, from) };
  }

  /** Handles the answer to a Join of `r` from `from` on `conn`. */
  #joinReply(conn: Connection, r: RoomState, from: StreamPosition): Pending {
    return {
      resolve: (reply) => {
        if (r.sentOn === conn) r.sentOn = null;
        if (this.#rooms.get(r.name) !== r) return; // left meanwhile
        if (reply.op === Op.JoinOK) {
          r.joinedOn = conn;
          r.tries = 0;
          const outcome = r.stream.resumed(conn, from, reply);
          if (this.#conn === conn) this.#report({ room: r.name }, outcome);
          settle(r.waiters);
        } else if (reply.op === Op.Error && reply.code === Code.Internal) {
          // The edge could not serve the Join this time (its route or
          // history store, say): no refusal. The room stays and is asked
          // for again on the same connection after a backoff.
          r.tries++;
          const retry = setTimeout(
            () => {
              if (this.#conn === conn && this.#rooms.get(r.name) === r && r.joinedOn !== conn && r.sentOn === null) {
                this.#sendJoin(conn, r);
              }
            },
            backoffDelay(r.tries, this.#opts.backoffMinMs, this.#opts.backoffMaxMs),
          );
          // A pending retry must not keep a Node process alive.
          (retry as { unref?: () => void }).unref?.();
        } else if (reply.op === Op.Error) {
          this.#rooms.delete(r.name);
          settle(r.waiters, new QuicpushError(reply.code, reply.message));
          // A server-side room refused (typically 101): the backend took
          // the user out while the client was away. The client drops it as
          // if Unsubscribed had come (protocol section 6.8): no error.
          if (r.server && this.#conn === conn) this.#events.emit("unsubscribed", { room: r.name, code: reply.code, reason: reply.message });
        }
      },
      reject: () => {
        // The connection was lost; the next one rejoins.
        if (r.sentOn === conn) r.sentOn = null;
      },
    };
  }

  /**
   * What the edge says of rooms on its own (revision 5), in order with the
   * pushes: a room the backend put the connection in (Subscribed) becomes
   * one the client is in, with the position the edge reports; a room it
   * took the connection out of (Unsubscribed) is forgotten; join and leave
   * notices of rooms the client is in are emitted.
   */
  #roomNotice(conn: Connection, f: SubscribedFrame | RoomFrame | JoinLeaveFrame): void {
    if (conn !== this.#conn) return;
    if (f.op === Op.Subscribed) {
      let r = this.#rooms.get(f.room);
      if (r === undefined) {
        r = newRoom(f.room, undefined);
        this.#rooms.set(f.room, r);
      }
      r.server = true;
      r.joinedOn = conn;
      r.tries = 0;
      // The group is JoinOK's for a Join without a position: where the room
      // stood when the edge entered it. An absent group (a room without
      // history, or one the connection was in already) changes nothing, nor
      // cuts a replay under way.
      if (f.recovery !== Recovery.None || f.offset !== 0n || f.epoch !== "") r.stream.resumed(conn, { offset: 0n, epoch: "" }, f);
      settle(r.waiters);
      this.#events.emit("subscribed", { room: f.room, position: r.stream.position });
      return;
    }
    const r = this.#rooms.get(f.room);
    // A notice may come just after LeaveOK: drop those of rooms the client left.
    if (r === undefined) return;
    if (f.op === Op.Unsubscribed) {
      this.#rooms.delete(f.room);
      settle(r.waiters, new QuicpushError(ClientCode.Left, `the server took the connection out of room ${JSON.stringify(f.room)}`));
      this.#events.emit("unsubscribed", { room: f.room, code: 0, reason: "" });
    } else if (f.op === Op.JoinLeave) {
      this.#events.emit("joinLeave", { room: f.room, joined: roomMembers(f.joined), left: roomMembers(f.left), omitted: f.omitted });
    }
  }

  /**
   * Answers the edge's TokenExpiring on `conn` (protocol section 6.6): with a
   * token function, a fresh token goes to the edge in Refresh on the same
   * connection. With a fixed token there is nothing to send: the edge closes
   * with 3004 at expiry and the client reconnects. Refresh is sent only here,
   * after a TokenExpiring: an edge of an earlier revision would close on it.
   */
  #tokenExpiring(conn: Connection): void {
    if (conn !== this.#conn || typeof this.#opts.token !== "function") return;
    if (this.#refreshing === conn) {
      // The warning about the token being refreshed right now, or about the
      // fresh one (its RefreshOK was just read): refresh again after this one.
      this.#refreshAgain = true;
      return;
    }
    void this.#refresh(conn);
  }

  /** Refreshes the token of `conn`, once per TokenExpiring, one at a time. */
  async #refresh(conn: Connection): Promise<void> {
    this.#refreshing = conn;
    try {
      do {
        this.#refreshAgain = false;
        await this.#refreshOnce(conn);
      } while (this.#refreshAgain && this.#conn === conn);
    } finally {
      if (this.#refreshing === conn) {
        this.#refreshing = null;
        this.#refreshAgain = false;
      }
    }
  }

  /**
   * Gets a token from the token function and sends it in Refresh on `conn`.
   * Failures are reported as 'error' events and leave the connection be: the
   * old token holds until it expires, when the edge closes with 3004 and the
   * client reconnects with a fresh token. A connection that ended meanwhile
   * needs nothing.
   */
  async #refreshOnce(conn: Connection): Promise<void> {
    const signal = this.#loop?.signal;
    if (signal === undefined || signal.aborted || conn !== this.#conn) return;
    let token: string;
    try {
      token = await this.#token(signal);
    } catch (e) {
      if (signal.aborted || conn !== this.#conn) return;
      this.#events.emit("error", e instanceof QuicpushError ? e : new QuicpushError(ClientCode.TokenFailed, String(e), { cause: e }));
      return;
    }
    if (conn !== this.#conn) return;
    const n = utf8.encode(token).length;
    if (n > MAX_TOKEN_LEN) {
      // The edge would close the connection for a malformed frame (3501).
      this.#events.emit("error", new QuicpushError(ClientCode.TokenFailed, `token refresh: a token of ${n} bytes, limit ${MAX_TOKEN_LEN}`));
      return;
    }
    let reply: Frame;
    try {
      reply = await this.#timed(conn.request({ op: Op.Refresh, seq: 0, token }), "token refresh");
    } catch (e) {
      // A lost connection needs no refresh; the next one authenticates anew.
      if (conn !== this.#conn || !(e instanceof QuicpushError) || e.code === ClientCode.TransportFailed) return;
      this.#events.emit("error", e);
      return;
    }
    if (reply.op === Op.Error && conn === this.#conn) {
      // 105 token rejected: nothing changed on the edge; the connection stays.
      this.#events.emit("error", new QuicpushError(reply.code, reply.message));
    }
    // RefreshOK: the fresh token is in force; the edge warns again before it expires.
  }

  /** Emits what a resume, or the end of a replay, means for the application. */
  #report(stream: StreamRef, o: ResumeOutcome): void {
    if (o.kind === "recovered") {
      this.#events.emit("recovered", { stream, from: o.from, position: o.position, missed: o.missed });
    } else if (o.kind === "notRecovered") {
      this.#events.emit("notRecovered", { stream, from: o.from, position: o.position });
    }
  }

  /**
   * Delivers a push, unless it is a repeat: pushes with a position belong to
   * a stream (a room's, or the user's for a direct push), and one at or
   * before the client's position in its stream's epoch was seen already.
   */
  #push(conn: Connection, f: PushFrame): void {
    if (conn !== this.#conn) return;
    let room: RoomState | undefined;
    let stream: StreamTracker<Connection> | undefined;
    if (f.kind === PushKind.Room) {
      room = this.#rooms.get(f.room);
      // A push may arrive just after LeaveOK: drop rooms the client left.
      if (room === undefined) return;
      stream = room.stream;
    } else if (f.kind === PushKind.Direct && (f.offset !== 0n || f.epoch !== "")) {
      stream = this.#userStream;
    }
    const ephemeral = isEphemeral(f);
    // Ephemeral pushes have no position: they neither move one nor repeat.
    if (ephemeral) stream = undefined;
    if (stream !== undefined && !stream.accept(f.offset, f.epoch)) return;
    const m: Message = {
      kind: kindNames[f.kind],
      room: f.room,
      id: f.id,
      offset: f.offset,
      epoch: f.epoch,
      data: f.data.slice(),
      ephemeral,
    };
    this.#events.emit("message", m);
    if (room?.handler) {
      try {
        room.handler(m);
      } catch (e) {
        this.#events.emit("error", new QuicpushError(ClientCode.ListenerFailed, `the handler of room ${JSON.stringify(f.room)} threw`, { cause: e }));
      }
    }
    // The end of a replay is reported after its last message.
    if (stream !== undefined && this.#conn === conn) {
      this.#report(room ? { room: room.name } : { user: conn.user }, stream.delivered(conn, f.offset, f.epoch));
    }
  }

  /** Forgets what belonged to the connection that ended; positions stay. */
  #connectionGone(): void {
    this.#userStream.interrupted();
    for (const r of this.#rooms.values()) {
      r.joinedOn = null;
      r.sentOn = null;
      r.stream.interrupted();
    }
  }

  /** Stops after a code that forbids reconnecting. */
  #stop(err: QuicpushError): void {
    this.#loop = null;
    this.#stopError = err;
    this.#conn = null;
    this.#state = "disconnected";
    this.#connectionGone();
    this.#events.emit("disconnected", { code: err.code, reason: err.reason, reconnect: false });
    settle(this.#connectWaiters, err);
    for (const r of this.#rooms.values()) settle(r.waiters, err);
  }

  /** A promise settled through `set`, rejected with a Timeout after requestTimeoutMs. */
  #wait(set: Set<Waiter>, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        set.delete(w);
        reject(new QuicpushError(ClientCode.Timeout, `${what}: no answer within ${this.#opts.requestTimeoutMs} ms`));
      }, this.#opts.requestTimeoutMs);
      const w: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      set.add(w);
    });
  }

  #timed<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = this.#opts.requestTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QuicpushError(ClientCode.Timeout, `${what}: no answer within ${ms} ms`)), ms);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

function newRoom(name: string, handler: MessageHandler | undefined): RoomState {
  return { name, stream: new StreamTracker(), handler, joinedOn: null, sentOn: null, tries: 0, waiters: new Set(), server: false };
}

/** The members of a frame as the application gets them: infos copied, and parsed when they are JSON. */
function roomMembers(ms: Member[]): RoomMember[] {
  return ms.map((m) => {
    const infoBytes = m.info.slice();
    let info: unknown;
    if (infoBytes.length > 0) {
      try {
        info = JSON.parse(utf8Decoder.decode(infoBytes));
      } catch {
        info = undefined;
      }
    }
    return { user: m.user, connKey: m.connKey, info, infoBytes };
  });
}

function closedError(): QuicpushError {
  return new QuicpushError(ClientCode.Closed, "client closed");
}

/** Resolves (or, with an error, rejects) every waiter of `set` and empties it. */
function settle(set: Set<Waiter>, err?: QuicpushError): void {
  const ws = [...set];
  set.clear();
  for (const w of ws) {
    if (err) w.reject(err);
    else w.resolve();
  }
}

function checkRoom(room: string): QuicpushError | undefined {
  if (typeof room !== "string" || room === "") return new QuicpushError(Code.BadRequest, "empty room name");
  const n = utf8.encode(room).length;
  if (n > MAX_ROOM_LEN) return new QuicpushError(Code.BadRequest, `room name of ${n} bytes, limit ${MAX_ROOM_LEN}`);
  return undefined;
}

/** Waits `ms`; resolves false when `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (signal.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
