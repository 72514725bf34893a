import { type Listener } from "./emitter.js";
import { QuicpushError } from "./errors.js";
import { type ClientOptions, type Endpoints } from "./options.js";
import { type StreamPosition } from "./resume.js";
import { type TransportKind } from "./transport.js";
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
export declare function messageJSON<T = unknown>(message: Message): T;
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
export type StreamRef = {
    room: string;
} | {
    user: string;
};
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
export declare class Client {
    #private;
    /**
     * @param endpoints where the edge listens; at least one.
     * @param options the token and tuning; see {@link ClientOptions}.
     * @throws TypeError when an endpoint or option is invalid.
     */
    constructor(endpoints: Endpoints, options: ClientOptions);
    /** Where the client is; see {@link ClientState}. */
    get state(): ClientState;
    /** The transport of the live connection, or null while not connected. */
    get transport(): TransportKind | null;
    /** The edge's key of the live connection, or "" while not connected. */
    get connKey(): string;
    /** The user id of the live connection, or "" while not connected. */
    get user(): string;
    /**
     * The rooms the client means to be in (joined, or to be joined on the next
     * connection), those the backend put it in included.
     */
    rooms(): string[];
    /**
     * The rooms the application's backend put the connection in (revision 5;
     * see {@link SubscribedEvent}), a subset of {@link Client.rooms}.
     */
    serverRooms(): string[];
    /**
     * The client's position in `room`'s stream (the last message seen, or the
     * position the edge reported on joining), sent with Join when the client
     * rejoins it; undefined for a room the client is not in.
     */
    position(room: string): StreamPosition | undefined;
    /** What the client read in datagrams so far (a copy). */
    datagrams(): DatagramStats;
    /**
     * The client's position in its user's stream (direct pushes to the user),
     * sent in Auth on every reconnect; 0n and "" before any.
     */
    userPosition(): StreamPosition;
    /** Adds a listener; returns a function that removes it. */
    on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents, K>): () => void;
    /** Removes a listener added with {@link Client.on}. */
    off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents, K>): void;
    /**
     * Starts connecting and resolves once the edge has accepted the token.
     * Failed attempts are retried with backoff, so it may wait long while the
     * edge is unreachable; watch 'connecting' and 'error'. It rejects with a
     * {@link QuicpushError}: the disconnect code when the edge refuses the client
     * with a code that forbids reconnecting (3500 invalid token, ...), or
     * ClientCode.Closed on close(). Called while connected, it resolves at once.
     */
    connect(): Promise<void>;
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
    joinRoom(room: string, handler?: MessageHandler): Promise<void>;
    /**
     * Leaves `room`. The client forgets the room at once, so it is not rejoined
     * whatever happens next, and drops its messages from now on. When the room
     * is joined on the live connection it waits for the edge to confirm.
     * Rejects with code 103 (not joined) for a room the client is not in, with
     * the edge's code when it refuses, or with ClientCode.Timeout.
     */
    leaveRoom(room: string): Promise<void>;
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
    presence(room: string): Promise<Presence>;
    /**
     * Closes the connection and stops the client for good. Pending connect,
     * joinRoom and leaveRoom calls reject with ClientCode.Closed. A client that
     * was connected emits 'disconnected' with code 0 and reconnect false.
     */
    close(): void;
}
