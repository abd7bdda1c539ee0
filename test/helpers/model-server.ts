// A real HTTP server on 127.0.0.1 that serves a models folder, with a way to misbehave per URL
// prefix, so that downloads are tested against real sockets:
//   /ok/FILE      the file
//   /404/FILE     404 Not Found
//   /short/FILE   the headers of the whole file, half the body, then the connection is cut
//   /wrong/FILE   the right length with one byte changed (checksum mismatch)
//   /stall/FILE   the headers, a few bytes, then nothing (until the client gives up)
//   /silent/FILE  accepts the request and never answers
//   /slow/FILE    the file in 16 KiB pieces, 20 ms apart (time to kill a client mid-way)
//   /flaky/FILE   503 on the first request for FILE, then the file
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface ModelServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Requests seen, as "mode/file". */
  requests: string[];
  close(): Promise<void>;
}

export async function startModelServer(folder: string): Promise<ModelServer> {
  const requests: string[] = [];
  const flakySeen = new Set<string>();
  const open = new Set<ServerResponse>();

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const [, mode, file] = /^\/([a-z0-9]+)\/([^/]+)$/.exec(request.url ?? '') ?? [];
    requests.push(`${mode}/${file}`);
    const body = mode && file && !file.startsWith('.') ? await readFile(join(folder, file)).catch(() => undefined) : undefined;
    if (!body || mode === '404') {
      response.writeHead(404).end('not found');
      return;
    }
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(body.length) };
    switch (mode) {
      case 'ok':
        response.writeHead(200, headers).end(body);
        return;
      case 'short':
        response.writeHead(200, headers);
        response.write(body.subarray(0, body.length >> 1), () => response.destroy());
        return;
      case 'wrong': {
        const copy = Buffer.from(body);
        copy[copy.length >> 1] ^= 0xff;
        response.writeHead(200, headers).end(copy);
        return;
      }
      case 'stall':
        response.writeHead(200, headers);
        response.write(body.subarray(0, 1024));
        open.add(response);
        return;
      case 'silent':
        open.add(response);
        return;
      case 'slow': {
        response.writeHead(200, headers);
        open.add(response);
        let offset = 0;
        const timer = setInterval(() => {
          if (response.destroyed) return clearInterval(timer);
          const end = Math.min(offset + 16384, body.length);
          response.write(body.subarray(offset, end));
          offset = end;
          if (offset >= body.length) {
            clearInterval(timer);
            response.end();
          }
        }, 20);
        response.on('close', () => clearInterval(timer));
        return;
      }
      case 'flaky':
        if (!flakySeen.has(file)) {
          flakySeen.add(file);
          response.writeHead(503).end('try again');
          return;
        }
        response.writeHead(200, headers).end(body);
        return;
      default:
        response.writeHead(404).end('unknown mode');
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const response of open) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
