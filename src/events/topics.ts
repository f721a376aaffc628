import type { EventType } from './vocabulary.js';

/** The containerd topic each ledgerd event is published under; events absent here have none. */
export const TOPICS: Partial<Record<EventType, string>> = {
  NamespaceCreated: '/namespaces/create',
  NamespaceUpdated: '/namespaces/update',
  NamespaceDeleted: '/namespaces/delete',
  ImageCreated: '/images/create',
  ImageUpdated: '/images/update',
  ImageDeleted: '/images/delete',
};

export function topicOf(type: string): string | undefined {
  return TOPICS[type as EventType];
}
