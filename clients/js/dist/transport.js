import { ClientCode, QuicpushError } from "./errors.js";
export function abortable(p, signal) {
    if (signal.aborted)
        return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
        const onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
        p.then((v) => {
            signal.removeEventListener("abort", onAbort);
            resolve(v);
        }, (e) => {
            signal.removeEventListener("abort", onAbort);
            reject(e);
        });
    });
}
export function deadline(parent, ms, what) {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(parent.reason);
    const timer = setTimeout(() => ctl.abort(new QuicpushError(ClientCode.Timeout, `${what} took longer than ${ms} ms`)), ms);
    if (parent.aborted)
        ctl.abort(parent.reason);
    else
        parent.addEventListener("abort", onAbort, { once: true });
    return {
        signal: ctl.signal,
        done() {
            clearTimeout(timer);
            parent.removeEventListener("abort", onAbort);
        },
    };
}
export function transportError(what, e) {
    if (e instanceof QuicpushError)
        return e;
    const detail = e instanceof Error ? e.message || e.name : String(e);
    return new QuicpushError(ClientCode.TransportFailed, `${what}: ${detail}`, { cause: e });
}
export function noop() {
}
