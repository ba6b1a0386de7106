// One simulated device's HTTP server: routes SOAP 1.2 POSTs to the service at the request path,
// applies authentication and turns thrown SoapFaults into fault replies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { SERVICES, type DeviceContext, type ServiceName, type SoapService } from './soap-context';
import { SoapAuthenticator } from './soap-auth';
import { SoapFault, SoapParseError, envelope, faultXml, parseSoapRequest } from './soap-envelope';
import { deviceService } from './soap-device';
import { mediaService } from './soap-media';
import { media2Service } from './soap-media2';
import { searchService } from './soap-search';
import { recordingService } from './soap-recording';
import { replayService } from './soap-replay';
import { errorMessage } from '../errors';

const SERVICE_IMPLS: Record<ServiceName, SoapService> = {
  device: deviceService,
  media: mediaService,
  media2: media2Service,
  search: searchService,
  recording: recordingService,
  replay: replayService,
};

/** Operations any client may call without credentials (needed to learn the device clock). */
const OPEN_OPERATIONS = new Set(['GetSystemDateAndTime']);
const MAX_BODY_BYTES = 1 << 20;
const CONTENT_TYPE = 'application/soap+xml; charset=utf-8';

export interface SoapServerOptions {
  ctx: DeviceContext;
  authenticator: SoapAuthenticator;
  /** PEM key and certificate: serve HTTPS only (a plain HTTP request gets its connection reset). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  log?: (line: string) => void;
}

export interface RunningSoapServer {
  port: number;
  close(): Promise<void>;
}

export async function startSoapServer(host: string, port: number, o: SoapServerOptions): Promise<RunningSoapServer> {
  const sockets = new Set<Socket>();
  // Check header/request timeouts every second (Node's default is 30 s), so a slowloris client's
  // half-sent request is dropped close to headersTimeout instead of up to 30 s later.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, o).catch((err: unknown) => {
      o.log?.(`soap: internal error: ${errorMessage(err)}`);
      if (!res.headersSent) send(res, 500, faultXml(new SoapFault('Receiver', [], 'Internal error')));
      else res.destroy();
    });
  };
  const server: Server = o.tls
    ? createTlsServer({ connectionsCheckingInterval: 1000, key: o.tls.key, cert: o.tls.cert }, onRequest)
    : createServer({ connectionsCheckingInterval: 1000 }, onRequest);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => o.log?.(`soap: server error: ${err.message}`));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections would hold close() open; real devices drop them on shutdown too.
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, o: SoapServerOptions): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const info = SERVICES.find((s) => s.path === path);
  if (!info) {
    send(res, 404, 'Not Found', { 'Content-Type': 'text/plain' });
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, 'Method Not Allowed', { 'Content-Type': 'text/plain', Allow: 'POST' });
    return;
  }
  const xml = await readBody(req);
  if (xml === undefined) return; // oversized: connection already dropped
  let parsed;
  try {
    parsed = parseSoapRequest(xml);
  } catch (err) {
    if (!(err instanceof SoapParseError)) throw err;
    send(res, 400, faultXml(new SoapFault('Sender', ['ter:WellFormed'], err.message)));
    return;
  }
  const op = parsed.operation;
  // Quirk clock-auth: even GetSystemDateAndTime wants credentials, refused with an HTML page.
  const clockAuth = o.ctx.quirks?.has('clock-auth') === true;
  if (!OPEN_OPERATIONS.has(op) || info.name !== 'device' || clockAuth) {
    const outcome = o.authenticator.check(req, parsed.header);
    if (!outcome.ok) {
      o.log?.(`soap: ${info.name}.${op} rejected (${outcome.status})`);
      if (outcome.status === 401 && clockAuth && OPEN_OPERATIONS.has(op)) {
        send(res, 401, '<html><body><h1>401 Unauthorized</h1></body></html>', { 'Content-Type': 'text/html', 'WWW-Authenticate': outcome.challenge });
      } else if (outcome.status === 401) {
        send(res, 401, faultXml(new SoapFault('Sender', ['ter:NotAuthorized'], 'Sender not authorized')), {
          'WWW-Authenticate': outcome.challenge,
        });
      } else {
        send(res, 400, faultXml(outcome.fault));
      }
      return;
    }
  }
  const impl = SERVICE_IMPLS[info.name].operations[op];
  try {
    if (!impl) throw new SoapFault('Sender', ['ter:ActionNotSupported'], `${op} is not supported by the ${info.name} service`);
    const body = impl(o.ctx, parsed);
    send(res, 200, envelope(body));
  } catch (err) {
    if (!(err instanceof SoapFault)) throw err;
    o.log?.(`soap: ${info.name}.${op} fault ${err.subcodes.join('/')}: ${err.reason}`);
    send(res, err.httpStatus, faultXml(err));
  }
}
