// Starts the real stack for the e2e run: an OIDC IdP (oidc-provider) and two `keyward` gateways,
// one on SQLite and one on PostgreSQL, both with Redis (separate logical databases). Each
// gateway starts on an empty database, so it prints fresh backup credentials, which the tests
// read from `.state/<backend>.json`.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIdp } from './idp.mjs';
import { BACKENDS, IDP_PORT } from './stack';

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

async function startGateway(backend: (typeof BACKENDS)[number]): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), `keyward-e2e-${backend.name}-`));
  const databaseUrl = backend.name === 'sqlite'
    ? `sqlite://${dir}/keyward.db?mode=rwc`
    : freshPostgres(process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const redisUrl = `${process.env.KEYWARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}/${backend.redisDb}`;
  redisFlush(redisUrl);
  const child = spawn(keywardBinary(), ['serve'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      KEYWARD_LISTEN: `127.0.0.1:${backend.port}`,
      KEYWARD_PUBLIC_URL: `http://localhost:${backend.port}`,
      KEYWARD_DATABASE_URL: databaseUrl,
      KEYWARD_REDIS_URL: redisUrl,
      KEYWARD_STATIC_DIR: join(ROOT, 'frontend', 'dist'),
      KEYWARD_CEREMONY__TTL: '20s',
      KEYWARD_LOG__LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  await new Promise<void>((resolveReady, reject) => {
    child.on('exit', (code) => reject(new Error(`keyward (${backend.name}) exited with ${code}: ${output}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('keyward: listening on')) resolveReady();
    });
  });
  const secret = /secret:\s+(\S+)/.exec(output)?.[1];
  if (!secret) throw new Error(`no backup credentials in the output of keyward (${backend.name}):\n${output}`);
  mkdirSync(join(HERE, '.state'), { recursive: true });
  writeFileSync(join(HERE, '.state', `${backend.name}.json`), JSON.stringify({ secret, databaseUrl }));
  return child;
}

export default async function globalSetup() {
  const idp = await startIdp(IDP_PORT, BACKENDS.map((b) => `http://localhost:${b.port}/auth/sso/callback`));
  const gateways = [];
  for (const backend of BACKENDS) gateways.push(await startGateway(backend));
  return async () => {
    await Promise.all(gateways.map((gateway) => new Promise((done) => { gateway.once('exit', done); gateway.kill('SIGTERM'); })));
    await idp.close();
    const base = process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    for (const name of createdDatabases) execFileSync('psql', [base, '-c', `DROP DATABASE IF EXISTS ${name}`]);
  };
}
