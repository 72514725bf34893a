import { type TransportOpener } from "./transport.js";
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
export declare function webSocketOpener(p: WebSocketParams): TransportOpener;
