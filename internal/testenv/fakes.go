package testenv

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// A fake PostgreSQL server that refuses every password, for tests of wrong
// credentials on a machine whose PostgreSQL trusts every local connection;
// and a buffer for concurrent writers.

// SyncBuffer is a bytes.Buffer safe for concurrent writers: a process's
// output, a logger shared by goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *SyncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// RefusingPostgres accepts PostgreSQL connections, asks for a cleartext
// password and refuses it with SQLSTATE 28P01, as PostgreSQL does. It
// reports the passwords it received.
func RefusingPostgres(t testing.TB) (host, port string, passwords <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if p, err := refusePassword(c); err == nil {
					select {
					case got <- p:
					default:
					}
				}
			}()
		}
	}()
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port, got
}

// refusePassword speaks the server side of a failed password
// authentication: StartupMessage (after refusing SSL if asked),
// AuthenticationCleartextPassword, PasswordMessage, ErrorResponse 28P01.
func refusePassword(c net.Conn) (string, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	var startup []byte
	for {
		var n int32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return "", err
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		if len(body) == 4 && binary.BigEndian.Uint32(body) == 80877103 { // SSLRequest
			if _, err := c.Write([]byte{'N'}); err != nil {
				return "", err
			}
			continue
		}
		startup = body
		break
	}
	user := ""
	fields := strings.Split(string(startup[4:]), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "user" {
			user = fields[i+1]
		}
	}
	if _, err := c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}); err != nil {
		return "", err
	}
	typ, err := r.ReadByte()
	if err != nil || typ != 'p' {
		return "", fmt.Errorf("want a password message, got %q: %v", typ, err)
	}
	var n int32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return "", err
	}
	pw := make([]byte, n-4)
	if _, err := io.ReadFull(r, pw); err != nil {
		return "", err
	}
	var body []byte
	for _, f := range []struct {
		code byte
		val  string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', "28P01"}, {'M', fmt.Sprintf("password authentication failed for user %q", user)}} {
		body = append(append(append(body, f.code), f.val...), 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32([]byte{'E'}, uint32(len(body)+4))
	_, err = c.Write(append(msg, body...))
	return strings.TrimSuffix(string(pw), "\x00"), err
}
