export * from './broadcast.js';
export * from './reshape.js';
