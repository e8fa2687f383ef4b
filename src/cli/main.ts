#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerInfo } from './commands/info.js';
import { registerGenerate } from './commands/generate.js';
import { registerTrace } from './commands/trace.js';
import { registerLre, registerLreCompare } from './commands/lre.js';
import { registerEdit } from './commands/edit.js';
import { registerRomeSweep } from './commands/rome-sweep.js';
import { registerKnockout } from './commands/knockout.js';
import { registerTrainTokenizer } from './commands/train-tokenizer.js';
import { registerTrain } from './commands/train.js';
import { registerOrganisms } from './commands/organisms.js';
import { reportError } from './output.js';
import { useBackend } from '../tensor/backends/by-name.js';

const program = new Command('factlab')
  .description('Locate and edit factual associations in Mamba and transformer language models.')
  .version('0.1.0')
  // A usage error is one line, in the same form as the verbs' own errors; --help shows the options.
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'factlab: ')) })
  .exitOverride();

registerInfo(program);
registerGenerate(program);
registerTrace(program);
registerLre(program);
registerEdit(program);
registerRomeSweep(program);
registerLreCompare(program);
registerKnockout(program);
registerTrainTokenizer(program);
registerOrganisms(program);
registerTrain(program);

try {
  // FACTLAB_BACKEND=webgpu runs every verb's tensors on the GPU (Dawn through the `webgpu` package); the default is the CPU.
  await useBackend(process.env.FACTLAB_BACKEND ?? 'cpu', 'FACTLAB_BACKEND');
  await program.parseAsync(process.argv);
} catch (e) {
  // commander has already printed its own usage errors; --help and --version end here with code 0.
  if (e instanceof CommanderError) process.exitCode = e.exitCode;
  else process.exitCode = reportError(e);
}
