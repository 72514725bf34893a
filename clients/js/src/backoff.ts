/**
 * Returns the delay before retry `attempt` (from 0) with "full jitter": uniform
 * in [0, min(maxMs, minMs * 2^attempt)). Spreading the whole range, rather than
 * adding a little noise to a fixed curve, keeps the clients of a drained edge
 * from coming back in waves.
 *
 * @param random returns a uniform number in [0, 1); default Math.random.
 */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  let ceiling = minMs;
  for (let i = 0; i < attempt && ceiling < maxMs; i++) ceiling *= 2;
  ceiling = Math.min(ceiling, maxMs);
  if (ceiling <= 0) return 0;
  return Math.floor(random() * ceiling);
}
