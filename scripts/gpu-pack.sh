#!/usr/bin/env bash
# Packs the GPU check (scripts/gpu-check.sh) for a machine that cannot reach npm and has no Node: the
# device machines lent to this project's sessions (x86-64, NVIDIA, nothing outside reachable, at
# most 64 MiB of working tree sent). Not part of CI. From the repo root, after npm ci, on x86-64
# Linux with the npm registry reachable:
#
#   bash scripts/gpu-pack.sh build     # writes .gpu/ (git-ignored): node.xz and modules.tar.xz
#   bash scripts/gpu-pack.sh slim      # detaches HEAD onto a commit without the fixtures the check
#                                      # does not read, which .git/info/exclude then hides (kept on disk)
#   (device) run: bash scripts/gpu-check.sh, with carry [".gpu"]
#   bash scripts/gpu-pack.sh restore   # back to the branch, nothing lost
#
# node.xz is this machine's Node (glibc 2.28 or later); libvulkan1_*.deb is Debian's Vulkan loader. modules.tar.xz holds the files of
# node_modules that the check loads (traced here by running its commands on WASM, plus the WebGPU
# path's CLIP parity where Dawn finds an adapter) and whole: webgpu's Linux x86-64 Dawn,
# @tensorflow/tfjs-backend-webgpu, deasync (synchronous reads, src/backend/webgpu-node.ts), tsx
# and its esbuild. onnxruntime-node (optional, 300 MB) is left out: doctor reports it missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WEBGPU=(webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0 deasync@0.1.32)
# What the check does not read: the other fixtures, notebooks, results and MiniCLIP's weights.
DROP=(test/fixtures/coop-official test/fixtures/csp-official test/fixtures/denseclip-official
  test/fixtures/video-official test/fixtures/linear-probe test/fixtures/czsl-eval notebooks results
  models/miniclip/model.safetensors)
MARK='# gpu-pack slim (scripts/gpu-pack.sh restore removes these lines)'

build() {
  [ "$(uname -m)" = x86_64 ] || { echo "gpu-pack: the device machines are x86-64; this is $(uname -m)"; exit 1; }
  node -e "for (const p of ['webgpu', '@tensorflow/tfjs-backend-webgpu', 'deasync']) require.resolve(p + '/package.json')" 2>/dev/null \
    || npm install --no-save --no-audit --no-fund "${WEBGPU[@]}"
  rm -rf .gpu && mkdir -p .gpu/trace
  local tracer=$ROOT/.gpu/trace.cjs
  cat > "$tracer" <<'EOF'
// Records every file of node_modules this thread runs, loads or reads, written when it exits.
const fs = require('fs');
const path = require('path');
const { threadId } = require('worker_threads');
const seen = new Set();
const note = (f) => { if (typeof f === 'string' && f.includes('node_modules')) seen.add(path.resolve(f)); };
for (const name of ['readFileSync', 'readFile', 'createReadStream']) {
  const orig = fs[name];
  fs[name] = function (f, ...rest) { note(f); return orig.call(this, f, ...rest); };
}
const origP = fs.promises.readFile;
fs.promises.readFile = function (f, ...rest) { note(f); return origP.call(this, f, ...rest); };
process.on('exit', () => {
  for (const f of [process.argv[1], ...Object.keys(require.cache)]) note(f);
  fs.writeFileSync(path.join(process.env.GPU_PACK_TRACE, `${process.pid}-${threadId}.txt`), [...seen].join('\n'));
});
EOF
  export GPU_PACK_TRACE=$ROOT/.gpu/trace NODE_OPTIONS="--require $tracer"
  echo "gpu-pack: tracing the check's commands on WASM (a few minutes)"
  (
    export PROMPTLAB_BACKEND=wasm
    node bin/promptlab.js doctor > /dev/null
    node node_modules/mocha/bin/mocha.js --config .mocharc.json test/parity/clip.test.ts > /dev/null
    node bin/promptlab.js bench coop-step --repeats 1 --threads 1 --json > /dev/null 2>&1
    node bin/promptlab.js bench pretrain-step --repeats 1 --json > /dev/null 2>&1
  )
  XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} PROMPTLAB_BACKEND=webgpu node node_modules/mocha/bin/mocha.js --config .mocharc.json test/parity/clip.test.ts > /dev/null 2>&1 \
    || echo "gpu-pack: (no WebGPU adapter here: the WebGPU path's loads are not traced; its packages go in whole)"
  unset NODE_OPTIONS
  local list=.gpu/files.txt
  {
    cat .gpu/trace/*.txt | sed "s#^$ROOT/##" | grep '^node_modules/' || true
    # every package the trace touched, whole (nested package.json files, which the loader reads
    # itself, included), except TensorFlow.js's, whose many builds are cut to the traced files and
    # their package.json files
    cat .gpu/trace/*.txt | sed "s#^$ROOT/##" | grep -o '^\(node_modules/\(@[^/]*/\)\?[^/]*/\)\+' | sed 's#/$##' | sort -u \
      | while read -r d; do
          case "$d" in
            node_modules/webgpu|node_modules/deasync|node_modules/onnxruntime*) ;; # by name below, this platform only
            node_modules/@tensorflow/*) find "$d" -path "$d/node_modules" -prune -o -name package.json -type f -print ;;
            *) find "$d" -path "$d/node_modules" -prune -o -type f -print ;;
          esac
        done
    # mocha and tsx with everything they depend on, whole
    node -e "
      const path = require('path'), seen = new Set();
      const visit = (name, from) => {
        let dir;
        try { dir = path.dirname(require.resolve(name + '/package.json', { paths: [from] })); } catch { return; }
        if (seen.has(dir)) return;
        seen.add(dir);
        const pkg = require(path.join(dir, 'package.json'));
        for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(d, dir);
      };
      for (const p of ['mocha', 'tsx']) visit(p, process.cwd());
      console.log([...seen].map((d) => path.relative(process.cwd(), d)).join('\\n'));
    " | while read -r d; do find "$d" -path "$d/node_modules" -prune -o -type f -print 2>/dev/null || true; done
    find node_modules/mocha/bin node_modules/tsx node_modules/esbuild node_modules/@esbuild/linux-x64 node_modules/get-tsconfig \
      node_modules/resolve-pkg-maps node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.node.js \
      node_modules/@tensorflow/tfjs-backend-webgpu/package.json node_modules/webgpu/package.json \
      node_modules/webgpu/index.js node_modules/webgpu/dist/linux-x64 node_modules/deasync/package.json \
      node_modules/deasync/index.js "node_modules/deasync/bin/linux-x64-node-$(node -p 'process.versions.node.split(".")[0]')" \
      -type f 2>/dev/null || true
  } | grep -v '^node_modules/onnxruntime' | sort -u | while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done > "$list"
  tar -cf - -T "$list" | xz -T0 -6 > .gpu/modules.tar.xz
  xz -T0 -6 -c "$(command -v node)" > .gpu/node.xz
  # Dawn opens libvulkan.so.1; the device image may lack the loader (device README)
  (cd .gpu && apt-get download -q libvulkan1 > /dev/null) || echo "gpu-pack: could not download libvulkan1 (apt-get download); the check uses the device's loader if it has one"
  rm -rf .gpu/trace "$tracer" "$list"
  echo "gpu-pack: .gpu/ $(du -sh .gpu | cut -f1) (node.xz $(du -h .gpu/node.xz | cut -f1), modules.tar.xz $(du -h .gpu/modules.tar.xz | cut -f1)); next: bash scripts/gpu-pack.sh slim"
}

tree_bytes() { # what a device call would send: tracked and untracked-not-ignored files, and .gpu
  { git ls-files -z --cached --others --exclude-standard; find .gpu -type f -print0; } | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1
}

slim() {
  git diff --quiet && git diff --cached --quiet || { echo "gpu-pack slim: commit or stash your changes first"; exit 1; }
  grep -qF "$MARK" .git/info/exclude 2>/dev/null && { echo "gpu-pack: already slim (restore first)"; exit 1; }
  git symbolic-ref -q --short HEAD > .gpu/branch || git rev-parse HEAD > .gpu/branch
  git switch -q --detach
  git rm -r -q --cached -- "${DROP[@]}"
  git -c user.name=gpu-pack -c user.email=gpu-pack@localhost commit -q -m "gpu check: slim tree (scripts/gpu-pack.sh; never merge)"
  { echo "$MARK"; printf '/%s\n' "${DROP[@]}"; echo "$MARK end"; } >> .git/info/exclude
  echo "gpu-pack: HEAD detached without ${DROP[*]} (still on disk); a device call would send $(( $(tree_bytes) / 1048576 )) MiB (limit 64)"
}

restore() {
  [ -f .gpu/branch ] || { echo "gpu-pack restore: no .gpu/branch (not slim?)"; exit 1; }
  # switch while the dropped files are still ignored: git then replaces them with the same content
  git switch -q "$(cat .gpu/branch)" 2>/dev/null || git switch -q --detach "$(cat .gpu/branch)"
  sed -i "\\|^$MARK\$|,\\|^$MARK end\$|d" .git/info/exclude
  rm -f .gpu/branch
  git status --short | head -5
  echo "gpu-pack: back on $(git symbolic-ref -q --short HEAD || git rev-parse --short HEAD)"
}

case "${1:-build}" in
  build) build ;;
  slim) slim ;;
  restore) restore ;;
  *) echo "usage: bash scripts/gpu-pack.sh build|slim|restore"; exit 2 ;;
esac
