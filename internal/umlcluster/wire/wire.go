// Package wire is what the host side of internal/umlcluster and the
// node's init (internal/umlcluster/cmd/umlinit) say to each other: the
// init's configuration, written by the host and read by the init at boot,
// and the command protocol the init serves on TCP.
//
// One command per connection: the host sends one JSON Request, the init
// answers one JSON Response and closes. If the host closes the connection
// before the answer (its context ended), the init kills the command's
// process group, so a command never outlives its caller's deadline.
package wire

import "time"

// Port is the TCP port the init serves commands on, on the node's
// address.
const Port = 7600

// ConfigEnv is the kernel command-line parameter (an environment variable
// of the init) that names the init's configuration file, a host path.
const ConfigEnv = "umlcluster"

// Config is the node's init configuration, JSON in a host file.
type Config struct {
	Name  string `json:"name"`  // hostname and Pacemaker node name
	ID    int    `json:"id"`    // 1-based
	Addr  string `json:"addr"`  // address with prefix on Iface, "198.51.100.1/24"
	Iface string `json:"iface"` // the network device, vec0

	// Expose are host directories the node mounts again (hostfs) at
	// their own paths after /tmp has become a private tmpfs, so that it
	// sees them even when they lie under /tmp: the harness's directory,
	// the test builds the OCF agents link to.
	Expose []string `json:"expose"`
	// LogDir is the host directory (under Lab) where the node's logs go:
	// pacemaker.log, corosync.log, the daemons' output.
	LogDir string `json:"log_dir"`

	// Tmpfs are directories mounted as empty tmpfs at each boot (each must
	// exist on the host, since the root is the host's file system).
	Tmpfs []string `json:"tmpfs"`
	// Files are written at each boot, after the tmpfs mounts.
	Files []File `json:"files"`
	// Modules are loaded at boot (modprobe -a with the UML modules).
	Modules []string `json:"modules"`
	// SbinOverlay lists programs (name -> host path) that appear in
	// /usr/sbin inside the node only, through a read-only overlay.
	SbinOverlay map[string]string `json:"sbin_overlay"`

	// FirstBoot says whether this is the node's first boot (disks fresh).
	FirstBoot bool `json:"first_boot"`
	// Setup commands run in order before the cluster stack, each to
	// success; FirstSetup ones only on the first boot, before Setup.
	FirstSetup [][]string `json:"first_setup"`
	Setup      [][]string `json:"setup"`

	// Cluster starts corosync and pacemakerd after the setup.
	Cluster bool `json:"cluster"`
	// CIB is the host path of the seed CIB installed as
	// /var/lib/pacemaker/cib/cib.xml before pacemakerd starts.
	CIB string `json:"cib"`
	// CorosyncConf is the host path of corosync.conf, copied to
	// /etc/corosync/corosync.conf (with the log file in LogDir).
	CorosyncConf string `json:"corosync_conf"`
}

// File is a file the init writes inside the node.
type File struct {
	Path  string `json:"path"`
	Data  string `json:"data"`
	Mode  uint32 `json:"mode"`
	Owner string `json:"owner,omitempty"` // user name, e.g. hacluster
}

// Ops a Request can ask for.
const (
	OpExec = "exec" // run Argv, answer its output and exit status
	OpWait = "wait" // read Path every Interval until it contains Match (or not, with Absent)
)

// Request is one command.
type Request struct {
	Op    string   `json:"op"`
	Argv  []string `json:"argv,omitempty"`
	Env   []string `json:"env,omitempty"` // added to the init's environment
	Dir   string   `json:"dir,omitempty"`
	Stdin []byte   `json:"stdin,omitempty"`

	Path     string        `json:"path,omitempty"`
	Match    string        `json:"match,omitempty"`
	Absent   bool          `json:"absent,omitempty"`
	Interval time.Duration `json:"interval,omitempty"`
}

// Response answers a Request.
type Response struct {
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Exit   int    `json:"exit"`             // exit status; -1 if killed by a signal
	Signal string `json:"signal,omitempty"` // the signal that ended it
	Error  string `json:"error,omitempty"`  // the command could not run
	// Start and End are the node's clock (UML's clock is the host's)
	// when the command started and ended, or when a wait matched (End).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}
