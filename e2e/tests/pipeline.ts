// A pipeline for the approval journeys: `examples/pipeline-demo.sh` run as a child process against one
// backend, with an API key, the way a CI job runs it. It prints `request-id: …` and `approval-url: …`,
// waits with `keyward approval wait`, verifies the token with `keyward approval verify` (claims saved in
// its WORK_DIR as claims.json) and exits 0 after "deploying", 1 on rejection, 2 on expiry, 3 on error.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestInfo } from '@playwright/test';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const STATE = join(HERE, '..', '.state');

/** The `keyward` binary the gateways run (the CLI is the same binary). */
export function keywardBinary(): string {
  return process.env.KEYWARD_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'keyward');
}

/** Remembers the pipeline's API key secret for the later approval journeys on this backend. */
export function saveApiKey(testInfo: TestInfo, secret: string) {
  writeFileSync(join(STATE, `${testInfo.project.name}-api-key.json`), JSON.stringify({ secret }));
}

/** The API key secret journey 11-setup created on this backend. */
export function savedApiKey(testInfo: TestInfo): string {
  const file = join(STATE, `${testInfo.project.name}-api-key.json`);
  if (!existsSync(file)) throw new Error(`no API key saved for ${testInfo.project.name}: journey 11-setup did not run`);
  return JSON.parse(readFileSync(file, 'utf8')).secret;
}

/** One run of the demo pipeline. */
export class PipelineRun {
  private out = '';
  private readonly exited: Promise<number>;
  readonly workDir: string;

  private constructor(private readonly child: ChildProcess, workDir: string) {
    this.workDir = workDir;
    child.stdout!.on('data', (chunk) => (this.out += chunk));
    child.stderr!.on('data', (chunk) => (this.out += chunk));
    this.exited = new Promise((resolveExit) => child.on('exit', (code, signal) => resolveExit(code ?? (signal ? 128 : 3))));
  }

  /** Starts the pipeline against `backend` with `apiKey`; `settings` are the script's variables (RUN_ID, …). */
  static start(backend: string, apiKey: string, settings: Record<string, string>): PipelineRun {
    const workDir = mkdtempSync(join(tmpdir(), 'keyward-pipeline-'));
    const child = spawn('bash', [join(ROOT, 'examples', 'pipeline-demo.sh')], {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KEYWARD_URL: backend,
        KEYWARD_API_KEY: apiKey,
        KEYWARD_BIN: keywardBinary(),
        WORK_DIR: workDir,
        WAIT_TIMEOUT: '5m',
        DEPLOY_SECONDS: '0',
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new PipelineRun(child, workDir);
  }

  /** Everything it printed so far. */
  output(): string {
    return this.out;
  }

  /** Waits for the line `name: value` and returns the value. */
  async field(name: string, timeoutMs = 30_000): Promise<string> {
    const pattern = new RegExp(`^${name}: (.+)$`, 'm');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.out);
      if (match) return match[1].trim();
      if (Date.now() > deadline) throw new Error(`the pipeline printed no "${name}:" line in ${timeoutMs} ms; it printed:\n${this.out}`);
      if (this.child.exitCode !== null) throw new Error(`the pipeline exited (${this.child.exitCode}) before printing "${name}:":\n${this.out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Whether it is still running (e.g. still waiting for approvers). */
  running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Its exit code, once it exits (killed after `timeoutMs`). */
  async exit(timeoutMs = 60_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGTERM'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The claims `keyward approval verify` accepted (after a successful run). */
  claims(): Record<string, any> {
    return JSON.parse(readFileSync(join(this.workDir, 'claims.json'), 'utf8'));
  }

  /** Ends it if it is still running (a failed test must not leave it waiting). */
  stop() {
    if (this.running()) this.child.kill('SIGTERM');
  }
}
