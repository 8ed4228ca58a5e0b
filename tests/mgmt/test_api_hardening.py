#!/usr/bin/python3
"""Management API hardening: bounded work per request, one loopback rule, what the API lists
and keeps, and the statistics RabbitMQ 3.10 shows (each expectation checked against a live
RabbitMQ 3.10.8 with conformance/rabbitmq.sh, detailed statistics for item 6).

usage: test_api_hardening.py WARREN_BINARY [SECTION...]
SECTION (default: all): get_reply_is_capped regex_filters_are_bounded guest_from_127_0_0_2
deleted_connection_is_not_listed vhost_metadata_is_kept get_reject_dead_letters
publish_statistics (vhost_metadata_is_kept also restarts the broker and checks again).
Prints "N passed, M failed" last; exits 1 on failure.
"""
import base64
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pika

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_api  # noqa: E402  (Api, check, free_port)
from test_api import check, q  # noqa: E402

GET_REPLY_MAX = 16 << 20


def start(binary, data, amqp, mgmt):
    log = open(os.path.join(data, 'warren.log'), 'a+')
    p = subprocess.Popen([binary, '--port', str(amqp), '--mgmt-port', str(mgmt),
                          '--data-dir', os.path.join(data, 'd'),
                          '--set', 'collect_statistics_interval=1000'],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline and p.poll() is None:
        try:
            socket.create_connection(('127.0.0.1', mgmt), 0.2).close()
            socket.create_connection(('127.0.0.1', amqp), 0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    log.seek(0)
    print(log.read())
    raise SystemExit('warren did not start')


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def req_timed(api, method, path, body=None, timeout=10):
    """api.req with a timeout; (status, doc) or (None, exception) when it did not answer."""
    r = urllib.request.Request(api.base + path, method=method,
                               data=json.dumps(body).encode() if body is not None else None)
    r.add_header('Content-Type', 'application/json')
    r.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'null')
    except Exception as e:  # noqa: BLE001 (timeout: the loop was busy)
        return None, e


def connect(amqp_port, **kw):
    return pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', amqp_port, **kw))


# ---- 1. one request cannot make the loop do unbounded work ----

def get_reply_is_capped(api, amqp):
    api.req('PUT', '/api/queues/%2F/cap-q', {})
    c = connect(amqp)
    ch = c.channel()
    mib = bytes(random.choice(b'abcdefgh') for _ in range(1 << 20))
    for i in range(20):
        ch.basic_publish('', 'cap-q', b'%02d' % i + mib[2:])
    ch.basic_publish('', 'cap-q', b'B' * (20 << 20))
    c.close()
    s, _, d = api.req('POST', '/api/queues/%2F/cap-q/get',
                      {'count': 21, 'ackmode': 'ack_requeue_false', 'encoding': 'auto'})
    n = len(d) if s == 200 else 0
    sent = sum(len(m['payload']) for m in d) if s == 200 else 0
    check('get of 21 MiB-sized messages answers what fits in 16 MiB', s == 200 and 0 < n < 20 and
          sent <= GET_REPLY_MAX and all(m['payload_bytes'] == 1 << 20 for m in d), (s, n, sent))
    s, _, d2 = api.req('GET', '/api/queues/%2F/cap-q')
    check('messages beyond the cap stay in the queue', d2.get('messages') == 21 - n,
          (n, d2.get('messages')))
    s, _, d3 = api.req('POST', '/api/queues/%2F/cap-q/get',
                       {'count': 1, 'ackmode': 'ack_requeue_false', 'encoding': 'auto'})
    check('the next one is the first left behind, not marked redelivered',
          s == 200 and len(d3) == 1 and d3[0]['payload'][:2] == '%02d' % n and
          d3[0]['redelivered'] is False, (s, n, d3[0]['payload'][:2] if d3 else None))
    api.req('POST', '/api/queues/%2F/cap-q/get',
            {'count': 20, 'ackmode': 'ack_requeue_false', 'encoding': 'auto'})
    s, _, d = api.req('POST', '/api/queues/%2F/cap-q/get',
                      {'count': 5, 'ackmode': 'ack_requeue_false', 'encoding': 'base64'})
    one = d[0] if s == 200 and d else {}
    raw = base64.b64decode(one.get('payload', ''))
    check('a message larger than the cap is answered cut to fit, its size told',
          s == 200 and len(d) == 1 and one['payload_bytes'] == 20 << 20 and
          0 < len(one['payload']) <= GET_REPLY_MAX and raw == b'B' * len(raw),
          (s, len(d) if s == 200 else d, one.get('payload_bytes'), len(one.get('payload', ''))))
    s, _, d = api.req('GET', '/api/queues/%2F/cap-q')
    check('the cut message was taken (ack_requeue_false)', d.get('messages') == 0, d.get('messages'))
    api.req('DELETE', '/api/queues/%2F/cap-q')


def regex_filters_are_bounded(api):
    for name in ('Api-Filter-One', 'api-filter-two'):
        api.req('PUT', '/api/queues/%2F/' + name, {})
    s, _, d = api.req('GET', '/api/queues?page=1&name=API-FILTER&columns=name')
    check('name filter ignores case, as RabbitMQ', s == 200 and d['filtered_count'] == 2, d)
    s, _, d = api.req('GET', '/api/queues?page=1&use_regex=true&name=%5Eapi-f.*ONE&columns=name')
    check('regex filter ignores case, as RabbitMQ', s == 200 and
          [x['name'] for x in d['items']] == ['Api-Filter-One'], d)
    s, _, d = api.req('GET', '/api/queues?name=zzz-no-such&columns=name')
    check('without page, name filters nothing, as RabbitMQ', s == 200 and len(d) >= 2, d)
    s, _, d = api.req('GET', '/api/queues?page=1&use_regex=true&name=%5B')
    check('a regex that does not compile: 400 in RabbitMQ words', s == 400 and
          d == {'error': 'bad_request', 'reason': 'Pagination parameters are invalid'}, (s, d))
    s, _, d = api.req('GET', '/api/queues?page=1&use_regex=true&name=' + 'a' * 257)
    check('a regex longer than 256 bytes: 400', s == 400 and d['error'] == 'bad_request' and
          'longer than 256 bytes' in d['reason'], (s, d))

    # Names glibc's matcher chews on: back-references and expanded repetitions take
    # seconds per name, so these requests would hold the loop (the timeout fails them).
    for i in range(3):
        api.req('PUT', '/api/queues/%2F/' + 'a' * 250 + '%d' % i, {})
    for pattern, why in (('(a*)*\\1b', 'back-references'), ('(a{1,255}){1,255}b', 'too complex'),
                         ('((a{0,20}){0,20}){0,20}', 'too complex')):
        t = time.time()
        s, d = req_timed(api, 'GET', '/api/queues?page=1&use_regex=true&name=' + q(pattern))
        check('regex %s is refused at once with 400' % pattern,
              s == 400 and why in d.get('reason', '') and time.time() - t < 2, (s, d))
    s, d = req_timed(api, 'GET', '/api/queues?page=1&use_regex=true&name=' + q('^a{1,200}[0-9]$'))
    check('an ordinary bounded repetition still filters', s == 200 and d['filtered_count'] == 0, (s, d))

    # A pattern each name takes milliseconds to match, over many names: the matching stops
    # after 250 ms with a 400 instead of holding the loop for seconds.
    rnd = random.Random(7)
    for i in range(100):
        api.req('PUT', '/api/queues/%2F/' + ''.join(rnd.choice('ab') for _ in range(250)), {})
    slow = '(a|b)*a' + '(a|b)' * 40 + 'z'
    t = time.time()
    s, d = req_timed(api, 'GET', '/api/queues?page=1&use_regex=true&name=' + q(slow), timeout=30)
    took = time.time() - t
    check('matching that takes too long stops with 400 within a second',
          s == 400 and 'took more than 250 ms' in d.get('reason', '') and took < 1.5,
          (s, d, round(took, 2)))
    s, _, d = api.req('GET', '/api/overview')
    check('the broker still answers after the refused filters', s == 200, s)


# ---- 2. guest from any loopback address, on both protocols ----

def guest_from_127_0_0_2(api, amqp, mgmt):
    try:
        probe = socket.socket()
        probe.bind(('127.0.0.2', 0))
        probe.close()
    except OSError:
        print('SKIP: cannot bind 127.0.0.2')
        return

    class From2(urllib.request.HTTPHandler):
        def http_open(self, req):
            import http.client

            class Conn(http.client.HTTPConnection):
                def connect(self):
                    self.sock = socket.create_connection((self.host, self.port), 10,
                                                         source_address=('127.0.0.2', 0))
            return self.do_open(Conn, req)
    opener = urllib.request.build_opener(From2)
    r = urllib.request.Request('http://127.0.0.1:%d/api/whoami' % mgmt)
    r.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    try:
        with opener.open(r, timeout=10) as resp:
            status, body = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        status, body = e.code, json.loads(e.read() or b'null')
    check('guest logs in to the HTTP API from 127.0.0.2 (127.0.0.0/8 is loopback)',
          status == 200 and body.get('name') == 'guest', (status, body))

    orig = socket.socket.connect

    def from2(self, addr):
        if self.family == socket.AF_INET:
            self.bind(('127.0.0.2', 0))
        return orig(self, addr)
    socket.socket.connect = from2
    try:
        c = connect(amqp)
        ok = c.is_open
        c.close()
    except Exception as e:  # noqa: BLE001
        ok = e
    finally:
        socket.socket.connect = orig
    check('guest logs in over AMQP from 127.0.0.2 too', ok is True, ok)


# ---- 3. a force-closed connection is gone when DELETE answers ----

def deleted_connection_is_not_listed(api, amqp):
    c = connect(amqp, client_properties={'connection_name': 'to-delete'})
    s, _, d = api.req('GET', '/api/connections')
    mine = [x for x in d if x.get('user_provided_name') == 'to-delete']
    check('the connection is listed', len(mine) == 1, d)
    if not mine:
        return
    name = mine[0]['name']
    # The client is not reading: it has not answered the close with close-ok yet.
    s, _, _ = api.req('DELETE', '/api/connections/' + q(name))
    check('DELETE connection 204', s == 204, s)
    s, _, d = api.req('GET', '/api/connections')
    check('right after DELETE the connection is not listed (RabbitMQ: gone once closed)',
          s == 200 and not any(x['name'] == name for x in d), d)
    s, _, d = api.req('GET', '/api/connections/' + q(name))
    check('nor found by name', s == 404, (s, d))
    s, _, d = api.req('GET', '/api/overview')
    check('nor counted in the overview', d['object_totals']['connections'] == 0,
          d['object_totals'])
    try:
        c.process_data_events(time_limit=0.5)
    except pika.exceptions.AMQPError:
        pass


# ---- 4. vhost metadata is kept ----

def vhost_metadata_is_kept(api):
    s, _, _ = api.req('PUT', '/api/vhosts/meta-vh',
                      {'description': 'orders', 'tags': ' a , b,,', 'default_queue_type': 'quorum'})
    check('PUT vhost with metadata 201', s == 201, s)
    s, _, d = api.req('GET', '/api/vhosts/meta-vh')
    check('GET shows description, tags and default queue type as RabbitMQ',
          d.get('description') == 'orders' and d.get('tags') == ['a', 'b', '', ''] and
          d.get('default_queue_type') == 'quorum' and
          d.get('metadata') == {'description': 'orders', 'tags': ['a', 'b', '', ''],
                                'default_queue_type': 'quorum'}, d)
    s, _, _ = api.req('PUT', '/api/vhosts/meta-vh', {'description': 'new', 'tags': ['x'],
                                                     'default_queue_type': 'classic'})
    s, _, d = api.req('GET', '/api/vhosts/meta-vh')
    check('a PUT replaces description and tags; the queue type stays as first set (3.10)',
          s == 200 and d['description'] == 'new' and d['tags'] == ['x'] and
          d['default_queue_type'] == 'quorum', d)
    # (a kind Warren has: it refuses to default to one it cannot create)
    s, _, _ = api.req('PUT', '/api/vhosts/meta-vh3', {'defaultqueuetype': 'quorum'})
    s, _, d = api.req('GET', '/api/vhosts/meta-vh3')
    check("3.10's defaultqueuetype key works too", d.get('default_queue_type') == 'quorum', d)
    s, _, d = api.req('PUT', '/api/vhosts/meta-bad', {'default_queue_type': 'bogus'})
    check('an unknown queue type is a 400 (RabbitMQ: 500)', s == 400 and
          d == {'error': 'bad_request', 'reason': 'invalid_queue_type'}, (s, d))
    s, _, d = api.req('PUT', '/api/vhosts/meta-bad', {'tags': 5})
    check('tags of another type are a 400', s == 400, (s, d))
    s, _, d = api.req('GET', '/api/vhosts/meta-bad')
    check('a refused PUT creates nothing', s == 404, s)
    s, _, d = api.req('GET', '/api/vhosts/%2F')
    check("the default vhost is RabbitMQ's 'Default virtual host'",
          d.get('description') == 'Default virtual host' and
          d.get('default_queue_type') == 'undefined', d)
    s, _, d = api.req('GET', '/api/definitions')
    vh = {v['name']: v for v in d['vhosts']}.get('meta-vh', {})
    check('definitions export the metadata', vh.get('metadata') == {
        'description': 'new', 'tags': ['x'], 'default_queue_type': 'quorum'}, vh)
    doc = {'vhosts': [{'name': 'meta-imp', 'description': 'top', 'tags': 'p,q'},
                      {'name': 'meta-imp2', 'metadata': {'description': 'in metadata',
                                                         'tags': ['t'],
                                                         'default_queue_type': 'classic'}},
                      {'name': 'meta-imp3', 'default_queue_type': 'undefined'}]}
    s, _, d = api.req('POST', '/api/definitions', doc)
    check('import vhosts with metadata 204', s == 204, (s, d))
    got = {n: api.req('GET', '/api/vhosts/' + n)[2] for n in ('meta-imp', 'meta-imp2', 'meta-imp3')}
    check('import reads the top-level keys (RabbitMQ 3.10)', got['meta-imp']['description'] == 'top'
          and got['meta-imp']['tags'] == ['p', 'q'], got['meta-imp'])
    check('import reads metadata (later RabbitMQ exports)',
          got['meta-imp2']['description'] == 'in metadata' and got['meta-imp2']['tags'] == ['t']
          and got['meta-imp2']['default_queue_type'] == 'classic', got['meta-imp2'])
    check('"undefined" imports as no default queue type',
          got['meta-imp3']['default_queue_type'] == 'undefined', got['meta-imp3'])
    s, _, d = api.req('POST', '/api/definitions', {'vhosts': [{'name': 'meta-x', 'tags': 7}]})
    check('import of bad metadata is a 400 naming the vhost', s == 400 and
          'meta-x' in d.get('reason', ''), (s, d))


def vhost_metadata_survives_restart(api):
    s, _, d = api.req('GET', '/api/vhosts/meta-vh')
    check('after a restart the vhost keeps its metadata', s == 200 and
          d['description'] == 'new' and d['tags'] == ['x'] and
          d['default_queue_type'] == 'quorum', (s, d))
    s, _, d = api.req('GET', '/api/vhosts/meta-imp2')
    check('and imported metadata too', s == 200 and d['description'] == 'in metadata', (s, d))


# ---- 5. reject_requeue_false dead-letters ----

def get_reject_dead_letters(api):
    api.req('PUT', '/api/queues/%2F/rj-dlq', {})
    api.req('PUT', '/api/queues/%2F/rj-src', {'arguments': {'x-dead-letter-exchange': '',
                                                            'x-dead-letter-routing-key': 'rj-dlq'}})
    api.req('PUT', '/api/queues/%2F/rj-plain', {})
    for rk in ('rj-src', 'rj-plain'):
        api.req('POST', '/api/exchanges/%2F/amq.default/publish',
                {'properties': {}, 'routing_key': rk, 'payload': 'm1', 'payload_encoding': 'string'})
    s, _, d = api.req('POST', '/api/queues/%2F/rj-src/get',
                      {'count': 5, 'ackmode': 'reject_requeue_false', 'encoding': 'auto'})
    check('reject_requeue_false returns the message', s == 200 and len(d) == 1, (s, d))
    s, _, d = api.req('POST', '/api/queues/%2F/rj-dlq/get',
                      {'count': 5, 'ackmode': 'ack_requeue_false', 'encoding': 'auto'})
    h = d[0]['properties'].get('headers', {}) if s == 200 and d else {}
    death = (h.get('x-death') or [{}])[0]
    check('and dead-letters it as basic.reject would (RabbitMQ: reason rejected)',
          s == 200 and len(d) == 1 and d[0]['payload'] == 'm1' and
          death.get('reason') == 'rejected' and death.get('queue') == 'rj-src' and
          death.get('count') == 1 and death.get('routing-keys') == ['rj-src'] and
          h.get('x-first-death-reason') == 'rejected', d)
    s, _, d = api.req('POST', '/api/queues/%2F/rj-plain/get',
                      {'count': 5, 'ackmode': 'reject_requeue_false', 'encoding': 'auto'})
    s, _, d = api.req('GET', '/api/queues/%2F/rj-plain')
    check('without a dead-letter exchange it is dropped', d.get('messages') == 0, d)


# ---- 6. exchange incoming/outgoing, queue incoming, channel idle_since ----

def publish_statistics(api, amqp):
    C = 'st'
    api.req('PUT', '/api/exchanges/%2F/st-x', {'type': 'fanout'})
    api.req('PUT', '/api/exchanges/%2F/st-x2', {'type': 'fanout'})
    for qn in ('st-q1', 'st-q2', 'st-dq'):
        api.req('PUT', '/api/queues/%2F/' + qn, {})
    api.req('POST', '/api/bindings/%2F/e/st-x/q/st-q1', {'routing_key': ''})
    api.req('POST', '/api/bindings/%2F/e/st-x/q/st-q2', {'routing_key': 'a'})
    api.req('POST', '/api/bindings/%2F/e/st-x/q/st-q2', {'routing_key': 'b'})
    api.req('POST', '/api/bindings/%2F/e/st-x/e/st-x2', {'routing_key': ''})
    api.req('POST', '/api/bindings/%2F/e/st-x2/q/st-q1', {'routing_key': ''})
    c = connect(amqp, client_properties={'connection_name': C})
    ch1 = c.channel()
    for _ in range(3):
        ch1.basic_publish('st-x', 'k', b'x')
    ch1.basic_publish('st-x', 'k', b'x', mandatory=True)
    ch2 = c.channel()
    ch2.basic_publish('st-x', 'k', b'y')
    ch2.basic_publish('st-x2', 'k', b'z')
    ch1.basic_publish('', 'st-dq', b'd')
    ch1.basic_publish('', 'st-dq', b'd')
    ch1.basic_publish('', 'st-nowhere', b'd')
    ch1.basic_publish('', 'st-nowhere', b'd', mandatory=True)
    c.process_data_events(time_limit=0.3)
    s, _, x = api.req('GET', '/api/exchanges/%2F/st-x')
    out = {o['queue']['name']: o['stats']['publish'] for o in x.get('outgoing', [])}
    check('exchange outgoing: per queue, a message counted once per queue',
          out == {'st-q1': 5, 'st-q2': 5}, x.get('outgoing'))
    check('outgoing entries have RabbitMQ\'s shape', all(
        set(o) == {'stats', 'queue'} and set(o['queue']) == {'name', 'vhost'} and
        'rate' in o['stats']['publish_details'] for o in x.get('outgoing', [])), x.get('outgoing'))
    inc = x.get('incoming', [])
    by_ch = {o['channel_details']['number']: o for o in inc}
    check('exchange incoming: per channel', sorted(by_ch) == [1, 2] and
          by_ch[1]['stats']['publish'] == 4 and by_ch[2]['stats']['publish'] == 1, inc)
    want_cd = {'connection_name', 'name', 'node', 'number', 'peer_host', 'peer_port', 'user'}
    want_st = {'publish', 'confirm', 'drop_unroutable', 'return_unroutable'}
    check('incoming entries have RabbitMQ\'s shape', all(
        set(o) == {'stats', 'channel_details'} and set(o['channel_details']) == want_cd and
        set(o['stats']) == want_st | {k + '_details' for k in want_st} and
        o['channel_details']['name'] == '%s (%d)' % (o['channel_details']['connection_name'],
                                                     o['channel_details']['number'])
        for o in inc), inc)
    check('incoming/outgoing only on the single exchange, as RabbitMQ',
          all('incoming' not in e for e in api.req('GET', '/api/exchanges/%2F')[2]), '')
    s, _, x2 = api.req('GET', '/api/exchanges/%2F/st-x2')
    check('an exchange reached through another counts only what was published to it',
          x2['message_stats']['publish_in'] == 1 and
          [(o['queue']['name'], o['stats']['publish']) for o in x2.get('outgoing', [])] ==
          [('st-q1', 1)], (x2['message_stats'], x2.get('outgoing')))
    s, _, qd = api.req('GET', '/api/queues/%2F/st-q1')
    qin = {o['exchange']['name']: o['stats']['publish'] for o in qd.get('incoming', [])}
    check('queue incoming: per exchange', qin == {'st-x': 5, 'st-x2': 1}, qd.get('incoming'))
    s, _, dx = api.req('GET', '/api/exchanges/%2F/amq.default')
    d_out = {o['queue']['name']: o['stats']['publish'] for o in dx.get('outgoing', [])
             if o['queue']['name'].startswith('st-')}
    d_in = [o['stats'] for o in dx.get('incoming', [])]
    check('the default exchange: outgoing per queue, unroutable dropped and returned counted',
          d_out == {'st-dq': 2} and len(d_in) == 1 and d_in[0]['publish'] == 4 and
          d_in[0]['drop_unroutable'] == 1 and d_in[0]['return_unroutable'] == 1,
          (dx.get('outgoing'), d_in))
    s, _, qd = api.req('GET', '/api/queues/%2F/st-dq')
    check('a queue fed by the default exchange shows it as ""',
          [(o['exchange']['name'], o['stats']['publish']) for o in qd['incoming']] == [('', 2)],
          qd['incoming'])

    # idle_since: present on a channel that did nothing over a statistics interval (1 s
    # here), absent on one that is busy.
    busy_stop = []

    def busy():
        bc = connect(amqp, client_properties={'connection_name': 'st-busy'})
        bch = bc.channel()
        while not busy_stop:
            bch.basic_publish('', 'st-dq', b'b')
            bc.process_data_events(time_limit=0.01)
        bc.close()
    t = threading.Thread(target=busy)
    t.start()
    time.sleep(2.5)
    s, _, chans = api.req('GET', '/api/channels')
    busy_stop.append(1)
    t.join()
    cname = C if 1 not in by_ch else by_ch[1]['channel_details']['connection_name']
    idle = [x for x in chans if x['connection_details']['name'] == cname]
    busy_ch = [x for x in chans if x['connection_details']['name'] != cname]
    rfc = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$')
    check('an idle channel has idle_since in RabbitMQ\'s form',
          len(idle) == 2 and all(rfc.match(x.get('idle_since', '')) for x in idle),
          [x.get('idle_since') for x in idle])
    check('a busy channel has none', len(busy_ch) == 1 and 'idle_since' not in busy_ch[0],
          busy_ch)
    s, _, conns = api.req('GET', '/api/connections')
    at = [x['connected_at'] for x in conns if x.get('user_provided_name') == C]
    check('connected_at is wall-clock milliseconds, as RabbitMQ',
          len(at) == 1 and abs(at[0] - time.time() * 1000) < 60000, (at, time.time() * 1000))
    c.close()


def default_queue_type_applies_to_declares(api, amqp):
    """A declare without x-queue-type in a vhost whose default queue type is quorum makes a
    quorum queue, with quorum's declare rules (RabbitMQ 3.10)."""
    api.req('PUT', '/api/vhosts/dqt-vh', {'default_queue_type': 'quorum'})
    api.req('PUT', '/api/permissions/dqt-vh/guest', {'configure': '.*', 'write': '.*',
                                                      'read': '.*'})
    conn = connect(amqp, virtual_host='dqt-vh')
    try:
        ch = conn.channel()
        ch.queue_declare('dqt-q', durable=True)
        try:
            ch.queue_declare('dqt-transient', durable=False)
            text = 'declared'
        except pika.exceptions.ChannelClosedByBroker as e:
            text = (e.reply_code, e.reply_text)
        check('a non-durable declare follows the default kind\'s rule', text ==
              (406, "PRECONDITION_FAILED - invalid property 'non-durable' for queue "
                    "'dqt-transient' in vhost 'dqt-vh'"), text)
    finally:
        conn.close()
    s, _, d = api.req('GET', '/api/queues/dqt-vh/dqt-q')
    check('the queue is listed as quorum', s == 200 and d.get('type') == 'quorum', (s, d))
    api.req('DELETE', '/api/vhosts/dqt-vh')


SECTIONS = {
    'get_reply_is_capped': lambda api, amqp, mgmt: get_reply_is_capped(api, amqp),
    'regex_filters_are_bounded': lambda api, amqp, mgmt: regex_filters_are_bounded(api),
    'guest_from_127_0_0_2': guest_from_127_0_0_2,
    'deleted_connection_is_not_listed': lambda api, amqp, mgmt:
        deleted_connection_is_not_listed(api, amqp),
    'vhost_metadata_is_kept': lambda api, amqp, mgmt: vhost_metadata_is_kept(api),
    'get_reject_dead_letters': lambda api, amqp, mgmt: get_reject_dead_letters(api),
    'publish_statistics': lambda api, amqp, mgmt: publish_statistics(api, amqp),
    'default_queue_type_applies_to_declares': lambda api, amqp, mgmt:
        default_queue_type_applies_to_declares(api, amqp),
}


def main():
    if len(sys.argv) < 2 or any(a not in SECTIONS for a in sys.argv[2:]):
        print(__doc__)
        return 2
    sections = sys.argv[2:] or list(SECTIONS)
    data = tempfile.mkdtemp(prefix='warren-mgmt-hard-')
    amqp, mgmt = test_api.free_port(), test_api.free_port()
    p = start(sys.argv[1], data, amqp, mgmt)
    try:
        api = test_api.Api('http://127.0.0.1:%d' % mgmt)
        for name in sections:
            SECTIONS[name](api, amqp, mgmt)
        check('warren still running', p.poll() is None, p.returncode)
        if 'vhost_metadata_is_kept' in sections:
            stop(p)
            p = start(sys.argv[1], data, amqp, mgmt)
            vhost_metadata_survives_restart(api)
    finally:
        stop(p)
        shutil.rmtree(data, ignore_errors=True)
    print('%d passed, %d failed' % (test_api.passed, test_api.failed))
    return 1 if test_api.failed else 0


if __name__ == '__main__':
    sys.exit(main())
