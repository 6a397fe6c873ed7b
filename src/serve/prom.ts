import { InvalidArgumentError } from '../core/errors.js';

/** The part of prom-client ballot uses (its module, as `import('prom-client')` returns it). */
export type PromClient = typeof import('prom-client');

/**
 * Loads the optional peer dependency prom-client, only when metrics are asked for. The dynamic
 * import compiles to `require()` in the CommonJS build and stays `import()` in the ESM one.
 */
export async function loadPromClient(): Promise<PromClient> {
  let mod: PromClient & { default?: PromClient };
  try {
    mod = (await import('prom-client')) as PromClient & { default?: PromClient };
  } catch (err) {
    throw new InvalidArgumentError(
      'ballot metrics need the optional peer dependency prom-client, which could not be loaded ' +
        `(${(err as Error).message.split('\n')[0]}): run \`npm install prom-client\` (versions 14 ` +
        'and 15 work), or pass your copy as { promClient }',
    );
  }
  // From ESM a CommonJS module may come as its namespace or under `default`.
  return typeof mod.Registry === 'function' ? mod : (mod.default ?? mod);
}
