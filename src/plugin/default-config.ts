import { stringify } from 'smol-toml';
import { defaultConfig } from './config.js';
import { uri, type Registration } from './registration.js';

/**
 * What `ledgerd config default` prints: the whole version 2 config, then one
 * [plugins."<uri>"] section with the defaults of every plugin that takes a config.
 */
export function defaultConfigToml(registrations: readonly Pick<Registration, 'type' | 'id' | 'config'>[]): string {
  const { plugins: _none, ...top } = defaultConfig();
  const plugins: Record<string, unknown> = {};
  for (const registration of registrations) {
    if (registration.config !== undefined) plugins[uri(registration)] = registration.config;
  }
  return `${stringify({ ...top, plugins })}\n`;
}
