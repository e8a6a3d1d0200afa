// Package fencelab is real fencing for test clusters: a fence agent that
// Pacemaker's fencer runs inside a node (cmd/fence_ocfbox, speaking the
// fence-agents stdin protocol) and the host-side service it asks, over
// the test network, to power a node off or on. The service acts on a
// Target, which the lab implements: internal/umlcluster power-cuts a UML
// node's process group; a namespace cluster could kill a node's init.
//
// The agent's parameters are fence-agents' own: ipaddr and ipport (the
// service's address), port/plug (the node; Pacemaker passes the target's
// name there and in nodename). Actions: metadata, list, status, monitor,
// off, on, reboot, validate-all. Wire protocol, one request per TCP
// connection: the agent sends "<action> <node>\n" (node "-" for list and
// monitor), the service answers "ok [words…]\n" or "error <reason>\n".
package fencelab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Target is what the service fences: the lab's nodes.
type Target interface {
	// Names lists the nodes that can be fenced.
	Names() []string
	// PowerOff cuts the node's power and returns once it is off (also
	// when it already was).
	PowerOff(ctx context.Context, node string) error
	// PowerOn starts the node (returning once it boots, not once it has
	// joined the cluster); a lab may refuse.
	PowerOn(ctx context.Context, node string) error
	// IsOn reports whether the node is powered.
	IsOn(node string) (bool, error)
}

// Event is one fencing request the service carried out.
type Event struct {
	At     time.Time // when the request arrived
	Done   time.Time // when it was answered
	Action string
	Node   string
	Err    error
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s at %s (%.0f ms)", e.Action, e.Node, e.At.Format("15:04:05.000"), float64(e.Done.Sub(e.At).Microseconds())/1000)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Service answers fence agents on a listener.
type Service struct {
	ln     net.Listener
	target Target
	// RebootPowersOn makes "reboot" power the node on again after the
	// cut; otherwise reboot is off (the lab boots the node when it wants).
	rebootOn bool
	logf     func(string, ...any)

	mu     sync.Mutex
	events []Event
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Options of a Service.
type Options struct {
	RebootPowersOn bool
	Logf           func(string, ...any)
}

// Serve answers fence requests on ln (created by the caller in the
// network the agents reach, such as the lab's namespace) until Close.
func Serve(ln net.Listener, target Target, opts Options) *Service {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{ln: ln, target: target, rebootOn: opts.RebootPowersOn, logf: opts.Logf, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is the listener's address.
func (s *Service) Addr() net.Addr { return s.ln.Addr() }

// Events lists the fencing requests carried out so far (not list,
// status and monitor).
func (s *Service) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Close stops the service and waits for requests in progress.
func (s *Service) Close() {
	s.cancel()
	s.ln.Close()
	s.wg.Wait()
}

func (s *Service) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.logf("fencelab: accept: %v", err)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			s.handle(conn)
		}()
	}
}

func (s *Service) handle(conn net.Conn) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	if len(f) != 2 {
		fmt.Fprintf(conn, "error bad request %q\n", strings.TrimSpace(line))
		return
	}
	action, node := f[0], f[1]
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	reply, err := s.do(ctx, action, node)
	if err != nil {
		fmt.Fprintf(conn, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	fmt.Fprintf(conn, "ok %s\n", reply)
}

func (s *Service) known(node string) error {
	for _, n := range s.target.Names() {
		if n == node {
			return nil
		}
	}
	return fmt.Errorf("unknown node %q", node)
}

func (s *Service) do(ctx context.Context, action, node string) (string, error) {
	switch action {
	case "list":
		return strings.Join(s.target.Names(), " "), nil
	case "monitor":
		return "", nil
	case "status":
		if err := s.known(node); err != nil {
			return "", err
		}
		on, err := s.target.IsOn(node)
		if err != nil {
			return "", err
		}
		if on {
			return "on", nil
		}
		return "off", nil
	case "off", "on", "reboot":
		if err := s.known(node); err != nil {
			return "", err
		}
		ev := Event{At: time.Now(), Action: action, Node: node}
		var err error
		switch action {
		case "off":
			err = s.target.PowerOff(ctx, node)
		case "on":
			err = s.target.PowerOn(ctx, node)
		case "reboot":
			err = s.target.PowerOff(ctx, node)
			if err == nil && s.rebootOn {
				err = s.target.PowerOn(ctx, node)
			}
		}
		ev.Done, ev.Err = time.Now(), err
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		s.logf("fencelab: %s", ev)
		return "", err
	}
	return "", fmt.Errorf("unknown action %q", action)
}

// Ask sends one request to a service and returns the words after "ok"
// (the agent's side of the protocol, also usable from tests).
func Ask(ctx context.Context, conn net.Conn, action, node string) ([]string, error) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if node == "" {
		node = "-"
	}
	if _, err := fmt.Fprintf(conn, "%s %s\n", action, node); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no answer: %w", err)
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil, errors.New("empty answer")
	}
	if f[0] != "ok" {
		return nil, errors.New(strings.TrimSpace(strings.TrimPrefix(line, f[0])))
	}
	return f[1:], nil
}
