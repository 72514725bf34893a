package io.github.quicpush.client.wire;

/**
 * Decoding cost of the stream path: FrameReader plus body() over room pushes with a 100-byte payload. Prints bytes
 * allocated and nanoseconds per push after a warm-up. Run (from clients/java):
 *
 * <pre>
 * mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java -cp target/classes:target/test-classes:$(cat target/cp.txt) io.github.quicpush.client.wire.CodecBench [pushes]
 * </pre>
 */
public final class CodecBench {
    private CodecBench() {}

    public static void main(String[] args) throws Exception {
        long n = args.length > 0 ? Long.parseLong(args[0]) : 1_000_000;
        long sink = 0;
        for (int round = 0; round < 5; round++) {
            sink += PushStream.drain(new FrameReader(new PushStream(n / 5), 0));
        }
        for (int round = 0; round < 3; round++) {
            PushStream in = new PushStream(n);
            FrameReader r = new FrameReader(in, 0);
            long bytes0 = PushStream.allocated();
            long t0 = System.nanoTime();
            sink += PushStream.drain(r);
            long t1 = System.nanoTime();
            long bytes1 = PushStream.allocated();
            System.out.printf("%d pushes of %d bytes on the wire: %.1f bytes allocated/push, %.1f ns/push, "
                            + "%.0f MB/s, %d reads (%.1f pushes/read)%n",
                    n, in.frameSize(), (double) (bytes1 - bytes0) / n, (double) (t1 - t0) / n,
                    (double) n * in.frameSize() / ((t1 - t0) / 1e9) / 1e6, in.reads(), (double) n / in.reads());
        }
        // The same pushes decoded one whole frame at a time (the datagram path): no reader, so no shared names.
        PushStream frames = new PushStream(0);
        byte[] block = frames.block();
        int size = frames.frameSize();
        for (int round = 0; round < 4; round++) {
            long bytes0 = PushStream.allocated();
            long t0 = System.nanoTime();
            for (long i = 0; i < n; i++) {
                int off = (int) (i % (block.length / size)) * size;
                Push p = (Push) Frames.decode(block, off, size, 0).body();
                sink += p.offset() + p.data().length;
            }
            long t1 = System.nanoTime();
            long bytes1 = PushStream.allocated();
            if (round > 0) {
                System.out.printf("Frames.decode of one whole frame: %.1f bytes allocated/push, %.1f ns/push%n",
                        (double) (bytes1 - bytes0) / n, (double) (t1 - t0) / n);
            }
        }
        System.out.println("checksum " + sink);
    }
}
