//go:build libvirt_cgo && cgo

package virt_test

import "github.com/ocfbox/ocfbox/pkg/virt"

// The cgo build runs every contract test against both implementations.
func init() { impls = append(impls, impl{"libvirt-cgo", virt.ConnectCgo}) }
