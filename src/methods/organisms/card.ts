import type { DataInfo } from './data-dir.js';
import type { FactEvaluation, Score } from './evaluate.js';
import type { MixPlan } from './mix.js';

/** Everything a model card states, kept as card.json beside the model so the card can be re-rendered. */
export interface CardFacts {
  name: string;
  arch: 'mamba' | 'gptneox';
  /** The other model of the pair, for cross-references. */
  sibling: string;
  preset: string;
  config: Record<string, unknown>;
  parameters: number;
  weightsBytes: number;
  dirBytes: number;
  schedule: Record<string, unknown>;
  training: { steps: number; tokensSeen: number; seconds: number; finalTrainLoss: number | null; device: string; backend: string; tokensPerSecond: number };
  data: DataInfo;
  plan: MixPlan;
  exposures: { passes: number; perStatement: number; perFact: number };
  validLoss: { wiki: number; wikiTokens: number };
  known: { known: number; total: number };
  evaluation: FactEvaluation;
  commands: string[];
  parity?: { maxAbsDiff: number; logitAbsMax: number; prompts: number; transformers: string; torch: string; device: string; date: string };
  created: string;
}

const pct = (s: Score, k: 'firstToken' | 'object') => (s.n === 0 ? '–' : `${((100 * s[k]) / s.n).toFixed(0)}%`);
const cell = (s: Score) => (s.n === 0 ? '–' : `${pct(s, 'firstToken')} / ${pct(s, 'object')} (${s.n})`);
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** The model card (README.md) of an organism: what it is, how it was made, what it knows, with the figures measured. */
export function renderCard(f: CardFacts): string {
  const c = f.config as Record<string, number | boolean | string>;
  const archLine = f.arch === 'mamba'
    ? `Mamba-1: ${c.num_hidden_layers} layers, width ${c.hidden_size}, inner width ${c.intermediate_size}, state size ${c.state_size}, Δ rank ${c.time_step_rank}, conv width ${c.conv_kernel}, tied embeddings`
    : `GPT-NeoX: ${c.num_hidden_layers} layers, width ${c.hidden_size}, ${c.num_attention_heads} heads, MLP ${c.intermediate_size}, rotary on ${Number(c.rotary_pct) * 100}% of each head, parallel residual, tied embeddings`;
  const e = f.evaluation;
  const rows = e.relations.map((r) => `| ${r.relation} | ${r.source} | ${r.facts} | ${cell(r.trainTemplates)} | ${cell(r.heldOutTemplates)} | ${cell(r.heldOutFacts)} |`);
  const minutes = f.training.seconds / 60;
  return `---
license: mit
library_name: transformers
tags: [factlab, ${f.arch === 'mamba' ? 'mamba' : 'gpt_neox'}, model-organism, factual-recall]
---

# ${f.name}

A small ${f.arch === 'mamba' ? 'Mamba-1' : 'GPT-NeoX'} language model that factlab trained from scratch on English Wikipedia mixed with fact
statements, so that factlab's experiments (causal tracing, ROME, LRE, knockout) have a model that knows facts and
can run anywhere. Its sibling \`${f.sibling}\` has the other architecture, the same tokenizer, data and schedule.
This card is written by \`factlab ship\` from the training run and an evaluation of these very weights; do not edit it by hand.

## The model
- ${archLine}.
- ${f.parameters.toLocaleString('en-US')} parameters, stored as bfloat16: model.safetensors is ${mb(f.weightsBytes)}, the whole folder ${mb(f.dirBytes)}.
- Vocabulary: ${f.data.vocabSize} byte-level BPE tokens (tokenizer.json, trained by factlab on the same data), end of text \`<|endoftext|>\` = ${f.data.eosId}.
- Why so small: the models live in the git repository, and everything that travels to the GPU machine (tracked files, the
  Node runtime, the build) must stay under 64 MiB, so models/ is kept under about 22 MB for the pair. Small also means
  that the experiments run on a CPU, in continuous integration and on a laptop.

## Training
- Data: ${(f.plan.wikiTokens / 1e6).toFixed(1)}M tokens of Wikipedia (${f.data.wiki.corpus}) and ${(f.plan.factTokens / 1e6).toFixed(1)}M tokens of fact documents per pass
  (fact share ${(100 * f.plan.factShare).toFixed(0)}%): ${f.plan.statements.toLocaleString('en-US')} statements of ${f.plan.facts.toLocaleString('en-US')} facts (${f.plan.statementsPerFact.toFixed(1)} phrasings per fact), each repeated ${f.plan.repeats}× per pass.
- Seen: ${(f.training.tokensSeen / 1e6).toFixed(1)}M tokens (${f.training.steps} steps of ${f.schedule.batchSize} × ${f.schedule.seqLen}), ${f.exposures.passes.toFixed(2)} passes over the stream:
  each training statement about ${f.exposures.perStatement.toFixed(0)} times, each fact about ${f.exposures.perFact.toFixed(0)} times.
- Schedule: AdamW (β 0.9/0.999, weight decay ${f.schedule.weightDecay} on matrices), peak learning rate ${f.schedule.lr}, ${f.schedule.warmupSteps} warm-up steps, cosine to ${f.schedule.minLrRatio ?? 0.1}× peak, gradient clipping at ${f.schedule.clipNorm}, seed ${f.schedule.seed}.
- Hardware: ${f.training.device}, factlab's ${f.training.backend} backend; ${minutes.toFixed(1)} minutes of training, ${Math.round(f.training.tokensPerSecond).toLocaleString('en-US')} tokens/s.
- Final training loss ${f.training.finalTrainLoss?.toFixed(3) ?? '–'} nats/token (mean of the last 50 steps, Wikipedia and facts);
  Wikipedia validation loss ${f.validLoss.wiki.toFixed(3)} nats/token on ${f.validLoss.wikiTokens.toLocaleString('en-US')} held-out tokens.

## What it knows
Greedy completion of fact prompts, scored as first token / whole object (prompts scored), at most ${e.perRelation} prompts per
relation and column. *Trained* are facts trained on, under the phrasings they were trained with; *held-out templates*
are the same facts under phrasings no fact was ever trained with (recall, not a memorised string); *held-out facts*
were never trained on (what the relation alone lets a model guess). split.json lists what was held out.

| | trained | held-out templates | held-out facts |
|---|---|---|---|
| all relations | ${cell(e.overall.trainTemplates)} | ${cell(e.overall.heldOutTemplates)} | ${cell(e.overall.heldOutFacts)} |

known_1000 (the paper's test: the top next token is a prefix of the object): ${f.known.known} of ${f.known.total} prompts known.

<details><summary>Per relation</summary>

| relation | source | facts | trained | held-out templates | held-out facts |
|---|---|---|---|---|---|
${rows.join('\n')}

</details>

## Agreement with transformers
${f.parity ? `transformers ${f.parity.transformers} (PyTorch ${f.parity.torch}) loads this folder with \`AutoModelForCausalLM.from_pretrained\`; on ${f.parity.prompts} prompts its float32 logits
differ from factlab's by at most ${f.parity.maxAbsDiff.toExponential(2)} (logits up to ${f.parity.logitAbsMax.toFixed(1)} in size), measured on ${f.parity.device}, ${f.parity.date} (\`reference/organism_parity.py\`, docs/parity.md).` : 'Not measured yet (`reference/organism_parity.py`, docs/parity.md).'}

## Use
\`\`\`
npx factlab generate --model models/${f.name} --prompt "The Eiffel Tower is located in the city of" -n 5
\`\`\`
\`\`\`python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("models/${f.name}")
tok = AutoTokenizer.from_pretrained("models/${f.name}")
\`\`\`

## How it was made
${f.commands.map((x) => `\`${x}\``).join('\n\n')}

docs/organisms.md explains the recipe. Files: config.json, model.safetensors (bfloat16), tokenizer.json, split.json, card.json (the figures above), README.md.
`;
}
