import { Recovery } from "./codec.js";
export class StreamTracker {
    offset = 0n;
    epoch = "";
    #replay = null;
    get position() {
        return { offset: this.offset, epoch: this.epoch };
    }
    accept(offset, epoch) {
        if (offset === 0n && epoch === "")
            return true;
        if (epoch === this.epoch && offset <= this.offset)
            return false;
        this.offset = offset;
        this.epoch = epoch;
        return true;
    }
    resumed(conn, from, reply) {
        this.#replay = null;
        const to = { offset: reply.offset, epoch: reply.epoch };
        if (reply.recovery === Recovery.Recovered) {
            if (this.epoch === to.epoch && this.offset >= to.offset) {
                return { kind: "recovered", from, position: this.position, missed: 0 };
            }
            this.#replay = { conn, from, to, missed: 0 };
            return { kind: "none" };
        }
        if (reply.recovery === Recovery.None && to.offset === 0n && to.epoch === "")
            return { kind: "none" };
        if (!(this.epoch === to.epoch && this.offset > to.offset)) {
            this.offset = to.offset;
            this.epoch = to.epoch;
        }
        if (reply.recovery === Recovery.NotRecovered)
            return { kind: "notRecovered", from, position: this.position };
        return { kind: "none" };
    }
    delivered(conn, offset, epoch) {
        const r = this.#replay;
        if (r === null || r.conn !== conn || (offset === 0n && epoch === ""))
            return { kind: "none" };
        r.missed++;
        if (epoch === r.to.epoch && offset < r.to.offset)
            return { kind: "none" };
        this.#replay = null;
        return { kind: "recovered", from: r.from, position: this.position, missed: r.missed };
    }
    interrupted() {
        this.#replay = null;
    }
}
