import { splitFrames, WEBSOCKET_PROTOCOL, WireError } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { transportError } from "./transport.js";
export function webSocketOpener(p) {
    return (handlers, signal) => {
        if (signal.aborted)
            return Promise.reject(signal.reason);
        let ws;
        try {
            ws = new p.WebSocket(p.url, WEBSOCKET_PROTOCOL);
        }
        catch (e) {
            return Promise.reject(transportError("websocket", e));
        }
        ws.binaryType = "arraybuffer";
        return new Promise((resolve, reject) => {
            const settle = (err) => {
                signal.removeEventListener("abort", onAbort);
                ws.onopen = null;
                ws.onclose = null;
                ws.onerror = null;
                if (err === undefined)
                    resolve(new WebSocketTransport(ws, handlers, p.maxFrame));
                else
                    reject(err);
            };
            const onAbort = () => {
                ws.close();
                settle(signal.reason);
            };
            signal.addEventListener("abort", onAbort, { once: true });
            ws.onopen = () => settle();
            ws.onerror = () => {
            };
            ws.onclose = (ev) => settle(new QuicpushError(ClientCode.TransportFailed, `websocket closed while opening (${ev.code})`));
        });
    };
}
const utf8 = new TextEncoder();
class WebSocketTransport {
    ws;
    handlers;
    maxFrame;
    kind = "websocket";
    closing = false;
    constructor(ws, handlers, maxFrame) {
        this.ws = ws;
        this.handlers = handlers;
        this.maxFrame = maxFrame;
        ws.onmessage = (ev) => this.message(ev.data);
        ws.onclose = (ev) => {
            if (this.closing)
                return;
            this.closing = true;
            this.handlers.onClose({ code: ev.code, reason: ev.reason });
        };
        ws.onerror = () => {
        };
    }
    send(frame) {
        if (this.closing)
            return;
        this.ws.send(frame);
    }
    close(reason) {
        if (this.closing)
            return;
        this.closing = true;
        this.closeSocket(reason);
    }
    closeSocket(reason) {
        let r = reason;
        while (utf8.encode(r).length > 123)
            r = r.slice(0, -8);
        try {
            this.ws.close(1000, r);
        }
        catch {
        }
    }
    message(data) {
        if (this.closing)
            return;
        let bytes;
        if (data instanceof ArrayBuffer)
            bytes = new Uint8Array(data);
        else if (ArrayBuffer.isView(data))
            bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        else
            return this.fail(new WireError("malformed", "text message"));
        let frames;
        try {
            frames = splitFrames(bytes, this.maxFrame);
        }
        catch (e) {
            return this.fail(e);
        }
        this.handlers.onFrames(frames);
    }
    fail(e) {
        this.closing = true;
        this.closeSocket("bad frame");
        const message = e instanceof Error ? e.message : String(e);
        this.handlers.onClose({
            code: 0,
            reason: message,
            error: new QuicpushError(ClientCode.BadFrame, message, { cause: e }),
        });
    }
}
