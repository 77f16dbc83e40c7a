#!/usr/bin/env bash
# The GPU check of the performance issue, for a machine with an NVIDIA GPU (any GPU with a Vulkan
# driver): TensorFlow.js's WebGPU backend through the `webgpu` npm package (Google's Dawn over
# Vulkan), the CLIP parity cases on it, and the two training steps timed. Users' CUDA machines keep
# the documented path, @tensorflow/tfjs-node-gpu (picked automatically where it installs).
#
#   bash scripts/gpu-check.sh 2>&1 | tee gpu-check.log      (from the repo root)
#
# Two ways to have what it needs:
# - after npm ci, with the npm registry reachable: it installs webgpu, @tensorflow/tfjs-backend-webgpu
#   and deasync without saving them (none is a dependency of promptlab);
# - on a machine that cannot reach npm and has no Node (the device machines lent to this project's
#   sessions): the pack of scripts/gpu-pack.sh in .gpu/ (Node, the modules, the Vulkan loader),
#   unpacked here when there is no node_modules.
# REPEATS (default 3) sets the timed repeats; with $OUT set the log is also written to $OUT/gpu-check.log.
# Record the numbers in src/bench/README.md ("The GPU check").
set -uo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
[ -n "${OUT:-}" ] && exec > >(tee "$OUT/gpu-check.log") 2>&1

if [ ! -d node_modules ] && [ -f .gpu/node.xz ]; then
  echo "## unpacking .gpu (scripts/gpu-pack.sh)"
  mkdir -p /tmp/gpu-node/bin
  python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" .gpu/node.xz /tmp/gpu-node/bin/node
  chmod +x /tmp/gpu-node/bin/node
  export PATH=/tmp/gpu-node/bin:$PATH
  python3 -c "import tarfile,sys; tarfile.open(sys.argv[1]).extractall('.')" .gpu/modules.tar.xz
  if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for f in .gpu/libvulkan1_*.deb; do [ -f "$f" ] && dpkg -x "$f" / ; done
    ldconfig
  fi
fi
# the NVIDIA driver's Vulkan ICD where the loader does not find it by itself (device README)
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && ! ls /usr/share/vulkan/icd.d/nvidia* > /dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
# tsx's cache sweeps an old cache folder on a timer; on WebGPU a coop-step from the pack (cold cache)
# died of that sweep's ENOENT as an uncaught error while a synchronous read waited (not understood:
# src/backend/webgpu-node.ts); without the cache it ran
export TSX_DISABLE_CACHE=1

echo "# $(date -u +%FT%TZ) $(nproc) cores; node $(node --version); $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: none')"
if ! node -e "for (const p of ['webgpu', '@tensorflow/tfjs-backend-webgpu', 'deasync']) require.resolve(p)" 2>/dev/null; then
  npm install --no-save --no-audit --no-fund webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 deasync@0.1.32 || { echo "could not install webgpu, @tensorflow/tfjs-backend-webgpu and deasync"; exit 1; }
fi
export PROMPTLAB_BACKEND=webgpu
echo "## backend"
node bin/promptlab.js doctor 2>&1 | grep -i 'backend\|gpu'
echo "## CLIP parity on WebGPU (the README's tolerances) and its synchronous reads"
timeout 300 node node_modules/mocha/bin/mocha.js --config .mocharc.json test/parity/clip.test.ts test/unit/webgpu-node.test.ts 2>&1 | grep -v 'artificially reduced'
echo "## coop-step and pretrain-step on WebGPU"
timeout 300 node bin/promptlab.js bench coop-step --repeats "$REPEATS" --threads 1 --json 2>&1 | grep -v 'artificially reduced'
timeout 600 node bin/promptlab.js bench pretrain-step --repeats "$REPEATS" --json 2>&1 | grep -v 'artificially reduced'
echo "## the same on this machine's CPU (WASM), for comparison"
PROMPTLAB_BACKEND=wasm timeout 300 node bin/promptlab.js bench coop-step --repeats "$REPEATS" --json
echo "# done $(date -u +%FT%TZ)"
