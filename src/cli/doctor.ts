// promptlab doctor: what this machine has for promptlab, and what to do about what it lacks.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, backendHint, initBackend, packageAvailable } from '../backend';
import { commandOutput } from '../backend/system';
import { CHROMIUM_FIX, chromiumMissingReason, findChromium } from '../viz/chromium';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

function packageVersion(name: string): string | null {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

const ROOT = path.resolve(__dirname, '..', '..');

export async function doctorChecks(): Promise<Check[]> {
  const checks: Check[] = [];
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  checks.push({ name: 'promptlab', ok: true, detail: `${pkg.version} (${ROOT})` });
  const major = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', ok: major >= 20, detail: process.versions.node, fix: major >= 20 ? undefined : 'install Node.js 20 or newer' });
  checks.push({ name: 'tfjs', ok: true, detail: tf.version.tfjs });

  let chosen = '';
  try {
    const info = await initBackend();
    chosen = info.name;
    const failed = info.tried.map((t) => `${t.name}: ${t.error}`).join('; ');
    checks.push({ name: 'backend', ok: true, detail: `${info.name} (tf backend '${info.tfBackend}', ${info.package}${info.threads && info.threads > 1 ? `, ${info.threads} threads (PROMPTLAB_WASM_THREADS)` : ''}${info.forced ? ', forced by PROMPTLAB_BACKEND' : ''})${failed ? `; not available: ${failed}` : ''}` });
  } catch (e) {
    checks.push({ name: 'backend', ok: false, detail: (e as Error).message, fix: 'unset PROMPTLAB_BACKEND, or install the backend it names' });
  }
  for (const b of BACKEND_ORDER) {
    const have = packageAvailable(b);
    checks.push({
      name: `  ${b}`,
      ok: have || b === 'node-gpu' || b === 'node',
      detail: have ? `installed${b === chosen ? ' (in use)' : ''}` : 'not installed',
      fix: have ? undefined : backendHint(b),
    });
  }

  const ortProblem = (require('../onnx/runtime') as typeof import('../onnx/runtime')).onnxRuntimeProblem();
  checks.push({
    name: 'onnxruntime',
    ok: true, // optional: frozen CLIP features (src/onnx); tfjs does everything without it
    detail: ortProblem ? `not usable: ${ortProblem}` : 'onnxruntime-node loads (frozen CLIP towers exported to ONNX: bench image-vitb32-onnx, image-rn50-onnx, text-k100-onnx)',
  });

  const smi = commandOutput('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader']);
  const cuda = packageAvailable('node-gpu');
  checks.push({
    name: 'gpu',
    ok: true,
    detail: smi ? `${smi}${cuda ? '' : ' (tfjs-node-gpu is not installed, so it is unused)'}` : 'no NVIDIA GPU found (nvidia-smi absent): training runs on the CPU',
    fix: smi && !cuda ? backendHint('node-gpu') : undefined,
  });

  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const jupyter = commandOutput(python, ['-c', 'import jupyter_client, nbclient; print(jupyter_client.__version__)']);
  checks.push({
    name: 'jupyter',
    ok: jupyter !== null,
    detail: jupyter ? `jupyter_client ${jupyter} (${python})` : `jupyter_client/nbclient not importable by ${python}`,
    fix: jupyter ? undefined : 'apt-get install jupyter-notebook python3-nbconvert python3-nbclient jupyter-client (see environment.md)',
  });
  const tslab = packageVersion('tslab');
  const kernelSpec = path.join(ROOT, 'jupyter', 'kernels', 'promptlab', 'kernel.json');
  const haveSpec = fs.existsSync(kernelSpec);
  checks.push({
    name: 'tslab kernel',
    ok: tslab !== null && haveSpec,
    detail: tslab ? `tslab ${tslab}; kernelspec ${haveSpec ? path.relative(ROOT, kernelSpec) : 'missing'} (npm run notebooks uses it)` : 'tslab is not installed',
    fix: tslab ? (haveSpec ? undefined : `restore ${path.relative(ROOT, kernelSpec)} (git checkout)`) : 'npm ci (tslab is a dev dependency)',
  });

  const chromium = findChromium();
  const chromiumVersion = chromium ? commandOutput(chromium, ['--version']) : null;
  checks.push({
    name: 'chromium',
    ok: !!chromiumVersion,
    detail: chromiumVersion
      ? `${chromiumVersion} (${chromium})`
      : `${chromium ? `${chromium} does not run (--version failed)` : chromiumMissingReason()}: figures are written as HTML and tables only, no PNG/SVG`,
    fix: chromiumVersion ? undefined : CHROMIUM_FIX,
  });
  return checks;
}

export async function doctorCommand(argv: string[], log: (s: string) => void): Promise<void> {
  const checks = await doctorChecks();
  if (argv.includes('--json')) {
    log(JSON.stringify(checks));
    return;
  }
  for (const c of checks) {
    log(`${c.ok ? 'ok  ' : 'MISS'} ${c.name.padEnd(14)} ${c.detail}`);
    if (c.fix) log(`     ${' '.repeat(14)} -> ${c.fix}`);
  }
}
