package drbd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// peer is a compact expectation for one connection: "state/role/peer-disk[,peer-disk...]".
func peerString(c Connection) string {
	var disks []string
	for _, pd := range c.PeerDevices {
		disks = append(disks, pd.PeerDisk)
	}
	return c.State + "/" + c.PeerRole + "/" + strings.Join(disks, ",")
}

func diskString(s *State) string {
	var disks []string
	for _, d := range s.Devices {
		disks = append(disks, d.Disk)
	}
	return strings.Join(disks, ",")
}

func TestParseEvents2ReadsRecordedAndDocumentedStates(t *testing.T) {
	tests := []struct {
		name, file, resource string
		exists               bool
		role, disks          string
		peers                []string
		sum                  Summary
	}{
		{name: "8.4 connecting alone, fresh metadata", file: "uml84/84-secondary-inconsistent-connecting/events2-now.out", resource: "r0",
			exists: true, role: "Secondary", disks: "Inconsistent", peers: []string{"Connecting/Unknown/DUnknown"},
			sum: Summary{Quorate: true, PeerDiskUnknown: true}},
		{name: "8.4 Primary syncing to its peer", file: "uml84/84-primary-uptodate-syncsource/events2-now.out", resource: "r0",
			exists: true, role: "Primary", disks: "UpToDate", peers: []string{"Connected/Secondary/Inconsistent"},
			sum: Summary{Primary: true, Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true}},
		{name: "8.4 sync target, statistics", file: "uml84/84-secondary-inconsistent-synctarget/events2-stats.out", resource: "r0",
			exists: true, role: "Secondary", disks: "Inconsistent", peers: []string{"Connected/Primary/UpToDate"},
			sum: Summary{PeerPrimary: true, Quorate: true, SomePeerAllUpToDate: true, PeersAllUpToDate: true}},
		{name: "8.4 Secondary with an UpToDate Primary peer", file: "uml84/84-secondary-uptodate-peer-primary/events2-now.out", resource: "r0",
			exists: true, role: "Secondary", disks: "UpToDate", peers: []string{"Connected/Primary/UpToDate"},
			sum: Summary{PeerPrimary: true, Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true, SomePeerAllUpToDate: true, PeersAllUpToDate: true}},
		{name: "8.4 detached disk, Primary peer", file: "uml84/84-secondary-diskless-connected/events2-now.out", resource: "r0",
			exists: true, role: "Secondary", disks: "Diskless", peers: []string{"Connected/Primary/UpToDate"},
			sum: Summary{PeerPrimary: true, Quorate: true, SomePeerAllUpToDate: true, PeersAllUpToDate: true}},
		{name: "8.4 split brain leaves the connection StandAlone", file: "uml84/84-secondary-uptodate-splitbrain/events2-now.out", resource: "r0",
			exists: true, role: "Secondary", disks: "UpToDate", peers: []string{"StandAlone/Unknown/DUnknown"},
			sum: Summary{Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true, PeerDiskUnknown: true}},
		{name: "8.4 outdated and disconnected", file: "uml84/84-secondary-outdated-standalone/events2-now.out", resource: "r0",
			exists: true, role: "Secondary", disks: "Outdated", peers: []string{"StandAlone/Unknown/DUnknown"},
			sum: Summary{Quorate: true, PeerDiskUnknown: true}},
		{name: "8.4 resource down", file: "uml84/84-down/events2-now.out", resource: "r0"},
		{name: "8.4 other resource asked for", file: "uml84/84-primary-uptodate-connected/events2-now.out", resource: "r1"},
		{name: "9 sync stream from drbd-utils tests", file: "v9/utils-sync.events2", resource: "some-resource",
			exists: true, role: "Secondary", disks: "UpToDate", peers: []string{"Connected/Secondary/Inconsistent"},
			sum: Summary{Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true}},
		{name: "9 sync stream with statistics", file: "v9/utils-sync-statistics.events2", resource: "some-resource",
			exists: true, role: "Secondary", disks: "UpToDate", peers: []string{"Connected/Secondary/Inconsistent"},
			sum: Summary{Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true}},
		{name: "9 Primary that lost quorum", file: "v9/utils-all-create-change.events2", resource: "some-resource",
			exists: true, role: "Primary", disks: "UpToDate", peers: []string{"Connected/Secondary/Inconsistent"},
			sum: Summary{Primary: true, DiskAllUpToDate: true, DiskAllConsistent: true}},
		{name: "9 no quorum without peers", file: "v9/utils-may-promote-quorum.events2", resource: "some-resource",
			exists: true, role: "Secondary", disks: "UpToDate",
			sum: Summary{DiskAllUpToDate: true, DiskAllConsistent: true}},
		{name: "9 diskless (not client) with an UpToDate peer", file: "v9/utils-may-promote-peer-data.events2", resource: "some-resource",
			exists: true, role: "Secondary", disks: "Diskless", peers: []string{"Connected/Secondary/UpToDate"},
			sum: Summary{Quorate: true, SomePeerAllUpToDate: true, PeersAllUpToDate: true}},
		{name: "9 exists lines before the end marker", file: "v9/utils-exists-before-create.events2", resource: "some-resource",
			exists: true, role: "Secondary", disks: "Diskless", sum: Summary{Quorate: true}},
		{name: "9.0 with timestamps and old fields", file: "v9/drbdtop-timestamps.events2", resource: "test3",
			exists: true, role: "Secondary", disks: "UpToDate", peers: []string{"Connected/Secondary/"},
			sum: Summary{Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true, PeerDiskUnknown: true}},
		{name: "9 three nodes, Primary lost one peer", file: "v9/three-node-primary-peer-lost.events2", resource: "r0",
			exists: true, role: "Primary", disks: "UpToDate,UpToDate",
			peers: []string{"Connected/Secondary/UpToDate,UpToDate", "Connecting/Unknown/DUnknown,DUnknown"},
			sum:   Summary{Primary: true, Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true, SomePeerAllUpToDate: true, PeerDiskUnknown: true}},
		{name: "9 three nodes, diskless client", file: "v9/three-node-diskless-client.events2", resource: "r0",
			exists: true, role: "Secondary", disks: "Diskless",
			peers: []string{"Connected/Secondary/UpToDate", "Connected/Secondary/UpToDate"},
			sum:   Summary{DisklessClient: true, Quorate: true, DiskAllUpToDate: true, DiskAllConsistent: true, SomePeerAllUpToDate: true, PeersAllUpToDate: true}}, // client volumes are not local disks, as in drbd.ocf
		{name: "9 three nodes, no quorum, tiebreaker peer is a client", file: "v9/three-node-no-quorum.events2", resource: "r0",
			exists: true, role: "Secondary", disks: "Outdated",
			peers: []string{"Connecting/Unknown/DUnknown", "Connecting/Unknown/DUnknown"},
			sum:   Summary{PeerDiskUnknown: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := ParseEvents2(fixture(t, tt.file), tt.resource)
			if err != nil {
				t.Fatal(err)
			}
			if st.Exists != tt.exists || st.Role != tt.role || diskString(st) != tt.disks {
				t.Errorf("exists=%v role=%q disks=%q, want exists=%v role=%q disks=%q", st.Exists, st.Role, diskString(st), tt.exists, tt.role, tt.disks)
			}
			var peers []string
			for _, c := range st.Connections {
				peers = append(peers, peerString(c))
			}
			if strings.Join(peers, " ") != strings.Join(tt.peers, " ") {
				t.Errorf("peers %q, want %q", peers, tt.peers)
			}
			if !tt.exists {
				return
			}
			if got := st.Summarize(); got != tt.sum {
				t.Errorf("summary\n got %+v\nwant %+v", got, tt.sum)
			}
		})
	}
}

func TestParseEvents2KeepsDRBD9Fields(t *testing.T) {
	st, err := ParseEvents2(fixture(t, "v9/three-node-no-quorum.events2"), "r0")
	if err != nil {
		t.Fatal(err)
	}
	if st.Suspended != "quorum" || st.MayPromote != "no" || st.PromotionScore != "0" {
		t.Errorf("suspended=%q may_promote=%q promotion_score=%q", st.Suspended, st.MayPromote, st.PromotionScore)
	}
	if d := st.Devices[0]; d.Quorum != "no" || d.BackingDev != "/dev/vdb" || d.Minor != 0 || d.Open != "no" {
		t.Errorf("device %+v", d)
	}
	if pd := st.Connections[1].PeerDevices[0]; !pd.PeerClient {
		t.Errorf("tiebreaker peer not seen as a diskless client: %+v", pd)
	}
	sync, err := ParseEvents2(fixture(t, "v9/utils-sync.events2"), "some-resource")
	if err != nil {
		t.Fatal(err)
	}
	if pd := sync.Connections[0].PeerDevices[0]; pd.Replication != "SyncSource" || pd.Done != "37.50" {
		t.Errorf("sync peer device %+v", pd)
	}
	if sync.Devices[0].Minor != 1000 || len(sync.Minors()) != 1 {
		t.Errorf("minors %v", sync.Minors())
	}
}

func TestParseEvents2AppliesDestroyAndDiff(t *testing.T) {
	in := "exists resource name:r0 role:Secondary suspended:no\n" +
		"exists device name:r0 volume:0 minor:3 disk:UpToDate\n" +
		"exists connection name:r0 peer-node-id:1 conn-name:b connection:Connected role:Secondary\n" +
		"exists -\n" +
		"change resource name:r0 role:Secondary->Primary\n" +
		"destroy connection name:r0 peer-node-id:1 conn-name:b\n"
	st, err := ParseEvents2([]byte(in), "r0")
	if err != nil {
		t.Fatal(err)
	}
	if st.Role != "Primary" || len(st.Connections) != 0 || st.Devices[0].Minor != 3 {
		t.Errorf("%+v", st)
	}
	st, err = ParseEvents2([]byte(in+"destroy resource name:r0\n"), "r0")
	if err != nil || st.Exists {
		t.Errorf("after destroy resource: %+v, %v", st, err)
	}
}

func TestParseEvents2RejectsWhatIsNotEvents2(t *testing.T) {
	for _, in := range []string{
		"version: 8.4.11 (api:1/proto:86-101)\n",
		"exists\n",
		"exists device name:r0 minor:0 disk:UpToDate\n",           // no volume
		"exists connection name:r0 peer-node-id:x role:Primary\n", // bad id
		"exists resource name:r0 role\n",                          // not key:value
		"exists peer-device name:r0 peer-node-id:1 volume:-1 peer-disk:UpToDate\n",
	} {
		if st, err := ParseEvents2([]byte(in), "r0"); err == nil {
			t.Errorf("%q parsed as %+v", in, st)
		}
	}
}

func TestSplitBrainAndDisklessAreVisible(t *testing.T) {
	st, err := ParseEvents2(fixture(t, "uml84/84-secondary-uptodate-splitbrain/events2-now.out"), "r0")
	if err != nil {
		t.Fatal(err)
	}
	if sa := st.StandAlonePeers(); len(sa) != 1 || sa[0].PeerNodeID != 0 {
		t.Errorf("StandAlone peers %+v", sa)
	}
	st, err = ParseEvents2(fixture(t, "uml84/84-secondary-diskless-connected/events2-now.out"), "r0")
	if err != nil {
		t.Fatal(err)
	}
	if dl := st.DisklessVolumes(); len(dl) != 1 || dl[0].Volume != 0 {
		t.Errorf("diskless volumes %+v", dl)
	}
	client, err := ParseEvents2(fixture(t, "v9/three-node-diskless-client.events2"), "r0")
	if err != nil {
		t.Fatal(err)
	}
	if dl := client.DisklessVolumes(); len(dl) != 0 {
		t.Errorf("an intentional diskless client reported as lost disk: %+v", dl)
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]Version{"8.4.11": 0x08040b, "9.2.12-1": 0x09020c, "10.0.0": 0x0a0000} {
		if v, err := ParseVersion(in); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %#x, %v; want %#x", in, int(v), err, int(want))
		}
	}
	for _, in := range []string{"", "8.4", "x.y.z", "8.4.256"} {
		if v, err := ParseVersion(in); err == nil {
			t.Errorf("ParseVersion(%q) = %v, want an error", in, v)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "drbd")
	os.WriteFile(p, fixture(t, "uml84/84-down/proc-drbd"), 0o644)
	if v, err := ModuleVersion(p); err != nil || v != 0x08040b || v.IsV9() || v.String() != "8.4.11" {
		t.Errorf("ModuleVersion = %v, %v", v, err)
	}
	if _, err := ModuleVersion(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), ErrNoModule.Error()) {
		t.Errorf("absent /proc/drbd: %v", err)
	}
}
