import { constants } from 'node:os';

const NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** The symbolic name of an errno value ("ENOENT"), as the system calls through koffi report it. */
export function errnoName(errno: number): string | undefined {
  return NAMES.get(errno);
}
