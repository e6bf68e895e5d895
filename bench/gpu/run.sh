#!/usr/bin/env bash
# Run ON THE GPU MACHINE (after bench/gpu/prepare.sh here):
#   run(command="bash bench/gpu/run.sh", carry=[".device/gpu"], timeout_s=420)
# Unpacks node, Dawn and the Vulkan loader to /tmp, prints the adapter Dawn reports (it must name
# the NVIDIA GPU, not llvmpipe), runs the training bench on webgpu, and writes everything to $OUT.
# STEPS (default 20) sets the timed steps per model.
set -uo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)/.device/gpu"
OUT="${OUT:-/tmp/dlexp-gpu-out}"
D=/tmp/dlexp-gpu
STEPS="${STEPS:-20}"
mkdir -p "$OUT" "$D"
exec > >(tee "$OUT/run.log") 2>&1
[ -f "$SRC/train-bench.mjs" ] || { echo "missing $SRC: run bench/gpu/prepare.sh and carry .device/gpu"; exit 2; }

unxz_to() { # unxz_to <file.xz> <dest>: xz if the image has it, else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],"wb"))' "$1" "$2"; fi
}
unpack_deb() { # unpack_deb <file.deb> <dir>: dpkg -x where present, else ar + tar in Python
  if command -v dpkg >/dev/null; then dpkg -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'PY'
import io, lzma, sys, tarfile
data = open(sys.argv[1], "rb").read()
pos = 8  # after "!<arch>\n"
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    if name.startswith("data.tar"):
        tarfile.open(fileobj=io.BytesIO(body)).extractall(sys.argv[2])
    pos += 60 + size + (size % 2)
PY
}

echo "== unpacking to $D"
cp -r "$SRC/." "$D/"
unxz_to "$D/node.xz" "$D/node" && chmod +x "$D/node" && rm "$D/node.xz"
unxz_to "$D/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$D/node_modules/webgpu/dist/linux-x64/dawn.node"
rm "$D/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
"$D/node" --version

echo "== GPU and Vulkan"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | head -5
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
  echo "no system libvulkan.so.1: using the carried libvulkan1"
  for deb in "$D"/debs/*.deb; do unpack_deb "$deb" "$D/sysroot"; done
  export LD_LIBRARY_PATH="$D/sysroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
ldconfig -p 2>/dev/null | grep -E 'libGLX_nvidia|libnvidia-vulkan|libEGL_nvidia' | head -5

cd "$D"
./node adapter-info.mjs 2>&1 | grep -v '^Warning: max' | tee "$OUT/adapter.jsonl"
if ! grep -qi nvidia "$OUT/adapter.jsonl"; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] || continue
    echo "retrying with VK_DRIVER_FILES=$icd"
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    ./node adapter-info.mjs 2>&1 | grep -v '^Warning: max' | tee "$OUT/adapter.jsonl"
    grep -qi nvidia "$OUT/adapter.jsonl" && break
  done
fi
grep -qi nvidia "$OUT/adapter.jsonl" || echo "WARNING: Dawn reports no NVIDIA adapter; the webgpu row below is not the GPU"

echo "== training bench on webgpu ($STEPS steps)"
timeout 300 ./node train-bench.mjs --backends webgpu --models cnn,mlp --steps "$STEPS" --warmup 3 --profile --out "$OUT"

echo "== PyTorch reference on the same machine"
if python3 -c 'import torch' 2>/dev/null; then
  timeout 120 python3 torch-cuda-reference.py 50 | tee "$OUT/torch-reference.md"
else
  echo "no PyTorch in this image"
fi
ls -la "$OUT"
