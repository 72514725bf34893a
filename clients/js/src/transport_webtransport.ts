import { decodeDatagram, FrameDecoder, WireError, type PushFrame } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";
import {
  abortable,
  noop,
  transportError,
  type Transport,
  type TransportClose,
  type TransportHandlers,
  type TransportOpener,
} from "./transport.js";

/** Parameters of a WebTransport connection. */
export interface WebTransportParams {
  /** https URL of the edge's WebTransport path, e.g. https://host:4433/wt. */
  url: string;
  /** The WebTransport constructor (the browser's, or a stand-in). */
  WebTransport: typeof WebTransport;
  /** SHA-256 hashes of a self-signed certificate; empty for a CA-signed one. */
  serverCertificateHashes: readonly Uint8Array<ArrayBuffer>[];
  /** The largest frame accepted from the edge, header included. */
  maxFrame: number;
}

/** How long to wait for the session's close code after the stream ended. */
const CLOSE_INFO_WAIT_MS = 1000;

/**
 * Returns an opener of WebTransport connections: a session to the edge, then
 * one bidirectional stream opened by the client, carrying frames both ways.
 */
export function webTransportOpener(p: WebTransportParams): TransportOpener {
  return async (handlers, signal) => {
    if (signal.aborted) throw signal.reason;
    const options: WebTransportOptions = {};
    if (p.serverCertificateHashes.length > 0) {
      options.serverCertificateHashes = p.serverCertificateHashes.map((value) => ({ algorithm: "sha-256", value }));
    }
    let wt: WebTransport;
    try {
      wt = new p.WebTransport(p.url, options);
    } catch (e) {
      throw transportError("webtransport", e);
    }
    // Both promises reject when the session fails; nobody may be awaiting
    // them then.
    wt.ready.catch(noop);
    wt.closed.catch(noop);
    try {
      await abortable(wt.ready, signal);
      const stream = await abortable(wt.createBidirectionalStream(), signal);
      return new WebTransportTransport(wt, stream, handlers, p.maxFrame);
    } catch (e) {
      closeQuietly(wt, "connect failed");
      throw transportError("webtransport", e);
    }
  };
}

function closeQuietly(wt: WebTransport, reason: string): void {
  try {
    wt.close({ closeCode: 0, reason });
  } catch {
    // Closing a session that failed or is still connecting may throw.
  }
}

class WebTransportTransport implements Transport {
  readonly kind = "webtransport";
  private closing = false;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(
    private readonly wt: WebTransport,
    stream: WebTransportBidirectionalStream,
    private readonly handlers: TransportHandlers,
    maxFrame: number,
  ) {
    this.writer = stream.writable.getWriter();
    void this.readLoop(stream.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>, maxFrame);
    void this.datagramLoop(maxFrame);
  }

  send(frame: Uint8Array): void {
    if (this.closing) return;
    // A failed write also fails the read side, which reports the end.
    this.writer.write(frame).catch(noop);
  }

  close(reason: string): void {
    if (this.closing) return;
    this.closing = true;
    closeQuietly(this.wt, reason);
  }

  /**
   * Reads the session's datagrams (revision 4): each is one ephemeral Push
   * frame. A malformed one is reported and dropped, never fatal: it cannot
   * desynchronize the stream. Ends with the session.
   */
  private async datagramLoop(maxFrame: number): Promise<void> {
    let reader: ReadableStreamDefaultReader<Uint8Array>;
    try {
      reader = this.wt.datagrams.readable.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    } catch {
      return; // no datagrams on this session
    }
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.closing) return;
        let f: PushFrame | undefined;
        try {
          f = decodeDatagram(value, maxFrame);
        } catch {
          f = undefined;
        }
        this.handlers.onDatagram?.(f);
      }
    } catch {
      // The session ended; the stream's reader reports how.
    }
  }

  private async readLoop(reader: ReadableStreamDefaultReader<Uint8Array>, maxFrame: number): Promise<void> {
    const decoder = new FrameDecoder(maxFrame);
    let reason = "stream ended";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (this.closing) return;
        if (done) break;
        const frames = decoder.push(value);
        if (frames.length > 0) {
          this.handlers.onFrames(frames);
          if (this.closing) return;
          // Frames ahead of a bad one come first; the error, held back by
          // the decoder, surfaces now.
          decoder.push(new Uint8Array());
        }
        if (this.closing) return;
      }
      if (decoder.pending > 0) reason = `stream ended ${decoder.pending} bytes into a frame`;
    } catch (e) {
      if (this.closing) return;
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
    if (this.closing) return;
    this.closing = true;
    closeQuietly(this.wt, "stream ended");
    this.handlers.onClose(info);
  }

  /**
   * The session's close code and reason: the edge ends the stream, then
   * closes the session with the disconnect code, so wait a little for it.
   */
  private closeInfo(fallback: string): Promise<TransportClose> {
    return new Promise<TransportClose>((resolve) => {
      const timer = setTimeout(() => resolve({ code: 0, reason: fallback }), CLOSE_INFO_WAIT_MS);
      this.wt.closed.then(
        (ci) => {
          clearTimeout(timer);
          resolve({ code: ci.closeCode ?? 0, reason: ci.reason ?? "" });
        },
        (e: unknown) => {
          clearTimeout(timer);
          // Chromium rejects with a WebTransportError whose source is
          // "session" when the peer closed abruptly, and with "Connection
          // lost" and no code even after the edge's own close: the code then
          // comes from the Disconnect frame, which the connection has read
          // by now and which wins over this close.
          resolve({ code: 0, reason: e instanceof Error ? e.message : fallback });
        },
      );
    });
  }
}
