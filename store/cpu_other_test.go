//go:build !linux

package store

import "testing"

// cpuMeter is a no-op where /proc and getrusage are not at hand.
type cpuMeter struct{}

func startCPU(*testing.B, string) *cpuMeter { return &cpuMeter{} }

func (*cpuMeter) report(*testing.B, float64, string) {}
