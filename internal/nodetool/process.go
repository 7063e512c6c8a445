package nodetool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Process is a server a tool's run.js started: it prints "Listening at <url>" once it accepts
// connections, and exits when its standard input closes, so a test binary that dies takes it
// along.
type Process struct {
	// URL is what it printed after "Listening at ", e.g. http://127.0.0.1:4567.
	URL string

	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	exited chan struct{}
}

// Listen starts run.js with args and waits (within 30 seconds, or until ctx ends) until it
// prints the address it listens at. Stop it with Close.
func (t *Tool) Listen(ctx context.Context, name string, args ...string) (*Process, error) {
	cmd := exec.Command(t.Node, append([]string{filepath.Join(t.Dir, "run.js")}, args...)...)
	cmd.Dir = t.Dir
	p := &Process{name: name, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening at "); ok {
				select {
				case addr <- a:
				default:
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case p.URL = <-addr:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("%s exited before listening: %s", name, p.Stderr())
	case <-ctx.Done():
		_ = p.Close()
		return nil, fmt.Errorf("%s did not listen: %w: %s", name, ctx.Err(), p.Stderr())
	}
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stderr is what the process wrote to its standard error (the first MiB).
func (p *Process) Stderr() string { return p.stderr.String() }

// Close stops the process: its stdin closes (it exits by itself), then it is killed if it has
// not exited within 5 seconds.
func (p *Process) Close() error {
	_ = p.stdin.Close()
	select {
	case <-p.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", p.name, err)
	}
	<-p.exited
	return nil
}

// lockedBuffer is a bytes.Buffer safe for the process's writer and the test's readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil // keep the start: the cause of a failure is there
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// WaitAnswers calls probe every 50ms until it succeeds, the process exits or ctx ends: a
// server may print its address before it answers.
func (p *Process) WaitAnswers(ctx context.Context, probe func(context.Context) error) error {
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s at %s does not answer: %w (last error: %v): %s", p.name, p.URL, ctx.Err(), err, p.Stderr())
		case <-p.exited:
			return fmt.Errorf("%s exited: %s", p.name, p.Stderr())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CloseAtCleanup stops a test's server (close, which stops p) when the test ends, and fails
// the test if the process exited during it.
func CloseAtCleanup(t testing.TB, p *Process, close func() error) {
	t.Cleanup(func() {
		select {
		case <-p.exited:
			t.Errorf("%s exited during the test: %s", p.name, p.Stderr())
		default:
		}
		if err := close(); err != nil {
			t.Error(err)
		}
	})
}
