/** A listener of event K of the event map E. */
export type Listener<E, K extends keyof E> = (event: E[K]) => void;
/**
 * A minimal typed event emitter. Listeners run synchronously in the order they
 * were added; one that throws does not stop the others, and its error is
 * handed to `onListenerError`.
 */
export declare class Emitter<E> {
    private readonly onListenerError;
    private readonly listeners;
    constructor(onListenerError: (event: keyof E, error: unknown) => void);
    on<K extends keyof E>(event: K, listener: Listener<E, K>): () => void;
    off<K extends keyof E>(event: K, listener: Listener<E, K>): void;
    emit<K extends keyof E>(event: K, value: E[K]): void;
}
