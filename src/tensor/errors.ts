/**
 * One error type for everything a user can get wrong. The message always names the thing at fault
 * (op and shapes, file, tensor, site or argument) so that a CLI can print it alone, without a stack trace.
 */
export class FactlabError extends Error {
  override name = 'FactlabError';
}

/** An op was called with inputs it cannot take: the message names the op and every input's shape and dtype. */
export function opError(op: string, message: string, inputs: readonly { shape: readonly number[]; dtype: string }[] = []): FactlabError {
  const described = inputs.map((t, i) => `#${i} ${t.dtype}[${t.shape.join(',')}]`).join(', ');
  return new FactlabError(`${op}: ${message}${described ? ` (inputs: ${described})` : ''}`);
}
