/**
 * A child for the crash-recovery tests: opens qemu:///session (state from TSVIRT_STATE_DIR) and
 * runs one managed save of the domain named in argv[2], printing "saving" before it starts; the
 * test kills it mid-save.
 */
import { connect } from '../../src/index.js';

const name = process.argv[2] ?? '';
const conn = await connect('qemu:///session');
const dom = await conn.lookupByName(name);
process.stdout.write('saving\n');
await dom.managedSave();
process.stdout.write('saved\n');
await conn.close();
