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
export type ResumeOutcome =
  | { kind: "none" }
  /** Everything missed was replayed (`missed` messages), or nothing was missed. */
  | { kind: "recovered"; from: StreamPosition; position: StreamPosition; missed: number }
  /** Messages after `from` are gone; live ones after `position` follow. */
  | { kind: "notRecovered"; from: StreamPosition; position: StreamPosition };

/** A replay under way: the messages after a Recovered reply, up to its position. */
interface Replay<C> {
  /** The connection the replay comes on; another one's pushes do not count. */
  conn: C;
  from: StreamPosition;
  to: StreamPosition;
  missed: number;
}

/**
 * The client's place in one stream (a room's, or the user's): it drops
 * repeated pushes and follows a resume, from the reply to the end of a
 * replay. It holds no timer and knows no transport, so a position carries
 * over to whatever connection comes next. `C` identifies a connection.
 */
export class StreamTracker<C = unknown> {
  offset = 0n;
  epoch = "";
  #replay: Replay<C> | null = null;

  /** The position now. */
  get position(): StreamPosition {
    return { offset: this.offset, epoch: this.epoch };
  }

  /**
   * Whether a push at (offset, epoch) is new, moving the position to it if
   * so. A push of the current epoch at or below the current offset is a
   * repeat (delivery is at least once); one of another epoch starts a new
   * position. A push without a position (0n and "") is always new.
   */
  accept(offset: bigint, epoch: string): boolean {
    if (offset === 0n && epoch === "") return true;
    if (epoch === this.epoch && offset <= this.offset) return false;
    this.offset = offset;
    this.epoch = epoch;
    return true;
  }

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
  resumed(conn: C, from: StreamPosition, reply: ResumeReply): ResumeOutcome {
    this.#replay = null;
    const to = { offset: reply.offset, epoch: reply.epoch };
    if (reply.recovery === Recovery.Recovered) {
      if (this.epoch === to.epoch && this.offset >= to.offset) {
        return { kind: "recovered", from, position: this.position, missed: 0 };
      }
      this.#replay = { conn, from, to, missed: 0 };
      return { kind: "none" };
    }
    if (reply.recovery === Recovery.None && to.offset === 0n && to.epoch === "") return { kind: "none" };
    if (!(this.epoch === to.epoch && this.offset > to.offset)) {
      this.offset = to.offset;
      this.epoch = to.epoch;
    }
    if (reply.recovery === Recovery.NotRecovered) return { kind: "notRecovered", from, position: this.position };
    return { kind: "none" };
  }

  /**
   * Reports that a push at (offset, epoch), accepted on `conn`, was
   * delivered. Ends a replay with `recovered` once it reaches the reply's
   * position (or leaves its epoch).
   */
  delivered(conn: C, offset: bigint, epoch: string): ResumeOutcome {
    const r = this.#replay;
    if (r === null || r.conn !== conn || (offset === 0n && epoch === "")) return { kind: "none" };
    r.missed++;
    if (epoch === r.to.epoch && offset < r.to.offset) return { kind: "none" };
    this.#replay = null;
    return { kind: "recovered", from: r.from, position: this.position, missed: r.missed };
  }

  /** Forgets a replay cut by the end of its connection: the next resume reports afresh. */
  interrupted(): void {
    this.#replay = null;
  }
}
