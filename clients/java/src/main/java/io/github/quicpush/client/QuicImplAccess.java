package io.github.quicpush.client;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import tech.kwik.core.QuicClientConnection;

/**
 * The few calls of Kwik's connection class that its {@link QuicClientConnection} interface lacks: whether the edge
 * accepted the early data, moving to a new local socket, and sending a PING. They are public methods of
 * {@code QuicClientConnectionImpl}, but that class implements interfaces of Kwik's TLS library, which Kwik
 * declares as a runtime-only dependency, so the compiler cannot see the class; they are looked up once, by name.
 */
final class QuicImplAccess {

    private static final String IMPL = "tech.kwik.core.impl.QuicClientConnectionImpl";

    private QuicImplAccess() {}

    /**
     * Whether the edge accepted the 0-RTT data. Kwik 0.10.8's own {@code isEarlyDataAccepted()} always answers
     * false; the status it keeps (None, Requested, Accepted, Refused) is right, so that is what is read.
     */
    static boolean isEarlyDataAccepted(QuicClientConnection conn) {
        return String.valueOf(call(conn, "getEarlyDataStatus")).equals("Accepted");
    }

    static void changeAddress(QuicClientConnection conn) {
        call(conn, "changeAddress");
    }

    static void ping(QuicClientConnection conn) {
        call(conn, "ping");
    }

    /**
     * Turns off Kwik's server name check, which runs after (and regardless of) a custom trust manager and knows
     * only DNS names, so a pinned dial to {@code 127.0.0.1} would fail although the pin matched. A pin replaces the
     * name check (docs/protocol.md section 2.5); {@link CertPins} has already checked the leaf when this runs.
     */
    static void acceptAnyServerName(QuicClientConnection conn) {
        try {
            Class<?> impl = Class.forName(IMPL, false, QuicClientConnection.class.getClassLoader());
            Field f = impl.getDeclaredField("tlsEngine");
            f.setAccessible(true);
            Object engine = f.get(conn);
            ClassLoader loader = engine.getClass().getClassLoader();
            Class<?> verifier = Class.forName("tech.kwik.agent15.engine.HostnameVerifier", false, loader);
            Object anyName = Proxy.newProxyInstance(loader, new Class<?>[] {verifier}, (proxy, method, args) ->
                    switch (method.getName()) {
                        case "verify" -> Boolean.TRUE;
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> "pinned certificate: any server name";
                    });
            Method set = engine.getClass().getMethod("setHostnameVerifier", verifier);
            set.invoke(engine, anyName);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new UnsupportedOperationException(
                    "this Kwik version does not let a pinned dial skip its server name check", e);
        }
    }

    private static Object call(QuicClientConnection conn, String name) {
        try {
            Class<?> impl = Class.forName(IMPL, false, QuicClientConnection.class.getClassLoader());
            if (!impl.isInstance(conn)) {
                throw new UnsupportedOperationException("Kwik connection of class " + conn.getClass().getName());
            }
            Method m = impl.getMethod(name);
            return m.invoke(conn);
        } catch (InvocationTargetException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException("Kwik " + name + ": " + c, c);
        } catch (ReflectiveOperationException e) {
            throw new UnsupportedOperationException("this Kwik version has no " + IMPL + "." + name + "()", e);
        }
    }
}
