// The browser tests' step runner: one PASS / FAIL / SKIP line per step, and the counts for the
// summary line and the exit code. A failed step throws `StepFailed`, which ends the run.

export class StepFailed extends Error {}

export const counts = { passed: 0, failed: 0, skipped: 0 };

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export async function step(name, fn) {
  try {
    const detail = await fn();
    counts.passed += 1;
    console.log('PASS ' + name + (detail ? ': ' + detail : ''));
  } catch (err) {
    counts.failed += 1;
    console.log('FAIL ' + name + ': ' + (err && err.message ? err.message.split('\n')[0] : err));
    throw new StepFailed(name);
  }
}

export function skip(name, why) {
  counts.skipped += 1;
  console.log('SKIP ' + name + ': ' + why);
}
