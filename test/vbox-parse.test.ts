/**
 * Parsing VBoxManage's machine-readable output (VirtualBox 6.1/7.0 formats): quoting, escapes,
 * raw values, values over several lines, stray human lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMachineReadable } from '../src/drivers/vbox/machinereadable.js';
import { parseMachineList, parseSettingsSnapshots, parseSnapshotTree, parseVersion } from '../src/drivers/vbox/machine.js';

test('key=value, quoted keys, escapes, bare numbers and stray lines', () => {
  const text = [
    'name="a \\"quoted\\" \\\\ name"',
    'Encryption:     disabled',
    'memory=2048',
    '"SATA-0-0"="/vms/x.vdi"',
    '"we\\"ird=key"="v"',
    ' rec_screen0',
    'description="line one',
    'line two"',
    'SnapshotName="raw "quotes" here"',
    'empty=""',
  ].join('\n');
  assert.deepEqual(parseMachineReadable(text), [
    { key: 'name', value: 'a "quoted" \\ name' },
    { key: 'memory', value: '2048' },
    { key: 'SATA-0-0', value: '/vms/x.vdi' },
    { key: 'we"ird=key', value: 'v' },
    { key: 'description', value: 'line one\nline two' },
    { key: 'SnapshotName', value: 'raw "quotes" here' },
    { key: 'empty', value: '' },
  ]);
  assert.throws(() => parseMachineReadable('name="unterminated'), /unterminated/);
});

test('list vms: names with quotes and braces; inaccessible machines left out', () => {
  const text = '"web" {5f1a3c2e-8d4b-4e6f-9a1b-2c3d4e5f6a7b}\n"a "b" {c}" {0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b}\n"<inaccessible>" {c0ffee00-1234-4abc-8def-0123456789ab}\n';
  assert.deepEqual(parseMachineList(text), [
    { name: 'web', uuid: '5f1a3c2e-8d4b-4e6f-9a1b-2c3d4e5f6a7b' },
    { name: 'a "b" {c}', uuid: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b' },
  ]);
  assert.throws(() => parseMachineList('garbage\n'), /unexpected output from VBoxManage list/);
});

test('snapshot tree from the key suffixes', () => {
  const tree = parseSnapshotTree([
    ['SnapshotName', 'a'],
    ['SnapshotUUID', 'aaaaaaaa-0000-4000-8000-000000000001'],
    ['SnapshotName-1', 'b'],
    ['SnapshotUUID-1', 'aaaaaaaa-0000-4000-8000-000000000002'],
    ['SnapshotName-1-1', 'c'],
    ['SnapshotDescription-1-1', 'deep'],
    ['SnapshotName-2', 'd'],
  ]);
  assert.deepEqual(
    tree.map((s) => [s.name, s.parent, s.description]),
    [['a', null, null], ['b', 'a', null], ['c', 'b', 'deep'], ['d', 'a', null]],
  );
  assert.throws(() => parseSnapshotTree([['SnapshotName-1', 'orphan']]), /has no parent/);
});

test('settings file snapshots and the version', () => {
  const xml = '<Snapshot uuid="{aaaaaaaa-0000-4000-8000-000000000001}" name="a &amp; b" timeStamp="2024-01-10T08:00:00Z" stateFile="Snapshots/x.sav">';
  assert.deepEqual(parseSettingsSnapshots(xml).get('aaaaaaaa-0000-4000-8000-000000000001'), { online: true, timeStamp: 1704873600 });
  assert.equal(parseVersion('7.0.14r161095\n'), 7_000_014);
  assert.equal(parseVersion('6.1.50_Debianr161033'), 6_001_050);
});
