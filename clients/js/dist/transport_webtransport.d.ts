import { type TransportOpener } from "./transport.js";
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
/**
 * Returns an opener of WebTransport connections: a session to the edge, then
 * one bidirectional stream opened by the client, carrying frames both ways.
 */
export declare function webTransportOpener(p: WebTransportParams): TransportOpener;
