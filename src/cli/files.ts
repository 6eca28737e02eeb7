/**
 * Reading the user's XML files as virsh does (virFileReadAll with VSH_MAX_XML_FILE), with
 * libvirt's messages: "Failed to open file 'F': No such file or directory", ...
 */
import { readFileSync, statSync } from 'node:fs';
import { CmdFailed, type Ctl } from './context.js';
import { VirError } from '../index.js';
import { DOMAIN_DOCUMENT, decodeXmlBytes, type XmlDocumentKind } from '../conf/xml.js';

/** virsh's limit on an XML file: 10 MiB. */
const MAX_XML_FILE = 10 * 1024 * 1024;

/** strerror() texts for the errno codes a file read can meet. */
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  EIO: 'Input/output error',
  EEXIST: 'File exists',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENOTEMPTY: 'Directory not empty',
  EOVERFLOW: 'Value too large for defined data type',
};

/** The strerror() text of a Node file-system error. */
export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && STRERROR[code] !== undefined) return STRERROR[code];
  return err instanceof Error ? err.message : String(err);
}

/**
 * Reads `path` as virsh's virFileReadAll does. On failure the library-style message is kept as
 * the command's error and the command fails.
 *
 * virsh hands the bytes to libvirt, whose parser stops at a NUL and refuses bytes that are not
 * UTF-8; so a file that is not UTF-8 yields the VirError libvirt's parser reports for a document of
 * `kind` (the caller fails its API call with it), never text with U+FFFD in place of those bytes.
 */
export function readXMLFile(ctl: Ctl, path: string, kind: XmlDocumentKind = DOMAIN_DOCUMENT): string | VirError {
  let bytes: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    if (st.size > MAX_XML_FILE) throw Object.assign(new Error('EOVERFLOW'), { code: 'EOVERFLOW' });
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const phase = code === 'EISDIR' || code === 'EOVERFLOW' || code === 'EIO' ? 'read' : 'open';
    ctl.lastError = { message: `Failed to ${phase} file '${path}': ${strerror(err)}` };
    throw new CmdFailed();
  }  try {
    return decodeXmlBytes(bytes, kind);
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
}
