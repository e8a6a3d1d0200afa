// Package seeds runs the configurations of the public how-to articles
// ocfbox exists for (shared/seeds in the project's steering material) in
// the UML cluster lab, with only what the README says changed: the
// provider (ocf:heartbeat, ocf:ocfs2 → ocf:ocfbox) and the lab's paths.
package seeds
