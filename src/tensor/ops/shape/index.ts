export * from './broadcast.js';
export * from './reshape.js';
export * from './transpose.js';
export * from './slice.js';
export * from './concat.js';
export { indexSelect } from './index-select.js';
export * from './embedding.js';
export * from './where.js';
export * from './cast.js';
