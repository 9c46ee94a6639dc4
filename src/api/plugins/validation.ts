import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { FastifySchemaCompiler } from 'fastify';

/** Schema keys that constrain nothing (documentation and TypeBox's own marker). */
const INERT_KEYS = new Set(['type', 'description', 'title', 'examples', '~kind']);

/** The property names of an object schema whose properties are all unconstrained strings, else null. */
function plainStringProperties(schema: unknown): string[] | null {
  if (typeof schema !== 'object' || schema === null) return null;
  const s = schema as { type?: unknown; properties?: Record<string, unknown> };
  if (s.type !== 'object' || s.properties === undefined) return null;
  for (const key of Reflect.ownKeys(s)) {
    if (typeof key !== 'string' || !['type', 'required', 'properties', '~kind', 'description', 'title'].includes(key)) return null;
  }
  const names = Object.keys(s.properties);
  for (const name of names) {
    const prop = s.properties[name] as Record<string | symbol, unknown>;
    if (typeof prop !== 'object' || prop === null || prop.type !== 'string') return null;
    for (const key of Reflect.ownKeys(prop)) if (typeof key !== 'string' || !INERT_KEYS.has(key)) return null;
  }
  return names;
}

/**
 * The validator compiler of hot routes: TypeBox's (the one buildApp sets for the whole app),
 * except for path parameters declared as unconstrained strings. TypeBox's compiler runs
 * `Value.Convert` (an interpretation of the schema) on every request's parameters before its
 * check; for such a schema the router's values, always strings, are accepted as they are when
 * every declared name is present, and anything else goes to TypeBox's validator, so the answer
 * (value or errors) is the same either way.
 */
export const fastParamsValidatorCompiler: FastifySchemaCompiler<unknown> = (route) => {
  const full = TypeBoxValidatorCompiler(route as Parameters<typeof TypeBoxValidatorCompiler>[0]);
  const names = route.httpPart === 'params' ? plainStringProperties(route.schema) : null;
  if (names === null) return full;
  return (value: unknown) => {
    const params = value as Record<string, unknown> | null;
    if (params !== null && typeof params === 'object') {
      let ok = true;
      for (const name of names) {
        if (typeof params[name] !== 'string') {
          ok = false;
          break;
        }
      }
      if (ok) return { value };
    }
    return full(value);
  };
};
