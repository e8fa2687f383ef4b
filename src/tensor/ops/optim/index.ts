export { adamwStep, type AdamWStepAttrs } from './adamw-step.js';
