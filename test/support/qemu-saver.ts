/**
 * A child for the crash-recovery tests: opens qemu:///session (state from TSVIRT_STATE_DIR) and
 * runs one call on the domain named in argv[2] — `managedSave` (default), `create` or `snapshot` (argv[3]) —
 * printing "begin" before it and "done" after; the test kills it in the middle.
 */
import { connect } from '../../src/index.js';

const [name = '', op = 'managedSave'] = process.argv.slice(2);
const conn = await connect('qemu:///session');
const dom = await conn.lookupByName(name);
process.stdout.write('begin\n');
if (op === 'create') await dom.create();
else if (op === 'snapshot') await dom.snapshotCreateXML('<domainsnapshot><name>cut</name></domainsnapshot>');
else await dom.managedSave();
process.stdout.write('done\n');
await conn.close();
