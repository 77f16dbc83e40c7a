// Asking the machine: one place that runs a helper command (git, nvidia-smi, python, chromium) for
// the run records and `promptlab doctor`.
import { execFileSync } from 'child_process';

/** The trimmed stdout of `cmd args`, or null when it is missing, fails or takes longer than timeoutMs. */
export function commandOutput(cmd: string, args: string[], timeoutMs = 15000): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: timeoutMs }).trim();
  } catch {
    return null;
  }
}
