/**
 * Float64 scalar math that JavaScript lacks, shared by the elementwise kernels (and by anything else that needs
 * the same numbers on the CPU): erf/erfc accurate to about 1 ulp, and overflow-free sigmoid and softplus.
 *
 * erf and erfc follow Sun's fdlibm s_erf.c (Copyright (C) 1993 by Sun Microsystems, Inc.; "Permission to use,
 * copy, modify, and distribute this software is freely granted, provided that this notice is preserved"):
 * rational approximations on [0, 0.84375), [0.84375, 1.25), [1.25, 1/0.35) and [1/0.35, 28), with the
 * coefficients below. A short polynomial such as Abramowitz-Stegun 7.1.26 is only good to ~1e-7, which is the
 * size of a float32 ulp and would show in gelu's tests and gradients.
 */

const ERX = 8.45062911510467529297e-01;
// erf on [0, 0.84375): x + x·P(x²)/Q(x²)
const EFX8 = 1.02703333676410069053e+00;
const PP0 = 1.28379167095512558561e-01, PP1 = -3.25042107247001499370e-01, PP2 = -2.84817495755985104766e-02;
const PP3 = -5.77027029648944159157e-03, PP4 = -2.37630166566501626084e-05;
const QQ1 = 3.97917223959155352819e-01, QQ2 = 6.50222499887672944485e-02, QQ3 = 5.08130628187576562776e-03;
const QQ4 = 1.32494738004321644526e-04, QQ5 = -3.96022827877536812320e-06;
// erf on [0.84375, 1.25): erx + P(|x|-1)/Q(|x|-1)
const PA0 = -2.36211856075265944077e-03, PA1 = 4.14856118683748331666e-01, PA2 = -3.72207876035701323847e-01;
const PA3 = 3.18346619901161753674e-01, PA4 = -1.10894694282396677476e-01, PA5 = 3.54783043256182359371e-02;
const PA6 = -2.16637559486879084300e-03;
const QA1 = 1.06420880400844228286e-01, QA2 = 5.40397917702171048937e-01, QA3 = 7.18286544141962662868e-02;
const QA4 = 1.26171219808761642112e-01, QA5 = 1.36370839120290507362e-02, QA6 = 1.19844998467991074170e-02;
// erfc on [1.25, 1/0.35): exp(-x² - 0.5625 + R(1/x²)/S(1/x²)) / x
const RA0 = -9.86494403484714822705e-03, RA1 = -6.93858572707181764372e-01, RA2 = -1.05586262253232909814e+01;
const RA3 = -6.23753324503260060396e+01, RA4 = -1.62396669462573470355e+02, RA5 = -1.84605092906711035994e+02;
const RA6 = -8.12874355063065934246e+01, RA7 = -9.81432934416914548592e+00;
const SA1 = 1.96512716674392571292e+01, SA2 = 1.37657754143519042600e+02, SA3 = 4.34565877475229228821e+02;
const SA4 = 6.45387271733267880336e+02, SA5 = 4.29008140027567833386e+02, SA6 = 1.08635005541779435134e+02;
const SA7 = 6.57024977031928170135e+00, SA8 = -6.04244152148580987438e-02;
// erfc on [1/0.35, 28)
const RB0 = -9.86494292470009928597e-03, RB1 = -7.99283237680523006574e-01, RB2 = -1.77579549177547519889e+01;
const RB3 = -1.60636384855821916062e+02, RB4 = -6.37566443368389627722e+02, RB5 = -1.02509513161107724954e+03;
const RB6 = -4.83519191608651397019e+02;
const SB1 = 3.03380607434824582924e+01, SB2 = 3.25792512996573918826e+02, SB3 = 1.53672958608443695994e+03;
const SB4 = 3.19985821950859553908e+03, SB5 = 2.55305040643316442583e+03, SB6 = 4.74528541206955367215e+02;
const SB7 = -2.24409524465858183362e+01;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** x with the low 32 bits of its mantissa cleared, so that z² is exact and exp(-x²) can be split without loss. */
function truncLow(x: number): number {
  f64[0] = x;
  u32[littleEndian ? 0 : 1] = 0;
  return f64[0]!;
}

/** erf(|x|) - erx on [0.84375, 1.25), as P/Q of s = |x| - 1 (erfc there is 1 - erx - P/Q, without cancellation). */
function erfMid(ax: number): number {
  const s = ax - 1;
  const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
  const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
  return p / q;
}

/** erfc(ax) for 1.25 <= ax < 28. */
function erfcTail(ax: number): number {
  const s = 1 / (ax * ax);
  let r: number, q: number;
  if (ax < 1 / 0.35) {
    r = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
    q = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
  } else {
    r = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
    q = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
  }
  const z = truncLow(ax);
  return (Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + r / q)) / ax;
}

function smallRatio(x: number): number {
  const z = x * x;
  const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
  const s = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
  return r / s;
}

/** The error function, to about 1 ulp in float64. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -28) return x + (EFX8 * x) / 8;
    return x + x * smallRatio(x);
  }
  let y: number;
  if (ax < 1.25) y = ERX + erfMid(ax);
  else if (ax < 6) y = 1 - erfcTail(ax);
  else y = 1;
  return x < 0 ? -y : y;
}

/** The complementary error function 1 - erf(x), without cancellation for large x (gelu's negative tail needs it). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 0.84375) {
    if (ax < 2 ** -56) return 1 - x;
    const y = x * smallRatio(x);
    if (x < 0.25) return 1 - (x + y);
    return 0.5 - (x - 0.5 + y);
  }
  if (ax < 1.25) {
    const p = erfMid(ax);
    return x < 0 ? 1 + ERX + p : 1 - ERX - p;
  }
  if (ax < 28) {
    const t = erfcTail(ax);
    return x < 0 ? 2 - t : t;
  }
  return x < 0 ? 2 : 0;
}

/** 1 / (1 + e^-x) without overflowing e^-x for very negative x. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * log(1 + e^x), written as log1p(e^-|x|) + max(x, 0) so that it neither overflows nor loses small values, and
 * equal to x above 20 as PyTorch's default threshold makes it (so that results match a PyTorch reference).
 */
export function softplus(x: number): number {
  if (x > 20) return x;
  return Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0);
}

/** softplus′(x): sigmoid(x), and 1 above the threshold of 20 where softplus is x itself. */
export function softplusGrad(x: number): number {
  return x > 20 ? 1 : sigmoid(x);
}
