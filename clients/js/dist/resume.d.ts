import { Recovery } from "./codec.js";
/**
 * A place in a stream (protocol section 11): the offset of the last message
 * seen, within an epoch; 0n and "" for none. Offsets grow within an epoch but
 * not one by one; offsets of different epochs are never compared.
 */
export interface StreamPosition {
    offset: bigint;
    epoch: string;
}
/**
 * The answer of AuthOK or JoinOK to the position a client sent: the result,
 * and the stream's position when the edge read it.
 */
export interface ResumeReply {
    recovery: Recovery;
    offset: bigint;
    epoch: string;
}
/** What a resume reply means for the application: nothing, or an event to emit. */
export type ResumeOutcome = {
    kind: "none";
}
/** Everything missed was replayed (`missed` messages), or nothing was missed. */
 | {
    kind: "recovered";
    from: StreamPosition;
    position: StreamPosition;
    missed: number;
}
/** Messages after `from` are gone; live ones after `position` follow. */
 | {
    kind: "notRecovered";
    from: StreamPosition;
    position: StreamPosition;
};
/**
 * The client's place in one stream (a room's, or the user's): it drops
 * repeated pushes and follows a resume, from the reply to the end of a
 * replay. It holds no timer and knows no transport, so a position carries
 * over to whatever connection comes next. `C` identifies a connection.
 */
export declare class StreamTracker<C = unknown> {
    #private;
    offset: bigint;
    epoch: string;
    /** The position now. */
    get position(): StreamPosition;
    /**
     * Whether a push at (offset, epoch) is new, moving the position to it if
     * so. A push of the current epoch at or below the current offset is a
     * repeat (delivery is at least once); one of another epoch starts a new
     * position. A push without a position (0n and "") is always new.
     */
    accept(offset: bigint, epoch: string): boolean;
    /**
     * Applies the edge's answer to a resume from `from` on `conn`. `none` and
     * `not recovered`: the client now stands at the reply's position (or at a
     * later one of the same epoch that a push read before the reply gave it).
     * `recovered`: the position stays where it is and the replayed messages
     * move it; the outcome is `recovered` at once when nothing was missed, and
     * otherwise comes from {@link StreamTracker.delivered} after the last
     * replayed message.
     *
     * A `none` reply without a position (from an edge of revision 1, or a
     * stream without history) leaves the position as it is, so that a later
     * edge can still resume from it.
     */
    resumed(conn: C, from: StreamPosition, reply: ResumeReply): ResumeOutcome;
    /**
     * Reports that a push at (offset, epoch), accepted on `conn`, was
     * delivered. Ends a replay with `recovered` once it reaches the reply's
     * position (or leaves its epoch).
     */
    delivered(conn: C, offset: bigint, epoch: string): ResumeOutcome;
    /** Forgets a replay cut by the end of its connection: the next resume reports afresh. */
    interrupted(): void;
}
