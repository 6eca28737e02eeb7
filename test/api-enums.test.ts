/**
 * libvirt's numbers as generated constants (scripts/gen-enums.py): plain objects of names, a
 * union type each, and names from values through enumMemberName.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  enumMemberName,
  errorCodeName,
  errorDomainName,
} from '../src/index.js';

test('the constants carry libvirt 9.0 numbers', () => {
  assert.equal(DomainState.RUNNING, 1);
  assert.equal(DomainState.SHUTOFF, 5);
  assert.equal(DomainUndefineFlags.SNAPSHOTS_METADATA, 2);
  assert.equal(ErrorNumber.OPERATION_INVALID, 55);
  assert.equal(ErrorDomain.TEST, 12);
});

test('a constant object holds names only (no reverse mapping built at load)', () => {
  for (const table of [DomainState, ErrorNumber, ErrorDomain]) {
    for (const key of Object.keys(table)) assert.match(key, /^[A-Z_][A-Z0-9_]*$/, `key ${key}`);
  }
  const state: DomainState = DomainState.PAUSED;
  assert.equal(state, 3);
});

test('enumMemberName and the error names find names from values', () => {
  assert.equal(enumMemberName(DomainState, 1), 'RUNNING');
  assert.equal(enumMemberName(DomainState, 99), undefined);
  assert.equal(errorCodeName(ErrorNumber.OPERATION_INVALID), 'VIR_ERR_OPERATION_INVALID');
  assert.equal(errorCodeName(9999 as ErrorNumber), 'VIR_ERR_9999');
  assert.equal(errorDomainName(ErrorDomain.TEST), 'VIR_FROM_TEST');
});
