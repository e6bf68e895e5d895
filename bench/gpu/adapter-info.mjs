// Prints the WebGPU adapters Dawn finds (one JSON line each), so a device run shows which GPU the
// bench used, or why there was none. Run with the carried node from the unpacked folder.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
let found = 0;
for (const powerPreference of ['high-performance', 'low-power']) {
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (adapter === null) continue;
  found++;
  const info = adapter.info ?? {};
  console.log(
    JSON.stringify({
      powerPreference,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    }),
  );
}
if (found === 0) console.log(JSON.stringify({ adapter: null }));
process.exit(0);
