// A real nginx in front of Keyward and of a tool it protects with forward auth (`auth_request` on
// `GET /auth/verify`), for journey 9. Everything runs as the current user on free loopback ports:
//
//   browser ── nginx (http://localhost:<port>) ─┬─ /tool/…  → auth_request → Keyward /auth/verify
//                                               │            then the tool (a tiny HTTP server here)
//                                               └─ anything else → Keyward (SPA, /graphql, /auth/…)
//
// Keyward and the tool share nginx's origin: the step-up page returns only to same-origin paths, and
// WebAuthn accepts only the origin of `public_url`. So this fixture starts its own gateway, on a fresh
// database and its own Redis database, with `KEYWARD_PUBLIC_URL` = the nginx URL (the journeys' gateways
// from global-setup keep theirs). `nginxConf()` is the worked example of the README.
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CEREMONY_TTL_SECONDS } from './stack';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The binary and the SPA as global-setup finds them (it checked both before any journey ran; it is
// not imported here, which would load the IdP's modules into the test worker).
function keywardBinary(): string {
  return process.env.KEYWARD_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'keyward');
}

/** A copy of frontend/dist, so a rebuild meanwhile cannot serve a half-written app. */
function spaSnapshot(): string {
  const copy = mkdtempSync(join(tmpdir(), 'keyward-e2e-nginx-spa-'));
  cpSync(join(ROOT, 'frontend', 'dist'), copy, { recursive: true });
  return copy;
}

/** What nginx asks Keyward for every request of the tool (the `auth_request` subrequest). */
export const TOOL_ACTION = 'k8s.exec';
export const TOOL_RESOURCE = 'prod/cluster-a';

/**
 * Redis logical databases of the forward-auth gateways, one per Playwright project; global-setup's
 * gateways use 1 (sqlite) and 2 (postgres), see stack.ts.
 */
const REDIS_DB: Record<string, number> = { sqlite: 3, postgres: 4 };

/** The ports the nginx configuration names. */
export interface NginxPorts {
  /** Where nginx listens (127.0.0.1). */
  listen: number;
  /** Keyward's listener. */
  keyward: number;
  /** The tool's listener. */
  tool: number;
}

/**
 * The nginx configuration: Keyward and a tool at `/tool/` on one origin, the tool behind
 * `auth_request`. Paths (pid, logs, temp files) live in `dir`, so no root and no /etc/nginx.
 */
export function nginxConf(dir: string, ports: NginxPorts): string {
  return `# Keyward forward auth: a tool at /tool/ that needs a recent security-key touch for k8s.exec on
# prod/cluster-a, and Keyward itself on the same origin (its step-up page returns only to same-origin
# paths, and WebAuthn accepts only the origin of Keyward's public_url, which must be this server's URL).
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }

http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;

  upstream keyward { server 127.0.0.1:${ports.keyward}; keepalive 8; }
  upstream tool { server 127.0.0.1:${ports.tool}; }

  # The tool never sees Keyward's cookies (it could replay the session against Keyward): drop them
  # from the Cookie header it gets, keeping its own. On localhost their names have no __Host- prefix.
  map $http_cookie $cookie_without_keyward_session {
    default $http_cookie;
    "~^(?<before>.*?)(?:^|;\\s*)(?:__Host-)?keyward_session=[^;]*(?<after>.*)$" "$before$after";
  }
  map $cookie_without_keyward_session $cookie_for_tool {
    default $cookie_without_keyward_session;
    "~^(?<before>.*?)(?:^|;\\s*)(?:__Host-)?keyward_sso=[^;]*(?<after>.*)$" "$before$after";
  }

  server {
    listen 127.0.0.1:${ports.listen};
    server_name localhost;
    # Redirects keep the browser's host and port (Location: /step-up?…).
    absolute_redirect off;

    # Keyward: the SPA (/login, /step-up, …), /graphql, /auth/…, /assets/….
    location / {
      proxy_pass http://keyward;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    # The tool: every request asks Keyward first.
    location /tool/ {
      auth_request /auth/verify-tool;
      auth_request_set $keyward_member $upstream_http_x_keyward_member;
      auth_request_set $keyward_user $upstream_http_x_keyward_user;
      auth_request_set $keyward_org $upstream_http_x_keyward_org;
      # 401: no session. 403: a fresh key touch is needed (or the policy denies; the step-up page
      # then says why). auth_request_set can read the subrequest's headers but not its JSON body
      # (where stepUpUrl is), so the step-up address is built here from the same action and resource.
      error_page 401 = @login;
      error_page 403 = @step_up;

      proxy_pass http://tool;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # Set (never passed through from the browser): who Keyward says this is.
      proxy_set_header X-Keyward-Member $keyward_member;
      proxy_set_header X-Keyward-User $keyward_user;
      proxy_set_header X-Keyward-Org $keyward_org;
      proxy_set_header Cookie $cookie_for_tool;
    }

    # The auth_request subrequest: headers only, with the address the browser asked for.
    location = /auth/verify-tool {
      internal;
      proxy_pass http://keyward/auth/verify?action=${TOOL_ACTION}&resource=${TOOL_RESOURCE};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }

    location @login {
      return 302 /login;
    }

    # $request_uri goes into return= as it is: fine for paths; a tool URL with its own query string
    # (…?a=1&b=2) would lose all but its first parameter, since nginx has no URL-encoding function.
    location @step_up {
      return 302 /step-up?action=${TOOL_ACTION}&resource=${TOOL_RESOURCE}&return=$request_uri;
    }
  }
}
`;
}

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the caller to bind). */
export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** One request the tool received. */
export interface ToolRequest {
  path: string;
  member: string | undefined;
  user: string | undefined;
  cookie: string | undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The protected tool: "protected tool", and the identity headers it received, echoed. */
async function startTool(): Promise<{ server: Server; port: number; requests: ToolRequest[] }> {
  const requests: ToolRequest[] = [];
  const server = createServer((req, res) => {
    const seen: ToolRequest = {
      path: req.url ?? '',
      member: header(req.headers, 'x-keyward-member'),
      user: header(req.headers, 'x-keyward-user'),
      cookie: header(req.headers, 'cookie'),
    };
    requests.push(seen);
    const row = (name: string, id: string, value: string | undefined) =>
      `<dt>${name}</dt><dd data-testid="${id}">${escapeHtml(value ?? '(none)')}</dd>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><html lang="en"><head><title>Protected tool</title></head><body>
<h1>protected tool</h1>
<dl>${row('X-Keyward-Member', 'member', seen.member)}${row('X-Keyward-User', 'user', seen.user)}${row('X-Keyward-Org', 'org', header(req.headers, 'x-keyward-org'))}</dl>
</body></html>`);
  });
  await new Promise<void>((done, fail) => server.once('error', fail).listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as { port: number }).port, requests };
}

/** Waits until something accepts connections on 127.0.0.1:`port` (nginx has no readiness line). */
async function accepting(port: number, child: ChildProcess, what: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited before listening:\n${what()}`);
    const open = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill(signal);
  });
}

/** `nginx` on the PATH, or Debian's /usr/sbin/nginx (not on a normal user's PATH). */
function nginxBinary(): string {
  const onPath = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  if (existsSync('/usr/sbin/nginx')) return '/usr/sbin/nginx';
  throw new Error('nginx is not installed: run scripts/install-nginx.sh (make e2e-deps does), or sudo apt-get install -y nginx');
}

/** The running stack of journey 9. */
export interface ForwardAuthStack {
  /** nginx's origin, e.g. http://localhost:41234: Keyward's public_url too. */
  url: string;
  /** The first-start backup secret of the admin (`admin`) of organization `default`. */
  secret: string;
  /** What the tool received, in order. */
  toolRequests: ToolRequest[];
  /** The nginx.conf in use. */
  conf: string;
  close(): Promise<void>;
}

/**
 * Starts the tool, a gateway on a fresh database whose public_url is nginx's URL (SQLite or
 * PostgreSQL after the Playwright project's name), and nginx in front of both.
 */
export async function startForwardAuthStack(project: string): Promise<ForwardAuthStack> {
  const dir = mkdtempSync(join(tmpdir(), `keyward-e2e-nginx-${project}-`));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const tool = await startTool();
    cleanups.push(() => new Promise<void>((done) => (tool.server.close(() => done()), tool.server.closeAllConnections())));
    const listen = await freePort();
    const url = `http://localhost:${listen}`;

    // The gateway.
    const spa = spaSnapshot();
    cleanups.push(() => rmSync(spa, { recursive: true, force: true }));
    let databaseUrl = `sqlite://${dir}/keyward.db?mode=rwc`;
    if (project === 'postgres') {
      const base = process.env.KEYWARD_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
      const name = `keyward_e2e_nginx_${Date.now()}`;
      execFileSync('psql', [base, '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
      cleanups.push(() => void execFileSync('psql', [base, '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]));
      databaseUrl = base.replace(/\/[^/?]+(\?|$)/, `/${name}$1`);
    }
    const redis = new URL(process.env.KEYWARD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379');
    redis.pathname = `/${REDIS_DB[project] ?? 3}`;
    execFileSync('redis-cli', ['-u', redis.toString(), 'FLUSHDB']);
    const gateway = spawn(keywardBinary(), ['serve'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        KEYWARD_LISTEN: '127.0.0.1:0',
        KEYWARD_MANAGEMENT_LISTEN: '127.0.0.1:0',
        KEYWARD_PUBLIC_URL: url,
        // nginx's X-Forwarded-For is believed, so audit and rate limits see the browser's address.
        KEYWARD_TRUSTED_PROXIES: '[127.0.0.1]',
        KEYWARD_DATABASE_URL: databaseUrl,
        KEYWARD_REDIS_URL: redis.toString(),
        KEYWARD_STATIC_DIR: spa,
        KEYWARD_CEREMONY__TTL: `${CEREMONY_TTL_SECONDS}s`,
        KEYWARD_LOG__LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => stop(gateway));
    let output = '';
    await new Promise<void>((ready, fail) => {
      gateway.on('error', fail);
      gateway.on('exit', (code) => fail(new Error(`keyward (forward auth, ${project}) exited with ${code}: ${output}`)));
      gateway.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/keyward: listening on \S+/.test(output)) ready();
      });
    });
    const keywardPort = Number(/keyward: listening on \S+:(\d+)/.exec(output)?.[1]);
    const secret = /secret:\s+(\S+)/.exec(output)?.[1];
    if (!keywardPort || !secret) throw new Error(`no listening address or backup secret in the output of keyward:\n${output}`);

    // nginx.
    for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', sub), { recursive: true });
    const conf = nginxConf(dir, { listen, keyward: keywardPort, tool: tool.port });
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const nginx = nginxBinary();
    // -e: the error log before the configuration is read (the built-in one is under /var/log).
    const args = ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')];
    const check = spawnSync(nginx, [...args, '-t'], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`nginx -t refused the configuration:\n${check.stderr}\n${conf}`);
    const server = spawn(nginx, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // SIGQUIT: nginx's graceful shutdown (SIGTERM is the fast one; either ends the worker too).
    cleanups.push(() => stop(server, 'SIGQUIT'));
    await accepting(listen, server, () => stderr);

    return { url, secret, toolRequests: tool.requests, conf, close };
  } catch (err) {
    await close();
    throw err;
  }
}
