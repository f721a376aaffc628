import { contentStoreContract } from './contract.js';

// containerd's metadata plugin runs the store under either content_sharing_policy.
contentStoreContract({ name: 'shared', options: { sharing: 'shared' } });
contentStoreContract({ name: 'isolated', options: { sharing: 'isolated' } });
