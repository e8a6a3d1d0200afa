//go:build !libvirt_cgo || !cgo

package virt

import "context"

// Implementation names the libvirt client this binary was built with.
const Implementation = "go-libvirt"

func connect(ctx context.Context, uri string) (Conn, error) { return ConnectRPC(ctx, uri) }
