export { TtrpcClient, type CallOptions } from './client.js';
export { TtrpcServer, type CallContext, type Handler, type ServeOptions } from './server.js';
export { TtrpcError, TtrpcClosedError, Code } from './errors.js';
export { peerCredentials, sameUser, type PeerCredentials } from './peer.js';
