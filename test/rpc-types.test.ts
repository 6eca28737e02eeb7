/**
 * The procedure table types the wire end to end. The `@ts-expect-error` lines below are the
 * test: `npm run build` (tsc) fails if any of them compiles, that is if a handler or a call that
 * does not match its table entry were accepted. The runtime tests check the table, the daemon's
 * handlers and the read-only rule agree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HANDLERS, type Handler, type HandlerTable } from '../src/daemon/handlers.js';
import type { RpcClient } from '../src/drivers/remote/client.js';
import {
  PROCEDURES,
  PROCEDURE_TABLE,
  Proc,
  isReadOnlyAllowed,
  isTableProc,
  readOnlyRefusal,
  type ArgsOf,
  type RetOf,
} from '../src/rpc/procedures.js';
import { ErrorDomain, ErrorNumber } from '../src/core/enums.generated.js';

const dom = { name: 'test', uuid: Buffer.alloc(16), id: 1 };

// A handler receives exactly its procedure's arguments and must return exactly its reply.
export const getState: Handler<Proc.DOMAIN_GET_STATE> = async (_ctx, a) => ({ state: a.flags, reason: a.dom.id });
// @ts-expect-error DOMAIN_GET_STATE replies { state, reason }, not DOMAIN_IS_ACTIVE's { active }
export const wrongReply: Handler<Proc.DOMAIN_GET_STATE> = async () => ({ active: 1 });
// @ts-expect-error DOMAIN_GET_STATE's arguments are { dom, flags }: there is no `name`
export const wrongArgs: Handler<Proc.DOMAIN_GET_STATE> = async (_ctx, a) => ({ state: a.name.length, reason: 0 });
// @ts-expect-error a void procedure's handler has no reply value to give
export const replyForVoid: Handler<Proc.DOMAIN_UNDEFINE_FLAGS> = async () => ({ dom });
export const mismatchedTable: HandlerTable = {
  ...HANDLERS,
  // @ts-expect-error the table's entry for DOMAIN_IS_ACTIVE must answer { active }
  [Proc.DOMAIN_IS_ACTIVE]: async () => ({ persistent: 1 }),
};
// @ts-expect-error every procedure of the table needs its handler
export const incompleteTable: HandlerTable = { [Proc.CONNECT_OPEN]: HANDLERS[Proc.CONNECT_OPEN] };

// The remote driver's call() is typed by the same table (never run: type checks only).
export async function calls(c: RpcClient): Promise<void> {
  const st: RetOf<Proc.DOMAIN_GET_STATE> = await c.call(Proc.DOMAIN_GET_STATE, { dom, flags: 0 });
  const args: ArgsOf<Proc.DOMAIN_LOOKUP_BY_NAME> = { name: 'test' };
  const found: { dom: { name: string } } = await c.call(Proc.DOMAIN_LOOKUP_BY_NAME, args);
  await c.call(Proc.AUTH_LIST, undefined);
  // @ts-expect-error DOMAIN_GET_STATE takes { dom, flags }
  await c.call(Proc.DOMAIN_GET_STATE, { name: 'test' });
  // @ts-expect-error DOMAIN_GET_STATE replies { state, reason }, which has no `value`
  const xml: { value: string } = await c.call(Proc.DOMAIN_GET_STATE, { dom, flags: 0 });
  // @ts-expect-error DOMAIN_EVENT_LIFECYCLE is a message, not a procedure of the table
  await c.call(Proc.DOMAIN_EVENT_LIFECYCLE, undefined);
  void [st, found, xml];
}

test('every procedure of the table has its daemon handler, and nothing else has one', () => {
  const tableProcs = Object.keys(PROCEDURE_TABLE).sort();
  assert.deepEqual(Object.keys(HANDLERS).sort(), tableProcs);
  assert.equal(PROCEDURES.size, tableProcs.length);
  for (const [num, spec] of PROCEDURES) {
    assert.equal(typeof HANDLERS[spec.proc], 'function', spec.name);
    assert.ok(isTableProc(num));
  }
  assert.ok(!isTableProc(Proc.DOMAIN_EVENT_LIFECYCLE), 'event messages are not callable');
  assert.ok(!isTableProc(9999));
});

test('read-only rule: one decision, refusals worded as libvirt\'s public API with its module\'s error domain', () => {
  for (const spec of PROCEDURES.values()) {
    assert.equal(isReadOnlyAllowed(spec.proc), !spec.mutating, spec.name);
    const refusal = readOnlyRefusal(spec.proc);
    if (!spec.mutating) {
      assert.equal(refusal, null, spec.name);
      continue;
    }
    assert.ok(refusal !== null);
    assert.equal(refusal.code, ErrorNumber.OPERATION_DENIED);
    assert.equal(refusal.message, `operation forbidden: read only access prevents ${spec.api}`);
  }
  assert.equal(readOnlyRefusal(Proc.DOMAIN_UNDEFINE_FLAGS)?.domain, ErrorDomain.DOMAIN);
  assert.equal(readOnlyRefusal(Proc.DOMAIN_SNAPSHOT_DELETE)?.domain, ErrorDomain.DOMAIN_SNAPSHOT);
  assert.equal(readOnlyRefusal(Proc.DOMAIN_REVERT_TO_SNAPSHOT)?.domain, ErrorDomain.DOMAIN_SNAPSHOT);
  assert.ok(isReadOnlyAllowed(Proc.DOMAIN_GET_STATE) && isReadOnlyAllowed(Proc.CONNECT_LIST_ALL_DOMAINS));
});
