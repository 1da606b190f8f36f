import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolvConf } from '../../src/exec/oci-runtime.js';

const host = '# from DHCP\nsearch corp.example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\noptions edns0 trust-ad\n';

test('the sandbox network resolves through slirp, keeping the search and options lines', () => {
  assert.equal(
    resolvConf(host, { kind: 'join', path: '/proc/1/ns/net', nameservers: ['10.0.2.3'] }),
    '# from DHCP\nsearch corp.example\noptions edns0 trust-ad\nnameserver 10.0.2.3\n',
  );
});

test("the host's network gets the host's file; loopback-only drops loopback resolvers", () => {
  assert.equal(resolvConf(host, { kind: 'host' }), host);
  assert.equal(resolvConf(host, { kind: 'loopback' }), '# from DHCP\nsearch corp.example\nnameserver 192.0.2.53\noptions edns0 trust-ad\n');
  assert.equal(resolvConf('nameserver 127.0.0.53\n', { kind: 'loopback' }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
});
