package umlcluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ocfbox/ocfbox/internal/fencelab"
)

// The lab's fence service port on HostAddr, and the device's names.
const (
	FencePort      = 7601
	FenceDevice    = "fence-lab"
	fenceAgentName = "fence_ocfbox"
)

// fenceService power-cuts nodes for Pacemaker's fencer.
type fenceService struct {
	c     *Cluster
	agent string // host path of fence_ocfbox
	svc   *fencelab.Service
}

func startFenceService(c *Cluster, agent string) (*fenceService, error) {
	var ln net.Listener
	err := c.ns.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(HostAddr, strconv.Itoa(FencePort)))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("umlcluster: fence service: %w", err)
	}
	f := &fenceService{c: c, agent: agent}
	f.svc = fencelab.Serve(ln, fenceTarget{c}, fencelab.Options{RebootPowersOn: c.cfg.FenceReboots, Logf: c.cfg.Logf})
	return f, nil
}

func (f *fenceService) close() { f.svc.Close() }

// primitive is the stonith device every node may run. Its targets are
// the node names and the corosync node ids too: dlm_controld's
// dlm_stonith asks for "1", and the fencer cannot always turn that into
// a name once the node has left (Pacemaker 2.1.5: "Could not expand
// nodeid").
func (f *fenceService) primitive() string {
	var hosts, hostMap []string
	for i, name := range f.c.NodeNamesConfigured() {
		hosts = append(hosts, name, fmt.Sprint(i+1))
		hostMap = append(hostMap, name+":"+name, fmt.Sprintf("%d:%s", i+1, name))
	}
	return fmt.Sprintf(`<primitive id="%[1]s" class="stonith" type="%[2]s">
  <instance_attributes id="%[1]s-ia">
    <nvpair id="%[1]s-ipaddr" name="ipaddr" value="%[3]s"/>
    <nvpair id="%[1]s-ipport" name="ipport" value="%[4]d"/>
    <nvpair id="%[1]s-hosts" name="pcmk_host_list" value="%[5]s"/>
    <nvpair id="%[1]s-map" name="pcmk_host_map" value="%[6]s"/>
  </instance_attributes>
  <operations>
    <op id="%[1]s-monitor" name="monitor" interval="60s" timeout="20s"/>
  </operations>
</primitive>`, FenceDevice, fenceAgentName, HostAddr, FencePort, strings.Join(hosts, " "), strings.Join(hostMap, ";"))
}

// FenceEvents lists the fencing the cluster asked the lab for (nil
// without fencing).
func (c *Cluster) FenceEvents() []fencelab.Event {
	if c.fence == nil {
		return nil
	}
	return c.fence.svc.Events()
}

// NodeNamesConfigured lists the names of all nodes of the configuration
// (also before they are built).
func (c *Cluster) NodeNamesConfigured() []string {
	var names []string
	for i := 1; i <= c.cfg.Nodes; i++ {
		names = append(names, NodeName(i))
	}
	return names
}

type fenceTarget struct{ c *Cluster }

func (t fenceTarget) Names() []string { return t.c.NodeNamesConfigured() }

func (t fenceTarget) node(name string) (*Node, error) {
	if n := t.c.NodeByName(name); n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("no node %s", name)
}

func (t fenceTarget) PowerOff(ctx context.Context, name string) error {
	n, err := t.node(name)
	if err != nil {
		return err
	}
	_, err = n.PowerCut()
	return err
}

func (t fenceTarget) PowerOn(ctx context.Context, name string) error {
	n, err := t.node(name)
	if err != nil {
		return err
	}
	if n.IsUp() {
		return nil
	}
	return n.Boot(ctx)
}

func (t fenceTarget) IsOn(name string) (bool, error) {
	n, err := t.node(name)
	if err != nil {
		return false, err
	}
	return n.IsUp(), nil
}
