/**
 * A child for the job tests: takes the job on one domain in the store at argv[2] and holds it
 * until killed.
 */
import { Store } from '../../src/store/store.js';

const [path, uuid] = process.argv.slice(2);
const store = new Store({ path: path ?? '' });
const got = store.tryAcquireJob(uuid ?? '', 'remoteDispatchDomainCreate');
process.stdout.write('token' in got ? 'held\n' : `busy ${got.heldBy}\n`);
setInterval(() => {}, 1 << 30);
