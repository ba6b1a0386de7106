// Which vendor API a port that is not ONVIF speaks, asked WITHOUT a login (discovery must not spend
// login attempts: Hikvision and Dahua lock accounts after a few failures). Two GETs: an ISAPI path
// and a Dahua CGI path. A path the device does not have answers 404; one it has answers 200 or 401.
import * as http from 'node:http';

export type VendorApi = 'hikvision' | 'dahua';

interface Answer {
  status: number;
  realm: string;
  body: string;
}

function get(host: string, port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const req = http.request({ host, port, path, method: 'GET', agent: false, signal, headers: { Accept: '*/*' } });
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n <= 16384) chunks.push(c);
        else res.destroy();
      });
      res.on('close', () => {
        clearTimeout(timer);
        const realm = /realm="([^"]*)"/.exec((res.headersDistinct['www-authenticate'] ?? []).join(','))?.[1] ?? '';
        resolve({ status: res.statusCode ?? 0, realm, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end();
  });
}

export async function sniffVendorApi(host: string, port: number, timeoutMs = 3000, signal?: AbortSignal): Promise<VendorApi | undefined> {
  const [isapi, cgi] = await Promise.all([
    get(host, port, '/ISAPI/System/deviceInfo', timeoutMs, signal),
    get(host, port, '/cgi-bin/magicBox.cgi?action=getSystemInfo', timeoutMs, signal),
  ]);
  const has = (a: Answer | undefined) => a !== undefined && (a.status === 200 || a.status === 401);
  if (isapi?.status === 200 && /<DeviceInfo/.test(isapi.body)) return 'hikvision';
  if (cgi?.status === 200 && /^(deviceType|serialNumber|updateSerial)=/m.test(cgi.body)) return 'dahua';
  if (has(isapi) && !has(cgi)) return 'hikvision';
  if (has(cgi) && !has(isapi)) return 'dahua';
  if (has(isapi) && has(cgi)) {
    // Both paths want a login: Hikvision's 401 carries a userCheck body; Dahua names its realm "Login to <serial>".
    if (/<userCheck/.test(isapi?.body ?? '')) return 'hikvision';
    if (/^Login to /.test(cgi?.realm ?? '')) return 'dahua';
  }
  return undefined;
}
