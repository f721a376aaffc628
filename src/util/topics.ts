import { invalidArgument } from './errdefs.js';
import { isIdentifier } from './identifiers.js';

/** containerd's topic rule (events/exchange): "/" then identifiers separated by "/". */
export function validateTopic(topic: string): void {
  if (topic === '') throw invalidArgument('topic: must not be empty');
  if (!topic.startsWith('/')) throw invalidArgument(`topic "${topic}": must start with '/'`);
  const parts = topic.slice(1).split('/');
  for (const part of parts) {
    if (!isIdentifier(part)) {
      throw invalidArgument(`topic "${topic}": component "${part}" must be an identifier (alphanumeric parts joined by '.', '_' or '-')`);
    }
  }
}
