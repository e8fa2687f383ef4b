/**
 * A pickle reader that executes nothing. Python's unpickler imports any module and calls any callable the data
 * names, which makes loading an untrusted .bin file equivalent to running it. This one only builds plain values
 * (None, bools, numbers, strings, bytes, lists, tuples, dicts, sets); a GLOBAL resolves only through the table
 * the caller passes (anything else is refused with an error naming the global), and REDUCE/NEWOBJ/BUILD/
 * persistent ids go to the caller's handlers, which are plain functions over those values. It is the same policy
 * as torch.load(weights_only=True), written as an allowlist rather than a sandbox.
 */
import { FactlabError } from '../../tensor/errors.js';

/** A dict, keeping insertion order and non-string keys. */
export class PickleDict {
  readonly map = new Map<unknown, unknown>();
}

/** An allowed global that REDUCE (or NEWOBJ) may call; `call` receives the argument tuple. */
export class PickleCallable {
  constructor(readonly qualname: string, readonly call: (args: readonly unknown[]) => unknown) {}
}

export interface PickleHandlers {
  /** Names the file in every message. */
  file: string;
  /** What each allowed global ("module.name") stands for; any other global is refused. */
  globals: ReadonlyMap<string, unknown>;
  /** BINPERSID: torch uses persistent ids for storages, which live outside the pickle. */
  persistentLoad(pid: unknown): unknown;
  /** BUILD (setting an object's state); throw to refuse. */
  build(obj: unknown, state: unknown): void;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function intFromBytes(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Runs the pickle in `data` and returns the value it STOPs with. */
export function unpickle(data: Uint8Array, h: PickleHandlers): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const file = h.file;
  let pos = 0;
  let opAt = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (why: string): never => {
    throw new FactlabError(`${file}: the pickle is malformed at byte ${opAt} (${why})`);
  };
  const need = (n: number): void => {
    if (pos + n > data.length) throw new FactlabError(`${file}: the pickle ends unexpectedly at byte ${data.length} (truncated data.pkl?)`);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const u8 = () => { need(1); return data[pos++]!; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4); const v = view.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`a length of ${v} bytes exceeds the pickle`);
    return Number(v);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) need(data.length - pos + 1);
    const s = new TextDecoder('latin1').decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const pop = (): unknown => (stack.length ? stack.pop() : fail('the stack is empty'));
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail('the stack is empty'));
  const popMark = (): unknown[] => {
    const items = stack;
    stack = marks.pop() ?? fail('no MARK to pop back to');
    return items;
  };
  const resolve = (module: string, name: string): unknown => {
    const key = `${module}.${name}`;
    if (!h.globals.has(key)) throw new FactlabError(`${file}: the pickle asks for the global ${key}, which a state dict never needs; refusing to load it`);
    return h.globals.get(key);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PickleCallable)) return fail(`it calls ${describe(fn)}, which is not callable`);
    if (!Array.isArray(args)) return fail(`${fn.qualname} is called with ${describe(args)} instead of an argument tuple`);
    return fn.call(args);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof PickleDict)) fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as PickleDict).map.set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) fail(`APPEND(S) on ${describe(target)}, not a list`);
    for (const v of items) (target as unknown[]).push(v);
  };
  const tuple = (items: unknown[]): unknown[] => Object.freeze(items) as unknown[];
  // A function, so that `stack` is read after the argument is evaluated: the argument may pop to a MARK, which
  // replaces `stack`, and `stack.push(popMark())` would push onto the array that was just popped.
  const push = (v: unknown): void => { stack.push(v); };

  for (;;) {
    opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO: every protocol up to 5 is read the same way
      case 0x95: u64(); break; // FRAME: framing only groups opcodes for buffered reading
      case 0x2e: { // STOP
        const v = pop();
        if (stack.length || marks.length) fail('values are left on the stack at STOP');
        return v;
      }
      case 0x28: marks.push(stack); stack = []; break; // MARK
      case 0x30: pop(); break;
      case 0x31: popMark(); break;
      case 0x32: push(top()); break;
      case 0x4e: push(null); break;
      case 0x88: push(true); break;
      case 0x89: push(false); break;
      case 0x4a: push(i32()); break;
      case 0x4b: push(u8()); break;
      case 0x4d: push(u16()); break;
      case 0x8a: push(intFromBytes(bytes(u8()))); break;
      case 0x8b: { const n = i32(); if (n < 0) fail('negative LONG4 length'); push(intFromBytes(bytes(n))); break; }
      case 0x49: { // INT (protocol 0; also spells booleans)
        const s = line();
        if (s === '00' || s === '01') { push(s === '01'); break; }
        if (!/^[-+]?\d+$/.test(s)) fail(`INT ${JSON.stringify(s)}`);
        const v = BigInt(s);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x4c: { // LONG (protocol 0)
        const s = line().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`LONG ${JSON.stringify(s)}`);
        const v = BigInt(s);
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x46: { const s = line(); const v = Number(s); if (Number.isNaN(v) && s.trim().toLowerCase() !== 'nan') fail(`FLOAT ${JSON.stringify(s)}`); push(v); break; }
      case 0x47: { need(8); push(view.getFloat64(pos, false)); pos += 8; break; }
      case 0x58: push(text(bytes(u32()))); break;
      case 0x8c: push(text(bytes(u8()))); break;
      case 0x8d: push(text(bytes(u64()))); break;
      // Python 2 str: latin-1, as torch.load's default encoding reads them.
      case 0x54: { const n = i32(); if (n < 0) fail('negative BINSTRING length'); push(new TextDecoder('latin1').decode(bytes(n))); break; }
      case 0x55: push(new TextDecoder('latin1').decode(bytes(u8()))); break;
      case 0x42: push(bytes(u32()).slice()); break;
      case 0x43: push(bytes(u8()).slice()); break;
      case 0x8e: case 0x96: push(bytes(u64()).slice()); break;
      case 0x7d: push(new PickleDict()); break;
      case 0x64: { const d = new PickleDict(); setItems(d, popMark()); push(d); break; }
      case 0x5d: push([]); break;
      case 0x6c: push(popMark()); break;
      case 0x29: push(tuple([])); break;
      case 0x74: push(tuple(popMark())); break;
      case 0x85: push(tuple([pop()])); break;
      case 0x86: { const b = pop(); push(tuple([pop(), b])); break; }
      case 0x87: { const c = pop(); const b = pop(); push(tuple([pop(), b, c])); break; }
      case 0x8f: push(new Set()); break;
      case 0x90: { const items = popMark(); const s = top(); if (!(s instanceof Set)) fail('ADDITEMS on a non-set'); for (const i of items) (s as Set<unknown>).add(i); break; }
      case 0x91: push(new Set(popMark())); break;
      case 0x61: { const v = pop(); append(top(), [v]); break; }
      case 0x65: { const items = popMark(); append(top(), items); break; }
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const items = popMark(); setItems(top(), items); break; }
      case 0x67: { const k = Number(line()); if (!memo.has(k)) fail(`GET of memo ${k}, which was never PUT`); push(memo.get(k)); break; }
      case 0x68: { const k = u8(); if (!memo.has(k)) fail(`BINGET of memo ${k}, which was never PUT`); push(memo.get(k)); break; }
      case 0x6a: { const k = u32(); if (!memo.has(k)) fail(`LONG_BINGET of memo ${k}, which was never PUT`); push(memo.get(k)); break; }
      case 0x70: memo.set(Number(line()), top()); break;
      case 0x71: memo.set(u8(), top()); break;
      case 0x72: memo.set(u32(), top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x63: { const module = line(); const name = line(); push(resolve(module, name)); break; }
      case 0x93: {
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL without two strings');
        push(resolve(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); push(call(fn, args)); break; }
      case 0x81: { const args = pop(); const cls = pop(); push(call(cls, args)); break; }
      case 0x62: { const state = pop(); h.build(top(), state); break; }
      case 0x51: push(h.persistentLoad(pop())); break;
      case 0x69: { // INST names its class inline: refuse a disallowed one by name, and INST itself either way.
        const module = line();
        const name = line();
        resolve(module, name);
        throw new FactlabError(`${file}: the pickle uses opcode INST (0x69) at byte ${opAt} to build ${module}.${name}, which a state dict never needs; refusing to load it`);
      }
      default:
        throw new FactlabError(`${file}: the pickle uses opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')}) at byte ${opAt}, which a state dict never needs; refusing to load it`);
    }
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PickleCallable) return v.qualname;
  if (v instanceof PickleDict) return 'a dict';
  if (Array.isArray(v)) return Object.isFrozen(v) ? `a tuple of ${v.length}` : `a list of ${v.length}`;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return `${typeof v} ${String(v)}`;
}
