/// <reference types="@webgpu/types" />
import { FactlabError } from '../../errors.js';

/**
 * Getting a GPUDevice: from navigator.gpu in a browser, from Dawn (the `webgpu` package) in Node. The device is
 * asked for the adapter's own maxima of the limits kernels depend on: WebGPU's defaults (128 MiB bindings,
 * 16 KiB workgroup memory, 8 storage buffers per stage) are far below what an H100 offers and too few for the
 * selective scan's backward, which binds 14 buffers.
 */
export interface GpuDeviceInfo {
  device: GPUDevice;
  /** Held for the device's lifetime: in Node, Dawn's instance dies with the GPU object if it is garbage-collected. */
  keepAlive: readonly unknown[];
  /** "vendor architecture device (description)", as the adapter reports it. */
  description: string;
  subgroups: boolean;
}

const LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;

async function gpuEntryPoint(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (typeof process === 'undefined' || !process.versions?.node) throw new FactlabError('WebGPU is not available: this browser has no navigator.gpu');
  let mod: { create(options: string[]): GPU; globals: object };
  try {
    mod = await import('webgpu') as unknown as typeof mod;
  } catch (e) {
    throw new FactlabError(`WebGPU is not available: the \`webgpu\` package (Dawn for Node) failed to load: ${(e as Error).message}`);
  }
  // Dawn's constants (GPUBufferUsage, GPUMapMode, ...) are globals in a browser; kernels and the backend use them.
  Object.assign(globalThis, mod.globals);
  // Dawn rounds timestamps to 65.5 µs unless told not to; kernel timing (timeKernels) needs them whole.
  // FACTLAB_DAWN_ENABLE and FACTLAB_DAWN_DISABLE name further Dawn toggles (comma-separated), for experiments such as
  // disable_robustness or use_vulkan_memory_model.
  const enable = process.env.FACTLAB_DAWN_ENABLE?.trim(), disable = process.env.FACTLAB_DAWN_DISABLE?.trim();
  return mod.create([`disable-dawn-features=${['timestamp_quantization', ...(disable ? [disable] : [])].join(',')}`, ...(enable ? [`enable-dawn-features=${enable}`] : [])]);
}

export async function requestGpuDevice(): Promise<GpuDeviceInfo> {
  const gpu = await gpuEntryPoint();
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new FactlabError('WebGPU: no adapter. On Linux without a GPU, install Mesa\'s lavapipe (mesa-vulkan-drivers 25 or newer, and libvulkan1)');
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS) requiredLimits[name] = adapter.limits[name];
  const subgroups = adapter.features.has('subgroups');
  // Timestamps cost nothing until a timer asks for them (WebGPUBackend.timeKernels).
  const requiredFeatures = (['subgroups', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const description = [info.vendor, info.architecture, info.device, info.description && `(${info.description})`].filter(Boolean).join(' ');
  return { device, description, subgroups, keepAlive: [gpu, adapter] };
}
