import { type Frame, type JoinFrame, type JoinLeaveFrame, type PushFrame, type RoomFrame, type SubscribedFrame, type TokenExpiringFrame } from "./codec.js";
import { QuicpushError } from "./errors.js";
import type { ResumeReply, StreamPosition } from "./resume.js";
import { type Transport, type TransportHandlers, type TransportOpener } from "./transport.js";
/** How a connection ended. */
export interface ConnectionEnd {
    /** The disconnect code (Disconnect frame or transport close code), 0 for none. */
    code: number;
    reason: string;
    /** A local failure behind the end, reported as an 'error' event. */
    error?: QuicpushError;
    /** The client closed the connection (Client.close), not the edge or the network. */
    byClient: boolean;
}
/** What a connection reports to the client. */
export interface ConnectionCallbacks {
    onPush(conn: Connection, frame: PushFrame): void;
    /**
     * A datagram was read (revision 4): `ok` is false for a malformed one,
     * which is dropped; an ephemeral push read from one goes to onPush.
     */
    onDatagram?(conn: Connection, ok: boolean): void;
    /**
     * The edge warned that the token expires soon (revision 3): the client may
     * answer with Refresh on this connection, and only after such a warning.
     */
    onTokenExpiring(conn: Connection, frame: TokenExpiringFrame): void;
    /**
     * What the edge says of rooms on its own (revision 5): Subscribed,
     * Unsubscribed and JoinLeave, in order with the pushes around them.
     */
    onRoomNotice?(conn: Connection, frame: SubscribedFrame | RoomFrame | JoinLeaveFrame): void;
    /** Called once, after authentication succeeded, when the connection ends. */
    onEnded(conn: Connection, end: ConnectionEnd): void;
}
/**
 * A request in flight, by seq. `resolve` runs as the reply is read, before
 * the frames after it: a JoinOK's position applies to the pushes that follow.
 */
export interface Pending {
    resolve(f: Frame): void;
    reject(e: QuicpushError): void;
}
/** A Join sent right behind Auth (revision 4 and later), and what handles its reply. */
export interface Rejoin {
    frame: JoinFrame;
    reply: Pending;
}
/** The failure of requests on a connection that ended. */
export declare const connectionLost: () => QuicpushError;
/**
 * One authenticated session over one transport: request/reply pairing by seq,
 * the heartbeat, and the end of the session with its code. It knows nothing
 * of rooms or reconnects; the client does.
 */
export declare class Connection {
    private readonly callbacks;
    /** When the connection was authenticated (Date.now()). */
    openedAt: number;
    connKey: string;
    user: string;
    pingIntervalMs: number;
    /** The largest frame the edge accepts from this client. */
    maxFrame: number;
    /** AuthOK's answer to the user-stream position sent in Auth (revision 2). */
    resume: ResumeReply;
    /** The protocol revision the edge announced in AuthOK: 0 before revision 5. */
    revision: number;
    private transport;
    private seq;
    private readonly pending;
    private state;
    private authWaiter;
    private heartbeat;
    private lastFrameAt;
    private pingSentAt;
    /**
     * Frames read after AuthOK, held until start(): the client makes the
     * connection live a few microtasks after AuthOK, and a push in the same
     * read must not be lost.
     */
    private held;
    private heldEnd;
    /** The handlers to give the transport opener. */
    readonly handlers: TransportHandlers;
    constructor(callbacks: ConnectionCallbacks);
    get kind(): Transport["kind"];
    /** Opens the transport with `opener`. */
    open(opener: TransportOpener, signal: AbortSignal): Promise<void>;
    /**
     * Sends Auth, with `from`, the last position seen in the user's stream,
     * and right behind it the `rejoins` (protocol section 6.1), whose number
     * Auth announces in `joins` (revision 5); then waits for AuthOK. The
     * rejoins' replies come after AuthOK, to their `reply` once the connection
     * is started; if authentication fails they are rejected as lost. A
     * Disconnect (or a transport close code in 3000-3999) rejects with that
     * code; anything else that ends the transport rejects with
     * ClientCode.TransportFailed.
     */
    authenticate(token: string, from: StreamPosition, rejoins: Rejoin[], signal: AbortSignal): Promise<void>;
    /** Delivers the frames held since AuthOK, and from now on every frame as it comes. */
    start(): void;
    /** Sends a request and resolves with its reply (its seq's frame). */
    request(frame: Frame): Promise<Frame>;
    /**
     * Sends a request; `reply.resolve` gets its reply synchronously, as the
     * frame is read and before the frames after it, and `reply.reject` a lost
     * connection (at once when it is not open).
     */
    call(frame: Frame, reply: Pending): void;
    /** Closes the connection from the client's side. */
    close(reason: string): void;
    private nextSeq;
    private send;
    /**
     * Sends a Ping every interval; a Ping answered by nothing (no Pong, no other
     * frame) within one interval means the connection is lost.
     */
    private tick;
    private frames;
    /**
     * An ephemeral push from a datagram, or undefined for a malformed one.
     * Datagrams before AuthOK or after the end are dropped; like frames, they
     * wait while the connection is not started.
     */
    private datagram;
    private frame;
    private transportClosed;
    /**
     * Ends the connection once: stops the heartbeat, fails the requests in
     * flight, closes the transport (unless it is already closed) and reports.
     */
    private end;
}
