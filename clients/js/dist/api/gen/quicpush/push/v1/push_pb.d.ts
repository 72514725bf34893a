import type { GenFile, GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import type { Message } from "@bufbuild/protobuf";
/**
 * Describes the file quicpush/push/v1/push.proto.
 */
export declare const file_quicpush_push_v1_push: GenFile;
/**
 * PushKeysRequest targets connections by key.
 *
 * @generated from message quicpush.push.v1.PushKeysRequest
 */
export type PushKeysRequest = Message<"quicpush.push.v1.PushKeysRequest"> & {
    /**
     * Connection keys, as assigned by the edge at connect time. Required: 1 to
     * 1000 keys (the server's limit), each 1 to 255 bytes.
     *
     * @generated from field: repeated string keys = 1;
     */
    keys: string[];
    /**
     * Payload as bytes. In the JSON encoding data may also be any JSON value
     * other than a string (an object, array, number or boolean): the payload is
     * then that value's compact JSON text, delivered without another encoding; a
     * string is base64, and so is b64data, its explicit spelling. Exactly one of
     * data (or b64data) and text is set.
     *
     * @generated from field: bytes data = 2;
     */
    data: Uint8Array;
    /**
     * Payload as text, delivered as its UTF-8 bytes: lets JSON and curl users
     * send JSON or text without base64. Exactly one of data and text is set.
     *
     * @generated from field: string text = 3;
     */
    text: string;
    /**
     * Makes a retried call safe: a call with the key of an earlier successful
     * call (same API key, within the server's idempotency window, 10 minutes by
     * default) is not published again and gets the earlier reply. While the
     * first call is in flight a repeat fails with ABORTED. The key belongs to
     * the request it first came with: sent again within the window with any
     * other field different, the call fails with FAILED_PRECONDITION and
     * nothing is published (a new request needs a new key). Optional; at most
     * 128 bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
    /**
     * Marks the push ephemeral: superseded state (positions, typing, live
     * scores) whose latest value is all that matters. An ephemeral push is
     * never stored in history nor replayed on resume, gets no position in the
     * reply, may be dropped (a full datagram queue, a lost datagram), and may
     * arrive out of order relative to reliable pushes. Edges send it in a QUIC
     * or WebTransport datagram when it fits in one, on the connection's stream
     * otherwise (and always on TCP and WebSocket). Default false: reliable.
     *
     * @generated from field: bool ephemeral = 5;
     */
    ephemeral: boolean;
};
/**
 * Describes the message quicpush.push.v1.PushKeysRequest.
 * Use `create(PushKeysRequestSchema)` to create a new message.
 */
export declare const PushKeysRequestSchema: GenMessage<PushKeysRequest>;
/**
 * PushKeysResponse identifies the accepted message.
 *
 * @generated from message quicpush.push.v1.PushKeysResponse
 */
export type PushKeysResponse = Message<"quicpush.push.v1.PushKeysResponse"> & {
    /**
     * Unique id of the message, sortable by acceptance time (26 characters of
     * Crockford base32). Clients receive it with the payload.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the message: one record per bus partition the
     * targets were spread over (PushRoom and Broadcast always write one). With
     * Kafka these are topic partitions and offsets; the in-process bus has one
     * partition, 0, and counts offsets from 0 at each start.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
};
/**
 * Describes the message quicpush.push.v1.PushKeysResponse.
 * Use `create(PushKeysResponseSchema)` to create a new message.
 */
export declare const PushKeysResponseSchema: GenMessage<PushKeysResponse>;
/**
 * PushUsersRequest targets every connection of some users.
 *
 * @generated from message quicpush.push.v1.PushUsersRequest
 */
export type PushUsersRequest = Message<"quicpush.push.v1.PushUsersRequest"> & {
    /**
     * User ids, as found in the `sub` claim of client tokens. Required: 1 to
     * 1000 users (the server's limit), each 1 to 255 bytes.
     *
     * @generated from field: repeated string users = 1;
     */
    users: string[];
    /**
     * Payload as bytes. In the JSON encoding data may also be any JSON value
     * other than a string (an object, array, number or boolean): the payload is
     * then that value's compact JSON text, delivered without another encoding; a
     * string is base64, and so is b64data, its explicit spelling. Exactly one of
     * data (or b64data) and text is set.
     *
     * @generated from field: bytes data = 2;
     */
    data: Uint8Array;
    /**
     * Payload as text, delivered as its UTF-8 bytes. Exactly one of data and
     * text is set.
     *
     * @generated from field: string text = 3;
     */
    text: string;
    /**
     * Makes a retried call safe: a call with the key of an earlier successful
     * call (same API key, within the server's idempotency window, 10 minutes by
     * default) is not published again and gets the earlier reply. While the
     * first call is in flight a repeat fails with ABORTED. The key belongs to
     * the request it first came with: sent again within the window with any
     * other field different, the call fails with FAILED_PRECONDITION and
     * nothing is published (a new request needs a new key). Optional; at most
     * 128 bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
    /**
     * Marks the push ephemeral: superseded state (positions, typing, live
     * scores) whose latest value is all that matters. An ephemeral push is
     * never stored in history nor replayed on resume, gets no position in the
     * reply, may be dropped (a full datagram queue, a lost datagram), and may
     * arrive out of order relative to reliable pushes. Edges send it in a QUIC
     * or WebTransport datagram when it fits in one, on the connection's stream
     * otherwise (and always on TCP and WebSocket). Default false: reliable.
     *
     * @generated from field: bool ephemeral = 5;
     */
    ephemeral: boolean;
};
/**
 * Describes the message quicpush.push.v1.PushUsersRequest.
 * Use `create(PushUsersRequestSchema)` to create a new message.
 */
export declare const PushUsersRequestSchema: GenMessage<PushUsersRequest>;
/**
 * PushUsersResponse identifies the accepted message.
 *
 * @generated from message quicpush.push.v1.PushUsersResponse
 */
export type PushUsersResponse = Message<"quicpush.push.v1.PushUsersResponse"> & {
    /**
     * Unique id of the message, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the message: one record per bus partition the
     * targets were spread over (PushRoom and Broadcast always write one). With
     * Kafka these are topic partitions and offsets; the in-process bus has one
     * partition, 0, and counts offsets from 0 at each start.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
    /**
     * The message's position in each user's stream, in the order of the
     * request's users; users without history are left out, and all of them
     * when the history store could not be read as the push was accepted
     * (Redis down): the push is accepted and delivered all the same.
     *
     * @generated from field: repeated quicpush.push.v1.UserPosition positions = 3;
     */
    positions: UserPosition[];
};
/**
 * Describes the message quicpush.push.v1.PushUsersResponse.
 * Use `create(PushUsersResponseSchema)` to create a new message.
 */
export declare const PushUsersResponseSchema: GenMessage<PushUsersResponse>;
/**
 * PushRoomRequest targets every member of one room.
 *
 * @generated from message quicpush.push.v1.PushRoomRequest
 */
export type PushRoomRequest = Message<"quicpush.push.v1.PushRoomRequest"> & {
    /**
     * Room name. Required: 1 to 255 bytes of UTF-8 without control characters.
     *
     * @generated from field: string room = 1;
     */
    room: string;
    /**
     * Payload as bytes. In the JSON encoding data may also be any JSON value
     * other than a string (an object, array, number or boolean): the payload is
     * then that value's compact JSON text, delivered without another encoding; a
     * string is base64, and so is b64data, its explicit spelling. Exactly one of
     * data (or b64data) and text is set.
     *
     * @generated from field: bytes data = 2;
     */
    data: Uint8Array;
    /**
     * Payload as text, delivered as its UTF-8 bytes. Exactly one of data and
     * text is set.
     *
     * @generated from field: string text = 3;
     */
    text: string;
    /**
     * Makes a retried call safe: a call with the key of an earlier successful
     * call (same API key, within the server's idempotency window, 10 minutes by
     * default) is not published again and gets the earlier reply. While the
     * first call is in flight a repeat fails with ABORTED. The key belongs to
     * the request it first came with: sent again within the window with any
     * other field different, the call fails with FAILED_PRECONDITION and
     * nothing is published (a new request needs a new key). Optional; at most
     * 128 bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
    /**
     * Marks the push ephemeral: superseded state (positions, typing, live
     * scores) whose latest value is all that matters. An ephemeral push is
     * never stored in history nor replayed on resume, gets no position in the
     * reply, may be dropped (a full datagram queue, a lost datagram), and may
     * arrive out of order relative to reliable pushes. Edges send it in a QUIC
     * or WebTransport datagram when it fits in one, on the connection's stream
     * otherwise (and always on TCP and WebSocket). Default false: reliable.
     *
     * @generated from field: bool ephemeral = 5;
     */
    ephemeral: boolean;
};
/**
 * Describes the message quicpush.push.v1.PushRoomRequest.
 * Use `create(PushRoomRequestSchema)` to create a new message.
 */
export declare const PushRoomRequestSchema: GenMessage<PushRoomRequest>;
/**
 * PushRoomResponse identifies the accepted message.
 *
 * @generated from message quicpush.push.v1.PushRoomResponse
 */
export type PushRoomResponse = Message<"quicpush.push.v1.PushRoomResponse"> & {
    /**
     * Unique id of the message, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the message: one record per bus partition the
     * targets were spread over (PushRoom and Broadcast always write one). With
     * Kafka these are topic partitions and offsets; the in-process bus has one
     * partition, 0, and counts offsets from 0 at each start.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
    /**
     * The message's position in the room's stream: replaying the room's
     * history from the position before it, or a client resuming from it,
     * starts after this message. Unset when the room keeps no history, or when
     * the history store could not be read as the push was accepted (Redis
     * down): the push is accepted and delivered all the same.
     *
     * @generated from field: quicpush.push.v1.StreamPosition position = 3;
     */
    position?: StreamPosition | undefined;
};
/**
 * Describes the message quicpush.push.v1.PushRoomResponse.
 * Use `create(PushRoomResponseSchema)` to create a new message.
 */
export declare const PushRoomResponseSchema: GenMessage<PushRoomResponse>;
/**
 * BroadcastRequest targets every connection.
 *
 * @generated from message quicpush.push.v1.BroadcastRequest
 */
export type BroadcastRequest = Message<"quicpush.push.v1.BroadcastRequest"> & {
    /**
     * Payload as bytes. In the JSON encoding data may also be any JSON value
     * other than a string (an object, array, number or boolean): the payload is
     * then that value's compact JSON text, delivered without another encoding; a
     * string is base64, and so is b64data, its explicit spelling. Exactly one of
     * data (or b64data) and text is set.
     *
     * @generated from field: bytes data = 1;
     */
    data: Uint8Array;
    /**
     * Payload as text, delivered as its UTF-8 bytes. Exactly one of data and
     * text is set.
     *
     * @generated from field: string text = 2;
     */
    text: string;
    /**
     * Maximum number of connections per second each edge delivers this message
     * to, which spreads the reconnect or fetch storm a broadcast may cause.
     * Zero (the default) means as fast as possible.
     *
     * @generated from field: uint32 rate = 3;
     */
    rate: number;
    /**
     * Makes a retried call safe: a call with the key of an earlier successful
     * call (same API key, within the server's idempotency window, 10 minutes by
     * default) is not published again and gets the earlier reply. While the
     * first call is in flight a repeat fails with ABORTED. The key belongs to
     * the request it first came with: sent again within the window with any
     * other field different, the call fails with FAILED_PRECONDITION and
     * nothing is published (a new request needs a new key). Optional; at most
     * 128 bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
    /**
     * Marks the push ephemeral: superseded state (positions, typing, live
     * scores) whose latest value is all that matters. An ephemeral push is
     * never stored in history nor replayed on resume, gets no position in the
     * reply, may be dropped (a full datagram queue, a lost datagram), and may
     * arrive out of order relative to reliable pushes. Edges send it in a QUIC
     * or WebTransport datagram when it fits in one, on the connection's stream
     * otherwise (and always on TCP and WebSocket). Default false: reliable.
     * An ephemeral broadcast is not paced by rate: spread over seconds,
     * superseded state would reach most connections stale.
     *
     * @generated from field: bool ephemeral = 5;
     */
    ephemeral: boolean;
};
/**
 * Describes the message quicpush.push.v1.BroadcastRequest.
 * Use `create(BroadcastRequestSchema)` to create a new message.
 */
export declare const BroadcastRequestSchema: GenMessage<BroadcastRequest>;
/**
 * BroadcastResponse identifies the accepted message.
 *
 * @generated from message quicpush.push.v1.BroadcastResponse
 */
export type BroadcastResponse = Message<"quicpush.push.v1.BroadcastResponse"> & {
    /**
     * Unique id of the message, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the message: one record per bus partition the
     * targets were spread over (PushRoom and Broadcast always write one). With
     * Kafka these are topic partitions and offsets; the in-process bus has one
     * partition, 0, and counts offsets from 0 at each start.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
};
/**
 * Describes the message quicpush.push.v1.BroadcastResponse.
 * Use `create(BroadcastResponseSchema)` to create a new message.
 */
export declare const BroadcastResponseSchema: GenMessage<BroadcastResponse>;
/**
 * OnlineRequest asks for online counts.
 *
 * @generated from message quicpush.push.v1.OnlineRequest
 */
export type OnlineRequest = Message<"quicpush.push.v1.OnlineRequest"> & {
    /**
     * Rooms whose count to report; may be empty. At most 1000 rooms (the
     * server's limit), each 1 to 255 bytes.
     *
     * @generated from field: repeated string rooms = 1;
     */
    rooms: string[];
    /**
     * Number of most populated rooms to list in OnlineResponse.top: 0 (the
     * default) lists none, at most 100.
     *
     * @generated from field: uint32 top = 2;
     */
    top: number;
};
/**
 * Describes the message quicpush.push.v1.OnlineRequest.
 * Use `create(OnlineRequestSchema)` to create a new message.
 */
export declare const OnlineRequestSchema: GenMessage<OnlineRequest>;
/**
 * OnlineResponse holds online counts.
 *
 * @generated from message quicpush.push.v1.OnlineResponse
 */
export type OnlineResponse = Message<"quicpush.push.v1.OnlineResponse"> & {
    /**
     * Number of authenticated connections on all edges.
     *
     * @generated from field: int64 total = 1;
     */
    total: bigint;
    /**
     * Count of each room named in the request; an empty room has count 0.
     *
     * @generated from field: map<string, int64> rooms = 2;
     */
    rooms: {
        [key: string]: bigint;
    };
    /**
     * The most populated rooms, largest first; at most OnlineRequest.top entries.
     *
     * @generated from field: repeated quicpush.push.v1.RoomCount top = 3;
     */
    top: RoomCount[];
};
/**
 * Describes the message quicpush.push.v1.OnlineResponse.
 * Use `create(OnlineResponseSchema)` to create a new message.
 */
export declare const OnlineResponseSchema: GenMessage<OnlineResponse>;
/**
 * RoomCount is a room and its number of connections.
 *
 * @generated from message quicpush.push.v1.RoomCount
 */
export type RoomCount = Message<"quicpush.push.v1.RoomCount"> & {
    /**
     * Room name.
     *
     * @generated from field: string room = 1;
     */
    room: string;
    /**
     * Number of connections that joined the room.
     *
     * @generated from field: int64 count = 2;
     */
    count: bigint;
};
/**
 * Describes the message quicpush.push.v1.RoomCount.
 * Use `create(RoomCountSchema)` to create a new message.
 */
export declare const RoomCountSchema: GenMessage<RoomCount>;
/**
 * DisconnectRequest closes connections by key, by user, or both.
 *
 * @generated from message quicpush.push.v1.DisconnectRequest
 */
export type DisconnectRequest = Message<"quicpush.push.v1.DisconnectRequest"> & {
    /**
     * Connection keys to close, each 1 to 255 bytes. At least one key or user is
     * required; at most 1000 keys (the server's limit).
     *
     * @generated from field: repeated string keys = 1;
     */
    keys: string[];
    /**
     * Users whose every connection is closed, each 1 to 255 bytes. At most 1000
     * users (the server's limit).
     *
     * @generated from field: repeated string users = 2;
     */
    users: string[];
    /**
     * Whether the clients may connect again. True sends disconnect code 3006
     * (disconnected by server: reconnect with backoff); false (the default)
     * sends code 3504 (kicked: do not reconnect).
     *
     * @generated from field: bool reconnect = 3;
     */
    reconnect: boolean;
    /**
     * Human-readable reason sent to the clients with the code; optional, at
     * most 123 bytes of UTF-8 so that it also fits a WebSocket close frame.
     *
     * @generated from field: string reason = 4;
     */
    reason: string;
    /**
     * Makes a retried call safe: a call with the key of an earlier successful
     * call (same API key, within the server's idempotency window, 10 minutes by
     * default) is not published again and gets the earlier reply. While the
     * first call is in flight a repeat fails with ABORTED. The key belongs to
     * the request it first came with: sent again within the window with any
     * other field different, the call fails with FAILED_PRECONDITION and
     * nothing is published (a new request needs a new key). Optional; at most
     * 128 bytes.
     *
     * @generated from field: string idempotency_key = 5;
     */
    idempotencyKey: string;
};
/**
 * Describes the message quicpush.push.v1.DisconnectRequest.
 * Use `create(DisconnectRequestSchema)` to create a new message.
 */
export declare const DisconnectRequestSchema: GenMessage<DisconnectRequest>;
/**
 * DisconnectResponse identifies the accepted disconnect order.
 *
 * @generated from message quicpush.push.v1.DisconnectResponse
 */
export type DisconnectResponse = Message<"quicpush.push.v1.DisconnectResponse"> & {
    /**
     * Unique id of the disconnect order, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the message: one record per bus partition the
     * targets were spread over (PushRoom and Broadcast always write one). With
     * Kafka these are topic partitions and offsets; the in-process bus has one
     * partition, 0, and counts offsets from 0 at each start.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
};
/**
 * Describes the message quicpush.push.v1.DisconnectResponse.
 * Use `create(DisconnectResponseSchema)` to create a new message.
 */
export declare const DisconnectResponseSchema: GenMessage<DisconnectResponse>;
/**
 * BusRecord is the place of one bus record.
 *
 * @generated from message quicpush.push.v1.BusRecord
 */
export type BusRecord = Message<"quicpush.push.v1.BusRecord"> & {
    /**
     * Partition of the topic (always 0 on the in-process bus).
     *
     * @generated from field: int32 partition = 1;
     */
    partition: number;
    /**
     * Offset of the record within its partition.
     *
     * @generated from field: int64 offset = 2;
     */
    offset: bigint;
};
/**
 * Describes the message quicpush.push.v1.BusRecord.
 * Use `create(BusRecordSchema)` to create a new message.
 */
export declare const BusRecordSchema: GenMessage<BusRecord>;
/**
 * StreamPosition is a place in a room's or a user's message stream. Offsets
 * grow within an epoch (not one by one: they come from the bus); a new epoch
 * means the stream's past was lost and offsets start over.
 *
 * @generated from message quicpush.push.v1.StreamPosition
 */
export type StreamPosition = Message<"quicpush.push.v1.StreamPosition"> & {
    /**
     * Offset of the message; 0 means "before the first message".
     *
     * @generated from field: uint64 offset = 1;
     */
    offset: bigint;
    /**
     * Epoch of the stream.
     *
     * @generated from field: string epoch = 2;
     */
    epoch: string;
};
/**
 * Describes the message quicpush.push.v1.StreamPosition.
 * Use `create(StreamPositionSchema)` to create a new message.
 */
export declare const StreamPositionSchema: GenMessage<StreamPosition>;
/**
 * UserPosition is a message's position in one user's stream.
 *
 * @generated from message quicpush.push.v1.UserPosition
 */
export type UserPosition = Message<"quicpush.push.v1.UserPosition"> & {
    /**
     * The user.
     *
     * @generated from field: string user = 1;
     */
    user: string;
    /**
     * The position.
     *
     * @generated from field: quicpush.push.v1.StreamPosition position = 2;
     */
    position?: StreamPosition | undefined;
};
/**
 * Describes the message quicpush.push.v1.UserPosition.
 * Use `create(UserPositionSchema)` to create a new message.
 */
export declare const UserPositionSchema: GenMessage<UserPosition>;
/**
 * HistoryRequest asks for the messages of one stream after a position.
 *
 * @generated from message quicpush.push.v1.HistoryRequest
 */
export type HistoryRequest = Message<"quicpush.push.v1.HistoryRequest"> & {
    /**
     * The stream: a room's or a user's. Exactly one is set.
     *
     * @generated from oneof quicpush.push.v1.HistoryRequest.stream
     */
    stream: {
        /**
         * Room name, 1 to 255 bytes.
         *
         * @generated from field: string room = 1;
         */
        value: string;
        case: "room";
    } | {
        /**
         * User id, 1 to 255 bytes.
         *
         * @generated from field: string user = 2;
         */
        value: string;
        case: "user";
    } | {
        case: undefined;
        value?: undefined;
    };
    /**
     * Return the messages after this position. Unset (or offset 0) means from
     * the oldest message still held.
     *
     * @generated from field: quicpush.push.v1.StreamPosition since = 3;
     */
    since?: StreamPosition | undefined;
    /**
     * Most messages to return: 1 to 1000; 0 means 100.
     *
     * @generated from field: uint32 limit = 4;
     */
    limit: number;
};
/**
 * Describes the message quicpush.push.v1.HistoryRequest.
 * Use `create(HistoryRequestSchema)` to create a new message.
 */
export declare const HistoryRequestSchema: GenMessage<HistoryRequest>;
/**
 * HistoryResponse holds messages of a stream, oldest first.
 *
 * @generated from message quicpush.push.v1.HistoryResponse
 */
export type HistoryResponse = Message<"quicpush.push.v1.HistoryResponse"> & {
    /**
     * The messages after the requested position, at most the limit.
     *
     * @generated from field: repeated quicpush.push.v1.HistoryMessage messages = 1;
     */
    messages: HistoryMessage[];
    /**
     * The stream's latest position when it was read.
     *
     * @generated from field: quicpush.push.v1.StreamPosition top = 2;
     */
    top?: StreamPosition | undefined;
    /**
     * True when messages right after the requested position are no longer
     * held (trimmed by size or age, or the position is from another epoch):
     * messages then starts at the oldest message still held, and the caller
     * missed what lies between.
     *
     * @generated from field: bool truncated = 3;
     */
    truncated: boolean;
    /**
     * True when more messages follow the last one returned (the limit was
     * reached): ask again from its position.
     *
     * @generated from field: bool more = 4;
     */
    more: boolean;
};
/**
 * Describes the message quicpush.push.v1.HistoryResponse.
 * Use `create(HistoryResponseSchema)` to create a new message.
 */
export declare const HistoryResponseSchema: GenMessage<HistoryResponse>;
/**
 * HistoryMessage is one message of a stream.
 *
 * @generated from message quicpush.push.v1.HistoryMessage
 */
export type HistoryMessage = Message<"quicpush.push.v1.HistoryMessage"> & {
    /**
     * The message id the push call returned.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Its position in the stream.
     *
     * @generated from field: quicpush.push.v1.StreamPosition position = 2;
     */
    position?: StreamPosition | undefined;
    /**
     * The payload.
     *
     * @generated from field: bytes data = 3;
     */
    data: Uint8Array;
    /**
     * When the push API accepted it, in milliseconds since the Unix epoch.
     *
     * @generated from field: int64 accepted_unix_ms = 4;
     */
    acceptedUnixMs: bigint;
};
/**
 * Describes the message quicpush.push.v1.HistoryMessage.
 * Use `create(HistoryMessageSchema)` to create a new message.
 */
export declare const HistoryMessageSchema: GenMessage<HistoryMessage>;
/**
 * PresenceRequest asks for one page of a room's present users.
 *
 * @generated from message quicpush.push.v1.PresenceRequest
 */
export type PresenceRequest = Message<"quicpush.push.v1.PresenceRequest"> & {
    /**
     * Room name. Required: 1 to 255 bytes.
     *
     * @generated from field: string room = 1;
     */
    room: string;
    /**
     * Most users to return: 1 to 1000; 0 means 100.
     *
     * @generated from field: uint32 limit = 2;
     */
    limit: number;
    /**
     * Where to resume: PresenceResponse.next_cursor of the previous page.
     * Empty starts at the first user. Opaque; at most 512 bytes.
     *
     * @generated from field: string cursor = 3;
     */
    cursor: string;
};
/**
 * Describes the message quicpush.push.v1.PresenceRequest.
 * Use `create(PresenceRequestSchema)` to create a new message.
 */
export declare const PresenceRequestSchema: GenMessage<PresenceRequest>;
/**
 * PresenceResponse is one page of a room's present users.
 *
 * @generated from message quicpush.push.v1.PresenceResponse
 */
export type PresenceResponse = Message<"quicpush.push.v1.PresenceResponse"> & {
    /**
     * Users present, ordered by user id, at most the request's limit; empty
     * when listed is false.
     *
     * @generated from field: repeated quicpush.push.v1.PresenceUser users = 1;
     */
    users: PresenceUser[];
    /**
     * False when the room has more members on some edge than that edge lists
     * (1000 by default): the room is then "counts only" and users is empty;
     * connections and user_count still hold.
     *
     * @generated from field: bool listed = 2;
     */
    listed: boolean;
    /**
     * True when more users follow this page: ask again with next_cursor.
     *
     * @generated from field: bool truncated = 3;
     */
    truncated: boolean;
    /**
     * Cursor of the next page; empty when truncated is false.
     *
     * @generated from field: string next_cursor = 4;
     */
    nextCursor: string;
    /**
     * Number of connections in the room on all edges.
     *
     * @generated from field: int64 connections = 5;
     */
    connections: bigint;
    /**
     * Number of distinct users in the room, as PresenceStatsResponse.users.
     *
     * @generated from field: int64 user_count = 6;
     */
    userCount: bigint;
};
/**
 * Describes the message quicpush.push.v1.PresenceResponse.
 * Use `create(PresenceResponseSchema)` to create a new message.
 */
export declare const PresenceResponseSchema: GenMessage<PresenceResponse>;
/**
 * PresenceUser is one present user and its connections in the room.
 *
 * @generated from message quicpush.push.v1.PresenceUser
 */
export type PresenceUser = Message<"quicpush.push.v1.PresenceUser"> & {
    /**
     * The user id (the token's `sub`).
     *
     * @generated from field: string user = 1;
     */
    user: string;
    /**
     * The user's connections in the room, ordered by key.
     *
     * @generated from field: repeated quicpush.push.v1.PresenceConnection connections = 2;
     */
    connections: PresenceConnection[];
};
/**
 * Describes the message quicpush.push.v1.PresenceUser.
 * Use `create(PresenceUserSchema)` to create a new message.
 */
export declare const PresenceUserSchema: GenMessage<PresenceUser>;
/**
 * PresenceConnection is one connection present in a room.
 *
 * @generated from message quicpush.push.v1.PresenceConnection
 */
export type PresenceConnection = Message<"quicpush.push.v1.PresenceConnection"> & {
    /**
     * Connection key, usable with PushKeys and Disconnect.
     *
     * @generated from field: string key = 1;
     */
    key: string;
    /**
     * Id of the edge holding the connection.
     *
     * @generated from field: string edge = 2;
     */
    edge: string;
    /**
     * The `info` claim of the connection's token, a JSON object of at most
     * 1 KiB, as the client's token carried it; empty when it had none.
     *
     * @generated from field: string info = 3;
     */
    info: string;
};
/**
 * Describes the message quicpush.push.v1.PresenceConnection.
 * Use `create(PresenceConnectionSchema)` to create a new message.
 */
export declare const PresenceConnectionSchema: GenMessage<PresenceConnection>;
/**
 * PresenceStatsRequest asks for a room's presence counts.
 *
 * @generated from message quicpush.push.v1.PresenceStatsRequest
 */
export type PresenceStatsRequest = Message<"quicpush.push.v1.PresenceStatsRequest"> & {
    /**
     * Room name. Required: 1 to 255 bytes.
     *
     * @generated from field: string room = 1;
     */
    room: string;
};
/**
 * Describes the message quicpush.push.v1.PresenceStatsRequest.
 * Use `create(PresenceStatsRequestSchema)` to create a new message.
 */
export declare const PresenceStatsRequestSchema: GenMessage<PresenceStatsRequest>;
/**
 * PresenceStatsResponse holds a room's presence counts.
 *
 * @generated from message quicpush.push.v1.PresenceStatsResponse
 */
export type PresenceStatsResponse = Message<"quicpush.push.v1.PresenceStatsResponse"> & {
    /**
     * Number of connections in the room on all edges.
     *
     * @generated from field: int64 connections = 1;
     */
    connections: bigint;
    /**
     * Number of distinct users in the room: a user connected on several
     * edges counts once. Exact while every edge lists the room (users_exact);
     * otherwise the edges past the listing threshold add their own distinct
     * users, so a user on two of them counts twice.
     *
     * @generated from field: int64 users = 2;
     */
    users: bigint;
    /**
     * Whether users is exact (see users).
     *
     * @generated from field: bool users_exact = 3;
     */
    usersExact: boolean;
};
/**
 * Describes the message quicpush.push.v1.PresenceStatsResponse.
 * Use `create(PresenceStatsResponseSchema)` to create a new message.
 */
export declare const PresenceStatsResponseSchema: GenMessage<PresenceStatsResponse>;
/**
 * SubscribeRequest puts users or connections in a room.
 *
 * @generated from message quicpush.push.v1.SubscribeRequest
 */
export type SubscribeRequest = Message<"quicpush.push.v1.SubscribeRequest"> & {
    /**
     * The room, 1 to 255 bytes.
     *
     * @generated from field: string room = 1;
     */
    room: string;
    /**
     * Users to put in the room, each 1 to 255 bytes: every connection they have
     * now, and every one they open while the server remembers the room (24 hours
     * after the user's last connection or subscription by default). At least one
     * user or key is required; at most 1000 users (the server's limit).
     *
     * @generated from field: repeated string users = 2;
     */
    users: string[];
    /**
     * Connection keys to put in the room, each 1 to 255 bytes; the room ends with
     * the connection. At most 1000 keys (the server's limit).
     *
     * @generated from field: repeated string keys = 3;
     */
    keys: string[];
    /**
     * Makes a retried call safe, as in DisconnectRequest. Optional; at most 128
     * bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
};
/**
 * Describes the message quicpush.push.v1.SubscribeRequest.
 * Use `create(SubscribeRequestSchema)` to create a new message.
 */
export declare const SubscribeRequestSchema: GenMessage<SubscribeRequest>;
/**
 * SubscribeResponse identifies the accepted subscription.
 *
 * @generated from message quicpush.push.v1.SubscribeResponse
 */
export type SubscribeResponse = Message<"quicpush.push.v1.SubscribeResponse"> & {
    /**
     * Unique id of the order, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the order, as in DisconnectResponse.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
};
/**
 * Describes the message quicpush.push.v1.SubscribeResponse.
 * Use `create(SubscribeResponseSchema)` to create a new message.
 */
export declare const SubscribeResponseSchema: GenMessage<SubscribeResponse>;
/**
 * UnsubscribeRequest takes users or connections out of a room.
 *
 * @generated from message quicpush.push.v1.UnsubscribeRequest
 */
export type UnsubscribeRequest = Message<"quicpush.push.v1.UnsubscribeRequest"> & {
    /**
     * The room, 1 to 255 bytes.
     *
     * @generated from field: string room = 1;
     */
    room: string;
    /**
     * Users to take out of the room, each 1 to 255 bytes: every connection they
     * have, and the server forgets the room for them. At least one user or key is
     * required; at most 1000 users (the server's limit).
     *
     * @generated from field: repeated string users = 2;
     */
    users: string[];
    /**
     * Connection keys to take out of the room, each 1 to 255 bytes. At most 1000
     * keys (the server's limit).
     *
     * @generated from field: repeated string keys = 3;
     */
    keys: string[];
    /**
     * Makes a retried call safe, as in DisconnectRequest. Optional; at most 128
     * bytes.
     *
     * @generated from field: string idempotency_key = 4;
     */
    idempotencyKey: string;
};
/**
 * Describes the message quicpush.push.v1.UnsubscribeRequest.
 * Use `create(UnsubscribeRequestSchema)` to create a new message.
 */
export declare const UnsubscribeRequestSchema: GenMessage<UnsubscribeRequest>;
/**
 * UnsubscribeResponse identifies the accepted order.
 *
 * @generated from message quicpush.push.v1.UnsubscribeResponse
 */
export type UnsubscribeResponse = Message<"quicpush.push.v1.UnsubscribeResponse"> & {
    /**
     * Unique id of the order, sortable by acceptance time.
     *
     * @generated from field: string message_id = 1;
     */
    messageId: string;
    /**
     * Where the bus stored the order, as in DisconnectResponse.
     *
     * @generated from field: repeated quicpush.push.v1.BusRecord bus_records = 2;
     */
    busRecords: BusRecord[];
};
/**
 * Describes the message quicpush.push.v1.UnsubscribeResponse.
 * Use `create(UnsubscribeResponseSchema)` to create a new message.
 */
export declare const UnsubscribeResponseSchema: GenMessage<UnsubscribeResponse>;
/**
 * PushService takes pushes and disconnect orders from backends and answers
 * online counts and room presence.
 *
 * Limits shared by the methods below (the server may be configured lower or
 * higher; the defaults are given):
 *   - a payload (data, b64data or text; JSON-valued data counts its compact
 *     JSON text) is 1 byte to 60 KiB;
 *   - a call names at most 1000 keys, 1000 users or 1000 rooms;
 *   - a key, user id or room name is 1 to 255 bytes of UTF-8 without control
 *     characters.
 *
 * @generated from service quicpush.push.v1.PushService
 */
export declare const PushService: GenService<{
    /**
     * PushKeys sends a payload to connections by connection key.
     *
     * @generated from rpc quicpush.push.v1.PushService.PushKeys
     */
    pushKeys: {
        methodKind: "unary";
        input: typeof PushKeysRequestSchema;
        output: typeof PushKeysResponseSchema;
    };
    /**
     * PushUsers sends a payload to every connection of some users.
     *
     * @generated from rpc quicpush.push.v1.PushService.PushUsers
     */
    pushUsers: {
        methodKind: "unary";
        input: typeof PushUsersRequestSchema;
        output: typeof PushUsersResponseSchema;
    };
    /**
     * PushRoom sends a payload to every member of one room.
     *
     * @generated from rpc quicpush.push.v1.PushService.PushRoom
     */
    pushRoom: {
        methodKind: "unary";
        input: typeof PushRoomRequestSchema;
        output: typeof PushRoomResponseSchema;
    };
    /**
     * Broadcast sends a payload to every connection.
     *
     * @generated from rpc quicpush.push.v1.PushService.Broadcast
     */
    broadcast: {
        methodKind: "unary";
        input: typeof BroadcastRequestSchema;
        output: typeof BroadcastResponseSchema;
    };
    /**
     * Online reports online counts: the total, the count of some rooms and the
     * most populated rooms. Counts are eventually consistent across edges.
     *
     * @generated from rpc quicpush.push.v1.PushService.Online
     */
    online: {
        methodKind: "unary";
        input: typeof OnlineRequestSchema;
        output: typeof OnlineResponseSchema;
    };
    /**
     * Disconnect closes connections by key or user. Clients receive a
     * disconnect code that tells them whether to reconnect.
     *
     * @generated from rpc quicpush.push.v1.PushService.Disconnect
     */
    disconnect: {
        methodKind: "unary";
        input: typeof DisconnectRequestSchema;
        output: typeof DisconnectResponseSchema;
    };
    /**
     * History returns a room's or a user's recent messages, oldest first,
     * after a position.
     *
     * @generated from rpc quicpush.push.v1.PushService.History
     */
    history: {
        methodKind: "unary";
        input: typeof HistoryRequestSchema;
        output: typeof HistoryResponseSchema;
    };
    /**
     * Presence lists the users present in a room, with each user's
     * connections, a page of users at a time (ordered by user id). Rooms past
     * the listing threshold on some edge answer with counts only (listed is
     * false): see PresenceResponse. Eventually consistent across edges.
     *
     *   curl -H 'Authorization: Bearer KEY' -H 'Content-Type: application/json' \
     *     -d '{"room":"lobby","limit":100}' \
     *     http://HOST/quicpush.push.v1.PushService/Presence
     *
     * @generated from rpc quicpush.push.v1.PushService.Presence
     */
    presence: {
        methodKind: "unary";
        input: typeof PresenceRequestSchema;
        output: typeof PresenceResponseSchema;
    };
    /**
     * PresenceStats counts a room's connections and distinct users, whatever
     * its size.
     *
     * @generated from rpc quicpush.push.v1.PushService.PresenceStats
     */
    presenceStats: {
        methodKind: "unary";
        input: typeof PresenceStatsRequestSchema;
        output: typeof PresenceStatsResponseSchema;
    };
    /**
     * Subscribe puts users (every connection they have, on every edge, and
     * every connection they open later while the server remembers the room) or
     * single connections in a room. Clients learn it from a Subscribed frame
     * (protocol revision 5). The call returns once the order is accepted, not
     * once the edges applied it: a push to the room made right after may reach
     * the room before the connections are in it, and they do not get it (the
     * Subscribed frame's position says where their membership starts). Push
     * what they must see after the client reported the subscription, or to
     * the users directly.
     *
     * @generated from rpc quicpush.push.v1.PushService.Subscribe
     */
    subscribe: {
        methodKind: "unary";
        input: typeof SubscribeRequestSchema;
        output: typeof SubscribeResponseSchema;
    };
    /**
     * Unsubscribe takes users or connections out of a room, and makes the server
     * forget the room for those users. Clients learn it from an Unsubscribed
     * frame.
     *
     * @generated from rpc quicpush.push.v1.PushService.Unsubscribe
     */
    unsubscribe: {
        methodKind: "unary";
        input: typeof UnsubscribeRequestSchema;
        output: typeof UnsubscribeResponseSchema;
    };
}>;
