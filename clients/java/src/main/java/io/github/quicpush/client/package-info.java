/**
 * The quicpush client for Android and the JVM: raw QUIC first, framed TCP (optionally TLS) as fallback, resume
 * with stream positions, connection migration and 0-RTT. See clients/java/README.md.
 */
@NullMarked
package io.github.quicpush.client;

import org.jspecify.annotations.NullMarked;
