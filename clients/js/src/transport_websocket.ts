import { splitFrames, WEBSOCKET_PROTOCOL, WireError } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";
import { transportError, type Transport, type TransportHandlers, type TransportOpener } from "./transport.js";

/** Parameters of a WebSocket connection. */
export interface WebSocketParams {
  /** ws or wss URL of the edge's WebSocket path, e.g. ws://host:4434/ws. */
  url: string;
  /** The WebSocket constructor (the browser's, or a stand-in). */
  WebSocket: typeof WebSocket;
  /** The largest frame accepted from the edge, header included. */
  maxFrame: number;
}

/**
 * Returns an opener of WebSocket connections with the quicpush.v1
 * subprotocol: binary messages, each holding whole frames; the client sends
 * one frame per message.
 */
export function webSocketOpener(p: WebSocketParams): TransportOpener {
  return (handlers, signal) => {
    if (signal.aborted) return Promise.reject(signal.reason);
    let ws: WebSocket;
    try {
      ws = new p.WebSocket(p.url, WEBSOCKET_PROTOCOL);
    } catch (e) {
      return Promise.reject(transportError("websocket", e));
    }
    ws.binaryType = "arraybuffer";
    return new Promise<Transport>((resolve, reject) => {
      const settle = (err?: unknown): void => {
        signal.removeEventListener("abort", onAbort);
        ws.onopen = null;
        ws.onclose = null;
        ws.onerror = null;
        if (err === undefined) resolve(new WebSocketTransport(ws, handlers, p.maxFrame));
        else reject(err);
      };
      const onAbort = (): void => {
        ws.close();
        settle(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      ws.onopen = () => settle();
      ws.onerror = () => {
        // A close event with the details follows.
      };
      ws.onclose = (ev) =>
        settle(new QuicpushError(ClientCode.TransportFailed, `websocket closed while opening (${ev.code})`));
    });
  };
}

const utf8 = new TextEncoder();

class WebSocketTransport implements Transport {
  readonly kind = "websocket";
  private closing = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly handlers: TransportHandlers,
    private readonly maxFrame: number,
  ) {
    ws.onmessage = (ev: MessageEvent<unknown>) => this.message(ev.data);
    ws.onclose = (ev) => {
      if (this.closing) return;
      this.closing = true;
      this.handlers.onClose({ code: ev.code, reason: ev.reason });
    };
    ws.onerror = () => {
      // The close event follows.
    };
  }

  send(frame: Uint8Array): void {
    if (this.closing) return;
    this.ws.send(frame as Uint8Array<ArrayBuffer>);
  }

  close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeSocket(reason);
  }

  private closeSocket(reason: string): void {
    // A close reason is limited to 123 bytes of UTF-8.
    let r = reason;
    while (utf8.encode(r).length > 123) r = r.slice(0, -8);
    try {
      this.ws.close(1000, r);
    } catch {
      // Already closing.
    }
  }

  private message(data: unknown): void {
    if (this.closing) return;
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return this.fail(new WireError("malformed", "text message"));
    let frames;
    try {
      frames = splitFrames(bytes, this.maxFrame);
    } catch (e) {
      return this.fail(e);
    }
    this.handlers.onFrames(frames);
  }

  private fail(e: unknown): void {
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
