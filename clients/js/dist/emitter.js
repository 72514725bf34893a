export class Emitter {
    onListenerError;
    listeners = new Map();
    constructor(onListenerError) {
        this.onListenerError = onListenerError;
    }
    on(event, listener) {
        let set = this.listeners.get(event);
        if (set === undefined) {
            set = new Set();
            this.listeners.set(event, set);
        }
        set.add(listener);
        return () => this.off(event, listener);
    }
    off(event, listener) {
        this.listeners.get(event)?.delete(listener);
    }
    emit(event, value) {
        const set = this.listeners.get(event);
        if (set === undefined)
            return;
        for (const listener of [...set]) {
            try {
                listener(value);
            }
            catch (e) {
                this.onListenerError(event, e);
            }
        }
    }
}
