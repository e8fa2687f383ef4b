/**
 * The first key that occurs twice in one object of a JSON text that JSON.parse already accepted, with the key of
 * the object that holds it. JSON.parse keeps the last duplicate silently, which would hide a tensor listed twice.
 */
export function duplicateKey(text: string): { key: string; parent: string } | undefined {
  const stack: { keys: Set<string> | null; name: string }[] = [];
  let expectKey = false;
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top?.keys) {
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, j + 1)) as string) : raw;
        if (top.keys.has(key)) return { key, parent: top.name };
        top.keys.add(key);
        lastKey = key;
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */) {
      stack.push({ keys: new Set(), name: lastKey });
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push({ keys: null, name: lastKey });
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1]?.keys != null;
    }
  }
  return undefined;
}
