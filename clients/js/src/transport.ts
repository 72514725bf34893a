import type { PushFrame, RawFrame } from "./codec.js";
import { ClientCode, QuicpushError } from "./errors.js";

/** The transports a browser can use. */
export type TransportKind = "webtransport" | "websocket";

/** How a transport ended when the client did not close it. */
export interface TransportClose {
  /**
   * The close code the transport carried: the WebTransport session error
   * code or the WebSocket close status; 0 when there was none.
   */
  code: number;
  reason: string;
  /** A local failure that ended it, such as a frame that does not decode. */
  error?: QuicpushError;
}

/** What a transport reports to its connection. */
export interface TransportHandlers {
  /** Frames read, in order. */
  onFrames(frames: RawFrame[]): void;
  /**
   * An ephemeral push read from a datagram (revision 4, WebTransport only),
   * or undefined for a malformed datagram, which was dropped.
   */
  onDatagram?(frame: PushFrame | undefined): void;
  /** Called once when the transport ends, unless the client closed it. */
  onClose(info: TransportClose): void;
}

/**
 * One open connection carrying frames both ways. The session model above it
 * never sees WebTransport or WebSocket.
 */
export interface Transport {
  readonly kind: TransportKind;
  /** Writes one whole frame. Failures surface through onClose. */
  send(frame: Uint8Array): void;
  /** Closes the transport; onClose is not called after it. */
  close(reason: string): void;
}

/** Opens a transport; rejects when it fails or when `signal` aborts. */
export type TransportOpener = (handlers: TransportHandlers, signal: AbortSignal) => Promise<Transport>;

/** Rejects with the signal's reason when it aborts before `p` settles. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** A signal that aborts with `parent`, or with a Timeout error after `ms`. */
export function deadline(parent: AbortSignal, ms: number, what: string): { signal: AbortSignal; done(): void } {
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort(parent.reason);
  const timer = setTimeout(
    () => ctl.abort(new QuicpushError(ClientCode.Timeout, `${what} took longer than ${ms} ms`)),
    ms,
  );
  if (parent.aborted) ctl.abort(parent.reason);
  else parent.addEventListener("abort", onAbort, { once: true });
  return {
    signal: ctl.signal,
    done() {
      clearTimeout(timer);
      parent.removeEventListener("abort", onAbort);
    },
  };
}

/** Wraps any failure of a transport as a QuicpushError. */
export function transportError(what: string, e: unknown): QuicpushError {
  if (e instanceof QuicpushError) return e;
  const detail = e instanceof Error ? e.message || e.name : String(e);
  return new QuicpushError(ClientCode.TransportFailed, `${what}: ${detail}`, { cause: e });
}

/** Swallows a rejection nobody waits for. */
export function noop(): void {
  // Nothing to do.
}
