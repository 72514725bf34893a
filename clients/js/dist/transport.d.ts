import type { PushFrame, RawFrame } from "./codec.js";
import { QuicpushError } from "./errors.js";
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
export declare function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T>;
/** A signal that aborts with `parent`, or with a Timeout error after `ms`. */
export declare function deadline(parent: AbortSignal, ms: number, what: string): {
    signal: AbortSignal;
    done(): void;
};
/** Wraps any failure of a transport as a QuicpushError. */
export declare function transportError(what: string, e: unknown): QuicpushError;
/** Swallows a rejection nobody waits for. */
export declare function noop(): void;
