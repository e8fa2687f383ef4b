/**
 * Writes docs/hook-sites.md from the site tables in src/models/sites.ts, so the documented table is the one the
 * code uses. Run: node dist/scripts/hook-sites-doc.js
 */
import { writeFileSync } from 'node:fs';
import { GPTNEOX_SITES, MAMBA_SITES, type SiteInfo } from '../src/models/sites.js';

const rows = (sites: readonly SiteInfo[]) => [
  '| site | shape | paper | romba | what |',
  '|---|---|---|---|---|',
  ...sites.map((s) => `| \`${s.name}\` | ${s.shape} | ${s.paper ?? ''} | ${s.romba ? `\`${s.romba}\`` : ''} | ${s.description}${s.captureOnly ? ' (capture only)' : ''} |`),
].join('\n');

const text = `# Hook sites

Generated from \`src/models/sites.ts\` by \`node dist/scripts/hook-sites-doc.js\`; do not edit by hand.

Every activation a method reads or patches has a name in the style of TransformerLens. \`{l}\` is the layer (0-based).
B = batch, T = tokens, d = model width, D = Mamba's inner width (2d), N = SSM state size, H = heads, dh = head size.
The paper column gives the symbol used by Sen Sharma et al. (2024): h (residual), s (SSM output), g (gate),
o (block output); the romba column gives the name in the paper's code (\`src/hooking/mamba.py\`).

## Mamba

${rows(MAMBA_SITES)}

With an attention mask, padded positions are zeroed at \`hook_norm\` (the input of in_proj) and at \`mixer.hook_x_act\`
(the input of x_proj and of the scan), exactly as transformers 5 does. A zero input leaves the state at zero, so left
padding with a mask gives the real tokens exactly the outputs they have unpadded. Without a mask (as romba runs),
pad tokens are ordinary tokens that the state remembers; right padding is always exact for the positions before it.

## GPT-NeoX (Pythia)

${rows(GPTNEOX_SITES)}

Padded keys are masked. A padded query whose keys are all masked (left padding) gets a zero attention output,
where transformers spreads it uniformly over the masked keys; real tokens are unaffected either way.
`;

writeFileSync(new URL('../../docs/hook-sites.md', import.meta.url), text);
console.log('wrote docs/hook-sites.md');
