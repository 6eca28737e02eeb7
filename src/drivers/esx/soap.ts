/**
 * A SOAP-over-HTTPS client for vSphere's vim25 endpoint (`/sdk`): hand-built envelopes, one
 * kept-alive TLS connection pool per client, the session cookie, a timeout on every call, and
 * answers turned into element trees or VirErrors.
 *
 * Error wording follows libvirt's esx_vi.c where it has one ("HTTP response code 500 for call
 * to 'Login'. Fault: ServerFaultCode - …"), so messages read the same as virsh's.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, type VirErrorInit } from '../../core/errors.js';
import { child, escapeXmlText, parseVimXML, type VimNode } from './xml.js';

/** A vim25 ManagedObjectReference: type and id (`VirtualMachine`, `vm-12`). */
export interface MoRef {
  readonly type: string;
  readonly value: string;
}

/** Reads a MoRef out of an element such as `<obj type="VirtualMachine">vm-12</obj>`. */
export function moRef(node: VimNode | undefined): MoRef | undefined {
  if (node === undefined) return undefined;
  const type = node.attrs.type ?? node.xsiType;
  if (type === undefined || node.text === '') return undefined;
  return { type, value: node.text };
}

/** A SOAP fault from the server, as a VirError that also says which vim25 fault it was. */
export class VimFaultError extends VirError {
  /** The vim25 fault type, e.g. `InvalidLogin`, `ManagedObjectNotFound`, `InvalidPowerState`. */
  readonly fault: string;
  /** The faultstring the server sent (its localized message). */
  readonly faultString: string;

  constructor(init: VirErrorInit, fault: string, faultString: string) {
    super(init);
    this.fault = fault;
    this.faultString = faultString;
  }
}

/** Options of a {@link SoapClient}. */
export interface SoapClientOptions {
  /** `https://host:port/sdk` (or http when the URI asks for `transport=http`). */
  url: URL;
  /** Verify the server's certificate (libvirt's default; `no_verify=1` turns it off). */
  verify: boolean;
  /** Milliseconds any one call may take before it fails with VIR_ERR_OPERATION_TIMEOUT. */
  timeoutMs: number;
}

/** The largest answer accepted: a bound on what a broken or hostile server can make us hold. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The vim25 version tsvirt speaks: what it was written against and what vcsim reports. */
const SOAP_ACTION = 'urn:vim25/6.5';

const ENVELOPE_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"' +
  ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  '<soapenv:Body>';
const ENVELOPE_TAIL = '</soapenv:Body></soapenv:Envelope>';

/** Builds `<_this type="T">id</_this>`, the target of every vim25 method. */
export function thisRef(ref: MoRef): string {
  return `<_this type="${escapeXmlText(ref.type)}">${escapeXmlText(ref.value)}</_this>`;
}

/** Builds an element holding a MoRef: `<name type="T">id</name>`. */
export function refElement(name: string, ref: MoRef): string {
  return `<${name} type="${escapeXmlText(ref.type)}">${escapeXmlText(ref.value)}</${name}>`;
}

/** Builds an element holding escaped text. */
export function textElement(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXmlText(String(value))}</${name}>`;
}

function internal(detail: string): VirError {
  return VirError.report(ErrorDomain.ESX, ErrorNumber.INTERNAL_ERROR, detail);
}

/** The SOAP client of one connection (one session). */
export class SoapClient {
  readonly url: URL;
  private readonly agent: Agent | HttpAgent;
  private readonly timeoutMs: number;
  private readonly verify: boolean;
  private cookie: string | undefined;

  constructor(options: SoapClientOptions) {
    this.url = options.url;
    this.timeoutMs = options.timeoutMs;
    this.verify = options.verify;
    // One kept-alive connection serves a session's calls in turn: TLS set-up once, not per call.
    this.agent =
      options.url.protocol === 'https:'
        ? new Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: options.verify })
        : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  }

  /** Frees the kept-alive sockets. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * Calls a vim25 method: `body` is the method element's content (starting with `_this`).
   * Returns the `<METHODResponse>` element. Errors: VimFaultError for a SOAP fault;
   * VIR_ERR_INTERNAL_ERROR for an unreachable server, an untrusted certificate or an answer
   * that is not a SOAP answer to this call; VIR_ERR_OPERATION_TIMEOUT when no complete answer
   * came within the timeout (or `timeoutMs`, for calls that wait on purpose).
   */
  async call(method: string, body: string, timeoutMs = this.timeoutMs): Promise<VimNode> {
    const envelope = `${ENVELOPE_HEAD}<${method} xmlns="urn:vim25">${body}</${method}>${ENVELOPE_TAIL}`;
    const { status, text, setCookie } = await this.post(method, envelope, timeoutMs);
    if (setCookie !== undefined) this.cookie = setCookie;
    const root = parseVimXML(text);
    const bodyNode = root?.name === 'Envelope' ? child(root, 'Body') : undefined;
    if (bodyNode === undefined) {
      throw internal(
        status === 200
          ? `Malformed response for call to '${method}': not a SOAP envelope`
          : `HTTP response code ${status} for call to '${method}'`,
      );
    }
    const fault = child(bodyNode, 'Fault');
    if (fault !== undefined) throw faultError(method, status, fault);
    const response = child(bodyNode, `${method}Response`);
    if (status !== 200 || response === undefined) {
      throw internal(`XPath evaluation of response for call to '${method}' failed`);
    }
    return response;
  }

  private post(
    method: string,
    envelope: string,
    timeoutMs: number,
  ): Promise<{ status: number; text: string; setCookie: string | undefined }> {
    const payload = Buffer.from(envelope, 'utf8');
    const headers: Record<string, string | number> = {
      'Content-Type': 'text/xml; charset=utf-8',
      'Content-Length': payload.length,
      SOAPAction: SOAP_ACTION,
    };
    if (this.cookie !== undefined) headers.Cookie = this.cookie;
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: VirError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const req = send(
        this.url,
        { method: 'POST', agent: this.agent, headers, rejectUnauthorized: this.verify },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              fail(internal(`Malformed response for call to '${method}': larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (e) => fail(connectError(this.url, e)));
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            let text: string;
            try {
              text = STRICT_UTF8.decode(Buffer.concat(chunks));
            } catch {
              // Never U+FFFD in place of what vSphere sent: libxml2 refuses such an answer too.
              reject(internal(`Malformed response for call to '${method}': not valid UTF-8`));
              return;
            }
            resolve({
              status: res.statusCode ?? 0,
              text,
              setCookie: sessionCookie(res.headers['set-cookie']),
            });
          });
        },
      );
      const timer = setTimeout(
        () =>
          fail(
            VirError.report(
              ErrorDomain.ESX,
              ErrorNumber.OPERATION_TIMEOUT,
              `call to '${method}' at '${this.url.href}' got no answer within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      req.on('error', (e) => fail(connectError(this.url, e)));
      req.end(payload);
    });
  }
}

/** The `name=value` part of the session cookie vSphere sets on Login. */
function sessionCookie(header: string[] | undefined): string | undefined {
  const first = header?.[0];
  if (first === undefined) return undefined;
  return first.split(';')[0];
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

function connectError(url: URL, e: Error & { code?: string }): VirError {
  if (e.code !== undefined && TLS_CODES.has(e.code)) {
    return internal(
      `Could not connect to '${url.href}': the server's TLS certificate is not trusted (${e.message}); ` +
        `add no_verify=1 to the URI to skip verification`,
    );
  }
  return internal(`Could not connect to '${url.href}': ${e.message}`);
}

/**
 * A SOAP fault as libvirt's esx_vi.c words it: "HTTP response code 500 for call to 'M'. Fault:
 * CODE - STRING". InvalidLogin becomes VIR_ERR_AUTH_FAILED (libvirt: internal error), so that
 * callers can tell a wrong password from a broken server.
 */
function faultError(method: string, status: number, fault: VimNode): VimFaultError {
  const code = child(fault, 'faultcode')?.text ?? '';
  const str = child(fault, 'faultstring')?.text ?? '';
  const detail = child(fault, 'detail')?.children[0];
  let name = detail?.xsiType ?? detail?.name ?? '';
  if (name.endsWith('Fault') && detail?.xsiType === undefined) name = name.slice(0, -'Fault'.length);
  const message = `HTTP response code ${status} for call to '${method}'. Fault: ${code} - ${str}`;
  const errCode = name === 'InvalidLogin' ? ErrorNumber.AUTH_FAILED : ErrorNumber.INTERNAL_ERROR;
  const err = VirError.report(ErrorDomain.ESX, errCode, message);
  return new VimFaultError(
    { code: err.code, domain: err.domain, message: err.message, str1: err.str1, str2: err.str2 },
    name,
    str,
  );
}
