/**
 * @quicpush/client/api: the push API client for Node backends, generated
 * from proto/quicpush/push/v1/push.proto with protobuf-es and connect-es.
 *
 * Unlike the browser client (`@quicpush/client`), this entry point has
 * runtime dependencies: `@bufbuild/protobuf`, `@connectrpc/connect` and
 * `@connectrpc/connect-node`, optional peer dependencies of the package that
 * a backend installs next to it. See README.md.
 *
 * @module
 */
export { DEFAULT_PUSH_TIMEOUT_MS, bearerAuth, createPushClient, createPushTransport, type PushClient, type PushClientOptions, type PushProtocol, } from "./client.js";
export * from "./gen/quicpush/push/v1/push_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";
