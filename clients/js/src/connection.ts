import {
  decodeBody,
  encodeFrame,
  Op,
  Recovery,
  VERSION,
  WireError,
  type AuthOKFrame,
  type Frame,
  type JoinFrame,
  type JoinLeaveFrame,
  type PushFrame,
  type RawFrame,
  type RoomFrame,
  type SubscribedFrame,
  type TokenExpiringFrame,
} from "./codec.js";
import { isDisconnectCode } from "./codes.js";
import { ClientCode, QuicpushError } from "./errors.js";
import type { ResumeReply, StreamPosition } from "./resume.js";
import { abortable, type Transport, type TransportClose, type TransportHandlers, type TransportOpener } from "./transport.js";

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
export const connectionLost = (): QuicpushError => new QuicpushError(ClientCode.TransportFailed, "connection lost");

/**
 * One authenticated session over one transport: request/reply pairing by seq,
 * the heartbeat, and the end of the session with its code. It knows nothing
 * of rooms or reconnects; the client does.
 */
export class Connection {
  /** When the connection was authenticated (Date.now()). */
  openedAt = 0;
  connKey = "";
  user = "";
  pingIntervalMs = 0;
  /** The largest frame the edge accepts from this client. */
  maxFrame = 0;
  /** AuthOK's answer to the user-stream position sent in Auth (revision 2). */
  resume: ResumeReply = { recovery: Recovery.None, offset: 0n, epoch: "" };
  /** The protocol revision the edge announced in AuthOK: 0 before revision 5. */
  revision = 0;

  private transport: Transport | null = null;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private state: "auth" | "open" | "ended" = "auth";
  private authWaiter: { frame(f: Frame): void; closed(info: TransportClose): void } | null = null;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private lastFrameAt = 0;
  private pingSentAt = -1;
  /**
   * Frames read after AuthOK, held until start(): the client makes the
   * connection live a few microtasks after AuthOK, and a push in the same
   * read must not be lost.
   */
  private held: Frame[] | null = null;
  private heldEnd: { end: ConnectionEnd; transportGone: boolean } | null = null;

  /** The handlers to give the transport opener. */
  readonly handlers: TransportHandlers = {
    onFrames: (frames) => this.frames(frames),
    onDatagram: (f) => this.datagram(f),
    onClose: (info) => this.transportClosed(info),
  };

  constructor(private readonly callbacks: ConnectionCallbacks) {}

  get kind(): Transport["kind"] {
    return this.transport!.kind;
  }

  /** Opens the transport with `opener`. */
  async open(opener: TransportOpener, signal: AbortSignal): Promise<void> {
    this.transport = await opener(this.handlers, signal);
  }

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
  async authenticate(token: string, from: StreamPosition, rejoins: Rejoin[], signal: AbortSignal): Promise<void> {
    const reply = new Promise<AuthOKFrame>((resolve, reject) => {
      this.authWaiter = {
        frame: (f) => {
          if (f.op === Op.AuthOK) resolve(f);
          else if (f.op === Op.Disconnect) reject(new QuicpushError(f.code, f.reason));
        },
        closed: (info) => {
          if (info.error) reject(info.error);
          else if (isDisconnectCode(info.code)) reject(new QuicpushError(info.code, info.reason));
          else reject(new QuicpushError(ClientCode.TransportFailed, `closed during auth: ${info.reason || info.code}`));
        },
      };
    });
    this.send({ op: Op.Auth, seq: this.nextSeq(), version: VERSION, token, offset: from.offset, epoch: from.epoch, joins: rejoins.length });
    for (const j of rejoins) {
      const seq = this.nextSeq();
      this.pending.set(seq, j.reply);
      this.send({ ...j.frame, seq });
    }
    let ok: AuthOKFrame;
    try {
      ok = await abortable(reply, signal);
    } catch (e) {
      if (this.state !== "ended") {
        this.state = "ended";
        this.heldEnd = null;
        clearInterval(this.heartbeat);
        this.transport?.close("auth failed");
      }
      const lost = connectionLost();
      for (const p of this.pending.values()) p.reject(lost);
      this.pending.clear();
      throw e;
    } finally {
      this.authWaiter = null;
    }
    this.openedAt = Date.now();
    this.connKey = ok.connKey;
    this.user = ok.user;
    this.pingIntervalMs = ok.pingIntervalMs > 0 ? ok.pingIntervalMs : 25000;
    this.maxFrame = ok.maxFrame;
    this.resume = { recovery: ok.recovery, offset: ok.offset, epoch: ok.epoch };
    this.revision = ok.revision ?? 0;
    this.lastFrameAt = performance.now();
    // Timers take at most 2^31-1 ms; above that they fire at once.
    this.heartbeat = setInterval(() => this.tick(), Math.min(this.pingIntervalMs, 2_147_483_647));
  }

  /** Delivers the frames held since AuthOK, and from now on every frame as it comes. */
  start(): void {
    const held = this.held;
    this.held = null;
    for (const f of held ?? []) {
      if (this.state === "ended") return;
      this.frame(f);
    }
    const e = this.heldEnd;
    this.heldEnd = null;
    if (e) this.end(e.end, e.transportGone);
  }

  /** Sends a request and resolves with its reply (its seq's frame). */
  request(frame: Frame): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => this.call(frame, { resolve, reject }));
  }

  /**
   * Sends a request; `reply.resolve` gets its reply synchronously, as the
   * frame is read and before the frames after it, and `reply.reject` a lost
   * connection (at once when it is not open).
   */
  call(frame: Frame, reply: Pending): void {
    if (this.state !== "open") {
      reply.reject(connectionLost());
      return;
    }
    const seq = this.nextSeq();
    this.pending.set(seq, reply);
    this.send({ ...frame, seq });
  }

  /** Closes the connection from the client's side. */
  close(reason: string): void {
    this.end({ code: 0, reason, byClient: true });
  }

  private nextSeq(): number {
    // Nonzero and not reused while outstanding: a counter from 1 that skips 0.
    this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
    return this.seq;
  }

  private send(frame: Frame): void {
    this.transport?.send(encodeFrame(frame));
  }

  /**
   * Sends a Ping every interval; a Ping answered by nothing (no Pong, no other
   * frame) within one interval means the connection is lost.
   */
  private tick(): void {
    const now = performance.now();
    if (this.pingSentAt >= 0 && this.lastFrameAt < this.pingSentAt) {
      this.end({ code: 0, reason: `no reply to a ping within ${this.pingIntervalMs} ms`, byClient: false });
      return;
    }
    this.pingSentAt = now;
    this.send({ op: Op.Ping, seq: this.nextSeq() });
  }

  private frames(raw: RawFrame[]): void {
    for (const r of raw) {
      if (this.state === "ended") return;
      this.lastFrameAt = performance.now();
      let f: Frame | undefined;
      try {
        f = decodeBody(r.op, r.seq, r.body);
      } catch (e) {
        const message = e instanceof WireError ? e.message : String(e);
        this.end({
          code: 0,
          reason: message,
          byClient: false,
          error: new QuicpushError(ClientCode.BadFrame, message, { cause: e }),
        });
        return;
      }
      if (f === undefined) continue; // an op of a later version: skip it
      this.frame(f);
    }
  }

  /**
   * An ephemeral push from a datagram, or undefined for a malformed one.
   * Datagrams before AuthOK or after the end are dropped; like frames, they
   * wait while the connection is not started.
   */
  private datagram(f: PushFrame | undefined): void {
    if (this.state !== "open") return;
    this.callbacks.onDatagram?.(this, f !== undefined);
    if (f === undefined) return;
    if (this.held !== null) this.held.push(f);
    else this.callbacks.onPush(this, f);
  }

  private frame(f: Frame): void {
    if (f.op === Op.Ping) {
      // A version-1 edge does not send Ping, but a client must answer one.
      this.send({ op: Op.Pong, seq: f.seq });
      return;
    }
    if (this.state === "auth") {
      if (f.op === Op.AuthOK) {
        this.state = "open";
        this.held = [];
      }
      this.authWaiter?.frame(f);
      return;
    }
    if (this.held !== null) {
      this.held.push(f);
      return;
    }
    switch (f.op) {
      case Op.Push:
        this.callbacks.onPush(this, f);
        return;
      case Op.Disconnect:
        this.end({ code: f.code, reason: f.reason, byClient: false });
        return;
      case Op.TokenExpiring:
        this.callbacks.onTokenExpiring(this, f);
        return;
      case Op.Subscribed:
      case Op.Unsubscribed:
      case Op.JoinLeave:
        this.callbacks.onRoomNotice?.(this, f);
        return;
      case Op.JoinOK:
      case Op.LeaveOK:
      case Op.RefreshOK:
      case Op.PresenceOK:
      case Op.Error: {
        const p = this.pending.get(f.seq);
        if (p === undefined) return;
        this.pending.delete(f.seq);
        p.resolve(f);
        return;
      }
      default:
        return; // Pong (already counted as a frame), a stray AuthOK or a client op
    }
  }

  private transportClosed(info: TransportClose): void {
    if (this.state === "auth") {
      this.state = "ended";
      this.authWaiter?.closed(info);
      return;
    }
    const end: ConnectionEnd = {
      code: isDisconnectCode(info.code) ? info.code : 0,
      reason: info.reason || (info.code ? `closed with ${info.code}` : "connection closed"),
      byClient: false,
    };
    if (info.error) end.error = info.error;
    this.end(end, true);
  }

  /**
   * Ends the connection once: stops the heartbeat, fails the requests in
   * flight, closes the transport (unless it is already closed) and reports.
   */
  private end(end: ConnectionEnd, transportGone = false): void {
    if (this.state === "ended") return;
    if (this.held !== null && !end.byClient) {
      // Report the end after the frames that came before it.
      this.heldEnd ??= { end, transportGone };
      return;
    }
    const wasOpen = this.state === "open";
    this.state = "ended";
    clearInterval(this.heartbeat);
    const err = connectionLost();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (!transportGone) this.transport?.close(end.reason);
    if (wasOpen) this.callbacks.onEnded(this, end);
  }
}
