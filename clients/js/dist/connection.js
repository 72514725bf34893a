import { decodeBody, encodeFrame, Op, Recovery, VERSION, WireError, } from "./codec.js";
import { isDisconnectCode } from "./codes.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { abortable } from "./transport.js";
export const connectionLost = () => new QuicpushError(ClientCode.TransportFailed, "connection lost");
export class Connection {
    callbacks;
    openedAt = 0;
    connKey = "";
    user = "";
    pingIntervalMs = 0;
    maxFrame = 0;
    resume = { recovery: Recovery.None, offset: 0n, epoch: "" };
    revision = 0;
    transport = null;
    seq = 0;
    pending = new Map();
    state = "auth";
    authWaiter = null;
    heartbeat;
    lastFrameAt = 0;
    pingSentAt = -1;
    held = null;
    heldEnd = null;
    handlers = {
        onFrames: (frames) => this.frames(frames),
        onDatagram: (f) => this.datagram(f),
        onClose: (info) => this.transportClosed(info),
    };
    constructor(callbacks) {
        this.callbacks = callbacks;
    }
    get kind() {
        return this.transport.kind;
    }
    async open(opener, signal) {
        this.transport = await opener(this.handlers, signal);
    }
    async authenticate(token, from, rejoins, signal) {
        const reply = new Promise((resolve, reject) => {
            this.authWaiter = {
                frame: (f) => {
                    if (f.op === Op.AuthOK)
                        resolve(f);
                    else if (f.op === Op.Disconnect)
                        reject(new QuicpushError(f.code, f.reason));
                },
                closed: (info) => {
                    if (info.error)
                        reject(info.error);
                    else if (isDisconnectCode(info.code))
                        reject(new QuicpushError(info.code, info.reason));
                    else
                        reject(new QuicpushError(ClientCode.TransportFailed, `closed during auth: ${info.reason || info.code}`));
                },
            };
        });
        this.send({ op: Op.Auth, seq: this.nextSeq(), version: VERSION, token, offset: from.offset, epoch: from.epoch, joins: rejoins.length });
        for (const j of rejoins) {
            const seq = this.nextSeq();
            this.pending.set(seq, j.reply);
            this.send({ ...j.frame, seq });
        }
        let ok;
        try {
            ok = await abortable(reply, signal);
        }
        catch (e) {
            if (this.state !== "ended") {
                this.state = "ended";
                this.heldEnd = null;
                clearInterval(this.heartbeat);
                this.transport?.close("auth failed");
            }
            const lost = connectionLost();
            for (const p of this.pending.values())
                p.reject(lost);
            this.pending.clear();
            throw e;
        }
        finally {
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
        this.heartbeat = setInterval(() => this.tick(), Math.min(this.pingIntervalMs, 2_147_483_647));
    }
    start() {
        const held = this.held;
        this.held = null;
        for (const f of held ?? []) {
            if (this.state === "ended")
                return;
            this.frame(f);
        }
        const e = this.heldEnd;
        this.heldEnd = null;
        if (e)
            this.end(e.end, e.transportGone);
    }
    request(frame) {
        return new Promise((resolve, reject) => this.call(frame, { resolve, reject }));
    }
    call(frame, reply) {
        if (this.state !== "open") {
            reply.reject(connectionLost());
            return;
        }
        const seq = this.nextSeq();
        this.pending.set(seq, reply);
        this.send({ ...frame, seq });
    }
    close(reason) {
        this.end({ code: 0, reason, byClient: true });
    }
    nextSeq() {
        this.seq = this.seq >= 0xffffffff ? 1 : this.seq + 1;
        return this.seq;
    }
    send(frame) {
        this.transport?.send(encodeFrame(frame));
    }
    tick() {
        const now = performance.now();
        if (this.pingSentAt >= 0 && this.lastFrameAt < this.pingSentAt) {
            this.end({ code: 0, reason: `no reply to a ping within ${this.pingIntervalMs} ms`, byClient: false });
            return;
        }
        this.pingSentAt = now;
        this.send({ op: Op.Ping, seq: this.nextSeq() });
    }
    frames(raw) {
        for (const r of raw) {
            if (this.state === "ended")
                return;
            this.lastFrameAt = performance.now();
            let f;
            try {
                f = decodeBody(r.op, r.seq, r.body);
            }
            catch (e) {
                const message = e instanceof WireError ? e.message : String(e);
                this.end({
                    code: 0,
                    reason: message,
                    byClient: false,
                    error: new QuicpushError(ClientCode.BadFrame, message, { cause: e }),
                });
                return;
            }
            if (f === undefined)
                continue;
            this.frame(f);
        }
    }
    datagram(f) {
        if (this.state !== "open")
            return;
        this.callbacks.onDatagram?.(this, f !== undefined);
        if (f === undefined)
            return;
        if (this.held !== null)
            this.held.push(f);
        else
            this.callbacks.onPush(this, f);
    }
    frame(f) {
        if (f.op === Op.Ping) {
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
                if (p === undefined)
                    return;
                this.pending.delete(f.seq);
                p.resolve(f);
                return;
            }
            default:
                return;
        }
    }
    transportClosed(info) {
        if (this.state === "auth") {
            this.state = "ended";
            this.authWaiter?.closed(info);
            return;
        }
        const end = {
            code: isDisconnectCode(info.code) ? info.code : 0,
            reason: info.reason || (info.code ? `closed with ${info.code}` : "connection closed"),
            byClient: false,
        };
        if (info.error)
            end.error = info.error;
        this.end(end, true);
    }
    end(end, transportGone = false) {
        if (this.state === "ended")
            return;
        if (this.held !== null && !end.byClient) {
            this.heldEnd ??= { end, transportGone };
            return;
        }
        const wasOpen = this.state === "open";
        this.state = "ended";
        clearInterval(this.heartbeat);
        const err = connectionLost();
        for (const p of this.pending.values())
            p.reject(err);
        this.pending.clear();
        if (!transportGone)
            this.transport?.close(end.reason);
        if (wasOpen)
            this.callbacks.onEnded(this, end);
    }
}
