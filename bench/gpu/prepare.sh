#!/usr/bin/env bash
# Run HERE (the dev machine) to stage what the GPU machine needs into .device/gpu/ (git-ignored):
#   - bench/train-bench.ts bundled into one ESM file with esbuild (webgpu stays external: it loads
#     a native addon; the libtensorflow packages stay external: they are optional and absent);
#   - the npm package webgpu reduced to its JS entry, package.json and the linux-x64 dawn.node (xz);
#   - this machine's node binary (xz) and the libvulkan1 .deb (the loader Dawn opens);
#   - bench/gpu/run.sh's helpers and a PyTorch CUDA reference script.
# Then, on the device:  run(command="bash bench/gpu/run.sh", carry=[".device/gpu"])
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=.device/gpu
rm -rf "$OUT"
mkdir -p "$OUT/node_modules/webgpu/dist/linux-x64" "$OUT/debs"

echo "bundling the bench"
npx esbuild bench/train-bench.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" \
  --log-level=warning --outfile="$OUT/train-bench.mjs"

echo "copying webgpu (Dawn for Node, linux-x64 only)"
WEBGPU=node_modules/webgpu
cp "$WEBGPU/package.json" "$WEBGPU/index.js" "$OUT/node_modules/webgpu/"
xz -T2 -6 -c "$WEBGPU/dist/linux-x64/dawn.node" > "$OUT/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
cp bench/gpu/adapter-info.mjs "$OUT/"

echo "compressing node $(node --version)"
xz -T2 -6 -c "$(command -v node)" > "$OUT/node.xz"

echo "downloading the Vulkan loader"
(cd "$OUT/debs" && apt-get download libvulkan1 >/dev/null)

cp bench/gpu/torch-cuda-reference.py "$OUT/"
du -sh "$OUT"/* "$OUT"/node_modules/webgpu/dist/linux-x64/* | sed 's/^/  /'
du -sh "$OUT" | sed 's/^/total /'
