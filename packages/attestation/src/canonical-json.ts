// RFC 8785 (JSON Canonicalization Scheme) through `canonicalize`, by the RFC's author.
import canonicalizeModule from 'canonicalize'

// canonicalize 2.1.0 is CommonJS with an ESM-style d.ts: Node gives ESM the function itself as the default
// export, while TypeScript (NodeNext) types the default import as the module object; accept either shape.
const canonicalizeFunction = ((canonicalizeModule as unknown as { default?: unknown }).default ??
  canonicalizeModule) as (input: unknown) => string | undefined

/** RFC 8785 canonical JSON text of a JSON value (no undefined, functions, NaN or Infinity inside). */
export function canonicalJSON(value: unknown): string {
  const text = canonicalizeFunction(value)
  if (text === undefined) throw new TypeError('value has no JSON form')
  return text
}
