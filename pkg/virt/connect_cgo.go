//go:build libvirt_cgo && cgo

package virt

import "context"

// Implementation names the libvirt client this binary was built with.
const Implementation = "libvirt-cgo"

func connect(ctx context.Context, uri string) (Conn, error) { return ConnectCgo(ctx, uri) }
