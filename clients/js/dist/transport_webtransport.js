import { decodeDatagram, FrameDecoder, WireError } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { abortable, noop, transportError, } from "./transport.js";
const CLOSE_INFO_WAIT_MS = 1000;
export function webTransportOpener(p) {
    return async (handlers, signal) => {
        if (signal.aborted)
            throw signal.reason;
        const options = {};
        if (p.serverCertificateHashes.length > 0) {
            options.serverCertificateHashes = p.serverCertificateHashes.map((value) => ({ algorithm: "sha-256", value }));
        }
        let wt;
        try {
            wt = new p.WebTransport(p.url, options);
        }
        catch (e) {
            throw transportError("webtransport", e);
        }
        wt.ready.catch(noop);
        wt.closed.catch(noop);
        try {
            await abortable(wt.ready, signal);
            const stream = await abortable(wt.createBidirectionalStream(), signal);
            return new WebTransportTransport(wt, stream, handlers, p.maxFrame);
        }
        catch (e) {
            closeQuietly(wt, "connect failed");
            throw transportError("webtransport", e);
        }
    };
}
function closeQuietly(wt, reason) {
    try {
        wt.close({ closeCode: 0, reason });
    }
    catch {
    }
}
class WebTransportTransport {
    wt;
    handlers;
    kind = "webtransport";
    closing = false;
    writer;
    constructor(wt, stream, handlers, maxFrame) {
        this.wt = wt;
        this.handlers = handlers;
        this.writer = stream.writable.getWriter();
        void this.readLoop(stream.readable.getReader(), maxFrame);
        void this.datagramLoop(maxFrame);
    }
    send(frame) {
        if (this.closing)
            return;
        this.writer.write(frame).catch(noop);
    }
    close(reason) {
        if (this.closing)
            return;
        this.closing = true;
        closeQuietly(this.wt, reason);
    }
    async datagramLoop(maxFrame) {
        let reader;
        try {
            reader = this.wt.datagrams.readable.getReader();
        }
        catch {
            return;
        }
        try {
            for (;;) {
                const { value, done } = await reader.read();
                if (done || this.closing)
                    return;
                let f;
                try {
                    f = decodeDatagram(value, maxFrame);
                }
                catch {
                    f = undefined;
                }
                this.handlers.onDatagram?.(f);
            }
        }
        catch {
        }
    }
    async readLoop(reader, maxFrame) {
        const decoder = new FrameDecoder(maxFrame);
        let reason = "stream ended";
        try {
            for (;;) {
                const { value, done } = await reader.read();
                if (this.closing)
                    return;
                if (done)
                    break;
                const frames = decoder.push(value);
                if (frames.length > 0) {
                    this.handlers.onFrames(frames);
                    if (this.closing)
                        return;
                    decoder.push(new Uint8Array());
                }
                if (this.closing)
                    return;
            }
            if (decoder.pending > 0)
                reason = `stream ended ${decoder.pending} bytes into a frame`;
        }
        catch (e) {
            if (this.closing)
                return;
            if (e instanceof WireError) {
                this.closing = true;
                closeQuietly(this.wt, "bad frame");
                this.handlers.onClose({
                    code: 0,
                    reason: e.message,
                    error: new QuicpushError(ClientCode.BadFrame, e.message, { cause: e }),
                });
                return;
            }
            reason = e instanceof Error ? e.message : String(e);
        }
        const info = await this.closeInfo(reason);
        if (this.closing)
            return;
        this.closing = true;
        closeQuietly(this.wt, "stream ended");
        this.handlers.onClose(info);
    }
    closeInfo(fallback) {
        return new Promise((resolve) => {
            const timer = setTimeout(() => resolve({ code: 0, reason: fallback }), CLOSE_INFO_WAIT_MS);
            this.wt.closed.then((ci) => {
                clearTimeout(timer);
                resolve({ code: ci.closeCode ?? 0, reason: ci.reason ?? "" });
            }, (e) => {
                clearTimeout(timer);
                resolve({ code: 0, reason: e instanceof Error ? e.message : fallback });
            });
        });
    }
}
