// Package conformance checks every agent of the ocfbox binary against the
// OCF tooling Pacemaker users rely on: its meta-data validates against
// resource-agents' ra-api-1.dtd and metadata.rng, works as user nobody
// with an empty environment, and ocf-tester passes. The reference shell
// agents go through ocf-tester in the same test, for comparison.
//
// The suite runs over agents.All; what each agent needs to run is its row
// in tests/internal/agenttest, and an agent without a row fails here.
package conformance
