#!/usr/bin/env bash
# The side-by-side table of src/bench/README.md: each promptlab bench case and its PyTorch
# counterpart (scripts/bench-pytorch.py, Debian's python3-torch, 2 threads) run one after the other
# in one session, so both see the same machine. Not part of CI. Run it on a quiet machine:
#   bash scripts/bench-side-by-side.sh [case ...] 2>&1 | tee bench.log
# Each promptlab case runs with its default threads (PROMPTLAB_WORKERS or the cores on WASM) and,
# for the cases that split the frozen towers, once more on one thread (--threads 1). A case X-onnx
# (onnxruntime-node) runs once and is paired with PyTorch's X. PyTorch is Debian's python3-torch
# (PYTHON, default /usr/bin/python3: the python3 first on PATH may be another one), which needs
# OpenBLAS (apt-get install libopenblas0-pthread): with the reference BLAS it is several times slower.
set -uo pipefail
PY=${PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(image-vitb32 image-rn50 text-k100 text-k100-full coop-step cocoop-step pretrain-step)
echo "# $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${cases[@]}"; do
  echo "## $c"
  case "$c" in
    *-onnx) npx promptlab bench "$c" --repeats 3 --json ;;
    pretrain-step) for v in pretrain-step pretrain-step-recompute pretrain-step-2-workers pretrain-step-2-workers-recompute; do npx promptlab bench $v --repeats 3 --json; done ;;
    *) npx promptlab bench "$c" --repeats 3 --json; npx promptlab bench "$c" --repeats 3 --threads 1 --json ;;
  esac
  case "$c" in
    coop-step|cocoop-step) "$PY" scripts/bench-pytorch.py "$c" "$c-l77" --repeats 3 ;;
    *-onnx) "$PY" scripts/bench-pytorch.py "${c%-onnx}" --repeats 3 ;;
    *) "$PY" scripts/bench-pytorch.py "$c" --repeats 3 ;;
  esac
done
