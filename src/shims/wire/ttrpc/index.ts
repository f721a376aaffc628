export { dialUnix, TtrpcClient, type CallObserver, type CallOptions, type ClientOptions } from './client.js';
export { encodeFrame, FrameDecoder, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType, type Frame } from './frame.js';
export { metadataValue, NAMESPACE_METADATA_KEY, toMetadata, type Metadata, type MetadataInit } from './messages.js';
export { peerCredentials, requireSameUser, type PeerCredentials } from './peer-credentials.js';
export { TtrpcServer, type CallContext, type ServerOptions, type UnaryHandler } from './server.js';
export { Code, isClosedError, statusFromError, TtrpcClosedError, TtrpcError, type Status } from './status.js';
export { typedCall, typedHandler } from './typed.js';
