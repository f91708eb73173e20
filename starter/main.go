// Command profilesync is the operator CLI of Profiles Sync, a thin client of
// the admin API served by profilesync-worker.
//
//	profilesync [--server URL] [--token T] [--json] VERB ...
//
// The server and token default to PROFILESYNC_SERVER
// (http://127.0.0.1:8080) and PROFILESYNC_TOKEN. Run profilesync help for the
// verbs.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/term"
)

const usage = `profilesync: operate Profiles Sync through its admin API.

Usage: profilesync [global flags] VERB [args and flags]

Spaces and sources:
  space add ID [--name N]               create a space
  space list                            list spaces
  source add SPACE [--name N] [--id ID] create a source; prints its write key
  source list SPACE                     list the sources of a space

Warehouses:
  warehouse add NAME --space S --type postgres --host H [--port P] --user U
                --database D [--schema S] [--sslmode M] --password-stdin
  warehouse add NAME --space S --type duckdb --path FILE [--schema S]
                [--schedule 1h|15m|"0 * * * *"] [--events-lookback 1440h]
  warehouse test ID [--password-stdin]  test the connection again (new password optional)
  warehouse approve ID                  approve a tested warehouse (staff)
  warehouse reject ID --reason R        reject it (staff)
  warehouse disable ID | enable ID      pause or resume its syncs
  warehouse delete ID                   delete a disabled warehouse and its credentials
  warehouse schedule ID SPEC            change the sync schedule
  warehouse status ID | list [--space S]
  warehouse tables ID                   event tables and columns with their selective-sync state
  warehouse table ID TABLE --on|--off [--column C] [--backfill-gap]
                                        turn a table or column on or off; --backfill-gap loads
                                        the events received while it was off

Syncs:
  sync now ID [--wait]                  start a sync now; --wait prints its report
  backfill ID --from TIME --to TIME     reload the events received in [from, to)
  syncs list ID [--limit N]             the warehouse's syncs, newest first
  syncs show SYNC_ID                    one sync's report

Global flags (anywhere on the line):
  --server URL   admin API (PROFILESYNC_SERVER, default http://127.0.0.1:8080)
  --token T      bearer token (PROFILESYNC_TOKEN)
  --json         print the API's JSON answer

Passwords are read from a prompt, or from standard input with --password-stdin;
never from the command line.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(c.run(ctx, os.Args[1:]))
}

// cli is one invocation.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	api    *apiClient
	json   bool
	server string
	token  string
}

// run executes a command line and returns the exit code.
func (c *cli) run(ctx context.Context, args []string) int {
	// Global flags before the verb; the verb parses the rest, global flags
	// included.
	fs := c.flags("profilesync")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(c.stderr, "profilesync:", err)
		return 2
	}
	pos := fs.Args()
	if len(pos) == 0 || pos[0] == "help" {
		fmt.Fprint(c.stdout, usage)
		return 0
	}
	cmd, rest, ok := lookup(pos)
	if !ok {
		fmt.Fprintf(c.stderr, "profilesync: unknown command %q; run profilesync help\n", strings.Join(pos, " "))
		return 2
	}
	if c.token == "" {
		fmt.Fprintln(c.stderr, "profilesync: no token: set PROFILESYNC_TOKEN or pass --token")
		return 2
	}
	c.api = newClient(c.server, c.token)
	if err := cmd(ctx, c, rest); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(c.stderr, "profilesync:", err)
			return 2
		}
		fmt.Fprintln(c.stderr, "profilesync:", err)
		return 1
	}
	return 0
}

// flags returns a flag set with the global flags.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	// Defaults are the values so far, so that a flag given before the verb
	// holds when the verb parses its own.
	if c.server == "" {
		c.server = c.getenv("PROFILESYNC_SERVER")
	}
	if c.server == "" {
		c.server = "http://127.0.0.1:8080"
	}
	if c.token == "" {
		c.token = c.getenv("PROFILESYNC_TOKEN")
	}
	fs.StringVar(&c.server, "server", c.server, "admin API URL")
	fs.StringVar(&c.token, "token", c.token, "bearer token")
	fs.BoolVar(&c.json, "json", c.json, "print JSON")
	return fs
}

// parseInterleaved parses flags that may appear before, between or after the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// command runs one verb with the arguments after it.
type command func(ctx context.Context, c *cli, args []string) error

// lookup finds the command named by the first one or two positional words.
func lookup(pos []string) (command, []string, bool) {
	cmds := commands()
	if len(pos) >= 2 && !strings.HasPrefix(pos[1], "-") {
		if cmd, ok := cmds[pos[0]+" "+pos[1]]; ok {
			return cmd, pos[2:], true
		}
	}
	if cmd, ok := cmds[pos[0]]; ok {
		return cmd, pos[1:], true
	}
	return nil, nil, false
}

// print writes v as JSON with --json, or with human, a function printing it
// for people.
func (c *cli) print(v any, human func(w io.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(c.stdout)
	return nil
}

// password reads a secret from standard input (--password-stdin) or from a
// prompt without echo.
func (c *cli) password(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password on standard input")
		}
		return pw, nil
	}
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usagef("a password is needed: pass --password-stdin and write it to standard input")
	}
	fmt.Fprint(c.stderr, "Password: ")
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(b), nil
}
