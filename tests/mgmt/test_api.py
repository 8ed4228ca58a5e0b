#!/usr/bin/python3
"""Integration tests for the management HTTP API and /metrics.

usage: test_api.py WARREN_BINARY            start Warren on free ports and test it
       test_api.py --rabbitmq URL           run the read-only and CRUD checks against a
                                            RabbitMQ management API (e.g. http://127.0.0.1:15673)
Only the standard library and pika. Prints "N passed, M failed" last; exits 1 on failure.
"""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, '..', '..', 'docs', 'management-api.md')

passed = 0
failed = 0


def check(name, cond, detail=''):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAIL: %s %s' % (name, detail), flush=True)


class Api:
    def __init__(self, base, user='guest', password='guest'):
        self.base = base.rstrip('/')
        self.user, self.password = user, password
        self.lag = 0  # RabbitMQ fills queue statistics in on its 5 s sampling interval

    def req(self, method, path, body=None, raw=None, auth=True, user=None, password=None,
            headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        r = urllib.request.Request(self.base + path, data=data, method=method)
        r.add_header('Content-Type', 'application/json')
        for k, v in (headers or {}).items():
            r.add_header(k, v)
        if auth:
            cred = '%s:%s' % (user or self.user, password if password is not None
                              else self.password)
            r.add_header('Authorization', 'Basic ' + base64.b64encode(cred.encode()).decode())
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                status, hdrs, text = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, dict(e.headers), e.read()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = text
        return status, hdrs, doc


def q(s):
    return urllib.parse.quote(s, safe='')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_warren(binary):
    data = tempfile.mkdtemp(prefix='warren-mgmt-')
    amqp, mgmt, prom = free_port(), free_port(), free_port()
    log = open(os.path.join(data, 'warren.log'), 'w+')
    p = subprocess.Popen([binary, '--port', str(amqp), '--mgmt-port', str(mgmt),
                          '--data-dir', os.path.join(data, 'd'),
                          '--set', 'prometheus.tcp.port=%d' % prom,
                          '--set', 'collect_statistics_interval=1000'],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline:
        log.seek(0)
        if 'ready' in log.read():
            break
        if p.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    text = log.read()
    if 'ready' not in text:
        print(text)
        p.kill()
        raise SystemExit('warren did not start')
    return p, data, amqp, mgmt, prom


# ---- checks that run against both Warren and RabbitMQ ----

def crud_checks(api, tag):
    vh = 'mgmt-test-%s' % tag
    vq = q(vh)
    api.req('DELETE', '/api/vhosts/' + vq)
    s, _, _ = api.req('PUT', '/api/vhosts/' + vq)
    check('create vhost 201', s == 201, s)
    s, _, _ = api.req('PUT', '/api/vhosts/' + vq)
    check('re-create vhost 204', s == 204, s)
    s, _, d = api.req('GET', '/api/vhosts/' + vq)
    check('get vhost', s == 200 and d['name'] == vh, d)
    s, _, _ = api.req('PUT', '/api/permissions/%s/guest' % vq,
                      {'configure': '.*', 'write': '.*', 'read': '.*'})
    check('set permissions', s in (201, 204), s)
    s, _, d = api.req('GET', '/api/permissions/%s/guest' % vq)
    check('get permissions', s == 200 and d.get('configure') == '.*' and d.get('user') == 'guest',
          d)

    # queues
    s, _, _ = api.req('PUT', '/api/queues/%s/api-q' % vq,
                      {'durable': True, 'auto_delete': False, 'arguments': {'x-max-length': 100}})
    check('declare queue 201', s == 201, s)
    s, _, _ = api.req('PUT', '/api/queues/%s/api-q' % vq,
                      {'durable': True, 'arguments': {'x-max-length': 100}})
    check('redeclare queue 204', s == 204, s)
    s, _, d = api.req('PUT', '/api/queues/%s/api-q' % vq,
                      {'durable': True, 'arguments': {'x-max-length': 5}})
    check('inequivalent queue 400', s == 400 and d.get('error') == 'bad_request' and
          "inequivalent arg 'x-max-length'" in d.get('reason', ''), d)
    s, _, d = api.req('PUT', '/api/queues/%s/amq.nope' % vq, {'durable': True})
    check('amq. queue refused 401 or 403', s in (401, 403), (s, d))
    time.sleep(api.lag)
    s, _, d = api.req('GET', '/api/queues/%s/api-q' % vq)
    for k in ('name', 'vhost', 'durable', 'auto_delete', 'exclusive', 'arguments', 'messages',
              'messages_ready', 'messages_unacknowledged', 'consumers', 'state', 'node',
              'memory'):
        check('queue field %s' % k, s == 200 and k in d, k)
    s, _, d = api.req('GET', '/api/queues/%s/no-such-queue' % vq)
    check('missing queue 404', s == 404 and d == {'error': 'Object Not Found',
                                                  'reason': 'Not Found'}, (s, d))
    # exchanges
    s, _, _ = api.req('PUT', '/api/exchanges/%s/api-x' % vq,
                      {'type': 'topic', 'durable': True, 'auto_delete': False, 'internal': False,
                       'arguments': {}})
    check('declare exchange 201', s == 201, s)
    s, _, _ = api.req('PUT', '/api/exchanges/%s/api-x' % vq, {'type': 'topic', 'durable': True})
    check('redeclare exchange 204', s == 204, s)
    s, _, d = api.req('PUT', '/api/exchanges/%s/bad-x' % vq, {'type': 'nosuch'})
    check('unknown exchange type 400', s == 400 and 'nosuch' in str(d), (s, d))
    s, _, d = api.req('GET', '/api/exchanges/%s/api-x' % vq)
    check('get exchange', s == 200 and d['type'] == 'topic' and d['durable'] is True, d)
    s, _, d = api.req('DELETE', '/api/exchanges/%s/amq.default' % vq)
    check('delete amq.default 401/403', s in (401, 403), s)
    # bindings
    s, h, _ = api.req('POST', '/api/bindings/%s/e/api-x/q/api-q' % vq,
                      {'routing_key': 'a.#', 'arguments': {}})
    loc = {k.lower(): v for k, v in h.items()}.get('location', '')
    check('bind 201 with location', s == 201 and loc.endswith('a.%2523'), (s, loc))
    s, _, d = api.req('GET', '/api/bindings/%s/e/api-x/q/api-q' % vq)
    check('list bindings e->q', s == 200 and len(d) == 1 and d[0]['properties_key'] == 'a.%23' and
          d[0]['destination_type'] == 'queue', d)
    s, _, d = api.req('GET', '/api/bindings/%s/e/api-x/q/api-q/%s' % (vq, q('a.%23')))
    check('get binding by props', s == 200 and d['routing_key'] == 'a.#', (s, d))
    s, _, d = api.req('GET', '/api/queues/%s/api-q/bindings' % vq)
    check('queue bindings include default', s == 200 and any(b['source'] == '' for b in d), d)
    s, _, d = api.req('GET', '/api/exchanges/%s/api-x/bindings/source' % vq)
    check('exchange bindings source', s == 200 and len(d) == 1, d)
    s, _, _ = api.req('POST', '/api/bindings/%s/e/api-x/q/api-q' % vq, {'routing_key': ''})
    s, _, d = api.req('GET', '/api/bindings/%s/e/api-x/q/api-q/~' % vq)
    check('empty key binding is ~', s == 200 and d['properties_key'] == '~', (s, d))
    s, _, _ = api.req('PUT', '/api/exchanges/%s/api-x2' % vq, {'type': 'fanout'})
    s, _, _ = api.req('POST', '/api/bindings/%s/e/api-x/e/api-x2' % vq, {'routing_key': 'k'})
    check('bind e->e 201', s == 201, s)
    s, _, d = api.req('GET', '/api/exchanges/%s/api-x2/bindings/destination' % vq)
    check('exchange bindings destination', s == 200 and len(d) == 1, d)
    # publish and get
    s, _, d = api.req('POST', '/api/exchanges/%s/api-x/publish' % vq,
                      {'properties': {'delivery_mode': 2, 'headers': {'h': 'v'}},
                       'routing_key': 'a.b', 'payload': 'hello', 'payload_encoding': 'string'})
    check('publish routed', s == 200 and d == {'routed': True}, (s, d))
    s, _, d = api.req('POST', '/api/exchanges/%s/amq.default/publish' % vq,
                      {'properties': {}, 'routing_key': 'api-q',
                       'payload': base64.b64encode(b'\x00\xffbin').decode(),
                       'payload_encoding': 'base64'})
    check('publish default exchange', s == 200 and d == {'routed': True}, (s, d))
    s, _, d = api.req('POST', '/api/exchanges/%s/api-x/publish' % vq,
                      {'properties': {}, 'routing_key': 'zzz', 'payload': 'x',
                       'payload_encoding': 'string'})
    check('publish unrouted', s == 200 and d == {'routed': False}, (s, d))
    for props, reason in [({'priority': 256}, "property 'priority' must be an integer 0..255"),
                          ({'timestamp': -1}, "property 'timestamp' must be an integer"),
                          ({'content_type': 5}, "property 'content_type' must be a short string"),
                          ({'colour': 'red'}, "unknown property 'colour'"),
                          ({'headers': []}, "property 'headers' must be an object")]:
        s, _, d = api.req('POST', '/api/exchanges/%s/api-x/publish' % vq,
                          {'properties': props, 'routing_key': 'a.b', 'payload': 'x',
                           'payload_encoding': 'string'})
        check('publish with bad properties %s is 400 %r' % (props, reason),
              s == 400 and d.get('reason') == reason, (s, d))
    s, _, d = api.req('POST', '/api/exchanges/%s/api-x/publish' % vq, {'payload': 'x'})
    check('publish missing keys 400', s == 400 and d['error'] == 'bad_request', (s, d))
    s, _, d = api.req('POST', '/api/queues/%s/api-q/get' % vq,
                      {'count': 5, 'ackmode': 'ack_requeue_true', 'encoding': 'auto',
                       'truncate': 50000})
    check('get two messages', s == 200 and len(d) == 2, (s, d))
    if s == 200 and len(d) == 2:
        m = d[0]
        check('get fields', m['payload'] == 'hello' and m['payload_encoding'] == 'string' and
              m['properties'].get('delivery_mode') == 2 and
              m['properties'].get('headers') == {'h': 'v'} and m['message_count'] == 1 and
              m['routing_key'] == 'a.b' and m['exchange'] == 'api-x' and
              m['payload_bytes'] == 5, m)
        check('get binary is base64', d[1]['payload_encoding'] == 'base64' and
              base64.b64decode(d[1]['payload']) == b'\x00\xffbin' and d[1]['properties'] == [],
              d[1])
    s, _, d = api.req('POST', '/api/queues/%s/api-q/get' % vq,
                      {'count': 1, 'ackmode': 'ack_requeue_false', 'encoding': 'base64'})
    check('get requeued message redelivered', s == 200 and len(d) == 1 and d[0]['redelivered'] and
          d[0]['payload_encoding'] == 'base64', d)
    s, _, d = api.req('POST', '/api/queues/%s/api-q/get' % vq,
                      {'count': 1, 'ackmode': 'bogus', 'encoding': 'auto'})
    check('bad ackmode 400 (RabbitMQ: 500)', s in (400, 500), s)
    s, _, d = api.req('DELETE', '/api/queues/%s/api-q?if-empty=true' % vq)
    check('delete if-empty on non-empty 400', s == 400 and 'not empty' in d.get('reason', ''),
          (s, d))
    s, _, _ = api.req('DELETE', '/api/queues/%s/api-q/contents' % vq)
    check('purge 204', s == 204, s)
    time.sleep(api.lag)
    s, _, d = api.req('GET', '/api/queues/%s/api-q' % vq)
    check('purged', s == 200 and d.get('messages_ready') == 0, d)
    # unbind
    s, _, _ = api.req('DELETE', '/api/bindings/%s/e/api-x/q/api-q/%s' % (vq, q('a.%23')))
    check('unbind 204', s == 204, s)
    s, _, _ = api.req('DELETE', '/api/bindings/%s/e/api-x/q/api-q/%s' % (vq, q('a.%23')))
    check('unbind again 404', s == 404, s)
    # policies
    s, _, _ = api.req('PUT', '/api/policies/%s/api-pol' % vq,
                      {'pattern': '^api-', 'definition': {'max-length': 50}, 'priority': 1,
                       'apply-to': 'queues'})
    check('create policy 201', s == 201, s)
    s, _, d = api.req('GET', '/api/policies/%s/api-pol' % vq)
    check('get policy', s == 200 and d['definition'] == {'max-length': 50} and
          d['apply-to'] == 'queues', (s, d))
    s, _, d = api.req('PUT', '/api/policies/%s/bad-pol' % vq,
                      {'pattern': '^x', 'definition': {'max-lengthh': 50}})
    check('bad policy 400', s == 400, (s, d))
    s, _, _ = api.req('DELETE', '/api/policies/%s/api-pol' % vq)
    check('delete policy 204', s == 204, s)
    # per-vhost definitions
    s, _, d = api.req('GET', '/api/definitions/' + vq)
    check('vhost definitions', s == 200 and any(x['name'] == 'api-q' for x in d['queues']) and
          'users' not in d and 'vhost' not in d['queues'][0], d)
    # users
    s, _, _ = api.req('PUT', '/api/users/mgmt-test-user-%s' % tag,
                      {'password': 'pw1', 'tags': 'monitoring'})
    check('create user 201', s == 201, s)
    s, _, d = api.req('GET', '/api/users/mgmt-test-user-%s' % tag)
    check('get user', s == 200 and d['tags'] == ['monitoring'] and
          d['hashing_algorithm'] == 'rabbit_password_hashing_sha256', d)
    s, _, d = api.req('GET', '/api/whoami', user='mgmt-test-user-%s' % tag, password='pw1')
    check('monitoring user whoami', s == 200 and d['name'] == 'mgmt-test-user-%s' % tag, (s, d))
    s, _, d = api.req('GET', '/api/users', user='mgmt-test-user-%s' % tag, password='pw1')
    check('monitoring user cannot list users', s in (401, 403), s)
    limits_checks(api, vh, vq, 'mgmt-test-user-%s' % tag)
    s, _, _ = api.req('DELETE', '/api/users/mgmt-test-user-%s' % tag)
    check('delete user 204', s == 204, s)
    # cleanup
    s, _, _ = api.req('DELETE', '/api/exchanges/%s/api-x' % vq)
    check('delete exchange 204', s == 204, s)
    s, _, _ = api.req('DELETE', '/api/queues/%s/api-q' % vq)
    check('delete queue 204', s == 204, s)
    s, _, _ = api.req('DELETE', '/api/queues/%s/api-q' % vq)
    check('delete missing queue 404', s == 404, s)
    s, _, _ = api.req('DELETE', '/api/vhosts/' + vq)
    check('delete vhost 204', s == 204, s)
    s, _, _ = api.req('DELETE', '/api/vhosts/' + vq)
    check('delete missing vhost 404', s == 404, s)


def limits_checks(api, vh, vq, user):
    """vhost-limits, user-limits and topic-permissions: status codes and shapes as RabbitMQ."""
    s, _, _ = api.req('PUT', '/api/vhost-limits/%s/max-queues' % vq, {'value': 10})
    check('put vhost limit 204', s == 204, s)
    s, _, _ = api.req('PUT', '/api/vhost-limits/%s/max-connections' % vq, {'value': 5})
    check('put second vhost limit 204', s == 204, s)
    s, _, d = api.req('GET', '/api/vhost-limits/' + vq)
    check('get vhost limits', s == 200 and d == [
        {'vhost': vh, 'value': {'max-queues': 10, 'max-connections': 5}}], d)
    s, _, d = api.req('GET', '/api/vhost-limits')
    check('vhost limits listed', s == 200 and any(x['vhost'] == vh for x in d), d)
    s, _, d = api.req('PUT', '/api/vhost-limits/%s/max-foo' % vq, {'value': 1})
    check('unknown vhost limit 400', s == 400 and 'Unrecognised terms' in d.get('reason', ''), d)
    s, _, d = api.req('PUT', '/api/vhost-limits/%s/max-queues' % vq, {'value': 'x'})
    check('non-numeric vhost limit 400', s == 400 and 'should be a number' in d.get('reason', ''),
          d)
    s, _, d = api.req('PUT', '/api/vhost-limits/mgmt-no-such-vhost/max-queues', {'value': 1})
    check('vhost limit on missing vhost 404', s == 404, (s, d))
    for name in ('max-queues', 'max-connections'):
        s, _, _ = api.req('DELETE', '/api/vhost-limits/%s/%s' % (vq, name))
        check('delete vhost limit 204', s == 204, s)
    s, _, d = api.req('GET', '/api/vhost-limits/' + vq)
    check('no vhost limits left', s == 200 and d == [], d)

    s, _, _ = api.req('PUT', '/api/user-limits/%s/max-channels' % user, {'value': 3})
    check('put user limit 204', s == 204, s)
    s, _, d = api.req('GET', '/api/user-limits/' + user)
    check('get user limits', s == 200 and d == [{'user': user, 'value': {'max-channels': 3}}], d)
    s, _, d = api.req('GET', '/api/users/' + user)
    check('user shows its limits', s == 200 and d.get('limits') == {'max-channels': 3}, d)
    s, _, d = api.req('PUT', '/api/user-limits/mgmt-no-such-user/max-channels', {'value': 1})
    check('user limit on missing user 400', s == 400 and
          d.get('reason') == ['no_such_user', 'mgmt-no-such-user'], (s, d))
    s, _, d = api.req('PUT', '/api/user-limits/%s/max-foo' % user, {'value': 1})
    check('unknown user limit 400', s == 400 and 'Unrecognised terms' in d.get('reason', ''), d)
    s, _, _ = api.req('DELETE', '/api/user-limits/%s/max-channels' % user)
    check('delete user limit 204', s == 204, s)
    s, _, d = api.req('GET', '/api/user-limits/' + user)
    check('no user limits left', s == 200 and d == [], d)

    uq = q(user)
    s, _, _ = api.req('PUT', '/api/topic-permissions/%s/%s' % (vq, uq),
                      {'exchange': 'amq.topic', 'write': '^a', 'read': '.*'})
    check('put topic permission 201', s == 201, s)
    want = {'user': user, 'vhost': vh, 'exchange': 'amq.topic', 'write': '^a', 'read': '.*'}
    s, _, d = api.req('GET', '/api/topic-permissions/%s/%s' % (vq, uq))
    check('get topic permission', s == 200 and d == [want], d)
    s, _, d = api.req('GET', '/api/topic-permissions')
    check('topic permissions listed', s == 200 and want in d, d)
    s, _, d = api.req('GET', '/api/users/%s/topic-permissions' % uq)
    check('user topic permissions', s == 200 and d == [want], d)
    s, _, d = api.req('GET', '/api/vhosts/%s/topic-permissions' % vq)
    check('vhost topic permissions', s == 200 and d == [want], d)
    s, _, d = api.req('PUT', '/api/topic-permissions/%s/%s' % (vq, uq),
                      {'exchange': 'amq.topic', 'write': '^a'})
    check('topic permission without read 400', s == 400 and
          d.get('reason') == '[{key_missing,read}]', d)
    s, _, _ = api.req('DELETE', '/api/topic-permissions/%s/%s' % (vq, uq))
    check('delete topic permission 204', s == 204, s)
    s, _, _ = api.req('DELETE', '/api/topic-permissions/%s/%s' % (vq, uq))
    check('delete missing topic permission 404', s == 404, s)


def readonly_checks(api):
    s, _, d = api.req('GET', '/api/overview')
    for k in ('management_version', 'rabbitmq_version', 'product_name', 'message_stats',
              'queue_totals', 'object_totals', 'node', 'listeners', 'exchange_types'):
        check('overview has %s' % k, s == 200 and k in d, k)
    s, _, d = api.req('GET', '/api/whoami')
    check('whoami', s == 200 and d['name'] == 'guest' and 'administrator' in d['tags'], d)
    s, _, d = api.req('GET', '/api/nodes')
    check('nodes', s == 200 and len(d) >= 1 and all(k in d[0] for k in
          ('name', 'running', 'mem_used', 'mem_limit', 'disk_free', 'uptime')), d)
    s, h, d = api.req('GET', '/api/overview', auth=False)
    hl = {k.lower(): v for k, v in h.items()}
    check('no auth 401 with realm', s == 401 and
          hl.get('www-authenticate') == 'Basic realm="RabbitMQ Management"', (s, hl))
    s, _, d = api.req('GET', '/api/overview', password='wrong')
    check('wrong password 401 body', s == 401 and d == {'error': 'not_authorized',
                                                       'reason': 'Login failed'}, (s, d))
    s, _, d = api.req('GET', '/api/no-such-thing')
    check('unknown path 404 json', s == 404 and isinstance(d, dict) and 'error' in d, (s, d))
    s, _, _ = api.req('PATCH', '/api/queues')
    check('PATCH 405', s == 405, s)
    s, _, d = api.req('GET', '/api/exchanges/%2F')
    check('exchanges include default', s == 200 and any(x['name'] == '' for x in d), s)
    s, _, d = api.req('GET', '/api/exchanges?page=1&page_size=2&name=amq&use_regex=false')
    check('paged object', s == 200 and all(k in d for k in (
        'filtered_count', 'item_count', 'items', 'page', 'page_count', 'page_size',
        'total_count')) and d['item_count'] == 2, d)
    s, _, d = api.req('GET', '/api/exchanges?page=1&page_size=1000')
    check('page_size too big 400', s == 400, s)
    s, _, d = api.req('GET', '/api/exchanges?page=99')
    check('page out of range 400', s == 400 and d['error'] == 'page_out_of_range', (s, d))
    s, _, d = api.req('GET', '/api/exchanges/%2F?columns=name,type')
    check('columns', s == 200 and all(set(x) <= {'name', 'type'} for x in d), d[:2])
    s, _, d = api.req('GET', '/api/exchanges/%2F?sort=name&sort_reverse=true')
    names = [x['name'] for x in d] if s == 200 else []
    check('sort reverse', names == sorted(names, reverse=True), names)
    s, _, d = api.req('GET', '/api/health/checks/alarms')
    check('alarms ok', s == 200 and d == {'status': 'ok'}, (s, d))
    s, _, d = api.req('GET', '/api/health/checks/local-alarms')
    check('local alarms ok', s == 200 and d['status'] == 'ok', (s, d))
    s, _, d = api.req('GET', '/api/aliveness-test/%2F')
    check('aliveness', s == 200 and d == {'status': 'ok'}, (s, d))
    s, _, d = api.req('GET', '/api/vhost-limits')
    check('vhost-limits list', s == 200 and isinstance(d, list), (s, d))
    for path in ('/api/connections', '/api/channels', '/api/consumers', '/api/bindings',
                 '/api/queues', '/api/vhosts', '/api/users', '/api/permissions',
                 '/api/policies', '/api/operator-policies', '/api/definitions'):
        s, _, d = api.req('GET', path)
        check('GET %s 200' % path, s == 200, s)
    s, _, d = api.req('PUT', '/api/queues/%2F/x', raw=b'{not json')
    check('malformed json 400', s == 400 and d == {'error': 'bad_request', 'reason': 'not_json'},
          (s, d))


# ---- Warren only ----

def warren_checks(api, amqp_port, mgmt_port, prom_port):
    import pika
    # odd names: '/', '#', '%', unicode, space
    for name in ('a/b', 'x#y', '100%', 'ünï-cødé', 'sp ace', '~tilde'):
        s, _, _ = api.req('PUT', '/api/queues/%2F/' + q(name), {'durable': False})
        check('declare odd name %r' % name, s == 201, s)
        s, _, d = api.req('GET', '/api/queues/%2F/' + q(name))
        check('get odd name %r' % name, s == 200 and d['name'] == name, (s, d))
        s, _, _ = api.req('DELETE', '/api/queues/%2F/' + q(name))
        check('delete odd name %r' % name, s == 204, s)
    # bad input never crashes
    bad = [('PUT', '/api/queues/%2F/t1', {'durable': 'yes'}),
           ('PUT', '/api/queues/%2F/t1', {'arguments': [1]}),
           ('PUT', '/api/queues/%2F/t1', {'arguments': {'x-max-length': 'ten'}}),
           ('PUT', '/api/exchanges/%2F/t1', {}),
           ('PUT', '/api/exchanges/%2F/t1', {'type': 7}),
           ('POST', '/api/queues/%2F/aliveness-test/get', {'count': 'x', 'ackmode': 'a',
                                                           'encoding': 'auto'}),
           ('POST', '/api/exchanges/%2F/amq.direct/publish',
            {'properties': {'delivery_mode': 'x'}, 'routing_key': 'r', 'payload': '',
             'payload_encoding': 'string'}),
           ('POST', '/api/exchanges/%2F/amq.direct/publish',
            {'properties': {}, 'routing_key': 'r', 'payload': '!!',
             'payload_encoding': 'base64'}),
           ('PUT', '/api/users/u1', {'password_hash': 'zzz'}),
           ('PUT', '/api/users/u1', {'tags': 'x'}),
           ('PUT', '/api/permissions/%2F/nobody', {'configure': '.*', 'write': '.*',
                                                    'read': '.*'}),
           ('PUT', '/api/policies/%2F/p', {'pattern': 1, 'definition': {}}),
           ('POST', '/api/definitions', {'queues': 'nope'}),
           ('POST', '/api/definitions', {'exchanges': [{'name': 'e', 'vhost': '/',
                                                        'type': 'bogus'}]}),
           ('POST', '/api/bindings/%2F/e/amq.direct/q/none', {'routing_key': 'k'}),
           ('GET', '/api/queues/nosuchvhost', None),
           ('GET', '/api/queues/%2F/x/y/z/w', None),
           ('GET', '/api/queues?page=abc', None),
           ('GET', '/api/queues?page=1&name=%5B&use_regex=true', None)]
    for method, path, body in bad:
        s, _, d = api.req(method, path, body)
        check('bad input %s %s -> 4xx json' % (method, path), 400 <= s < 500 and
              isinstance(d, dict) and 'error' in d, (s, d))
    s, _, d = api.req('PUT', '/api/queues/%2F/big', raw=b'{"a":"' + b'x' * (2 << 20) + b'"}')
    check('huge body 413 json', s == 413 and isinstance(d, dict) and 'error' in d, s)
    for junk in (b'', b'[]', b'"str"', b'{"a":', b'\xff\xfe', b'null'):
        s, _, d = api.req('POST', '/api/exchanges/%2F/amq.direct/publish', raw=junk)
        check('junk body %r 400' % junk, s == 400, s)

    # AMQP traffic continues while the API works; connections, channels, consumers visible
    params = pika.ConnectionParameters('127.0.0.1', amqp_port,
                                       credentials=pika.PlainCredentials('guest', 'guest'),
                                       client_properties={'connection_name': 'mgmt-test'})
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare('amqp-q')
    ch.basic_qos(prefetch_count=10)
    ch.basic_consume('amqp-q', lambda c, m, p, b: None, consumer_tag='ctag-1')
    stop = []
    errors = []

    def poll_api():
        try:
            while not stop:
                api.req('GET', '/api/queues?page=1&page_size=50')
                api.req('GET', '/api/overview')
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    t = threading.Thread(target=poll_api)
    t.start()
    for i in range(200):
        ch.basic_publish('', 'amqp-q', b'm%d' % i)
    stop.append(1)
    t.join()
    check('API polled without error during AMQP traffic', not errors, errors)
    conn.process_data_events(time_limit=0.3)
    s, _, d = api.req('GET', '/api/connections')
    mine = [c for c in d if c.get('client_properties', {}).get('connection_name') == 'mgmt-test']
    check('connection listed', s == 200 and len(mine) == 1, d)
    if mine:
        c = mine[0]
        for k in ('name', 'user', 'vhost', 'peer_host', 'peer_port', 'channels',
                  'client_properties', 'recv_oct', 'send_oct', 'state', 'protocol', 'timeout',
                  'frame_max'):
            check('connection field %s' % k, k in c, k)
        check('connection name form', re.match(r'^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$',
                                               c['name']) is not None, c['name'])
        check('protocol', c['protocol'] == 'AMQP 0-9-1', c['protocol'])
        s, _, one = api.req('GET', '/api/connections/' + q(c['name']))
        check('get connection by name', s == 200 and one['name'] == c['name'], s)
    s, _, d = api.req('GET', '/api/channels')
    check('channel listed', s == 200 and any(x['prefetch_count'] == 10 for x in d), d)
    s, _, d = api.req('GET', '/api/consumers')
    check('consumer listed', s == 200 and any(x['consumer_tag'] == 'ctag-1' and
                                              x['queue']['name'] == 'amqp-q' for x in d), d)
    time.sleep(1.3)
    s, _, d = api.req('GET', '/api/queues/%2F/amqp-q')
    ms = d.get('message_stats', {})
    check('queue message_stats', s == 200 and ms.get('publish') == 200 and
          'rate' in ms.get('publish_details', {}) and ms.get('deliver_get', 0) >= 1, ms)
    s, _, d = api.req('GET', '/api/overview')
    check('overview counts', d['object_totals']['connections'] >= 1 and
          d['message_stats']['publish'] >= 200, d['object_totals'])
    if mine:
        s, _, _ = api.req('DELETE', '/api/connections/' + q(mine[0]['name']))
        check('close connection 204', s == 204, s)
        closed = None
        try:
            for _ in range(20):
                conn.process_data_events(time_limit=0.1)
        except pika.exceptions.ConnectionClosed as e:
            closed = e
        except pika.exceptions.AMQPConnectionError as e:
            closed = e
        check('connection closed with 320', closed is not None and '320' in str(closed),
              repr(closed))

    # metrics, on the management port and the prometheus port
    for port in (mgmt_port, prom_port):
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as r:
            text = r.read().decode()
        parse_prometheus(text, 'metrics :%d' % port)
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics/per-object' % mgmt_port,
                                timeout=10) as r:
        text = r.read().decode()
    samples = parse_prometheus(text, 'per-object')
    check('per-object queue label', any(n == 'rabbitmq_queue_messages' and
                                        l.get('queue') == 'amqp-q' and l.get('vhost') == '/'
                                        for n, l, v in samples), '')

    # definitions: RabbitMQ 3.10 export imports unchanged, passwords work over AMQP
    path = os.path.join(HERE, 'data', 'rabbitmq-3.10-definitions.json')
    with open(path, 'rb') as f:
        raw = f.read()
    s, _, d = api.req('POST', '/api/definitions', raw=raw)
    check('import RabbitMQ definitions 204', s == 204, (s, d))
    doc = json.loads(raw)
    s, _, exp = api.req('GET', '/api/definitions')
    for sect in ('queues', 'exchanges', 'bindings'):
        want = {(x.get('vhost'), x.get('name', x.get('destination'))) for x in doc[sect]}
        got = {(x.get('vhost'), x.get('name', x.get('destination'))) for x in exp[sect]}
        check('imported %s present' % sect, want <= got, want - got)
    for pol in doc.get('policies', []):
        check('imported policy %s' % pol['name'],
              any(p['name'] == pol['name'] for p in exp['policies']), '')
    for u in doc['users']:
        if u['name'] == 'guest':
            continue
        pw = DEF_PASSWORDS.get(u['name'])
        if not pw:
            continue
        perms = [p for p in doc['permissions'] if p['user'] == u['name']]
        if not perms:
            continue
        try:
            c2 = pika.BlockingConnection(pika.ConnectionParameters(
                '127.0.0.1', amqp_port, virtual_host=perms[0]['vhost'],
                credentials=pika.PlainCredentials(u['name'], pw)))
            c2.close()
            ok = True
        except Exception as e:  # noqa: BLE001
            ok = e
        check('AMQP login with RabbitMQ password for %s' % u['name'], ok is True, ok)
    s, _, d = api.req('POST', '/api/definitions', raw=json.dumps(exp).encode())
    check('re-import own export 204', s == 204, (s, d))

    # documented curl examples still work
    run_doc_examples(mgmt_port)


DEF_PASSWORDS = {'def-admin': 'def-admin-pw', 'def-app': 'def-app-pw', 'def-mon': 'def-mon-pw'}

METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+]+|NaN|[+-]Inf)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text, what):
    samples = []
    typed = set()
    bad = []
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith('# HELP '):
            if len(line.split(' ', 3)) < 4:
                bad.append(line)
            continue
        if line.startswith('# TYPE '):
            parts = line.split(' ')
            if len(parts) != 4 or parts[3] not in ('counter', 'gauge', 'untyped', 'summary',
                                                   'histogram'):
                bad.append(line)
            typed.add(parts[2])
            continue
        m = METRIC_RE.match(line)
        if not m:
            bad.append(line)
            continue
        labels = {}
        rest = m.group(3) or ''
        pos = 0
        while pos < len(rest):
            lm = LABEL_RE.match(rest, pos)
            if not lm:
                bad.append(line)
                break
            labels[lm.group(1)] = lm.group(2)
            pos = lm.end()
        if m.group(1) not in typed:
            bad.append('no TYPE before ' + line)
        samples.append((m.group(1), labels, float(m.group(4))))
    check('%s: every line parses' % what, not bad, bad[:5])
    names = {n for n, _, _ in samples}
    for need in ('rabbitmq_queue_messages_ready', 'rabbitmq_queue_messages_unacked',
                 'rabbitmq_queue_messages', 'rabbitmq_queue_consumers',
                 'rabbitmq_global_messages_received_total',
                 'rabbitmq_global_messages_delivered_total',
                 'rabbitmq_global_messages_acknowledged_total',
                 'rabbitmq_global_messages_confirmed_total', 'rabbitmq_connections',
                 'rabbitmq_channels', 'rabbitmq_queues', 'rabbitmq_process_resident_memory_bytes',
                 'rabbitmq_disk_space_available_bytes', 'rabbitmq_alarms_memory_used_watermark',
                 'rabbitmq_alarms_free_disk_space_watermark'):
        check('%s: has %s' % (what, need), need in names, '')
    return samples


def run_doc_examples(mgmt_port):
    with open(DOC) as f:
        doc = f.read()
    blocks = re.findall(r'```sh\n(# example.*?)```', doc, re.S)
    check('doc has curl examples', len(blocks) >= 20, len(blocks))
    env = dict(os.environ, WARREN='http://127.0.0.1:%d' % mgmt_port)
    for b in blocks:
        first = b.splitlines()[0]
        r = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', b], env=env,
                           capture_output=True, timeout=30)
        check('doc example: %s' % first, r.returncode == 0,
              (r.returncode, r.stdout[-300:], r.stderr[-300:]))


def kind_checks(api, amqp_port):
    """Streams and quorum queues: their own fields, consumer offsets, reading a stream from an
    offset without a consumer, and the refusals (purge, get) as 400s."""
    import pika
    conn = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', amqp_port))
    ch = conn.channel()
    ch.queue_declare('kind.s', durable=True, arguments={'x-queue-type': 'stream'})
    ch.queue_declare('kind.q', durable=True, arguments={
        'x-queue-type': 'quorum', 'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish', 'x-dead-letter-exchange': 'kind.nowhere'})
    ch.confirm_delivery()
    for i in range(5):
        ch.basic_publish('', 'kind.s', b's%d' % i)
    for i in range(2):
        ch.basic_publish('', 'kind.q', b'q%d' % i)
    m, _, _ = ch.basic_get('kind.q')
    ch.basic_reject(m.delivery_tag, requeue=False)
    ch.basic_qos(prefetch_count=2)
    ch.basic_consume('kind.s', lambda *a: None, arguments={'x-stream-offset': 1},
                     consumer_tag='reader')
    conn.process_data_events(time_limit=0.5)
    s, _, d = api.req('GET', '/api/queues/%2F/kind.s')
    check('stream shows its type and stored messages', s == 200 and d['type'] == 'stream' and
          d['messages'] == 5 and d['first_offset'] == 0 and d['committed_offset'] == 5, d)
    cd = d.get('consumer_details') or [{}]
    check('stream consumer shows its arguments and next offset',
          cd[0].get('arguments') == {'x-stream-offset': 1} and cd[0].get('offset') == 3, cd)
    node = d.get('node')
    check('stream shows this node as its leader, members and online (RabbitMQ 3.10 rabbit_stream_'
          'queue info keys)', d.get('leader') == node and d.get('members') == [node] and
          d.get('online') == [node], d)
    cd0 = cd[0]
    check('stream consumer shows its queue and channel as RabbitMQ does',
          cd0.get('queue') == {'name': 'kind.s', 'vhost': '/'} and
          cd0.get('activity_status') == 'up' and
          (cd0.get('channel_details') or {}).get('number') == 1 and
          (cd0.get('channel_details') or {}).get('user') == 'guest', cd0)
    s, _, d = api.req('GET', '/api/queues/%2F/kind.q')
    check('quorum queue shows its kept dead letters', s == 200 and d['type'] == 'quorum' and
          d['messages'] == 1 and d['messages_dlx'] == 1 and
          d['dead_letter_strategy'] == 'at-least-once', d)
    s, _, d = api.req('POST', '/api/queues/%2F/kind.s/get',
                      {'offset': 'first', 'count': 3, 'encoding': 'auto'})
    check('a stream reads from an offset without a consumer',
          s == 200 and [(x['offset'], x['payload']) for x in d] == [(0, 's0'), (1, 's1'),
                                                                    (2, 's2')], (s, d))
    s, _, d = api.req('POST', '/api/queues/%2F/kind.s/get',
                      {'offset': 'last', 'count': 5, 'encoding': 'auto'})
    check('a stream read from last starts at the newest chunk',
          s == 200 and [x['offset'] for x in d] == [4], (s, d))
    s, _, d = api.req('POST', '/api/queues/%2F/kind.s/get',
                      {'offset': 'bogus', 'count': 1, 'encoding': 'auto'})
    check('a bad stream offset is a 400', s == 400 and 'invalid offset' in d['reason'], (s, d))
    s, _, d = api.req('POST', '/api/queues/%2F/kind.s/get',
                      {'count': 1, 'ackmode': 'ack_requeue_true', 'encoding': 'auto'})
    check('a stream refuses a get without an offset', s == 400 and 'basic.get not supported'
          in d['reason'], (s, d))
    s, _, d = api.req('DELETE', '/api/queues/%2F/kind.s/contents')
    check('a stream refuses purge', s == 400 and 'queue.purge not supported' in d['reason'],
          (s, d))
    conn.close()
    for name in ('kind.s', 'kind.q'):
        api.req('DELETE', '/api/queues/%2F/' + name)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--rabbitmq':
        api = Api(sys.argv[2])
        api.lag = 6
        readonly_checks(api)
        crud_checks(api, 'rmq')
    elif len(sys.argv) == 2:
        p, data, amqp, mgmt, prom = start_warren(sys.argv[1])
        try:
            api = Api('http://127.0.0.1:%d' % mgmt)
            readonly_checks(api)
            crud_checks(api, 'warren')
            warren_checks(api, amqp, mgmt, prom)
            kind_checks(api, amqp)
            check('warren still running', p.poll() is None, p.returncode)
        finally:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
            shutil.rmtree(data, ignore_errors=True)
    else:
        print(__doc__)
        return 2
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
