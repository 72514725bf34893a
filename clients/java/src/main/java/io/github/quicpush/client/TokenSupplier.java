package io.github.quicpush.client;

/**
 * Gets a client token (a JWT) from the application's backend. The client calls it before every connect and when
 * the edge says the token is about to expire (then it sends the fresh token without reconnecting). It runs on one
 * of the client's background threads, never the callback executor, so it may block on a network call.
 */
@FunctionalInterface
public interface TokenSupplier {
    String get() throws Exception;
}
