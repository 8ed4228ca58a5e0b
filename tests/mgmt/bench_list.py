#!/usr/bin/python3
"""Benchmark: declare N queues (default 10,000) through the management API of a fresh Warren, then
time paged listing (page 1, a middle page, the last page, a name filter, a sort by messages).

usage: bench_list.py WARREN_BINARY [N]
Prints one line per query with the median of 5 runs in milliseconds."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_api  # noqa: E402


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    p, data, amqp, mgmt, prom = test_api.start_warren(binary)
    try:
        api = test_api.Api('http://127.0.0.1:%d' % mgmt)
        t0 = time.time()
        for i in range(n):
            s, _, _ = api.req('PUT', '/api/queues/%%2F/bench-%05d' % i, {'durable': False})
            assert s == 201, s
        print('declared %d queues over HTTP in %.1f s' % (n, time.time() - t0))
        last = (n + 99) // 100
        for what, path in (('page 1 of 100', '/api/queues?page=1&page_size=100'),
                           ('middle page', '/api/queues?page=%d&page_size=100' % (last // 2)),
                           ('last page', '/api/queues?page=%d&page_size=100' % last),
                           ('name filter', '/api/queues?page=1&page_size=100&name=bench-099'),
                           ('regex filter', '/api/queues?page=1&page_size=100&use_regex=true'
                                            '&name=%5Ebench-0%5B0-4%5D'),
                           ('sort by messages', '/api/queues?page=1&page_size=100&sort=messages'),
                           ('all, 2 columns', '/api/queues?columns=name,messages')):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                s, _, d = api.req('GET', path)
                times.append((time.perf_counter() - t) * 1000)
                assert s == 200, (s, d)
            print('%-18s %8.1f ms' % (what, statistics.median(times)))
    finally:
        p.terminate()
        p.wait(10)


if __name__ == '__main__':
    main()
