export { parseReference, formatReference, referenceName, referenceObject, ReferenceError, type ImageReference } from './reference.js';
export { registryEndpoint, isLocalhost, sourceHost, type HostOptions, type RegistryEndpoint } from './hosts.js';
export { Registry, NotFoundError, MAX_MANIFEST_SIZE, type RegistryOptions } from './registry.js';
export { downloadBlob, isTransient, IncompleteDownloadError, type DownloadOptions } from './download.js';
export { RegistryError, DigestMismatchError } from './errors.js';
export { AuthorizationDenied, parseChallenges, type Credentials, type CredentialsFor } from './auth.js';
export { hostsFromDir, pullHosts, type RegistryHost, type HostCapability } from './hosts-dir.js';
