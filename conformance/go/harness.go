// The Go conformance harness: a scenario registry and runner for amqp091-go (Debian
// golang-github-rabbitmq-amqp091-go-dev), printing the same lines as conformance/harness.py:
//
//	ok - <name> (0.12s)
//	FAIL - <name>: <reason>
//	skip - <name> (warren-only)
//	go: N passed, M failed[, K skipped]
//
// Environment: CONFORMANCE_URL, CONFORMANCE_TARGET, CONFORMANCE_FILTER, CONFORMANCE_TIMEOUT (as
// the Python harness), and CONFORMANCE_PROFILE=zero-limits, which runs only the scenarios for a
// broker configured with channel_max = 0 and frame_max = 0 (tests/net/test_zero_limits.py).
//
// Build offline in GOPATH mode against the Debian package:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o go-scenarios ./conformance/go
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var (
	url     = envOr("CONFORMANCE_URL", "amqp://guest:guest@127.0.0.1:5673/")
	target  = envOr("CONFORMANCE_TARGET", "rabbitmq")
	filter  = os.Getenv("CONFORMANCE_FILTER")
	profile = os.Getenv("CONFORMANCE_PROFILE")
	timeout = time.Duration(envInt("CONFORMANCE_TIMEOUT", 20)) * time.Second
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

type scenario struct {
	name       string
	fn         func(t *T)
	warrenOnly bool
	profile    string // "" for the default broker, "zero-limits" for that profile
}

var scenarios []scenario

// register adds a scenario for the default broker configuration.
func register(name string, fn func(t *T)) {
	scenarios = append(scenarios, scenario{name: name, fn: fn})
}

// registerProfile adds a scenario that runs only under CONFORMANCE_PROFILE=profile.
func registerProfile(profile, name string, fn func(t *T)) {
	scenarios = append(scenarios, scenario{name: name, fn: fn, profile: profile})
}

// T is one scenario's context: its failure and the connections to close at the end.
type T struct {
	conns []*amqp.Connection
}

type failure struct{ msg string }

// Fatalf ends the scenario with a failure.
func (t *T) Fatalf(format string, args ...interface{}) {
	panic(failure{fmt.Sprintf(format, args...)})
}

// Check ends the scenario when err is not nil.
func (t *T) Check(err error, what string) {
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Dial opens a connection that is closed when the scenario ends.
func (t *T) Dial() *amqp.Connection {
	return t.DialConfig(amqp.Config{})
}

// DialConfig is Dial with amqp091-go settings (heartbeat and locale filled in when unset).
func (t *T) DialConfig(cfg amqp.Config) *amqp.Connection {
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Locale == "" {
		cfg.Locale = "en_US"
	}
	c, err := amqp.DialConfig(url, cfg)
	t.Check(err, "dial")
	t.conns = append(t.conns, c)
	return c
}

// Channel opens a channel on c.
func (t *T) Channel(c *amqp.Connection) *amqp.Channel {
	ch, err := c.Channel()
	t.Check(err, "channel")
	return ch
}

// ExpectCode requires err to be an AMQP error with this code and, when text is not "", this
// reply text.
func (t *T) ExpectCode(err error, code int, text string, what string) {
	var e *amqp.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: expected an AMQP error %d, got %v", what, code, err)
	}
	if e.Code != code || (text != "" && e.Reason != text) {
		t.Fatalf("%s: expected %d %q, got %d %q", what, code, text, e.Code, e.Reason)
	}
}

var counter int64

// unique returns a name no other scenario or run uses.
func unique(prefix string) string {
	return fmt.Sprintf("conf.go.%s.%d.%d.%d", prefix, os.Getpid(), time.Now().UnixNano()%100000000,
		atomic.AddInt64(&counter, 1))
}

func run(s scenario) (err string) {
	t := &T{}
	done := make(chan string, 1)
	go func() {
		defer func() {
			for _, c := range t.conns {
				if !c.IsClosed() {
					_ = c.Close()
				}
			}
			if r := recover(); r != nil {
				if f, ok := r.(failure); ok {
					done <- f.msg
				} else {
					done <- fmt.Sprintf("panic: %v", r)
				}
				return
			}
			done <- ""
		}()
		s.fn(t)
	}()
	select {
	case err = <-done:
		return err
	case <-time.After(timeout):
		return fmt.Sprintf("timed out after %s", timeout)
	}
}

func main() {
	passed, failed, skipped := 0, 0, 0
	for _, s := range scenarios {
		if s.profile != profile || (filter != "" && !strings.Contains(s.name, filter)) {
			continue
		}
		if s.warrenOnly && target == "rabbitmq" {
			fmt.Printf("skip - %s (warren-only)\n", s.name)
			skipped++
			continue
		}
		start := time.Now()
		if err := run(s); err != "" {
			fmt.Printf("FAIL - %s: %s\n", s.name, err)
			failed++
		} else {
			fmt.Printf("ok - %s (%.2fs)\n", s.name, time.Since(start).Seconds())
			passed++
		}
	}
	tail := ""
	if skipped > 0 {
		tail = fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Printf("go: %d passed, %d failed%s\n", passed, failed, tail)
	if failed > 0 {
		os.Exit(1)
	}
}
