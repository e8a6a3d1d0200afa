package agenttest

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ocfbox/ocfbox/internal/apachetest"
)

// apacheSite is the directory of the apache row's web site in a sandbox.
func apacheSite(sb *Sandbox) string { return sb.Path("www") }

// apacheConfig is the configuration file of the sandbox's web site, the
// apache row's configfile.
func apacheConfig(sb *Sandbox) string {
	return filepath.Join(apacheSite(sb), apachetest.ConfigName)
}

// apacheEnv writes the sandbox's web site (internal/apachetest) on a free
// port of 127.0.0.1; whatever httpd of it still runs is killed at the
// test's cleanup. The agent needs no environment variables for it.
func apacheEnv(t testing.TB, sb *Sandbox) []string {
	t.Helper()
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(apachetest.FreePort(t, "127.0.0.1")))
	apachetest.New(t, apacheSite(sb), apachetest.Options{Listen: listen})
	return nil
}
