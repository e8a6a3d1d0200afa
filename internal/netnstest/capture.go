package netnstest

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Frame is an announcement seen on the wire: an ARP packet or an IPv6
// neighbour advertisement, with the time it arrived.
type Frame struct {
	// At is the kernel's receive timestamp (SO_TIMESTAMPNS), so it does
	// not depend on when the capture goroutine got to run.
	At     time.Time
	EthSrc net.HardwareAddr
	EthDst net.HardwareAddr
	ARP    *arp.Packet                // set for ARP frames
	NA     *ndp.NeighborAdvertisement // set for neighbour advertisements
	IPSrc  netip.Addr                 // IPv6 source of an NA
	IPDst  netip.Addr                 // IPv6 destination of an NA
	Hops   int                        // IPv6 hop limit of an NA
}

func (f Frame) String() string {
	switch {
	case f.ARP != nil:
		return fmt.Sprintf("%s ARP %s %s/%s -> %s/%s (eth %s -> %s)", f.At.Format("15:04:05.000"),
			f.ARP.Operation, f.ARP.SenderIP, f.ARP.SenderHardwareAddr, f.ARP.TargetIP, f.ARP.TargetHardwareAddr, f.EthSrc, f.EthDst)
	case f.NA != nil:
		return fmt.Sprintf("%s NA target %s override=%v solicited=%v %s -> %s hops %d options %v", f.At.Format("15:04:05.000"),
			f.NA.TargetAddress, f.NA.Override, f.NA.Solicited, f.IPSrc, f.IPDst, f.Hops, f.NA.Options)
	}
	return "?"
}

// Capture records the ARP packets and neighbour advertisements that
// arrive on one link of a namespace.
type Capture struct {
	pc     *packet.Conn
	raw    syscall.RawConn
	mu     sync.Mutex
	frames []Frame
	done   chan struct{}

	stopOnce sync.Once
}

// Capture starts recording what arrives on link (in ns) until Stop or the
// end of the test.
func (ns *Namespace) Capture(t testing.TB, link string) *Capture {
	t.Helper()
	c, err := ns.StartCapture(link)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

// StartCapture is Capture for programs that are not tests; the caller
// must Stop it.
func (ns *Namespace) StartCapture(link string) (*Capture, error) {
	c := &Capture{done: make(chan struct{})}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(link)
		if err != nil {
			return err
		}
		c.pc, err = packet.Listen(ifi, packet.Raw, unix.ETH_P_ALL, nil)
		if err != nil {
			return err
		}
		if c.raw, err = c.pc.SyscallConn(); err != nil {
			return err
		}
		var serr error
		if err := c.raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
		}); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		if c.pc != nil {
			c.pc.Close()
		}
		return nil, fmt.Errorf("capture on %s in %s: %w", link, ns.Name, err)
	}
	go c.loop()
	return c, nil
}

func (c *Capture) loop() {
	defer close(c.done)
	buf, oob := make([]byte, 65536), make([]byte, 256)
	for {
		var n, oobn int
		var rerr error
		err := c.raw.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_DONTWAIT)
			return rerr != unix.EAGAIN
		})
		if err != nil || rerr != nil {
			return
		}
		f, ok := parseFrame(buf[:n])
		if !ok {
			continue
		}
		f.At = time.Now()
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					// struct timespec of a 64-bit kernel: seconds, nanoseconds
					sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
					f.At = time.Unix(sec, nsec)
				}
			}
		}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

func parseFrame(b []byte) (Frame, bool) {
	var eth ethernet.Frame
	if eth.UnmarshalBinary(b) != nil {
		return Frame{}, false
	}
	f := Frame{EthSrc: eth.Source, EthDst: eth.Destination}
	switch eth.EtherType {
	case ethernet.EtherTypeARP:
		var p arp.Packet
		if p.UnmarshalBinary(eth.Payload) != nil {
			return Frame{}, false
		}
		f.ARP = &p
		return f, true
	case ethernet.EtherTypeIPv6:
		h, err := ipv6.ParseHeader(eth.Payload)
		if err != nil || h.NextHeader != 58 || len(eth.Payload) < ipv6.HeaderLen {
			return Frame{}, false
		}
		m, err := ndp.ParseMessage(eth.Payload[ipv6.HeaderLen:])
		if err != nil {
			return Frame{}, false
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			return Frame{}, false
		}
		f.NA = na
		f.IPSrc, _ = netip.AddrFromSlice(h.Src)
		f.IPDst, _ = netip.AddrFromSlice(h.Dst)
		f.Hops = h.HopLimit
		return f, true
	}
	return Frame{}, false
}

// Frames returns what has been recorded so far.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// WaitFor waits until match has accepted n frames or timeout has passed,
// and returns the matching frames recorded by then.
func (c *Capture) WaitFor(n int, timeout time.Duration, match func(Frame) bool) []Frame {
	end := time.Now().Add(timeout)
	for {
		var got []Frame
		for _, f := range c.Frames() {
			if match(f) {
				got = append(got, f)
			}
		}
		if len(got) >= n || time.Now().After(end) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the recording and returns every frame recorded. Stopping
// twice is harmless.
func (c *Capture) Stop() []Frame {
	c.stopOnce.Do(func() { c.pc.Close() })
	<-c.done
	return c.Frames()
}
