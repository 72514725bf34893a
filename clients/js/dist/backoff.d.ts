/**
 * Returns the delay before retry `attempt` (from 0) with "full jitter": uniform
 * in [0, min(maxMs, minMs * 2^attempt)). Spreading the whole range, rather than
 * adding a little noise to a fixed curve, keeps the clients of a drained edge
 * from coming back in waves.
 *
 * @param random returns a uniform number in [0, 1); default Math.random.
 */
export declare function backoffDelay(attempt: number, minMs: number, maxMs: number, random?: () => number): number;
