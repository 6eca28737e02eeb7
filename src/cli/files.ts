/**
 * Reading the user's XML files as virsh does (virFileReadAll with VSH_MAX_XML_FILE), with
 * libvirt's messages: "Failed to open file 'F': No such file or directory", ...
 */
import { readFileSync, statSync } from 'node:fs';
import { CmdFailed, type Ctl } from './context.js';

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
 */
export function readXMLFile(ctl: Ctl, path: string): string {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    if (st.size > MAX_XML_FILE) throw Object.assign(new Error('EOVERFLOW'), { code: 'EOVERFLOW' });
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const phase = code === 'EISDIR' || code === 'EOVERFLOW' || code === 'EIO' ? 'read' : 'open';
    ctl.lastError = { message: `Failed to ${phase} file '${path}': ${strerror(err)}` };
    throw new CmdFailed();
  }
}
