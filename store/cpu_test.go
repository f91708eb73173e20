//go:build linux

package store

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// cpuMeter measures the CPU time a benchmark costs: this process's, plus
// that of the PostgreSQL backends serving its database. On a shared machine
// wall-clock throughput depends on the neighbours; work per CPU-second does
// much less.
type cpuMeter struct {
	dsn   string // "" for SQLite: all the work is in this process
	self  time.Duration
	peers map[int]time.Duration
}

func startCPU(b *testing.B, dsn string) *cpuMeter {
	m := &cpuMeter{self: selfCPU()}
	if isPostgres(dsn) {
		m.dsn = dsn
		m.peers = backendCPU(b, dsn)
	}
	return m
}

// seconds returns the CPU seconds used since start, or 0 if unknown.
func (m *cpuMeter) seconds(b *testing.B) float64 {
	total := selfCPU() - m.self
	if m.dsn != "" {
		for pid, t := range backendCPU(b, m.dsn) {
			total += t - m.peers[pid]
		}
	}
	return total.Seconds()
}

// report adds a per-CPU-second rate to the benchmark.
func (m *cpuMeter) report(b *testing.B, n float64, unit string) {
	self := (selfCPU() - m.self).Seconds()
	if s := m.seconds(b); s > 0 {
		b.ReportMetric(n/s, unit+"/cpu-s")
		b.ReportMetric(self/s*100, "%cpu-client")
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU reads the CPU time of each server process connected to the
// benchmark's database from /proc (the server is local in tests).
func backendCPU(b *testing.B, dsn string) map[int]time.Duration {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		b.Fatal(err)
	}
	out := map[int]time.Duration{}
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// Fields after the parenthesized command: state is field 3;
		// utime and stime are fields 14 and 15, in clock ticks.
		f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[pid] = time.Duration(utime+stime) * (time.Second / 100) // USER_HZ is 100 on Linux
	}
	return out
}
