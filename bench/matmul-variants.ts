/**
 * The forced matmul plans of `--variants` (bench/matmul.ts, bench/vk-stats/dump.ts): tile plans
 * TMxBK[nTN][wTHREADS][s|sN][v|va|vb][d][p|pa|pb][u][c] and few-row plans rLANESxCOLS, and their names in tables.
 */
import { tileShape, validTilePlan, type MatmulPlan, type TilePlan } from '../src/tensor/ops/linear/matmul.wgsl.js';

export const VARIANT_GRAMMAR = 'TMxBK[nTN][wTHREADS][s|sN][v|va|vb][d][p|pa|pb][u][c]';

/** A forced plan; `split`: take the K split the plan would choose for its tiles (suffix `s` without a number). */
export type Variant = MatmulPlan & { split?: boolean };

export function parseVariant(v: string): Variant {
  const r = /^r(\d+)x(\d+)$/.exec(v);
  if (r) {
    const lanes = Number(r[1]), cols = Number(r[2]);
    if (![32, 64, 128, 256].includes(lanes) || ![1, 2, 4].includes(cols)) throw new Error(`--variants: '${v}' is not rLANESxCOLS with LANES 32, 64, 128 or 256 and COLS 1, 2 or 4`);
    return { kind: 'rows', lanes, cols };
  }
  const m = /^(\d+)x(\d+)(?:n(\d+))?(?:w(\d+))?(s\d*|)(v|va|vb|)(d?)(p|pa|pb|)(u?)(c?)$/.exec(v);
  const vec4 = ({ v: 'both', va: 'a', vb: 'b' } as const)[m?.[6] as 'v' | 'va' | 'vb'];
  const p = m && {
    tm: Number(m[1]) as TilePlan['tm'], bk: Number(m[2]), ...(m[3] && { tn: Number(m[3]) as TilePlan['tm'] }), ...(m[4] && { threads: Number(m[4]) as 256 }),
    splits: m[5]!.length > 1 ? Number(m[5]!.slice(1)) : 1, split: m[5] === 's', ...(vec4 && { vec4 }), double: m[7] === 'd', unchecked: m[9] === 'u', constants: m[10] === 'c', ...(m[8] && { prefetch: ({ p: 'both', pa: 'a', pb: 'b' } as const)[m[8] as 'p' | 'pa' | 'pb'] }),
  };
  if (!p || !validTilePlan(p)) throw new Error(`--variants: '${v}' is not ${VARIANT_GRAMMAR} (TM, TN 4, 8 or 16 rows and columns per invocation; THREADS 64, 128 or 256; BK a multiple of 4 that every invocation stages evenly), nor rLANESxCOLS (the few-row kernel)`);
  return p;
}

export function planName(p: MatmulPlan): string {
  if (p.kind === 'rows') return `few rows, ${p.lanes} lanes along K × ${p.cols} columns`;
  const { rows, cols, threads } = tileShape(p);
  const shape = rows === cols ? `${rows}²` : `${rows}×${cols}`;
  const custom = p.tn !== undefined || p.threads !== undefined ? ` (${p.tm}×${p.tn ?? p.tm} each, ${threads} invocations)` : '';
  return `${shape} tiles${custom}, BK ${p.bk}${p.splits > 1 ? `, K split ${p.splits}` : ''}${p.vec4 ? `, vec4 ${p.vec4 === 'both' ? 'A and B' : p.vec4.toUpperCase()}` : ''}${p.double ? ', 2 buffers' : ''}${p.unchecked ? ', unchecked' : ''}${p.constants ? ', constant K and N' : ''}${p.prefetch ? `, prefetch ${({ both: 'A and B', a: 'A', b: 'B' })[p.prefetch]}` : ''}`;
}
