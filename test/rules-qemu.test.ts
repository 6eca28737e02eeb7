/**
 * The rules R1–R12 of docs/design.md on qemu:///session with real TCG guests: the shared suite of
 * test/support/rule-suite.ts on the QEMU profile of test/support/profiles.ts (the guest is built
 * once for this file; every guest a test starts is destroyed, and its state removed, whatever
 * happens). Skipped, with the reason, only where qemu-system-x86_64 is not installed.
 */
import { qemuProfile } from './support/profiles.js';
import { ruleSuite } from './support/rule-suite.js';

ruleSuite(qemuProfile());
