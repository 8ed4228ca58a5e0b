#!/usr/bin/python3
"""How the management listener serves the web UI's files, without a browser: the embedded copy
(build/broker/warren alone), and management.ui_dir (an installed or edited copy on disk).
Content types, ETag revalidation, security headers, no directory traversal, no symlinks out of
the directory, a clear start-up error for a bad directory, and the overview's samples.

usage: test_static.py WARREN_BINARY UI_SOURCE_DIR
Prints "N passed, M failed" last; exits 1 on failure.
"""
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

passed = 0
failed = 0


def check(name, cond, detail=''):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print('FAIL: %s %s' % (name, detail), flush=True)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, data, extra=()):
    amqp, mgmt = free_port(), free_port()
    os.makedirs(data, exist_ok=True)
    log_path = os.path.join(data, 'warren.log')
    log = open(log_path, 'w+')
    p = subprocess.Popen([binary, '--port', str(amqp), '--mgmt-port', str(mgmt), '--data-dir',
                          os.path.join(data, 'd'), '--set', 'collect_statistics_interval=1000',
                          *extra], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 15
    while time.time() < deadline and p.poll() is None:
        log.seek(0)
        if 'ready' in log.read():
            break
        time.sleep(0.05)
    log.seek(0)
    return p, mgmt, log.read()


def stop(p):
    if p.poll() is None:
        p.terminate()
        p.wait(10)


def raw(port, method, path, headers=None):
    """One request with the path sent exactly as given (no client-side ../ folding)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    req = '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' % (method, path)
    for k, v in (headers or {}).items():
        req += '%s: %s\r\n' % (k, v)
    s.sendall((req + '\r\n').encode())
    data = b''
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


TRAVERSALS = ['/../../../../etc/passwd', '/js/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd',
              '/js/..%2f..%2f..%2fetc%2fpasswd', '/.git/config', '/js/%00main.js', '/nope.html',
              '/js', '/js/', '/css/warren.css/x', '/%2fetc%2fpasswd', '/js/.hidden.js',
              '/a/b/c/d/e.js']


def common_checks(tag, port, src):
    status, h, body = raw(port, 'GET', '/')
    with open(os.path.join(src, 'index.html'), 'rb') as f:
        index = f.read()
    check(tag + ': / is index.html', status == 200 and body == index, status)
    check(tag + ': html type', h.get('content-type') == 'text/html; charset=utf-8', h)
    check(tag + ': CSP', "script-src 'self'" in h.get('content-security-policy', ''), h)
    check(tag + ': no framing', h.get('x-frame-options') == 'DENY', h)
    check(tag + ': revalidate', h.get('cache-control') == 'no-cache' and h.get('etag'), h)
    status, h2, body = raw(port, 'GET', '/', {'If-None-Match': h['etag']})
    check(tag + ': 304 for the same ETag', status == 304 and body == b'', status)
    status, _, body = raw(port, 'GET', '/', {'If-None-Match': '"other"'})
    check(tag + ': 200 for another ETag', status == 200 and body == index, status)
    status, h, body = raw(port, 'HEAD', '/js/main.js')
    check(tag + ': HEAD has no body', status == 200 and body == b'', (status, body[:40]))
    for path, ctype in [('/js/main.js', 'text/javascript; charset=utf-8'),
                        ('/js/pages/queue.js', 'text/javascript; charset=utf-8'),
                        ('/css/warren.css', 'text/css; charset=utf-8'),
                        ('/favicon.svg', 'image/svg+xml'), ('/index.html', 'text/html; charset=utf-8')]:
        status, h, body = raw(port, 'GET', path)
        with open(os.path.join(src, path[1:]), 'rb') as f:
            want = f.read()
        check(tag + ': ' + path, status == 200 and body == want and h.get('content-type') == ctype,
              (status, h.get('content-type')))
        check(tag + ': nosniff ' + path, h.get('x-content-type-options') == 'nosniff', h)
    for path in TRAVERSALS:
        status, h, body = raw(port, 'GET', path)
        check(tag + ': refused ' + path, status in (400, 404) and b'root:' not in body,
              (status, body[:60]))
    for method in ('POST', 'PUT', 'DELETE'):
        status, h, _ = raw(port, method, '/index.html')
        check(tag + ': %s is 405' % method, status == 405 and h.get('allow') == 'GET, HEAD', status)
    status, _, body = raw(port, 'GET', '/api/nope')
    check(tag + ': /api stays JSON', status == 404 and json.loads(body)['error'] == 'Object Not Found',
          body)
    status, _, body = raw(port, 'GET', '/metrics')
    check(tag + ': /metrics unchanged', status == 200 and b'rabbitmq_queues' in body, status)


def api(port, path, headers=None):
    r = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), headers=headers or {})
    r.add_header('Authorization', 'Basic ' + base64.b64encode(b'guest:guest').decode())
    with urllib.request.urlopen(r, timeout=10) as resp:
        return json.loads(resp.read())


def api_checks(port):
    # the UI's requests get no WWW-Authenticate (no browser dialog over its login form)
    status, h, _ = raw(port, 'GET', '/api/whoami', {'X-Requested-With': 'XMLHttpRequest'})
    check('UI 401 without WWW-Authenticate', status == 401 and 'www-authenticate' not in h, h)
    status, h, _ = raw(port, 'GET', '/api/whoami')
    check('curl 401 keeps WWW-Authenticate', status == 401 and 'www-authenticate' in h, h)
    time.sleep(2.2)  # two more samples at collect_statistics_interval=1000
    o = api(port, '/api/overview?lengths_age=60&lengths_incr=1&msg_rates_age=60&msg_rates_incr=1')
    s = o['queue_totals']['messages_ready_details']['samples']
    check('samples newest first', len(s) >= 2 and s[0]['timestamp'] > s[-1]['timestamp'], s)
    check('samples carry wall-clock ms', abs(s[0]['timestamp'] / 1000 - time.time()) < 60, s)
    check('rates have samples', len(o['message_stats']['publish_details']['samples']) >= 2)
    check('avg_rate and avg', 'avg_rate' in o['message_stats']['ack_details'] and
          'avg' in o['queue_totals']['messages_details'], o['queue_totals'])
    o = api(port, '/api/overview?lengths_age=60&lengths_incr=30')
    s = o['queue_totals']['messages_details']['samples']
    check('one sample per incr', 1 <= len(s) <= 3, s)
    check('msg_rates_* absent: no rate samples', 'samples' not in o['message_stats']['publish_details'])
    o = api(port, '/api/overview?lengths_age=abc&lengths_incr=5')
    check('bad ages are ignored', 'samples' not in o['queue_totals']['messages_details'])
    o = api(port, '/api/overview')
    check('no samples unless asked', 'samples' not in o['message_stats']['publish_details'])


def main():
    binary, src = sys.argv[1], os.path.abspath(sys.argv[2])
    tmp = tempfile.mkdtemp(prefix='warren-static-')
    try:
        # 1. the embedded copy: nothing but the binary
        p, port, log = start(binary, os.path.join(tmp, 'embedded'))
        check('starts', 'ready' in log, log)
        try:
            common_checks('embedded', port, src)
            # every file of mgmt/ui/ is embedded: one missing from mgmt/ui/meson.build would 404
            for root, _, files in os.walk(src):
                for name in files:
                    if name in ('meson.build', 'embed.py'):  # the build's, not the UI's
                        continue
                    rel = os.path.relpath(os.path.join(root, name), src)
                    status, _, body = raw(port, 'GET', '/' + rel)
                    with open(os.path.join(root, name), 'rb') as f:
                        check('embedded: %s (list it in mgmt/ui/meson.build)' % rel,
                              status == 200 and body == f.read(), status)
            api_checks(port)
        finally:
            stop(p)
        # 2. management.ui_dir: an edited copy on disk, served as it is now
        ui = os.path.join(tmp, 'ui')
        shutil.copytree(src, ui)
        secret = os.path.join(tmp, 'secret.txt')
        with open(secret, 'w') as f:
            f.write('root:do-not-serve\n')
        os.symlink(secret, os.path.join(ui, 'link.txt'))
        p, port, log = start(binary, os.path.join(tmp, 'dir'), ['--set', 'management.ui_dir=' + ui])
        check('starts with ui_dir', 'ready' in log, log)
        try:
            common_checks('ui_dir', port, ui)
            _, h1, _ = raw(port, 'GET', '/css/warren.css')
            with open(os.path.join(ui, 'css', 'warren.css'), 'a') as f:
                f.write('/* edited */\n')
            status, h2, body = raw(port, 'GET', '/css/warren.css', {'If-None-Match': h1['etag']})
            check('ui_dir: an edited file is served anew', status == 200 and
                  body.endswith(b'/* edited */\n') and h2['etag'] != h1['etag'], status)
            status, _, body = raw(port, 'GET', '/link.txt')
            check('ui_dir: no symlink out of the directory', status == 404 and b'root:' not in body,
                  status)
        finally:
            stop(p)
        # 3. the HTTPS listener (management.ssl.*) serves the same files
        tls = os.path.join(tmp, 'tls')
        os.makedirs(tls)
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                        '-subj', '/CN=localhost', '-keyout', os.path.join(tls, 'key.pem'),
                        '-out', os.path.join(tls, 'cert.pem')], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        https = free_port()
        p, port, log = start(binary, os.path.join(tmp, 'https'), [
            '--set', 'management.ssl.port=%d' % https,
            '--set', 'management.ssl.certfile=' + os.path.join(tls, 'cert.pem'),
            '--set', 'management.ssl.keyfile=' + os.path.join(tls, 'key.pem')])
        try:
            ctx = ssl.create_default_context(cafile=os.path.join(tls, 'cert.pem'))
            ctx.check_hostname = False
            for path, name in [('/', 'index.html'), ('/js/main.js', 'js/main.js')]:
                with urllib.request.urlopen('https://127.0.0.1:%d%s' % (https, path),
                                            context=ctx, timeout=10) as resp:
                    body, ctype = resp.read(), resp.headers['Content-Type']
                with open(os.path.join(src, name), 'rb') as f:
                    check('https serves ' + path, body == f.read() and ctype.startswith(
                        'text/'), ctype)
        finally:
            stop(p)
        # 4. a ui_dir without index.html is a start-up error naming the key
        p, port, log = start(binary, os.path.join(tmp, 'bad'),
                             ['--set', 'management.ui_dir=' + os.path.join(tmp, 'missing')])
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass
        check('a missing ui_dir stops start-up', p.poll() not in (None, 0), log)
        check('the error names the key', 'management.ui_dir' in log and 'index.html' in log, log)
        stop(p)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d passed, %d failed' % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
