/**
 * Whether a predicted token names the object, as Hernandez et al. score it (L:src/metrics.py): the token,
 * stripped and lower-cased, is a non-empty prefix of the object, lower-cased and stripped.
 */
export function tokenMatchesObject(token: string, object: string): boolean {
  const t = token.trim().toLowerCase();
  return t.length > 0 && object.trim().toLowerCase().startsWith(t);
}

/** recall@k for k = 1..K: the fraction of samples whose object is matched by one of the top-k predictions. */
export function recallAtK(predictions: readonly (readonly string[])[], objects: readonly string[], K: number): number[] {
  if (predictions.length === 0) return new Array<number>(K).fill(NaN);
  return Array.from({ length: K }, (_, k) => predictions.filter((p, i) => p.slice(0, k + 1).some((t) => tokenMatchesObject(t, objects[i]!))).length / predictions.length);
}
