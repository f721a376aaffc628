/** The daemon's log lines, in containerd's logrus text format so the same tooling reads both. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'panic';

const ORDER: Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'panic'];

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function isLevel(value: string): value is Level {
  return (ORDER as string[]).includes(value);
}

export function createLogger(level: Level, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const threshold = ORDER.indexOf(level);
  const at = (lineLevel: Level) => (message: string) => {
    if (ORDER.indexOf(lineLevel) < threshold) return;
    write(`time="${new Date().toISOString()}" level=${lineLevel} msg=${JSON.stringify(message)}\n`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
