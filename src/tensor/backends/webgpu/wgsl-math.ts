/**
 * Float32 math for WGSL kernels, written out rather than taken from the builtins: WGSL (and Vulkan under it)
 * leaves NaN and infinity handling and the accuracy of exp, log, tanh, sin and cos loose (an NVIDIA driver may
 * use approximations good to a few parts in 10⁶), while the op specs hold results to about one part in 10⁶ and
 * the CPU backend computes in float64. These follow Cephes (expf, logf, tanhf, sinf/cosf) and fdlibm (erff),
 * each to about 1 ulp, and decide NaN and infinity from bit patterns, which no compiler may fold away.
 *
 * `wgslMath('erf', ...)` gives the source of the named functions and everything they use, once each.
 */
const LIB: Record<string, { deps: string[]; code: string }> = {
  // float16 bits to float32 bits, exactly (subnormals included), where unpack2x16float may flush them.
  f16: {
    deps: [],
    code: `
fn f16_to_f32(h: u32) -> u32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  // Subnormal: m·2^-24, exact in float32 (a normal number there).
  if (e == 0u) { return s | bitcast<u32>(f32(m) * 5.9604644775390625e-8); }
  if (e == 31u) { return s | 0x7f800000u | (m << 13u); }
  return s | ((e + 112u) << 23u) | (m << 13u);
}`,
  },
  special: {
    deps: [],
    code: `
// Through private variables: WGSL rejects an infinite or NaN constant expression.
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> NAN_BITS: u32 = 0x7fc00000u;
fn f32_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn f32_nan() -> f32 { return bitcast<f32>(NAN_BITS); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
// x with the low 12 bits of its mantissa cleared, so that its square and its products with another such number are exact.
fn split_hi(x: f32) -> f32 { return bitcast<f32>(bitcast<u32>(x) & 0xfffff000u); }`,
  },
  exp: {
    deps: ['special'],
    code: `
fn exp_f(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.72283) { return f32_inf(); }
  if (x < -103.972) { return 0.0; }
  let n = floor(1.44269504088896341 * x + 0.5);
  // n·C1 is exact (C1 has 9 significant bits), so r = x − n·ln2 loses nothing to cancellation.
  let r = (x - n * 0.693359375) - n * -2.12194440e-4;
  let z = r * r;
  let p = ((((1.9875691500e-4 * r + 1.3981999507e-3) * r + 8.3334519073e-3) * r + 4.1665795894e-2) * r + 1.6666665459e-1) * r + 5.0000001201e-1;
  let e = p * z + r + 1.0;
  // ldexp in two steps, so that 2^n for n below −126 (a subnormal result) is not itself flushed.
  let k = i32(n);
  if (k < -120) { return ldexp(ldexp(e, k + 64), -64); }
  return ldexp(e, k);
}`,
  },
  log: {
    deps: ['special'],
    code: `
fn log_f(x0: f32) -> f32 {
  if (is_nan(x0) || x0 < 0.0) { return f32_nan(); }
  if (x0 == 0.0) { return -f32_inf(); }
  if (is_inf(x0)) { return x0; }
  let fr = frexp(x0);
  var e = f32(fr.exp);
  var x: f32;
  if (fr.fract < 0.707106781186547524) { e = e - 1.0; x = fr.fract + fr.fract - 1.0; } else { x = fr.fract - 1.0; }
  let z = x * x;
  var y = ((((((((7.0376836292e-2 * x - 1.1514610310e-1) * x + 1.1676998740e-1) * x - 1.2420140846e-1) * x
    + 1.4249322787e-1) * x - 1.6668057665e-1) * x + 2.0000714765e-1) * x - 2.4999993993e-1) * x + 3.3333331174e-1) * x * z;
  y = y + -2.12194440e-4 * e;
  y = y - 0.5 * z;
  return (x + y) + 0.693359375 * e;
}
// log(1 + u) for u ≥ 0 without losing small u: the rounding of 1 + u is divided back out.
fn log1p_pos(u: f32) -> f32 {
  let w = 1.0 + u;
  if (w == 1.0) { return u; }
  return log_f(w) * (u / (w - 1.0));
}`,
  },
  sigmoid: {
    deps: ['exp', 'log'],
    code: `
fn sigmoid_f(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp_f(-x)); }
  let e = exp_f(x);
  return e / (1.0 + e);
}
// log(1 + e^x) = log1p(e^−|x|) + max(x, 0), and x itself above 20 (PyTorch's threshold).
fn softplus_f(x: f32) -> f32 {
  if (x > 20.0 || is_nan(x)) { return x; }
  return log1p_pos(exp_f(-abs(x))) + max(x, 0.0);
}
// softplus′: sigmoid, and 1 above the threshold where softplus is x itself.
fn softplus_grad_f(x: f32) -> f32 { return select(sigmoid_f(x), 1.0, x > 20.0); }`,
  },
  tanh: {
    deps: ['exp'],
    code: `
fn tanh_f(x: f32) -> f32 {
  let z = abs(x);
  if (z > 0.625) {
    if (z > 44.0) { return sign(x); }
    let r = 1.0 - 2.0 / (exp_f(2.0 * z) + 1.0);
    return select(r, -r, x < 0.0);
  }
  let s = x * x;
  return ((((-5.70498872745e-3 * s + 2.06390887954e-2) * s - 5.37397155531e-2) * s + 1.33314422036e-1) * s - 3.33332819422e-1) * s * x + x;
}`,
  },
  erf: {
    deps: ['exp'],
    // fdlibm's s_erff.c. The tail takes −u² as a sum nh + nl, so that a caller whose u is not exactly a float32
    // (gelu's x/√2) can still give e^(−u²) to full precision: the exponent is ~30 there, and its rounding error
    // would be multiplied by 30.
    code: `
fn erf_small(x: f32) -> f32 {
  let z = x * x;
  let r = 1.28379167095512558561e-01 + z * (-3.25042107247001499370e-01 + z * (-2.84817495755985104766e-02 + z * (-5.77027029648944159157e-03 + z * -2.37630166566501626084e-05)));
  let s = 1.0 + z * (3.97917223959155352819e-01 + z * (6.50222499887672944485e-02 + z * (5.08130628187576562776e-03 + z * (1.32494738004321644526e-04 + z * -3.96022827877536812320e-06))));
  return x * (r / s);
}
fn erf_mid(ax: f32) -> f32 {
  let s = ax - 1.0;
  let p = -2.36211856075265944077e-03 + s * (4.14856118683748331666e-01 + s * (-3.72207876035701323847e-01 + s * (3.18346619901161753674e-01 + s * (-1.10894694282396677476e-01 + s * (3.54783043256182359371e-02 + s * -2.16637559486879084300e-03)))));
  let q = 1.0 + s * (1.06420880400844228286e-01 + s * (5.40397917702171048937e-01 + s * (7.18286544141962662868e-02 + s * (1.26171219808761642112e-01 + s * (1.36370839120290507362e-02 + s * 1.19844998467991074170e-02)))));
  return p / q;
}
fn erfc_tail(u: f32, nh: f32, nl: f32) -> f32 {
  let s = 1.0 / (u * u);
  var r: f32; var q: f32;
  if (u < 2.857142857) {
    r = -9.86494403484714822705e-03 + s * (-6.93858572707181764372e-01 + s * (-1.05586262253232909814e+01 + s * (-6.23753324503260060396e+01 + s * (-1.62396669462573470355e+02 + s * (-1.84605092906711035994e+02 + s * (-8.12874355063065934246e+01 + s * -9.81432934416914548592e+00))))));
    q = 1.0 + s * (1.96512716674392571292e+01 + s * (1.37657754143519042600e+02 + s * (4.34565877475229228821e+02 + s * (6.45387271733267880336e+02 + s * (4.29008140027567833386e+02 + s * (1.08635005541779435134e+02 + s * (6.57024977031928170135e+00 + s * -6.04244152148580987438e-02)))))));
  } else {
    r = -9.86494292470009928597e-03 + s * (-7.99283237680523006574e-01 + s * (-1.77579549177547519889e+01 + s * (-1.60636384855821916062e+02 + s * (-6.37566443368389627722e+02 + s * (-1.02509513161107724954e+03 + s * -4.83519191608651397019e+02)))));
    q = 1.0 + s * (3.03380607434824582924e+01 + s * (3.25792512996573918826e+02 + s * (1.53672958608443695994e+03 + s * (3.19985821950859553908e+03 + s * (2.55305040643316442583e+03 + s * (4.74528541206955367215e+02 + s * -2.24409524465858183362e+01))))));
  }
  return exp_f(nh) * exp_f(nl - 0.5625 + r / q) / u;
}
// erfc(u) for u ≥ 0, with −u² = nh + nl.
fn erfc_pos(u: f32, nh: f32, nl: f32) -> f32 {
  if (u < 0.84375) {
    if (u < 0.25) { return 1.0 - (u + erf_small(u)); }
    return 0.5 - (u - 0.5 + erf_small(u));
  }
  if (u < 1.25) { return 1.0 - 8.45062911510467529297e-01 - erf_mid(u); }
  if (u < 28.0) { return erfc_tail(u, nh, nl); }
  return 0.0;
}
fn erf_f(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let ax = abs(x);
  var y: f32;
  if (ax < 0.84375) { return x + erf_small(x); }
  if (ax < 1.25) { y = 8.45062911510467529297e-01 + erf_mid(ax); }
  else if (ax < 6.0) { let z = split_hi(ax); y = 1.0 - erfc_tail(ax, -z * z, (z - ax) * (z + ax)); }
  else { y = 1.0; }
  return select(y, -y, x < 0.0);
}
// Φ(x) = erfc(−x/√2)/2, with (x/√2)² taken exactly from the split x = xh + xl.
fn phi_f(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let u = abs(x) * 0.70710678118654752440;
  let xh = split_hi(abs(x));
  let xl = abs(x) - xh;
  let e = erfc_pos(u, -0.5 * xh * xh, -(xh * xl + 0.5 * xl * xl));
  return select(1.0 - 0.5 * e, 0.5 * e, x < 0.0);
}
// e^(−x²/2), to the same precision.
fn gauss_f(x: f32) -> f32 {
  let xh = split_hi(abs(x));
  let xl = abs(x) - xh;
  return exp_f(-0.5 * xh * xh) * exp_f(-(xh * xl + 0.5 * xl * xl));
}`,
  },
  sincos: {
    deps: [],
    // Cephes sinf/cosf: reduction by π/4 in three parts (each product exact for |x| < 8192), then a polynomial
    // on [−π/4, π/4]. Rotary angles reach a few thousand radians.
    code: `
fn sincos_f(x: f32) -> vec2<f32> {
  let ax = abs(x);
  var j = u32(1.27323954473516 * ax);
  var y = f32(j);
  if ((j & 1u) == 1u) { j = j + 1u; y = y + 1.0; }
  let r = ((ax - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
  let z = r * r;
  let s = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
  let c = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
  let oct = j & 7u;
  var sv = select(s, c, oct == 2u || oct == 6u);
  var cv = select(c, s, oct == 2u || oct == 6u);
  if (oct == 4u || oct == 6u) { sv = -sv; }
  if (oct == 2u || oct == 4u) { cv = -cv; }
  return vec2<f32>(select(sv, -sv, x < 0.0), cv);
}`,
  },
};

export function wgslMath(...names: string[]): string {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (n: string) => {
    if (seen.has(n)) return;
    seen.add(n);
    const entry = LIB[n];
    if (!entry) throw new Error(`internal: no WGSL math function group '${n}'`);
    for (const d of entry.deps) add(d);
    out.push(entry.code);
  };
  for (const n of names) add(n);
  return out.join('\n');
}
