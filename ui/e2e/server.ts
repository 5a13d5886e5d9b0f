// A real `corral server` for the browser test: started from CORRAL_BIN on
// a free loopback port with its own data directory, its CA pinned for the
// test's own API calls, and the SPKI hash Chromium is told to accept.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { connect } from "node:tls";

/** The URL the child prints on the line starting with `prefix`. */
function urlOf(child: ChildProcess, prefix: string, timeoutMs: number): Promise<string> {
  if (!child.stdout) throw new Error("no standard output to read");
  const lines = createInterface({ input: child.stdout });
  // Keep reading, so that the child never blocks on a full pipe.
  lines.on("line", () => undefined);
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no line "${prefix}..." within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    child.once("exit", (code) => {
      reject(new Error(`corral exited (${String(code)})`));
    });
    lines.on("line", (line) => {
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length).trim());
      }
    });
  });
}

/** A loopback port free now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

export interface Reply {
  status: number;
  body: string;
}

export class CorralServer {
  readonly url: string;
  /** The CA the test's own calls pin (the internal one, or `tls.ca`). */
  ca: string;
  readonly adminPassword: string;
  private child: ChildProcess;
  private readonly dir: string;
  /** The binary `start` ran and its extra flags, for `restart` (empty after `up`). */
  private binary = "";
  private extraArgs: string[] = [];

  private constructor(child: ChildProcess, dir: string, url: string) {
    this.child = child;
    this.dir = dir;
    this.url = url;
    this.ca = readFileSync(join(dir, "data", "ca.pem"), "utf8");
    this.adminPassword = readFileSync(join(dir, "data", "admin-password"), "utf8").trim();
  }

  /**
   * `tls`: serve this certificate (files) instead of a new one from the
   * internal CA at each start, so that a restarted server presents the key
   * Chromium was told to accept; `ca` (PEM text) is what it chains to.
   */
  static async start(binary: string, tls?: { cert: string; key: string; ca: string }): Promise<CorralServer> {
    const dir = mkdtempSync(join(tmpdir(), "corral-ui-e2e-"));
    const extraArgs = tls ? ["--tls-cert", tls.cert, "--tls-key", tls.key] : [];
    const child = spawn(binary, ["server", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data"), ...extraArgs], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const url = await urlOf(child, "corral server listening on ", 30_000);
    const server = new CorralServer(child, dir, url);
    server.binary = binary;
    server.extraArgs = extraArgs;
    if (tls) server.ca = tls.ca;
    return server;
  }

  /** Ends the process (SIGTERM, up to 30 s), keeping its data for `restart`. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      this.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.child.kill("SIGTERM");
    await exited;
  }

  /** Starts a server of `start` again on the same address with the same data. */
  async restart(): Promise<void> {
    if (!this.binary) throw new Error("only a server of CorralServer.start restarts");
    await this.kill();
    const { host } = new URL(this.url);
    const child = spawn(this.binary, ["server", "--listen", host, "--data-dir", join(this.dir, "data"), ...this.extraArgs], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await urlOf(child, "corral server listening on ", 30_000);
    this.child = child;
  }

  /**
   * `corral up` on the Docker engine at `dockerHost`: the server and its
   * embedded agent (one node, without the managed network), its client
   * config written into its own directory.
   */
  static async up(binary: string, dockerHost: string): Promise<CorralServer> {
    const dir = mkdtempSync(join(tmpdir(), "corral-ui-e2e-up-"));
    const agentPort = await freePort();
    const child = spawn(
      binary,
      [
        "up",
        "--listen",
        "127.0.0.1:0",
        "--agent-listen",
        `127.0.0.1:${agentPort}`,
        "--data-dir",
        join(dir, "data"),
        "--no-managed-network",
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, DOCKER_HOST: dockerHost, XDG_CONFIG_HOME: join(dir, "config"), XDG_DATA_HOME: join(dir, "share") },
      },
    );
    const url = await urlOf(child, "corral is up at ", 120_000);
    return new CorralServer(child, dir, url);
  }

  /**
   * The base64 SHA-256 of the public key (SPKI) of the certificate the
   * server presents, read over a TLS connection that trusts only the
   * server's CA. Chromium accepts that key alone
   * (`--ignore-certificate-errors-spki-list`): a server that presents it
   * proves it holds its private key, which a server merely presenting the
   * (public) CA certificate in its chain would not.
   */
  presentedSpkiHash(): Promise<string> {
    const { hostname, port } = new URL(this.url);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port), ca: this.ca }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.end();
        if (!cert) {
          reject(new Error("the server presented no certificate"));
          return;
        }
        const der = cert.publicKey.export({ type: "spki", format: "der" });
        resolve(createHash("sha256").update(der).digest("base64"));
      });
      socket.once("error", reject);
    });
  }

  /** A request of the API (the CA pinned), with `token` as the bearer. */
  call(method: string, path: string, token: string | null, body?: unknown): Promise<Reply> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (data) headers["content-type"] = "application/json";
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.url), { method, headers, ca: this.ca }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      });
      req.once("error", reject);
      req.end(data);
    });
  }

  /** `call`, failing unless the answer is a 200. */
  async ok(method: string, path: string, token: string | null, body?: unknown): Promise<string> {
    const reply = await this.call(method, path, token, body);
    if (reply.status !== 200) throw new Error(`${method} ${path}: ${reply.status} ${reply.body}`);
    return reply.body;
  }

  async login(username: string, password: string): Promise<string> {
    const body = await this.ok("POST", "/v1/login", null, { username, password });
    const parsed = JSON.parse(body) as { token: string };
    return parsed.token;
  }

  /** Stops it (SIGTERM, waiting up to 30 s for the exit) and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 30_000);
        this.child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
