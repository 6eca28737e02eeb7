/**
 * libvirt 9.0's own domain XML corpus (tests/qemuxml2xmloutdata: what libvirt's formatter writes
 * after parsing and post-processing each test input), fetched at test time from Debian's source
 * package, never committed. apt runs with a private configuration: a deb-src list derived from the
 * machine's own deb sources, private lists and cache directories, so that the system's apt state
 * is left alone. The extracted files are cached under the system's temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The libvirt version of the corpus: what Debian bookworm ships (libvirt0 9.0.0). */
export const CORPUS_VERSION = '9.0.0';
const OUT_DIR = `libvirt-${CORPUS_VERSION}/tests/qemuxml2xmloutdata`;
const ARGV_DIR = `libvirt-${CORPUS_VERSION}/tests/qemuxml2argvdata`;

/** One corpus file: its name and its XML (symlinks into qemuxml2argvdata resolved). */
export interface CorpusFile {
  name: string;
  xml: string;
}

/** The machine's deb sources, turned into deb-src entries (one-line and deb822 formats). */
function debSrcSources(): { list: string; parts: Record<string, string> } {
  let list = '';
  const parts: Record<string, string> = {};
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      if (/^\s*deb\s/.test(line)) list += line.replace(/^\s*deb\s/, 'deb-src ') + '\n';
    }
  }
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (f.endsWith('.sources')) parts[f] = text.replace(/^Types:\s*deb\s*$/gm, 'Types: deb-src');
      else if (f.endsWith('.list')) {
        parts[f] = text
          .split('\n')
          .filter((l) => /^\s*deb\s/.test(l))
          .map((l) => l.replace(/^\s*deb\s/, 'deb-src '))
          .join('\n');
      }
    }
  }
  return { list, parts };
}

/**
 * The x86_64 files of the corpus (those whose emulator is /usr/bin/qemu-system-x86_64), sorted
 * by name, or the reason they cannot be had here.
 */
export function libvirtCorpus(): CorpusFile[] | { skip: string } {
  const cache = join(tmpdir(), `tsvirt-libvirt-corpus-${CORPUS_VERSION}`);
  if (!existsSync(join(cache, OUT_DIR))) {
    const got = fetchCorpus(cache);
    if (got !== undefined) return { skip: got };
  }
  const out: CorpusFile[] = [];
  for (const name of readdirSync(join(cache, OUT_DIR)).sort()) {
    if (!name.endsWith('.xml')) continue;
    let xml: string;
    try {
      xml = readFileSync(join(cache, OUT_DIR, name), 'utf8'); // follows symlinks into qemuxml2argvdata
    } catch {
      continue;
    }
    if (xml.includes('<emulator>/usr/bin/qemu-system-x86_64</emulator>')) out.push({ name, xml });
  }
  return out;
}

/** Downloads and extracts the corpus into `cache`; returns why it could not, or undefined. */
function fetchCorpus(cache: string): string | undefined {
  if (spawnSync('apt-get', ['--version']).status !== 0) return 'apt-get is missing (not a Debian system)';
  if (spawnSync('tar', ['--version']).status !== 0) return 'tar is missing';
  const work = mkdtempSync(join(tmpdir(), 'tsvirt-apt-'));
  try {
    const { list, parts } = debSrcSources();
    const etc = join(work, 'etc');
    mkdirSync(join(etc, 'parts'), { recursive: true });
    writeFileSync(join(etc, 'sources.list'), list);
    for (const [f, text] of Object.entries(parts)) writeFileSync(join(etc, 'parts', f), text);
    mkdirSync(join(work, 'lists', 'partial'), { recursive: true });
    mkdirSync(join(work, 'cache', 'archives', 'partial'), { recursive: true });
    const src = join(work, 'src');
    mkdirSync(src);
    const opts = [
      '-o', `Dir::Etc::SourceList=${join(etc, 'sources.list')}`,
      '-o', `Dir::Etc::SourceParts=${join(etc, 'parts')}`,
      '-o', `Dir::State::Lists=${join(work, 'lists')}`,
      '-o', `Dir::Cache=${join(work, 'cache')}`,
      '-o', 'APT::Sandbox::User=root',
      '-qq',
    ];
    const update = spawnSync('apt-get', [...opts, 'update'], { encoding: 'utf8', timeout: 120_000 });
    if (update.status !== 0) return `apt-get update (deb-src) failed: ${(update.stderr || update.stdout || String(update.error)).trim().split('\n')[0]}`;
    // The source of the installed libvirt0 when it is 9.0 (the version the corpus must match).
    const installed = spawnSync('dpkg-query', ['-W', '-f=${source:Version}', 'libvirt0'], { encoding: 'utf8' }).stdout ?? '';
    const spec = installed.startsWith(`${CORPUS_VERSION}-`) ? `libvirt=${installed}` : 'libvirt';
    const source = spawnSync('apt-get', [...opts, 'source', '--download-only', spec], {
      cwd: src,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (source.status !== 0) return `apt-get source libvirt failed: ${(source.stderr || source.stdout || String(source.error)).trim().split('\n')[0]}`;
    const orig = readdirSync(src).find((f) => f === `libvirt_${CORPUS_VERSION}.orig.tar.xz`);
    if (orig === undefined) return `apt-get source libvirt brought no libvirt_${CORPUS_VERSION}.orig.tar.xz`;
    const into = join(work, 'x');
    mkdirSync(into);
    const tar = spawnSync('tar', ['-xJf', join(src, orig), '-C', into, '--wildcards', `${OUT_DIR}/*`, `${ARGV_DIR}/*.xml`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (tar.status !== 0) return `tar failed: ${tar.stderr.trim().split('\n')[0]}`;
    // Rename into place last, so that an interrupted fetch leaves no half corpus behind.
    rmSync(cache, { recursive: true, force: true });
    renameSync(into, cache);
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
