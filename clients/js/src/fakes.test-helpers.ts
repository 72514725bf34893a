// In-memory stand-ins for an edge and the browser's WebTransport and
// WebSocket, for the client's unit tests. The fake edge speaks the real
// protocol through the codec; the fake transports follow the browser APIs
// closely enough for the client's transport code to run unchanged.
import {
  decodeBody,
  encodeFrame,
  FrameDecoder,
  Op,
  PushKind,
  Recovery,
  WEBSOCKET_PROTOCOL,
  type AuthFrame,
  type Frame,
  type JoinFrame,
  type Member,
  type RefreshFrame,
} from "./codec.js";

/** Resolves after `ms`. */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every few ms until it holds, failing after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

/** A stream the fake edge keeps history for: a room's ("r:" + room) or a user's ("u:" + user). */
interface FakeStream {
  epoch: string;
  /** The offset of the last message, 0n before any. */
  top: bigint;
  /** Messages held: their offsets and whole Push frames. */
  entries: Array<{ offset: bigint; frame: Uint8Array }>;
  /** The offset of the last message trimmed, 0n for none: resuming from before it fails. */
  trimmed: bigint;
}

/** The answer to a resume, and the frames to replay after it. */
interface FakeResume {
  recovery: Recovery;
  offset: bigint;
  epoch: string;
  replay: Uint8Array[];
}

/** A fake edge: accepts sessions from the fake transports and answers like a real one. */
export class FakeEdge {
  /** The token the edge accepts; any other gets Disconnect 3500. */
  token = "good";
  /** The user the token names. */
  user = "alice";
  pingIntervalMs = 25000;
  /** Rooms whose Join is refused with 101. */
  forbidden = new Set<string>();
  /** Rooms whose next Joins fail with 104 (the edge failing), how many. */
  failing = new Map<string, number>();
  /** When false, Pings are not answered (a dead connection). */
  answerPings = true;
  /** When false, Joins are not answered. */
  answerJoins = true;
  /** When true, the transports fail to connect (the edge is down). */
  down = false;
  /** Bytes sent right after AuthOK, in the same write. */
  afterAuth: Uint8Array | null = null;
  /** WebTransport server writes are cut into chunks of at most this many bytes. */
  wtChunk = 3;
  /**
   * Chrome's way: when the edge closes a WebTransport session, `closed`
   * rejects with "Connection lost" and no close code, although the stream
   * ended cleanly after the Disconnect frame.
   */
  wtCloseCodeLost = false;
  /**
   * Revision 2: keep the history of rooms and of the user (pushRoom,
   * pushUser) and answer resumes. When false, the edge answers like one of
   * revision 1 (no position in AuthOK and JoinOK).
   */
  history = false;
  /**
   * Revision 3: Refresh is answered with RefreshOK when its token is `token`
   * (the one the edge accepts now), with Error 105 otherwise; not at all when
   * false.
   */
  answerRefresh = true;
  /** The expires_in_ms of RefreshOK. */
  refreshExpiresInMs = 60000;
  /**
   * How many RefreshOKs get a TokenExpiring in the same write, as an edge does
   * when the fresh token also expires within its refresh-ahead time.
   */
  expiringAfterRefresh = 0;
  /**
   * When set, a TokenExpiring with this expires_in_ms follows AuthOK in the
   * same write, as an edge sends it at once for a token about to expire.
   */
  expiringAtAuth: number | null = null;
  /**
   * The revision the edge announces in AuthOK. Below 5 it also answers
   * PresenceGet, an op it does not know, by closing with 3501, and puts no
   * connection in server-side rooms.
   */
  revision = 5;
  /**
   * Revision 5: the user's server-side rooms. A session is put in each after
   * the Joins its Auth announced (with a Subscribed, unless it rejoined the
   * room), and may join them whatever `forbidden` says.
   */
  readonly serverRooms = new Set<string>();
  /** Revision 5: rooms whose namespace does not open presence to clients (Error 101). */
  presenceForbidden = new Set<string>();
  /**
   * When true, a session reads nothing from Auth on until the test calls
   * its release(): a slow Auth, with the frames sent behind it waiting.
   */
  holdAuth = false;
  /** Revision 5: when false, PresenceGet is not answered. */
  answerPresence = true;
  /** Revision 5: the info every session of the fake edge carries. */
  info = new Uint8Array();
  /** How far apart consecutive offsets are: offsets are shared by every stream. */
  offsetStep = 7n;
  private busOffset = 100n;
  private epochs = 0;
  readonly streams = new Map<string, FakeStream>();

  readonly sessions: FakeSession[] = [];
  wtAttempts = 0;
  wsAttempts = 0;
  tokens: string[] = [];

  /** The last session. */
  get session(): FakeSession {
    const s = this.sessions[this.sessions.length - 1];
    if (!s) throw new Error("no session");
    return s;
  }

  /** Sends a room push to every session in `room`. */
  push(room: string, text: string, offset = 0n, epoch = "", id = `m-${offset}`): void {
    const frame = encodeFrame({
      op: Op.Push,
      seq: 0,
      kind: PushKind.Room,
      room,
      id,
      offset,
      epoch,
      data: new TextEncoder().encode(text),
    });
    for (const s of this.sessions) if (!s.closed && s.rooms.has(room)) s.write(frame);
  }

  /** A stream's history, created (with a new epoch) on first use. */
  stream(key: string): FakeStream {
    let st = this.streams.get(key);
    if (st === undefined) {
      st = { epoch: `ep${++this.epochs}`, top: 0n, entries: [], trimmed: 0n };
      this.streams.set(key, st);
    }
    return st;
  }

  /** Appends a message to a stream's history; returns its Push frame and offset. */
  private append(key: string, kind: PushKind, room: string, text: string): { frame: Uint8Array; offset: bigint } {
    const st = this.stream(key);
    this.busOffset += this.offsetStep;
    const offset = this.busOffset;
    const frame = encodeFrame({ op: Op.Push, seq: 0, kind, room, id: `${key}@${offset}`, offset, epoch: st.epoch, data: new TextEncoder().encode(text) });
    st.top = offset;
    st.entries.push({ offset, frame });
    return { frame, offset };
  }

  /** Pushes `text` to `room` through its history (positions from the edge); returns the offset. */
  pushRoom(room: string, text: string): bigint {
    const { frame, offset } = this.append(`r:${room}`, PushKind.Room, room, text);
    for (const s of this.sessions) if (!s.closed && s.rooms.has(room)) s.write(frame);
    return offset;
  }

  /** Pushes `text` to the user through its history: a direct push with a position; returns the offset. */
  pushUser(text: string): bigint {
    const { frame, offset } = this.append(`u:${this.user}`, PushKind.Direct, "", text);
    for (const s of this.sessions) if (!s.closed && s.authed) s.write(frame);
    return offset;
  }

  /** Forgets every stream, as a restarted single-process server does: new epochs. */
  loseHistory(): void {
    this.streams.clear();
  }

  /** Drops a stream's held messages, as trimming by size or age does. */
  trim(key: string): void {
    const st = this.stream(key);
    st.entries = [];
    st.trimmed = st.top;
  }

  /** Answers a resume of stream `key` from (offset, epoch), as protocol section 11 says. */
  resume(key: string, offset: bigint, epoch: string): FakeResume {
    if (!this.history) return { recovery: Recovery.None, offset: 0n, epoch: "", replay: [] };
    const st = this.stream(key);
    const at = { offset: st.top, epoch: st.epoch };
    if (offset === 0n && epoch === "") return { recovery: Recovery.None, ...at, replay: [] };
    if (epoch !== st.epoch || offset > st.top || offset < st.trimmed) {
      return { recovery: Recovery.NotRecovered, ...at, replay: [] };
    }
    const missed = st.entries.filter((e) => e.offset > offset);
    return { recovery: Recovery.Recovered, ...at, replay: missed.map((e) => e.frame) };
  }
}

/** One client session on the fake edge. */
export class FakeSession {
  readonly rooms = new Set<string>();
  readonly joins: JoinFrame[] = [];
  readonly refreshes: RefreshFrame[] = [];
  readonly received: Frame[] = [];
  /** TokenExpiring frames sent: Refresh is an unknown op (3501) before the first. */
  expiringSent = 0;
  /** Sends one datagram to the client (WebTransport only). */
  datagram: ((bytes: Uint8Array) => void) | null = null;
  /** The Auth frame the session began with. */
  auth: AuthFrame | null = null;
  authed = false;
  connKey = "";
  /** Joins announced in Auth not read yet: server-side rooms wait for them (revision 5). */
  private joinsDue = 0;
  /** Frames held back from Auth on while the edge holds Auth (holdAuth), until release(). */
  private held: Frame[] | null = null;
  closed = false;
  private readonly decoder = new FrameDecoder();

  constructor(
    readonly edge: FakeEdge,
    readonly transport: "webtransport" | "websocket",
    /** Writes bytes to the client. */
    readonly write: (bytes: Uint8Array) => void,
    /** Ends the transport with a close code (0: none). */
    private readonly end: (code: number, reason: string) => void,
  ) {
    edge.sessions.push(this);
  }

  /** Bytes from the client. */
  receive(bytes: Uint8Array): void {
    if (this.closed) return;
    for (const raw of this.decoder.push(bytes)) {
      if (this.closed) return; // frames after a Disconnect are not read
      const f = decodeBody(raw.op, raw.seq, raw.body);
      if (!f) throw new Error(`client sent unknown op ${raw.op}`);
      this.received.push(f);
      if (f.op === Op.Auth && this.edge.holdAuth) this.held = [];
      if (this.held !== null) {
        this.held.push(f);
        continue;
      }
      this.read(f);
    }
  }

  /** Reads the frames held since Auth (holdAuth), and from now on every frame as it comes. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const f of held) if (!this.closed) this.read(f);
  }

  private read(f: Frame): void {
    {
      if (this.joinsDue > 0 && f.op !== Op.Join) {
        // A frame other than the Joins announced: the server-side rooms now.
        this.joinsDue = 0;
        this.subscribeServerRooms();
      }
      this.handle(f);
      if (this.joinsDue > 0 && f.op === Op.Join && --this.joinsDue === 0) this.subscribeServerRooms();
    }
  }

  private handle(f: Frame): void {
    const e = this.edge;
    switch (f.op) {
      case Op.Auth: {
        e.tokens.push(f.token);
        this.auth = f;
        if (f.token !== e.token) return this.disconnect(3500, "invalid token");
        const { replay, ...position } = e.resume(`u:${e.user}`, f.offset, f.epoch);
        this.connKey = `c${e.sessions.length}`;
        const ok = encodeFrame({
          op: Op.AuthOK,
          seq: f.seq,
          connKey: this.connKey,
          user: e.user,
          pingIntervalMs: e.pingIntervalMs,
          maxFrame: 65536,
          ...position,
          revision: e.revision,
        });
        this.authed = true;
        const expiring: Uint8Array[] = [];
        if (e.expiringAtAuth !== null) {
          this.expiringSent++;
          expiring.push(encodeFrame({ op: Op.TokenExpiring, seq: 0, expiresInMs: e.expiringAtAuth }));
        }
        // The reply, the replay and whatever the test adds, in one write.
        this.write(concat([ok, ...replay, ...expiring, ...(e.afterAuth ? [e.afterAuth] : [])]));
        if (e.revision >= 5) {
          this.joinsDue = f.joins ?? 0;
          if (this.joinsDue === 0) this.subscribeServerRooms();
        }
        return;
      }
      case Op.Ping:
        if (e.answerPings) this.write(encodeFrame({ op: Op.Pong, seq: f.seq }));
        return;
      case Op.Join:
        this.joins.push(f);
        if (!e.answerJoins) return;
        if (e.forbidden.has(f.room) && !(e.revision >= 5 && e.serverRooms.has(f.room))) {
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 101, message: "room not allowed" }));
          return;
        }
        if ((e.failing.get(f.room) ?? 0) > 0) {
          e.failing.set(f.room, (e.failing.get(f.room) ?? 0) - 1);
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 104, message: "room unavailable, retry" }));
          return;
        }
        {
          this.rooms.add(f.room);
          const { replay, ...position } = e.resume(`r:${f.room}`, f.offset, f.epoch);
          this.write(concat([encodeFrame({ op: Op.JoinOK, seq: f.seq, room: f.room, ...position }), ...replay]));
        }
        return;
      case Op.Leave:
        if (!this.rooms.delete(f.room)) {
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 103, message: "not joined" }));
          return;
        }
        this.write(encodeFrame({ op: Op.LeaveOK, seq: f.seq, room: f.room }));
        return;
      case Op.PresenceGet:
        if (e.revision < 5) return this.disconnect(3501, "unexpected op presence_get");
        if (!e.answerPresence) return;
        if (!this.rooms.has(f.room)) {
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 103, message: "not joined" }));
          return;
        }
        if (e.presenceForbidden.has(f.room)) {
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 101, message: "presence not allowed" }));
          return;
        }
        {
          const members: Member[] = e.sessions
            .filter((s) => !s.closed && s.rooms.has(f.room))
            .map((s) => ({ user: e.user, connKey: s.connKey, info: e.info }));
          const users = members.length > 0 ? 1 : 0;
          this.write(encodeFrame({ op: Op.PresenceOK, seq: f.seq, room: f.room, conns: members.length, users, complete: true, members }));
        }
        return;
      case Op.Refresh:
        // An edge of revision 3 tells a client to refresh first; to one of
        // an earlier revision Refresh is an unknown op.
        if (this.expiringSent === 0) return this.disconnect(3501, "unexpected op refresh");
        this.refreshes.push(f);
        if (!e.answerRefresh) return;
        if (f.token !== e.token) {
          this.write(encodeFrame({ op: Op.Error, seq: f.seq, code: 105, message: "token rejected" }));
          return;
        }
        {
          const parts = [encodeFrame({ op: Op.RefreshOK, seq: f.seq, expiresInMs: e.refreshExpiresInMs })];
          if (e.expiringAfterRefresh > 0) {
            e.expiringAfterRefresh--;
            this.expiringSent++;
            parts.push(encodeFrame({ op: Op.TokenExpiring, seq: 0, expiresInMs: e.refreshExpiresInMs }));
          }
          this.write(concat(parts));
        }
        return;
      default:
        return;
    }
  }

  /**
   * Puts the session in the user's server-side rooms it is not in yet, each
   * with a Subscribed carrying the room's position (revision 5).
   */
  private subscribeServerRooms(): void {
    for (const room of this.edge.serverRooms) if (!this.rooms.has(room)) this.subscribe(room);
  }

  /**
   * The backend puts the session in `room` (revision 5): a Subscribed with
   * where the room stands, or without a position when the session is in it
   * already.
   */
  subscribe(room: string): void {
    if (this.rooms.has(room)) {
      this.write(encodeFrame({ op: Op.Subscribed, seq: 0, room, recovery: Recovery.None, offset: 0n, epoch: "" }));
      return;
    }
    this.rooms.add(room);
    const { replay: _, ...position } = this.edge.resume(`r:${room}`, 0n, "");
    this.write(encodeFrame({ op: Op.Subscribed, seq: 0, room, ...position }));
  }

  /** The backend takes the session out of `room` (revision 5). */
  unsubscribe(room: string): void {
    this.rooms.delete(room);
    this.write(encodeFrame({ op: Op.Unsubscribed, seq: 0, room }));
  }

  /** Sends a join and leave notice (revision 5). */
  joinLeave(room: string, joined: Member[], left: Member[], omitted = 0): void {
    this.write(encodeFrame({ op: Op.JoinLeave, seq: 0, room, joined, left, omitted }));
  }

  /** Warns that the token expires in `ms` (revision 3): the client may answer with Refresh. */
  tokenExpiring(ms = 30000): void {
    this.expiringSent++;
    this.write(encodeFrame({ op: Op.TokenExpiring, seq: 0, expiresInMs: ms }));
  }

  /** Sends Disconnect and closes the transport with the same code, as an edge does. */
  disconnect(code: number, reason: string): void {
    if (this.closed) return;
    this.write(encodeFrame({ op: Op.Disconnect, seq: 0, code, reason }));
    this.closed = true;
    this.end(code, reason);
  }

  /** Closes the transport with a code but no Disconnect frame. */
  closeWithCode(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.end(code, reason);
  }

  /** Ends the transport without any code: a network failure. */
  drop(): void {
    this.closeWithCode(0, "");
  }

  /** Called when the client closed its side. */
  clientClosed(): void {
    this.closed = true;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

type Handler = ((ev: never) => unknown) | null;

/**
 * Returns a WebSocket constructor whose sockets connect to `edge`. Server
 * writes arrive as one binary message each, asynchronously, in order.
 */
export function fakeWebSocket(edge: FakeEdge): typeof WebSocket {
  class FakeWebSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readyState = 0;
    binaryType = "blob";
    protocol = "";
    onopen: Handler = null;
    onmessage: Handler = null;
    onclose: Handler = null;
    onerror: Handler = null;
    private session: FakeSession | null = null;

    constructor(
      readonly url: string,
      protocols?: string | string[],
    ) {
      edge.wsAttempts++;
      const requested = typeof protocols === "string" ? [protocols] : (protocols ?? []);
      setTimeout(() => {
        if (this.readyState !== 0) return;
        if (edge.down || !requested.includes(WEBSOCKET_PROTOCOL)) {
          this.readyState = 3;
          this.fire("onerror", {});
          this.fire("onclose", { code: 1006, reason: "", wasClean: false });
          return;
        }
        this.protocol = WEBSOCKET_PROTOCOL;
        this.readyState = 1;
        this.session = new FakeSession(
          edge,
          "websocket",
          (bytes) => {
            const copy = bytes.slice().buffer;
            setTimeout(() => {
              if (this.readyState === 1) this.fire("onmessage", { data: copy });
            }, 0);
          },
          (code, reason) => {
            setTimeout(() => {
              if (this.readyState === 3) return;
              this.readyState = 3;
              this.fire("onclose", { code: code || 1006, reason, wasClean: code !== 0 });
            }, 0);
          },
        );
        this.fire("onopen", {});
      }, 1);
    }

    send(data: Uint8Array): void {
      if (this.readyState !== 1) throw new Error("InvalidStateError");
      const bytes = new Uint8Array(data);
      this.session?.receive(bytes);
    }

    close(code = 1000, reason = ""): void {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      this.session?.clientClosed();
      setTimeout(() => {
        this.readyState = 3;
        this.fire("onclose", { code, reason, wasClean: true });
      }, 0);
    }

    private fire(name: "onopen" | "onmessage" | "onclose" | "onerror", ev: object): void {
      const h = this[name] as ((ev: object) => unknown) | null;
      h?.call(this, ev);
    }
  }
  return FakeWebSocket as unknown as typeof WebSocket;
}

/** How a fake WebTransport session behaves. */
export type FakeWebTransportMode = "ok" | "hang" | "fail";

/**
 * Returns a WebTransport constructor whose sessions connect to `edge`:
 * "ok" opens, "hang" never becomes ready, "fail" rejects `ready`. Server
 * writes are cut into chunks of edge.wtChunk bytes, as a stream may deliver
 * them.
 */
export function fakeWebTransport(edge: FakeEdge, mode: () => FakeWebTransportMode = () => "ok"): typeof WebTransport {
  class FakeWebTransport {
    readonly ready: Promise<void>;
    readonly closed: Promise<{ closeCode: number; reason: string }>;
    private resolveClosed!: (ci: { closeCode: number; reason: string }) => void;
    private rejectClosed!: (e: Error) => void;
    private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
    private dgController: ReadableStreamDefaultController<Uint8Array> | null = null;
    readonly datagrams = {
      readable: new ReadableStream<Uint8Array>({
        start: (c) => {
          this.dgController = c;
        },
      }),
    };
    private session: FakeSession | null = null;
    private isClosed = false;
    readonly hashes: unknown;

    constructor(
      readonly url: string,
      options?: { serverCertificateHashes?: unknown },
    ) {
      edge.wtAttempts++;
      this.hashes = options?.serverCertificateHashes;
      this.closed = new Promise((resolve, reject) => {
        this.resolveClosed = resolve;
        this.rejectClosed = reject;
      });
      const m = edge.down ? "fail" : mode();
      this.ready = new Promise((resolve, reject) => {
        if (m === "ok") setTimeout(resolve, 1);
        else if (m === "fail")
          setTimeout(() => {
            const e = new Error("Opening handshake failed.");
            reject(e);
            this.rejectClosed(e);
          }, 1);
      });
    }

    createBidirectionalStream(): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }> {
      const readable = new ReadableStream<Uint8Array>({
        start: (c) => {
          this.controller = c;
        },
      });
      this.session = new FakeSession(
        edge,
        "webtransport",
        (bytes) => {
          for (let i = 0; i < bytes.length; i += edge.wtChunk) {
            if (!this.isClosed) this.controller?.enqueue(bytes.slice(i, i + edge.wtChunk));
          }
        },
        (code, reason) => {
          setTimeout(() => {
            if (this.isClosed) return;
            this.isClosed = true;
            if (code === 0) {
              this.controller?.error(new Error("connection lost"));
              this.rejectClosed(new Error("connection lost"));
            } else if (edge.wtCloseCodeLost) {
              this.controller?.close();
              this.rejectClosed(new Error("Connection lost"));
            } else {
              this.controller?.close();
              this.resolveClosed({ closeCode: code, reason });
            }
          }, 0);
        },
      );
      const session = this.session;
      session.datagram = (bytes) => {
        if (!this.isClosed) this.dgController?.enqueue(bytes.slice());
      };
      const writable = new WritableStream<Uint8Array>({
        write: (chunk) => {
          session.receive(new Uint8Array(chunk));
        },
      });
      return Promise.resolve({ readable, writable });
    }

    close(ci?: { closeCode?: number; reason?: string }): void {
      if (this.isClosed) return;
      this.isClosed = true;
      this.session?.clientClosed();
      try {
        this.controller?.close();
      } catch {
        // already closed
      }
      try {
        this.dgController?.close();
      } catch {
        // already closed
      }
      this.resolveClosed({ closeCode: ci?.closeCode ?? 0, reason: ci?.reason ?? "" });
    }
  }
  return FakeWebTransport as unknown as typeof WebTransport;
}
