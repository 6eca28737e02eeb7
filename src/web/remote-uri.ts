/**
 * Which URIs the web console may show as another daemon (`--http-connect`, POST /api/hosts).
 * Its own module, without imports, so that tsvirtd checks its arguments without loading the web
 * console's server.
 */

/**
 * Why `uri` is not another daemon's URI, or null when it is. Only the remote driver may be named
 * (a transport in the scheme, or a host): a plain local URI would open a driver inside this
 * daemon, around the URIs it was told to serve.
 */
export function remoteURIProblem(uri: string): string | null {
  const m = /^([a-z][a-z0-9.-]*)(?:\+([a-z0-9.-]+))?:\/\//i.exec(uri);
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    return `'${uri}' is not a URI such as qemu+unix:///session?socket=PATH`;
  }
  if (m === null || uri.length > 1024) return `'${uri}' is not a URI such as qemu+unix:///session?socket=PATH`;
  if (m[2] === undefined && host === '') return `'${uri}' names no other daemon: give a transport (qemu+unix://, +tls, +ssh, +tcp) or a host`;
  return null;
}
