/** A listener of event K of the event map E. */
export type Listener<E, K extends keyof E> = (event: E[K]) => void;

/**
 * A minimal typed event emitter. Listeners run synchronously in the order they
 * were added; one that throws does not stop the others, and its error is
 * handed to `onListenerError`.
 */
export class Emitter<E> {
  private readonly listeners = new Map<keyof E, Set<Listener<E, keyof E>>>();

  constructor(private readonly onListenerError: (event: keyof E, error: unknown) => void) {}

  on<K extends keyof E>(event: K, listener: Listener<E, K>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<E, keyof E>);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: Listener<E, K>): void {
    this.listeners.get(event)?.delete(listener as Listener<E, keyof E>);
  }

  emit<K extends keyof E>(event: K, value: E[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<E, K>)(value);
      } catch (e) {
        this.onListenerError(event, e);
      }
    }
  }
}
