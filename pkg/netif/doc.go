// Package netif is ocfbox's interface to the kernel's network stack, for
// agents that manage addresses (IPaddr2): links looked up by name or
// altname and their state, IPv4 and IPv6 addresses (add, delete, list,
// with label, broadcast, lifetimes, nodad and noprefixroute), the
// interface, prefix length and broadcast address that the routing table
// implies for an address (what resource-agents' findif.sh works out with
// ip, grep and awk), IPv6 address labels, the route cache, and the
// announcements that tell neighbours an address has moved: gratuitous ARP
// for IPv4 and unsolicited neighbour advertisements for IPv6, sent in
// process or by a detached copy of the running executable.
//
// Everything goes through netlink and packet sockets; nothing here runs a
// program, except that background announcements re-run the executable
// itself (see StartBackground). Every call acts on the network namespace
// of the calling OS thread; EnterNamespace moves the calling goroutine's
// thread into a named one first.
//
// Errors wrap the kernel's (errors.Is works with syscall errnos and
// fs.ErrPermission) and the sentinels in errors.go, and name the operation
// and the object, like fs.PathError.
package netif
