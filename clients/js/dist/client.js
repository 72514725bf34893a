import { backoffDelay } from "./backoff.js";
import { isEphemeral, MAX_ROOM_LEN, MAX_TOKEN_LEN, Op, PushKind, Recovery, } from "./codec.js";
import { Code, isDisconnectCode, shouldReconnect } from "./codes.js";
import { Connection } from "./connection.js";
import { Emitter } from "./emitter.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { resolveOptions } from "./options.js";
import { StreamTracker } from "./resume.js";
import { abortable, deadline, transportError } from "./transport.js";
import { webSocketOpener } from "./transport_websocket.js";
import { webTransportOpener } from "./transport_webtransport.js";
export function messageJSON(message) {
    const text = new TextDecoder().decode(message.data);
    try {
        return JSON.parse(text);
    }
    catch (err) {
        throw new SyntaxError(`message ${message.id}: payload is not JSON: ${err.message}`);
    }
}
const kindNames = {
    [PushKind.Direct]: "direct",
    [PushKind.Room]: "room",
    [PushKind.Broadcast]: "broadcast",
};
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
export class Client {
    #endpoints;
    #opts;
    #events;
    #rooms = new Map();
    #connectWaiters = new Set();
    #signal;
    #onAbort = () => this.close();
    #state = "disconnected";
    #conn = null;
    #loop = null;
    #stopError = null;
    #preferWebSocket = false;
    #webTransportWorked = false;
    #userStream = new StreamTracker();
    #streamUser = "";
    #refreshing = null;
    #refreshAgain = false;
    #datagrams = { received: 0, malformed: 0 };
    constructor(endpoints, options) {
        this.#endpoints = { ...endpoints };
        this.#opts = resolveOptions(endpoints, options);
        this.#events = new Emitter((event, e) => {
            if (event !== "error") {
                this.#events.emit("error", new QuicpushError(ClientCode.ListenerFailed, `a '${String(event)}' listener threw`, { cause: e }));
            }
        });
        this.#signal = options.signal;
        if (this.#signal?.aborted)
            this.#state = "closed";
        else
            this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    }
    get state() {
        return this.#state;
    }
    get transport() {
        return this.#conn?.kind ?? null;
    }
    get connKey() {
        return this.#conn?.connKey ?? "";
    }
    get user() {
        return this.#conn?.user ?? "";
    }
    rooms() {
        return [...this.#rooms.keys()];
    }
    serverRooms() {
        return [...this.#rooms.values()].filter((r) => r.server).map((r) => r.name);
    }
    position(room) {
        return this.#rooms.get(room)?.stream.position;
    }
    datagrams() {
        return { ...this.#datagrams };
    }
    userPosition() {
        return this.#userStream.position;
    }
    on(event, listener) {
        return this.#events.on(event, listener);
    }
    off(event, listener) {
        this.#events.off(event, listener);
    }
    connect() {
        if (this.#state === "closed")
            return Promise.reject(closedError());
        if (this.#state === "connected")
            return Promise.resolve();
        const p = new Promise((resolve, reject) => this.#connectWaiters.add({ resolve, reject }));
        if (this.#loop === null) {
            this.#stopError = null;
            const loop = new AbortController();
            this.#loop = loop;
            void this.#run(loop.signal);
        }
        return p;
    }
    joinRoom(room, handler) {
        const bad = checkRoom(room);
        if (bad)
            return Promise.reject(bad);
        if (this.#state === "closed")
            return Promise.reject(closedError());
        let r = this.#rooms.get(room);
        if (r === undefined) {
            r = newRoom(room, handler);
            this.#rooms.set(room, r);
        }
        else if (handler !== undefined) {
            r.handler = handler;
        }
        const conn = this.#conn;
        if (conn !== null && r.joinedOn === conn)
            return Promise.resolve();
        if (this.#stopError !== null)
            return Promise.reject(this.#stopError);
        const rs = r;
        const p = this.#wait(rs.waiters, `join ${JSON.stringify(room)}`);
        if (conn !== null && rs.sentOn !== conn)
            this.#sendJoin(conn, rs);
        return p;
    }
    async leaveRoom(room) {
        const bad = checkRoom(room);
        if (bad)
            throw bad;
        if (this.#state === "closed")
            throw closedError();
        const r = this.#rooms.get(room);
        if (r === undefined)
            throw new QuicpushError(Code.NotJoined, `not in room ${JSON.stringify(room)}`);
        this.#rooms.delete(room);
        settle(r.waiters, new QuicpushError(ClientCode.Left, `left room ${JSON.stringify(room)} while joining`));
        const conn = this.#conn;
        if (conn === null || (r.joinedOn !== conn && r.sentOn !== conn))
            return;
        let reply;
        try {
            reply = await this.#timed(conn.request({ op: Op.Leave, seq: 0, room }), `leave ${JSON.stringify(room)}`);
        }
        catch (e) {
            if (e instanceof QuicpushError && e.code === ClientCode.TransportFailed)
                return;
            throw e;
        }
        if (reply.op === Op.Error)
            throw new QuicpushError(reply.code, reply.message);
    }
    async presence(room) {
        const bad = checkRoom(room);
        if (bad)
            throw bad;
        if (this.#state === "closed")
            throw closedError();
        const conn = this.#conn;
        if (conn === null)
            throw new QuicpushError(ClientCode.TransportFailed, "presence: not connected");
        if (conn.revision < 5) {
            throw new QuicpushError(ClientCode.Unsupported, `presence needs an edge of protocol revision 5, this one announced ${conn.revision}`);
        }
        const what = `presence ${JSON.stringify(room)}`;
        const reply = await this.#timed(conn.request({ op: Op.PresenceGet, seq: 0, room }), what);
        if (reply.op === Op.Error)
            throw new QuicpushError(reply.code, reply.message);
        if (reply.op !== Op.PresenceOK)
            throw new QuicpushError(ClientCode.BadFrame, `${what}: answered with op ${reply.op}`);
        return { room: reply.room, conns: reply.conns, users: reply.users, complete: reply.complete, members: roomMembers(reply.members) };
    }
    close() {
        if (this.#state === "closed")
            return;
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
        for (const r of this.#rooms.values())
            settle(r.waiters, err);
        if (wasConnected)
            this.#events.emit("disconnected", { code: 0, reason: "client closed", reconnect: false });
    }
    async #run(signal) {
        let attempt = 0;
        let first = true;
        while (!signal.aborted) {
            if (!first) {
                const delay = backoffDelay(attempt, this.#opts.backoffMinMs, this.#opts.backoffMaxMs);
                attempt++;
                if (!(await sleep(delay, signal)))
                    return;
            }
            first = false;
            this.#state = "connecting";
            this.#events.emit("connecting", { attempt });
            if (signal.aborted)
                return;
            let ended;
            const end = new Promise((resolve) => (ended = resolve));
            const conn = new Connection({
                onPush: (c, f) => this.#push(c, f),
                onDatagram: (c, ok) => {
                    if (c === this.#conn)
                        this.#datagrams[ok ? "received" : "malformed"]++;
                },
                onTokenExpiring: (c) => this.#tokenExpiring(c),
                onRoomNotice: (c, f) => this.#roomNotice(c, f),
                onEnded: (_, e) => ended(e),
            });
            let rejoined;
            try {
                rejoined = await this.#dial(conn, signal);
            }
            catch (e) {
                if (signal.aborted)
                    return;
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
            if (signal.aborted || this.#conn !== conn)
                return;
            this.#conn = null;
            this.#connectionGone();
            if (result.error)
                this.#events.emit("error", result.error);
            const reconnect = shouldReconnect(result.code);
            if (!reconnect) {
                this.#stop(new QuicpushError(result.code, result.reason));
                return;
            }
            this.#state = "connecting";
            this.#events.emit("disconnected", { code: result.code, reason: result.reason, reconnect: true });
            if (signal.aborted)
                return;
            if (Date.now() - conn.openedAt >= this.#opts.backoffMaxMs)
                attempt = 0;
        }
    }
    async #dial(conn, signal) {
        const token = await this.#token(signal);
        const o = this.#opts;
        const wtURL = this.#endpoints.webtransport;
        const wsURL = this.#endpoints.websocket;
        let opened = false;
        let wtFailed = false;
        let rejoined = [];
        if (wtURL !== undefined && o.WebTransport !== null && !this.#preferWebSocket) {
            const d = deadline(signal, o.webTransportTimeoutMs, "opening webtransport");
            try {
                await conn.open(webTransportOpener({
                    url: wtURL,
                    WebTransport: o.WebTransport,
                    serverCertificateHashes: o.serverCertificateHashes,
                    maxFrame: o.maxFrame,
                }), d.signal);
                opened = true;
            }
            catch (e) {
                if (signal.aborted)
                    throw signal.reason;
                if (wsURL === undefined || o.WebSocket === null)
                    throw transportError("webtransport", e);
                wtFailed = true;
                this.#events.emit("error", transportError("webtransport (falling back to websocket)", e));
            }
            finally {
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
            rejoined = [...this.#rooms.values()];
            const rejoins = rejoined.map((r) => this.#rejoin(conn, r));
            await conn.authenticate(token, this.#userStream.position, rejoins, d.signal);
        }
        finally {
            d.done();
        }
        if (conn.kind === "webtransport")
            this.#webTransportWorked = true;
        else if (wtFailed && !this.#webTransportWorked)
            this.#preferWebSocket = true;
        return rejoined;
    }
    async #token(signal) {
        const src = this.#opts.token;
        if (typeof src === "string")
            return src;
        let token;
        try {
            token = await abortable(Promise.resolve().then(src), signal);
        }
        catch (e) {
            if (signal.aborted)
                throw e;
            throw new QuicpushError(ClientCode.TokenFailed, e instanceof Error ? e.message : String(e), { cause: e });
        }
        if (typeof token !== "string")
            throw new QuicpushError(ClientCode.TokenFailed, "the token function did not return a string");
        return token;
    }
    #install(conn, rejoined) {
        const from = this.#userStream.position;
        let reply = conn.resume;
        if (this.#streamUser !== "" && this.#streamUser !== conn.user) {
            this.#userStream = new StreamTracker();
            reply = { ...reply, recovery: Recovery.None };
        }
        this.#streamUser = conn.user;
        const outcome = this.#userStream.resumed(conn, from, reply);
        this.#conn = conn;
        this.#state = "connected";
        for (const r of rejoined) {
            if (!this.#rooms.has(r.name))
                conn.call({ op: Op.Leave, seq: 0, room: r.name }, { resolve: () => { }, reject: () => { } });
        }
        for (const r of this.#rooms.values())
            if (r.sentOn !== conn)
                this.#sendJoin(conn, r);
        this.#events.emit("connected", {
            transport: conn.kind,
            connKey: conn.connKey,
            user: conn.user,
            pingIntervalMs: conn.pingIntervalMs,
            revision: conn.revision,
        });
        if (this.#conn === conn)
            this.#report({ user: conn.user }, outcome);
        if (this.#conn === conn)
            settle(this.#connectWaiters);
        if (this.#conn === conn)
            conn.start();
    }
    #sendJoin(conn, r) {
        const j = this.#rejoin(conn, r);
        conn.call(j.frame, j.reply);
    }
    #rejoin(conn, r) {
        r.sentOn = conn;
        const from = r.stream.position;
        return { frame: { op: Op.Join, seq: 0, room: r.name, offset: from.offset, epoch: from.epoch }, reply: this.#joinReply(conn, r, from) };
    }
    #joinReply(conn, r, from) {
        return {
            resolve: (reply) => {
                if (r.sentOn === conn)
                    r.sentOn = null;
                if (this.#rooms.get(r.name) !== r)
                    return;
                if (reply.op === Op.JoinOK) {
                    r.joinedOn = conn;
                    r.tries = 0;
                    const outcome = r.stream.resumed(conn, from, reply);
                    if (this.#conn === conn)
                        this.#report({ room: r.name }, outcome);
                    settle(r.waiters);
                }
                else if (reply.op === Op.Error && reply.code === Code.Internal) {
                    r.tries++;
                    const retry = setTimeout(() => {
                        if (this.#conn === conn && this.#rooms.get(r.name) === r && r.joinedOn !== conn && r.sentOn === null) {
                            this.#sendJoin(conn, r);
                        }
                    }, backoffDelay(r.tries, this.#opts.backoffMinMs, this.#opts.backoffMaxMs));
                    retry.unref?.();
                }
                else if (reply.op === Op.Error) {
                    this.#rooms.delete(r.name);
                    settle(r.waiters, new QuicpushError(reply.code, reply.message));
                    if (r.server && this.#conn === conn)
                        this.#events.emit("unsubscribed", { room: r.name, code: reply.code, reason: reply.message });
                }
            },
            reject: () => {
                if (r.sentOn === conn)
                    r.sentOn = null;
            },
        };
    }
    #roomNotice(conn, f) {
        if (conn !== this.#conn)
            return;
        if (f.op === Op.Subscribed) {
            let r = this.#rooms.get(f.room);
            if (r === undefined) {
                r = newRoom(f.room, undefined);
                this.#rooms.set(f.room, r);
            }
            r.server = true;
            r.joinedOn = conn;
            r.tries = 0;
            if (f.recovery !== Recovery.None || f.offset !== 0n || f.epoch !== "")
                r.stream.resumed(conn, { offset: 0n, epoch: "" }, f);
            settle(r.waiters);
            this.#events.emit("subscribed", { room: f.room, position: r.stream.position });
            return;
        }
        const r = this.#rooms.get(f.room);
        if (r === undefined)
            return;
        if (f.op === Op.Unsubscribed) {
            this.#rooms.delete(f.room);
            settle(r.waiters, new QuicpushError(ClientCode.Left, `the server took the connection out of room ${JSON.stringify(f.room)}`));
            this.#events.emit("unsubscribed", { room: f.room, code: 0, reason: "" });
        }
        else if (f.op === Op.JoinLeave) {
            this.#events.emit("joinLeave", { room: f.room, joined: roomMembers(f.joined), left: roomMembers(f.left), omitted: f.omitted });
        }
    }
    #tokenExpiring(conn) {
        if (conn !== this.#conn || typeof this.#opts.token !== "function")
            return;
        if (this.#refreshing === conn) {
            this.#refreshAgain = true;
            return;
        }
        void this.#refresh(conn);
    }
    async #refresh(conn) {
        this.#refreshing = conn;
        try {
            do {
                this.#refreshAgain = false;
                await this.#refreshOnce(conn);
            } while (this.#refreshAgain && this.#conn === conn);
        }
        finally {
            if (this.#refreshing === conn) {
                this.#refreshing = null;
                this.#refreshAgain = false;
            }
        }
    }
    async #refreshOnce(conn) {
        const signal = this.#loop?.signal;
        if (signal === undefined || signal.aborted || conn !== this.#conn)
            return;
        let token;
        try {
            token = await this.#token(signal);
        }
        catch (e) {
            if (signal.aborted || conn !== this.#conn)
                return;
            this.#events.emit("error", e instanceof QuicpushError ? e : new QuicpushError(ClientCode.TokenFailed, String(e), { cause: e }));
            return;
        }
        if (conn !== this.#conn)
            return;
        const n = utf8.encode(token).length;
        if (n > MAX_TOKEN_LEN) {
            this.#events.emit("error", new QuicpushError(ClientCode.TokenFailed, `token refresh: a token of ${n} bytes, limit ${MAX_TOKEN_LEN}`));
            return;
        }
        let reply;
        try {
            reply = await this.#timed(conn.request({ op: Op.Refresh, seq: 0, token }), "token refresh");
        }
        catch (e) {
            if (conn !== this.#conn || !(e instanceof QuicpushError) || e.code === ClientCode.TransportFailed)
                return;
            this.#events.emit("error", e);
            return;
        }
        if (reply.op === Op.Error && conn === this.#conn) {
            this.#events.emit("error", new QuicpushError(reply.code, reply.message));
        }
    }
    #report(stream, o) {
        if (o.kind === "recovered") {
            this.#events.emit("recovered", { stream, from: o.from, position: o.position, missed: o.missed });
        }
        else if (o.kind === "notRecovered") {
            this.#events.emit("notRecovered", { stream, from: o.from, position: o.position });
        }
    }
    #push(conn, f) {
        if (conn !== this.#conn)
            return;
        let room;
        let stream;
        if (f.kind === PushKind.Room) {
            room = this.#rooms.get(f.room);
            if (room === undefined)
                return;
            stream = room.stream;
        }
        else if (f.kind === PushKind.Direct && (f.offset !== 0n || f.epoch !== "")) {
            stream = this.#userStream;
        }
        const ephemeral = isEphemeral(f);
        if (ephemeral)
            stream = undefined;
        if (stream !== undefined && !stream.accept(f.offset, f.epoch))
            return;
        const m = {
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
            }
            catch (e) {
                this.#events.emit("error", new QuicpushError(ClientCode.ListenerFailed, `the handler of room ${JSON.stringify(f.room)} threw`, { cause: e }));
            }
        }
        if (stream !== undefined && this.#conn === conn) {
            this.#report(room ? { room: room.name } : { user: conn.user }, stream.delivered(conn, f.offset, f.epoch));
        }
    }
    #connectionGone() {
        this.#userStream.interrupted();
        for (const r of this.#rooms.values()) {
            r.joinedOn = null;
            r.sentOn = null;
            r.stream.interrupted();
        }
    }
    #stop(err) {
        this.#loop = null;
        this.#stopError = err;
        this.#conn = null;
        this.#state = "disconnected";
        this.#connectionGone();
        this.#events.emit("disconnected", { code: err.code, reason: err.reason, reconnect: false });
        settle(this.#connectWaiters, err);
        for (const r of this.#rooms.values())
            settle(r.waiters, err);
    }
    #wait(set, what) {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                set.delete(w);
                reject(new QuicpushError(ClientCode.Timeout, `${what}: no answer within ${this.#opts.requestTimeoutMs} ms`));
            }, this.#opts.requestTimeoutMs);
            const w = {
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
    #timed(p, what) {
        const ms = this.#opts.requestTimeoutMs;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new QuicpushError(ClientCode.Timeout, `${what}: no answer within ${ms} ms`)), ms);
            p.then((v) => {
                clearTimeout(timer);
                resolve(v);
            }, (e) => {
                clearTimeout(timer);
                reject(e);
            });
        });
    }
}
function newRoom(name, handler) {
    return { name, stream: new StreamTracker(), handler, joinedOn: null, sentOn: null, tries: 0, waiters: new Set(), server: false };
}
function roomMembers(ms) {
    return ms.map((m) => {
        const infoBytes = m.info.slice();
        let info;
        if (infoBytes.length > 0) {
            try {
                info = JSON.parse(utf8Decoder.decode(infoBytes));
            }
            catch {
                info = undefined;
            }
        }
        return { user: m.user, connKey: m.connKey, info, infoBytes };
    });
}
function closedError() {
    return new QuicpushError(ClientCode.Closed, "client closed");
}
function settle(set, err) {
    const ws = [...set];
    set.clear();
    for (const w of ws) {
        if (err)
            w.reject(err);
        else
            w.resolve();
    }
}
function checkRoom(room) {
    if (typeof room !== "string" || room === "")
        return new QuicpushError(Code.BadRequest, "empty room name");
    const n = utf8.encode(room).length;
    if (n > MAX_ROOM_LEN)
        return new QuicpushError(Code.BadRequest, `room name of ${n} bytes, limit ${MAX_ROOM_LEN}`);
    return undefined;
}
function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal.aborted)
            return resolve(false);
        const onAbort = () => {
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
