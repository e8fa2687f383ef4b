import type * as Fs from 'node:fs';
import type * as Path from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { requireNodeBuiltin } from '../../tensor/node-builtins.js';

/** Mamba-1, whichever spelling the checkpoint used (state-spaces' mamba_ssm or transformers' MambaConfig). */
export interface MambaConfig {
  arch: 'mamba';
  /** d_model / hidden_size. */
  dModel: number;
  nLayer: number;
  /** After state-spaces' pad_vocab_size_multiple rounding: the embedding's row count. */
  vocabSize: number;
  /** D = expand · d_model. */
  dInner: number;
  /** N. */
  dState: number;
  /** R = time_step_rank (ceil(d_model / 16) when "auto"). */
  dtRank: number;
  dConv: number;
  convBias: boolean;
  /** Bias on in_proj and out_proj (false in every released Mamba). */
  projBias: boolean;
  eps: number;
  tieEmbeddings: boolean;
  /** Which spelling the config used, so that saving can write the same one. */
  spelling: 'state-spaces' | 'transformers';
}

/** GPT-NeoX as Pythia uses it. */
export interface GptNeoxConfig {
  arch: 'gptneox';
  dModel: number;
  nLayer: number;
  nHead: number;
  headDim: number;
  dMlp: number;
  vocabSize: number;
  /** Dimensions of each head that RoPE rotates (rotary_pct · head_dim). */
  rotaryDims: number;
  rotaryBase: number;
  parallelResidual: boolean;
  eps: number;
  maxPositions: number;
  tieEmbeddings: boolean;
  activation: 'gelu';
}

export type ModelConfig = MambaConfig | GptNeoxConfig;

type Json = Record<string, unknown>;

function field<T>(file: string, json: Json, names: string[], check: (v: unknown) => v is T, fallback?: T): T {
  for (const n of names) {
    if (json[n] === undefined || json[n] === null) continue;
    if (!check(json[n])) throw new FactlabError(`${file}: field "${n}" has an invalid value ${JSON.stringify(json[n])}`);
    return json[n] as T;
  }
  if (fallback !== undefined) return fallback;
  throw new FactlabError(`${file}: missing field ${names.map((n) => `"${n}"`).join(' or ')}`);
}

const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const bool = (v: unknown): v is boolean => typeof v === 'boolean';

function parseMamba(file: string, j: Json): MambaConfig {
  const stateSpaces = j.d_model !== undefined && j.hidden_size === undefined;
  const dModel = field(file, j, ['hidden_size', 'd_model'], posInt);
  const ssm = (stateSpaces ? (j.ssm_cfg as Json | undefined) ?? {} : j) as Json;
  if (stateSpaces && ssm.layer !== undefined && ssm.layer !== 'Mamba1') {
    throw new FactlabError(`${file}: ssm_cfg.layer is ${JSON.stringify(ssm.layer)}; only Mamba-1 is supported`);
  }
  let vocab = field(file, j, ['vocab_size'], posInt);
  if (stateSpaces) {
    const mult = field(file, j, ['pad_vocab_size_multiple'], posInt, 8);
    vocab = Math.ceil(vocab / mult) * mult;
  }
  const expand = field(file, stateSpaces ? ssm : j, ['expand'], posInt, 2);
  const rank = (stateSpaces ? ssm : j)[stateSpaces ? 'dt_rank' : 'time_step_rank'];
  const dtRank = rank === undefined || rank === 'auto' ? Math.ceil(dModel / 16) : rank;
  if (!posInt(dtRank)) throw new FactlabError(`${file}: time_step_rank ${JSON.stringify(rank)} is not "auto" or a positive integer`);
  const rmsNorm = j.rms_norm ?? true;
  if (rmsNorm !== true) throw new FactlabError(`${file}: rms_norm is false; only RMSNorm Mamba models are supported`);
  return {
    arch: 'mamba',
    dModel,
    nLayer: field(file, j, ['num_hidden_layers', 'n_layer'], posInt),
    vocabSize: vocab,
    dInner: field(file, j, ['intermediate_size'], posInt, expand * dModel),
    dState: field(file, stateSpaces ? ssm : j, stateSpaces ? ['d_state'] : ['state_size'], posInt, 16),
    dtRank,
    dConv: field(file, stateSpaces ? ssm : j, stateSpaces ? ['d_conv'] : ['conv_kernel'], posInt, 4),
    convBias: field(file, stateSpaces ? ssm : j, stateSpaces ? ['conv_bias'] : ['use_conv_bias'], bool, true),
    projBias: field(file, stateSpaces ? ssm : j, stateSpaces ? ['bias'] : ['use_bias'], bool, false),
    eps: field(file, j, ['layer_norm_epsilon', 'norm_epsilon'], num, 1e-5),
    tieEmbeddings: field(file, j, ['tie_word_embeddings', 'tie_embeddings'], bool, true),
    spelling: stateSpaces ? 'state-spaces' : 'transformers',
  };
}

function parseNeox(file: string, j: Json): GptNeoxConfig {
  const dModel = field(file, j, ['hidden_size'], posInt);
  const nHead = field(file, j, ['num_attention_heads'], posInt);
  if (dModel % nHead !== 0) throw new FactlabError(`${file}: hidden_size ${dModel} is not a multiple of num_attention_heads ${nHead}`);
  const headDim = dModel / nHead;
  // transformers 5 moved rotary_pct / rotary_emb_base into rope_parameters; Pythia's own configs use the old names.
  const rope = (j.rope_parameters ?? j.rope_scaling ?? {}) as Json;
  const pct = field(file, { ...rope, ...j }, ['rotary_pct', 'partial_rotary_factor'], num, 1);
  const base = field(file, { ...rope, ...j }, ['rotary_emb_base', 'rope_theta'], num, 10000);
  if (rope.rope_type !== undefined && rope.rope_type !== 'default') throw new FactlabError(`${file}: rope_type ${JSON.stringify(rope.rope_type)} is not supported (only default RoPE)`);
  const rotaryDims = Math.floor(headDim * pct);
  if (rotaryDims % 2 !== 0) throw new FactlabError(`${file}: rotary dimensions ${rotaryDims} (${pct} of head size ${headDim}) must be even`);
  const act = j.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new FactlabError(`${file}: hidden_act ${JSON.stringify(act)} is not supported (GPT-NeoX/Pythia use exact "gelu")`);
  return {
    arch: 'gptneox',
    dModel, nHead, headDim,
    nLayer: field(file, j, ['num_hidden_layers'], posInt),
    dMlp: field(file, j, ['intermediate_size'], posInt, 4 * dModel),
    vocabSize: field(file, j, ['vocab_size'], posInt),
    rotaryDims, rotaryBase: base,
    parallelResidual: field(file, j, ['use_parallel_residual'], bool, true),
    eps: field(file, j, ['layer_norm_eps'], num, 1e-5),
    maxPositions: field(file, j, ['max_position_embeddings'], posInt, 2048),
    tieEmbeddings: field(file, j, ['tie_word_embeddings'], bool, false),
    activation: 'gelu',
  };
}

/** Parses a config.json object; `file` names it in errors. */
export function parseConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FactlabError(`${file}: not a JSON object`);
  const j = json as Json;
  const type = j.model_type;
  if (type === 'mamba' || (type === undefined && j.d_model !== undefined && j.n_layer !== undefined)) return parseMamba(file, j);
  if (type === 'gpt_neox') return parseNeox(file, j);
  throw new FactlabError(`${file}: model_type ${JSON.stringify(type)} is not supported (factlab runs "mamba" and "gpt_neox")`);
}

/** Parses the text of a config.json; `file` names it in errors. */
export function parseConfigText(text: string, file = 'config.json'): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FactlabError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(json, file);
}

export function readConfig(dir: string): ModelConfig {
  const { existsSync, readFileSync } = requireNodeBuiltin<typeof Fs>('node:fs', 'reading a model directory');
  const file = requireNodeBuiltin<typeof Path>('node:path', 'reading a model directory').join(dir, 'config.json');
  if (!existsSync(file)) throw new FactlabError(`${dir}: no config.json (a model directory needs config.json, weights and tokenizer.json)`);
  return parseConfigText(readFileSync(file, 'utf8'), file);
}

/** config.json for a model, in the spelling transformers reads (state-spaces Mamba configs keep theirs). */
export function configToJson(c: ModelConfig): Json {
  if (c.arch === 'mamba') {
    if (c.spelling === 'state-spaces') {
      return { d_model: c.dModel, n_layer: c.nLayer, vocab_size: c.vocabSize, pad_vocab_size_multiple: 8, rms_norm: true, residual_in_fp32: true, fused_add_norm: true,
        tie_embeddings: c.tieEmbeddings, ssm_cfg: { d_state: c.dState, d_conv: c.dConv, expand: c.dInner / c.dModel, dt_rank: c.dtRank, conv_bias: c.convBias, bias: c.projBias } };
    }
    return { architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: c.dModel, num_hidden_layers: c.nLayer, vocab_size: c.vocabSize,
      intermediate_size: c.dInner, expand: c.dInner / c.dModel, state_size: c.dState, time_step_rank: c.dtRank, conv_kernel: c.dConv,
      use_conv_bias: c.convBias, use_bias: c.projBias, layer_norm_epsilon: c.eps, tie_word_embeddings: c.tieEmbeddings, hidden_act: 'silu',
      residual_in_fp32: true, pad_token_id: 0, bos_token_id: 0, eos_token_id: 0 };
  }
  return { architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: c.dModel, num_hidden_layers: c.nLayer,
    num_attention_heads: c.nHead, intermediate_size: c.dMlp, vocab_size: c.vocabSize, rotary_pct: c.rotaryDims / c.headDim,
    rotary_emb_base: c.rotaryBase, use_parallel_residual: c.parallelResidual, layer_norm_eps: c.eps, max_position_embeddings: c.maxPositions,
    tie_word_embeddings: c.tieEmbeddings, hidden_act: 'gelu', attention_bias: true, bos_token_id: 0, eos_token_id: 0 };
}
