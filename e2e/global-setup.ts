// Starts the real stack for the e2e run: an OIDC IdP (oidc-provider) and two `keyward` gateways,
// one on SQLite and one on PostgreSQL, both with Redis (separate logical databases). Each
// gateway starts on an empty database, so it prints fresh backup credentials, which the tests
// read from `.state/<backend>.json`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIdp } from './idp.mjs';
import { BACKENDS, CEREMONY_TTL_SECONDS, IDP_PORT } from './stack';

const HERE = dirname(fileURLToPath(import.meta.url));

const ROOT = resolve(HERE, '..');

function keywardBinary(): string {
  if (process.env.KEYWARD_BIN) return process.env.KEYWARD_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  return join(target, 'debug', 'keyward');
}

function redisFlush(url: string) {
  execFileSync('redis-cli', ['-u', url, 'FLUSHDB']);
}

function freshPostgres(base: string): string {
  const name = `keyward_e2e_${Date.now()}`;
  execFileSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
  createdDatabases.push(name);
  return base.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
}

const createdDatabases: string[] = [];

/**
 * A copy of the built SPA for this run, so that rebuilding frontend/dist meanwhile (vite empties it
 * first) cannot make a journey load a half-written app.
 */
function spaSnapshot(): string {
  const dist = join(ROOT, 'frontend', 'dist');
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`the SPA is not built (${dist}/index.html is missing): run make frontend, or cd frontend && npm ci && npm run build`);
  }
  const copy = mkdtempSync(join(tmpdir(), 'keyward-e2e-spa-'));
  cpSync(dist, copy, { recursive: true });
  return copy;
}

interface Gateway {
  child: ChildProcess;
  /** Its working directory (and SQLite file), removed at the end. */
  dir: string;
}

/** Starts one gateway on a fresh database; `started` gets it as soon as it runs, for the teardown. */
async function startGateway(backend: (typeof BACKENDS)[number], binary: string, spa: string, started: Gateway[]): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), `keyward-e2e-${backend.name}-`));
  const databaseUrl = backend.name === 'sqlite'
    ? `sqlite://${dir}/keyward.db?mode=rwc`
    : freshPostgres(process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  // Each backend gets its own logical database, whatever database the given URL names.
  const redisBase = new URL(process.env.KEYWARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
  redisBase.pathname = `/${backend.redisDb}`;
  const redisUrl = redisBase.toString();
  redisFlush(redisUrl);
  const child = spawn(binary, ['serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      KEYWARD_LISTEN: `127.0.0.1:${backend.port}`,
      // Two gateways run side by side: each takes a free port for metrics and readiness.
      KEYWARD_MANAGEMENT_LISTEN: '127.0.0.1:0',
      KEYWARD_PUBLIC_URL: `http://localhost:${backend.port}`,
      KEYWARD_DATABASE_URL: databaseUrl,
      KEYWARD_REDIS_URL: redisUrl,
      KEYWARD_STATIC_DIR: spa,
      KEYWARD_CEREMONY__TTL: `${CEREMONY_TTL_SECONDS}s`,
      KEYWARD_LOG__LEVEL: 'warn',
      // Every journey's browser is 127.0.0.1, and the admin touches a key in most journeys: the
      // production per-address and per-member ceremony limits would trip within one suite run.
      KEYWARD_LIMITS__CEREMONIES_PER_IP: '1000',
      KEYWARD_LIMITS__CEREMONIES_PER_MEMBER: '1000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const gateway = { child, dir };
  started.push(gateway);
  let output = '';
  await new Promise<void>((resolveReady, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`keyward (${backend.name}) exited with ${code}: ${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('keyward: listening on')) resolveReady();
    });
  });
  const secret = /secret:\s+(\S+)/.exec(output)?.[1];
  if (!secret) throw new Error(`no backup credentials in the output of keyward (${backend.name}):\n${output}`);
  writeFileSync(join(HERE, '.state', `${backend.name}.json`), JSON.stringify({ secret, databaseUrl }));
  return gateway;
}

export default async function globalSetup() {
  // Every run starts from empty databases: forget the keys and journeys of the previous run.
  rmSync(join(HERE, '.state'), { recursive: true, force: true });
  mkdirSync(join(HERE, '.state'), { recursive: true });
  const binary = keywardBinary();
  if (!existsSync(binary)) {
    throw new Error(`no keyward binary at ${binary}: build it (cargo build -p keyward-gateway --bin keyward; make e2e does) or set KEYWARD_BIN`);
  }
  const spa = spaSnapshot();
  const idp = await startIdp(IDP_PORT, BACKENDS.map((b) => `http://localhost:${b.port}/auth/sso/callback`));
  const gateways: Gateway[] = [];
  const teardown = async () => {
    await Promise.all(gateways.map(({ child }) => new Promise((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done(null);
      child.once('exit', done);
      child.kill('SIGTERM');
    })));
    await idp.close();
    for (const { dir } of gateways) rmSync(dir, { recursive: true, force: true });
    rmSync(spa, { recursive: true, force: true });
    const base = process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    for (const name of createdDatabases) execFileSync('psql', [base, '-c', `DROP DATABASE IF EXISTS ${name}`]);
  };
  try {
    for (const backend of BACKENDS) await startGateway(backend, binary, spa, gateways);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
