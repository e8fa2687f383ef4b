import type { Command } from 'commander';
import { readConfig } from '../../io/config/config.js';
import { openCheckpoint } from '../../io/checkpoint/index.js';
import { paramSpecs } from '../../models/params.js';
import { siteTable } from '../../models/sites.js';
import { MODEL_HELP, resolveModel } from '../options.js';
import { emit, table } from '../output.js';

export function registerInfo(program: Command): void {
  program.command('info')
    .description('describe a model directory: architecture, sizes, parameter count, checkpoint and hook sites (reads no weights)')
    .option('-m, --model <dir>', MODEL_HELP)
    .option('--json', 'machine-readable output')
    .action(async (o: { model: string; json?: boolean }) => {
      o.model = resolveModel(o.model);
      const config = readConfig(o.model);
      const ckpt = await openCheckpoint(o.model);
      const format = ckpt.format;
      const dtypes = [...new Set(ckpt.names().map((n) => ckpt.info(n).dtype))];
      ckpt.close();
      const parameters = paramSpecs(config).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
      const sites = siteTable(config);
      emit(!!o.json, { model: o.model, config, parameters, checkpoint: { format, dtypes }, sites }, () => [
        `${o.model}: ${config.arch === 'mamba' ? 'Mamba-1' : 'GPT-NeoX'}, ${config.nLayer} layers, width ${config.dModel}, vocabulary ${config.vocabSize}`,
        `parameters: ${parameters.toLocaleString('en-US')} (${(parameters / 1e6).toFixed(1)}M)`,
        config.arch === 'mamba'
          ? `mixer: inner width D=${config.dInner}, state N=${config.dState}, Δ rank R=${config.dtRank}, conv width ${config.dConv}`
          : `attention: ${config.nHead} heads of ${config.headDim}, rotary on ${config.rotaryDims} dims (base ${config.rotaryBase}), ${config.parallelResidual ? 'parallel' : 'sequential'} residual; MLP ${config.dMlp}`,
        `checkpoint: ${format}, stored as ${dtypes.join(', ')}`,
        '',
        'hook sites ({l} = layer 0..' + (config.nLayer - 1) + '):',
        table([['site', 'shape', 'paper', 'romba', 'what'], ...sites.map((s) => [s.name, s.shape, s.paper ?? '', s.romba ?? '', s.description + (s.captureOnly ? ' [capture only]' : '')])]),
      ].join('\n'));
    });
}
