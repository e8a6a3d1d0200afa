package drbd

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseError is an events2 line that is not "[TIMESTAMP ]EVENT OBJECT
// key:value...".
type ParseError struct {
	Line int
	Text string
	Why  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("events2 line %d %q: %s", e.Line, e.Text, e.Why)
}

// maxLine bounds one events2 line; real ones are under 400 bytes.
const maxLine = 64 << 10

// ParseEvents2 reads the output of `drbdsetup events2 --now [--statistics]
// [--timestamps] RES|all` and returns the state of resource name. Lines
// about other resources are skipped; "exists -" ends the initial state.
// Later create/change/destroy lines (a stream without --now) are applied
// in order, so the result is the state after the last line. Unknown keys
// and objects are ignored, as drbd-utils adds fields over time.
func ParseEvents2(out []byte, name string) (*State, error) {
	st := &State{Name: name}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := st.apply(line); err != nil {
			err.Line = n
			err.Text = line
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read events2 output: %w", err)
	}
	return st, nil
}

var events = map[string]bool{"exists": true, "create": true, "change": true, "destroy": true, "call": true, "response": true, "rename": true}

// apply folds one line into st.
func (st *State) apply(line string) *ParseError {
	f := strings.Fields(line)
	// An optional leading timestamp (--timestamps): 2026-12-04T14:55:09.619920+00:00.
	if len(f) > 0 && !events[f[0]] && len(f[0]) > 10 && f[0][4] == '-' && strings.Contains(f[0], "T") {
		f = f[1:]
	}
	if len(f) < 2 || !events[f[0]] {
		return &ParseError{Why: "no event (exists, create, change, destroy, call, response, rename)"}
	}
	event, object := f[0], f[1]
	if object == "-" {
		return nil // "exists -": end of the initial state
	}
	kv := make(map[string]string, len(f)-2)
	for _, tok := range f[2:] {
		k, v, ok := strings.Cut(tok, ":")
		if !ok || k == "" {
			return &ParseError{Why: fmt.Sprintf("token %q is not key:value", tok)}
		}
		// --diff renders key:old->new; the new value is what counts.
		if _, nv, diff := strings.Cut(v, "->"); diff {
			v = nv
		}
		kv[k] = v
	}
	if kv["name"] != st.Name || event == "call" || event == "response" || event == "rename" {
		return nil
	}
	switch object {
	case "resource":
		if event == "destroy" {
			*st = State{Name: st.Name}
			return nil
		}
		st.Exists = true
		set(&st.Role, kv, "role")
		set(&st.Suspended, kv, "suspended")
		set(&st.MayPromote, kv, "may_promote")
		set(&st.PromotionScore, kv, "promotion_score")
	case "device":
		vol, err := number(kv, "volume")
		if err != nil {
			return err
		}
		if event == "destroy" {
			st.Devices = slices.DeleteFunc(st.Devices, func(d Device) bool { return d.Volume == vol })
			return nil
		}
		d := st.device(vol)
		if d == nil {
			st.Devices = append(st.Devices, Device{Volume: vol, Minor: -1})
			d = &st.Devices[len(st.Devices)-1]
		}
		if _, ok := kv["minor"]; ok {
			m, err := number(kv, "minor")
			if err != nil {
				return err
			}
			d.Minor = m
		}
		set(&d.Disk, kv, "disk")
		set(&d.BackingDev, kv, "backing_dev")
		set(&d.Quorum, kv, "quorum")
		set(&d.Open, kv, "open")
		if v, ok := kv["client"]; ok {
			d.Client = v == "yes"
		}
	case "connection", "peer-device":
		id, err := number(kv, "peer-node-id")
		if err != nil {
			return err
		}
		c := st.connection(id)
		if object == "connection" && event == "destroy" {
			st.Connections = slices.DeleteFunc(st.Connections, func(c Connection) bool { return c.PeerNodeID == id })
			return nil
		}
		if c == nil {
			st.Connections = append(st.Connections, Connection{PeerNodeID: id})
			c = &st.Connections[len(st.Connections)-1]
		}
		set(&c.Name, kv, "conn-name")
		if object == "connection" {
			set(&c.State, kv, "connection")
			set(&c.PeerRole, kv, "role")
			return nil
		}
		vol, err := number(kv, "volume")
		if err != nil {
			return err
		}
		if event == "destroy" {
			c.PeerDevices = slices.DeleteFunc(c.PeerDevices, func(p PeerDevice) bool { return p.Volume == vol })
			return nil
		}
		pd := c.peerDevice(vol)
		if pd == nil {
			c.PeerDevices = append(c.PeerDevices, PeerDevice{Volume: vol})
			pd = &c.PeerDevices[len(c.PeerDevices)-1]
		}
		set(&pd.Replication, kv, "replication")
		set(&pd.PeerDisk, kv, "peer-disk")
		set(&pd.ResyncSuspended, kv, "resync-suspended")
		if v, ok := kv["peer-client"]; ok {
			pd.PeerClient = v == "yes"
		}
		if v, ok := kv["done"]; ok {
			pd.Done = v
		} else if kv["replication"] != "" {
			pd.Done = "" // a change line without done: no longer syncing
		}
	}
	return nil
}

func set(dst *string, kv map[string]string, key string) {
	if v, ok := kv[key]; ok {
		*dst = v
	}
}

func number(kv map[string]string, key string) (int, *ParseError) {
	v, ok := kv[key]
	if !ok {
		return 0, &ParseError{Why: "no " + key}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &ParseError{Why: fmt.Sprintf("%s:%s is not a number", key, v)}
	}
	return n, nil
}
