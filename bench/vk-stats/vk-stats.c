/*
 * What the Vulkan driver made of a compute shader: registers, spills, shared memory, instruction counts, as far as
 * the driver reports them through VK_KHR_pipeline_executable_properties (NVIDIA's does). WebGPU cannot tell how
 * many registers a WGSL kernel takes, and whether two workgroups of the matmul tile kernel fit a multiprocessor is
 * what every tile variant's speed hinges on (docs/performance.md); Dawn hands the driver SPIR-V, so this compiles
 * the SPIR-V that Dawn generated (see dump.mjs) the same way and prints the driver's statistics.
 *
 *   vk-stats FILE.spv...      one block of "name = value" lines per file (and per executable)
 *   VK_STATS_IR=DIR           also writes each internal representation the driver offers to DIR
 *
 * Bindings are read from the SPIR-V (descriptor set, binding, storage class), so any kernel of ours compiles.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vulkan/vulkan.h>

#define CHECK(x) do { VkResult r_ = (x); if (r_ != VK_SUCCESS) { fprintf(stderr, "vk-stats: %s failed: %d\n", #x, r_); exit(1); } } while (0)

static uint32_t *readSpv(const char *path, size_t *words) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "vk-stats: cannot open %s\n", path); exit(1); }
  fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  uint32_t *w = malloc(n);
  if (fread(w, 1, n, f) != (size_t)n || n % 4 || w[0] != 0x07230203) { fprintf(stderr, "vk-stats: %s is not SPIR-V\n", path); exit(1); }
  fclose(f);
  *words = n / 4;
  return w;
}

/* The descriptor bindings of set 0, the push-constant block's presence and the entry point, from the module. */
typedef struct { uint32_t id, binding, set, hasBinding; uint32_t type; } Var;
static void scan(const uint32_t *w, size_t n, VkDescriptorSetLayoutBinding *out, uint32_t *count, int *push, char *entry) {
  enum { MAXV = 4096 };
  static Var vars[MAXV]; uint32_t nv = 0;
  *count = 0; *push = 0;
  for (size_t i = 5; i < n;) {
    uint32_t op = w[i] & 0xffff, len = w[i] >> 16;
    if (len == 0) break;
    if (op == 15 /* OpEntryPoint */) strncpy(entry, (const char *)&w[i + 3], 63);
    if (op == 71 /* OpDecorate */ && (w[i + 2] == 33 || w[i + 2] == 34) /* Binding, DescriptorSet */) {
      uint32_t k; for (k = 0; k < nv && vars[k].id != w[i + 1]; k++);
      if (k == nv && nv < MAXV) { memset(&vars[nv], 0, sizeof vars[nv]); vars[nv++].id = w[i + 1]; }
      if (w[i + 2] == 33) { vars[k].binding = w[i + 3]; vars[k].hasBinding = 1; } else vars[k].set = w[i + 3];
    }
    if (op == 59 /* OpVariable */) {
      uint32_t cls = w[i + 3];
      if (cls == 9 /* PushConstant */) *push = 1;
      for (uint32_t k = 0; k < nv; k++) if (vars[k].id == w[i + 2]) vars[k].type = cls;
    }
    i += len;
  }
  for (uint32_t k = 0; k < nv; k++) {
    if (!vars[k].hasBinding || vars[k].set != 0) continue;
    VkDescriptorType t = vars[k].type == 2 /* Uniform */ ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    out[(*count)++] = (VkDescriptorSetLayoutBinding){ vars[k].binding, t, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL };
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: vk-stats FILE.spv...\n"); return 2; }
  VkApplicationInfo app = { VK_STRUCTURE_TYPE_APPLICATION_INFO, NULL, "vk-stats", 1, NULL, 0, VK_API_VERSION_1_2 };
  VkInstanceCreateInfo ici = { VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, NULL, 0, &app, 0, NULL, 0, NULL };
  VkInstance inst; CHECK(vkCreateInstance(&ici, NULL, &inst));
  uint32_t nd = 8; VkPhysicalDevice pds[8]; CHECK(vkEnumeratePhysicalDevices(inst, &nd, pds));
  VkPhysicalDevice pd = pds[0];
  for (uint32_t i = 0; i < nd; i++) {
    VkPhysicalDeviceProperties p; vkGetPhysicalDeviceProperties(pds[i], &p);
    if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) { pd = pds[i]; break; }
  }
  VkPhysicalDeviceProperties props; vkGetPhysicalDeviceProperties(pd, &props);
  printf("device: %s (driver %u)\n", props.deviceName, props.driverVersion);
  float prio = 1;
  VkDeviceQueueCreateInfo qci = { VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, NULL, 0, 0, 1, &prio };
  VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pep = { VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR, NULL, VK_TRUE };
  VkPhysicalDeviceVulkan12Features v12 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES, .pNext = &pep };
  VkPhysicalDeviceVulkan11Features v11 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES, .pNext = &v12 };
  VkPhysicalDeviceFeatures2 f2 = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &v11 };
  vkGetPhysicalDeviceFeatures2(pd, &f2);
  pep.pipelineExecutableInfo = VK_TRUE;
  uint32_t nx = 0; vkEnumerateDeviceExtensionProperties(pd, NULL, &nx, NULL);
  VkExtensionProperties *xs = calloc(nx, sizeof *xs); vkEnumerateDeviceExtensionProperties(pd, NULL, &nx, xs);
  int hasStats = 0;
  for (uint32_t i = 0; i < nx; i++) hasStats |= !strcmp(xs[i].extensionName, "VK_KHR_pipeline_executable_properties");
  free(xs);
  /* Without the extension the pipelines are still compiled: that checks the SPIR-V and the layout read from it. */
  if (!hasStats) { printf("(the driver offers no VK_KHR_pipeline_executable_properties: compiling only)\n"); v12.pNext = NULL; }
  const char *exts[] = { "VK_KHR_pipeline_executable_properties" };
  VkDeviceCreateInfo dci = { VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, &f2, 0, 1, &qci, 0, NULL, hasStats ? 1 : 0, exts, NULL };
  VkDevice dev; CHECK(vkCreateDevice(pd, &dci, NULL, &dev));
  PFN_vkGetPipelineExecutablePropertiesKHR getExecs = (void *)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutablePropertiesKHR");
  PFN_vkGetPipelineExecutableStatisticsKHR getStats = (void *)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableStatisticsKHR");
  PFN_vkGetPipelineExecutableInternalRepresentationsKHR getIr = (void *)vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableInternalRepresentationsKHR");
  const char *irDir = getenv("VK_STATS_IR");
  for (int f = 1; f < argc; f++) {
    size_t n; uint32_t *code = readSpv(argv[f], &n);
    VkDescriptorSetLayoutBinding binds[64]; uint32_t nb; int push; char entry[64] = { 0 };
    scan(code, n, binds, &nb, &push, entry);
    VkShaderModuleCreateInfo smci = { VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, NULL, 0, n * 4, code };
    VkShaderModule sm; CHECK(vkCreateShaderModule(dev, &smci, NULL, &sm));
    VkDescriptorSetLayoutCreateInfo dl = { VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, NULL, 0, nb, binds };
    VkDescriptorSetLayout dsl; CHECK(vkCreateDescriptorSetLayout(dev, &dl, NULL, &dsl));
    VkPushConstantRange pcr = { VK_SHADER_STAGE_COMPUTE_BIT, 0, 128 };
    VkPipelineLayoutCreateInfo plci = { VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, NULL, 0, 1, &dsl, push ? 1 : 0, &pcr };
    VkPipelineLayout pl; CHECK(vkCreatePipelineLayout(dev, &plci, NULL, &pl));
    VkComputePipelineCreateInfo cpci = { VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, NULL,
      hasStats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR | VK_PIPELINE_CREATE_CAPTURE_INTERNAL_REPRESENTATIONS_BIT_KHR : 0,
      { VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, NULL, 0, VK_SHADER_STAGE_COMPUTE_BIT, sm, entry, NULL }, pl, VK_NULL_HANDLE, 0 };
    VkPipeline pipe; CHECK(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cpci, NULL, &pipe));
    printf("== %s (entry %s, %u bindings%s)\n", argv[f], entry, nb, push ? ", push constants" : "");
    if (!hasStats) goto done;
    VkPipelineInfoKHR pi = { VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, NULL, pipe };
    uint32_t ne = 0; CHECK(getExecs(dev, &pi, &ne, NULL));
    VkPipelineExecutablePropertiesKHR ep[8];
    for (uint32_t e = 0; e < 8; e++) ep[e] = (VkPipelineExecutablePropertiesKHR){ .sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR };
    if (ne > 8) ne = 8;
    CHECK(getExecs(dev, &pi, &ne, ep));
    for (uint32_t e = 0; e < ne; e++) {
      printf("executable %u: %s (subgroup %u)\n", e, ep[e].name, ep[e].subgroupSize);
      VkPipelineExecutableInfoKHR ei = { VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, NULL, pipe, e };
      uint32_t ns = 0; CHECK(getStats(dev, &ei, &ns, NULL));
      VkPipelineExecutableStatisticKHR *st = calloc(ns, sizeof *st);
      for (uint32_t s = 0; s < ns; s++) st[s].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
      CHECK(getStats(dev, &ei, &ns, st));
      for (uint32_t s = 0; s < ns; s++) {
        printf("  %s = ", st[s].name);
        switch (st[s].format) {
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: printf("%s", st[s].value.b32 ? "true" : "false"); break;
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: printf("%lld", (long long)st[s].value.i64); break;
          case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: printf("%llu", (unsigned long long)st[s].value.u64); break;
          default: printf("%g", st[s].value.f64);
        }
        printf("\n");
      }
      free(st);
      uint32_t nr = 0;
      if (getIr(dev, &ei, &nr, NULL) == VK_SUCCESS && nr) {
        VkPipelineExecutableInternalRepresentationKHR *ir = calloc(nr, sizeof *ir);
        for (uint32_t r = 0; r < nr; r++) ir[r].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INTERNAL_REPRESENTATION_KHR;
        getIr(dev, &ei, &nr, ir);
        for (uint32_t r = 0; r < nr; r++) {
          printf("  representation %u: %s (%zu bytes%s)\n", r, ir[r].name, ir[r].dataSize, ir[r].isText ? ", text" : "");
          if (!irDir) continue;
          ir[r].pData = malloc(ir[r].dataSize);
        }
        if (irDir) {
          getIr(dev, &ei, &nr, ir);
          for (uint32_t r = 0; r < nr; r++) {
            const char *base = strrchr(argv[f], '/'); base = base ? base + 1 : argv[f];
            char path[1024]; snprintf(path, sizeof path, "%s/%s.%u.%u.%s", irDir, base, e, r, ir[r].isText ? "txt" : "bin");
            FILE *o = fopen(path, "wb"); if (o) { fwrite(ir[r].pData, 1, ir[r].dataSize, o); fclose(o); }
          }
        }
      }
    }
  done:
    vkDestroyPipeline(dev, pipe, NULL); vkDestroyPipelineLayout(dev, pl, NULL); vkDestroyDescriptorSetLayout(dev, dsl, NULL);
    vkDestroyShaderModule(dev, sm, NULL); free(code);
  }
  vkDestroyDevice(dev, NULL); vkDestroyInstance(inst, NULL);
  return 0;
}
