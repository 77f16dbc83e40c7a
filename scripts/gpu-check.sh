#!/usr/bin/env bash
# The GPU check of the performance issue, for a machine with an NVIDIA GPU (any GPU with a Vulkan
# driver): TensorFlow.js's WebGPU backend through the `webgpu` npm package (Google's Dawn over
# Vulkan), the CLIP parity cases on it, and the two training steps timed. Users' CUDA machines keep
# the documented path, @tensorflow/tfjs-node-gpu (picked automatically where it installs).
#
#   bash scripts/gpu-check.sh 2>&1 | tee gpu-check.log      (from the repo root, after npm ci)
#
# Neither package is a dependency of promptlab: they are installed here without being saved. On a
# machine without network, install them where there is one and bring node_modules/webgpu and
# node_modules/@tensorflow/tfjs-backend-webgpu along. Record the numbers in src/bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(nproc) cores; $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: none')"
if ! node -e "require.resolve('webgpu'); require.resolve('@tensorflow/tfjs-backend-webgpu')" 2>/dev/null; then
  npm install --no-save --no-audit --no-fund webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 || { echo "could not install webgpu and @tensorflow/tfjs-backend-webgpu"; exit 1; }
fi
export PROMPTLAB_BACKEND=webgpu
echo "## backend"
npx promptlab doctor | grep -i backend
echo "## CLIP parity on WebGPU (the README's tolerances)"
npx mocha --config .mocharc.json test/parity/clip.test.ts
echo "## coop-step and pretrain-step on WebGPU"
npx promptlab bench coop-step --repeats 3 --json
npx promptlab bench pretrain-step --repeats 3 --json
echo "## the same on this machine's CPU (WASM), for comparison"
PROMPTLAB_BACKEND=wasm npx promptlab bench coop-step --repeats 3 --json
