// A real `corral server` for the browser test: started from CORRAL_BIN on
// a free loopback port with its own data directory, its CA pinned for the
// test's own API calls, and the SPKI hash Chromium is told to accept.

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { connect } from "node:tls";

export interface Reply {
  status: number;
  body: string;
}

export class CorralServer {
  readonly url: string;
  readonly ca: string;
  readonly adminPassword: string;
  private readonly child: ChildProcess;
  private readonly dir: string;

  private constructor(child: ChildProcess, dir: string, url: string) {
    this.child = child;
    this.dir = dir;
    this.url = url;
    this.ca = readFileSync(join(dir, "data", "ca.pem"), "utf8");
    this.adminPassword = readFileSync(join(dir, "data", "admin-password"), "utf8").trim();
  }

  static async start(binary: string): Promise<CorralServer> {
    const dir = mkdtempSync(join(tmpdir(), "corral-ui-e2e-"));
    const child = spawn(binary, ["server", "--listen", "127.0.0.1:0", "--data-dir", join(dir, "data")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error("corral server did not say where it listens within 30 s"));
      }, 30_000);
      child.once("exit", (code) => {
        reject(new Error(`corral server exited (${String(code)})`));
      });
      lines.once("line", (line) => {
        clearTimeout(timer);
        const prefix = "corral server listening on ";
        if (line.startsWith(prefix)) resolve(line.slice(prefix.length).trim());
        else reject(new Error(`unexpected first line: ${line}`));
      });
    });
    // Keep reading, so that the server never blocks on a full pipe.
    lines.on("line", () => undefined);
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

  stop(): void {
    this.child.kill("SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
