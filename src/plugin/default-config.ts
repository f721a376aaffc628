import { stringify } from 'smol-toml';
import { defaultConfig } from './config.js';
import { uri, type Registration } from './registration.js';

/** What `ledgerd config default` prints: the whole version 2 config with every plugin's defaults. */
export function defaultConfigToml(registrations: readonly Registration<never, unknown>[]): string {
  const config = defaultConfig();
  const plugins: Record<string, unknown> = {};
  for (const registration of registrations) {
    if (registration.config !== undefined) plugins[uri(registration)] = registration.config;
  }
  const { plugins: _none, ...rest } = config;
  return `${stringify(rest)}\n\n${stringify({ plugins })}\n`;
}
