<?php
// Conformance scenarios driven by php-amqplib 3.5 (Debian php-amqplib), with a small runner
// printing the lines of conformance/harness.py:
//
//   ok - <name> (0.12s) | FAIL - <name>: <reason> | skip - <name> (warren-only)
//   php-amqplib: N passed, M failed[, K skipped]
//
// Environment: CONFORMANCE_URL, CONFORMANCE_TARGET, CONFORMANCE_FILTER, CONFORMANCE_TIMEOUT.
// Run: php conformance/php-amqplib/scenarios.php
require_once '/usr/share/php/PhpAmqpLib/autoload.php';

use PhpAmqpLib\Connection\AMQPStreamConnection;
use PhpAmqpLib\Exception\AMQPProtocolChannelException;
use PhpAmqpLib\Message\AMQPMessage;
use PhpAmqpLib\Wire\AMQPTable;

const DEFAULT_REFUSED = 'ACCESS_REFUSED - operation not permitted on the default exchange';

class Failure extends Exception {}

$URL = getenv('CONFORMANCE_URL') ?: 'amqp://guest:guest@127.0.0.1:5673/';
$TARGET = getenv('CONFORMANCE_TARGET') ?: 'rabbitmq';
$FILTER = getenv('CONFORMANCE_FILTER') ?: '';
$TIMEOUT = (int)(getenv('CONFORMANCE_TIMEOUT') ?: 20);

$scenarios = [];
function scenario(string $name, callable $fn, bool $warren_only = false): void
{
    global $scenarios;
    $scenarios[] = [$name, $fn, $warren_only];
}

function unique(string $prefix): string
{
    static $n = 0;
    $n++;
    return sprintf('conf.php.%s.%d.%d.%d', $prefix, getmypid(), (int)(microtime(true) * 1000) % 100000000, $n);
}

function eq($got, $want, string $what): void
{
    if ($got !== $want) {
        throw new Failure(sprintf('%s: got %s, want %s', $what, var_export($got, true), var_export($want, true)));
    }
}

// As conformance/harness.py reads the URL: an empty path is the vhost "/".
function connect(array &$conns): AMQPStreamConnection
{
    global $URL;
    $u = parse_url($URL);
    $path = isset($u['path']) ? substr($u['path'], 1) : '';
    $c = new AMQPStreamConnection($u['host'] ?? '127.0.0.1', $u['port'] ?? 5672,
        urldecode($u['user'] ?? 'guest'), urldecode($u['pass'] ?? 'guest'),
        $path === '' ? '/' : urldecode($path), false, 'AMQPLAIN', null, 'en_US', 5.0, 5.0);
    $conns[] = $c;
    return $c;
}

// $fn must close its channel with this code and reply text.
function channel_error(callable $fn, int $code, string $text): void
{
    try {
        $fn();
    } catch (AMQPProtocolChannelException $e) {
        eq($e->getCode(), $code, 'reply code');
        eq($e->getMessage(), $text, 'reply text');
        return;
    }
    throw new Failure("expected channel close $code, got none");
}

function get_one($ch, string $queue): AMQPMessage
{
    for ($i = 0; $i < 500; $i++) {
        $m = $ch->basic_get($queue, true);
        if ($m !== null) {
            return $m;
        }
        usleep(10000);
    }
    throw new Failure("no message in $queue after 5 s");
}

scenario('a message published and fetched keeps its body and headers', function (array &$conns) {
    $ch = connect($conns)->channel();
    [$q] = $ch->queue_declare('', false, false, true, true);
    $ch->basic_publish(new AMQPMessage('hello from php', ['content_type' => 'text/plain',
        'application_headers' => new AMQPTable(['k' => 7])]), '', $q);
    $m = get_one($ch, $q);
    eq($m->getBody(), 'hello from php', 'body');
    eq($m->get('content_type'), 'text/plain', 'content type');
    eq($m->get('application_headers')->getNativeData()['k'], 7, 'header k');
});

scenario('queue.unbind after the queue and the exchange were deleted answers unbind-ok', function (array &$conns) {
    $ch = connect($conns)->channel();
    $x = unique('x');
    $q = unique('q');
    $ch->exchange_declare($x, 'direct', false, false, true);
    $ch->queue_declare($q, false, false, false, true);
    $ch->queue_bind($q, $x, 'k');
    $ch->queue_delete($q);
    $ch->queue_unbind($q, $x, 'k');
    $ch->exchange_delete($x);
    $ch->queue_unbind($q, $x, 'k');
    $ch->queue_declare('', false, false, true, true); // the channel is still open
});

scenario('exchange.unbind of a missing source or destination answers unbind-ok', function (array &$conns) {
    $ch = connect($conns)->channel();
    $x = unique('x');
    $ch->exchange_declare($x, 'fanout', false, false, true);
    $ch->exchange_bind($x, 'amq.direct', 'k');
    $ch->exchange_unbind($x, 'amq.direct', 'k');
    $ch->exchange_unbind(unique('gone'), $x, 'k');
    $ch->exchange_unbind($x, unique('gone'), 'k');
    $ch->exchange_delete($x);
});

scenario('a passive declare of the default exchange is 403', function (array &$conns) {
    $c = connect($conns);
    $ch = $c->channel();
    channel_error(function () use ($ch) {
        $ch->exchange_declare('', 'direct', true);
    }, 403, DEFAULT_REFUSED);
    $c->channel()->exchange_declare('amq.direct', 'direct', true);
});

scenario('a channel numbered 65535 or 2048 opens under channel_max 2047', function (array &$conns) {
    $c = connect($conns);
    $high = $c->channel(65535);
    $mid = $c->channel(2048);
    [$q] = $high->queue_declare('', false, false, true, true);
    $mid->basic_publish(new AMQPMessage('via 2048'), '', $q);
    eq(get_one($high, $q)->getBody(), 'via 2048', 'body');
});

scenario('closing a channel while the broker closes it keeps the connection and its other channels', function (array &$conns) {
    $c = connect($conns);
    $other = $c->channel();
    [$q] = $other->queue_declare('', false, false, true, true);
    for ($i = 0; $i < 3; $i++) {
        $ch = $c->channel();
        $ch->basic_publish(new AMQPMessage('lost'), unique('missing'), 'k');
        try {
            $ch->close();
        } catch (AMQPProtocolChannelException $e) {
            // the broker's 404, when it arrives first
        }
        $other->basic_publish(new AMQPMessage('still here'), '', $q);
        eq(get_one($other, $q)->getBody(), 'still here', 'body');
    }
    if (!$c->isConnected()) {
        throw new Failure('the connection was closed');
    }
});

$passed = $failed = $skipped = 0;
foreach ($scenarios as [$name, $fn, $warren_only]) {
    if ($FILTER !== '' && strpos($name, $FILTER) === false) {
        continue;
    }
    if ($warren_only && $TARGET === 'rabbitmq') {
        echo "skip - $name (warren-only)\n";
        $skipped++;
        continue;
    }
    $start = microtime(true);
    $conns = [];
    $error = null;
    pcntl_async_signals(true);
    pcntl_signal(SIGALRM, function () use ($TIMEOUT) {
        throw new Failure("timed out after {$TIMEOUT}s");
    });
    pcntl_alarm($TIMEOUT);
    try {
        $fn($conns);
    } catch (Failure $e) {
        $error = $e->getMessage();
    } catch (Throwable $e) {
        $error = get_class($e) . ': ' . $e->getMessage();
    }
    pcntl_alarm(0);
    foreach ($conns as $c) {
        try {
            if ($c->isConnected()) {
                $c->close();
            }
        } catch (Throwable $e) {
        }
    }
    if ($error !== null) {
        echo "FAIL - $name: $error\n";
        $failed++;
    } else {
        printf("ok - %s (%.2fs)\n", $name, microtime(true) - $start);
        $passed++;
    }
}
printf("php-amqplib: %d passed, %d failed%s\n", $passed, $failed, $skipped ? ", $skipped skipped" : '');
exit($failed ? 1 : 0);
