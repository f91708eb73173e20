package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/profilesync/profilesync/admin"
)

func commands() map[string]command {
	return map[string]command{
		"space add":          spaceAdd,
		"space list":         spaceList,
		"source add":         sourceAdd,
		"source list":        sourceList,
		"warehouse add":      warehouseAdd,
		"warehouse test":     warehouseTest,
		"warehouse approve":  warehouseAction("approve"),
		"warehouse reject":   warehouseReject,
		"warehouse disable":  warehouseAction("disable"),
		"warehouse enable":   warehouseAction("enable"),
		"warehouse delete":   warehouseDelete,
		"warehouse schedule": warehouseSchedule,
		"warehouse status":   warehouseStatus,
		"warehouse list":     warehouseList,
		"warehouse tables":   warehouseTables,
		"warehouse table":    warehouseTable,
		"sync now":           syncNow,
		"backfill":           backfill,
		"syncs list":         syncsList,
		"syncs show":         syncsShow,
	}
}

// parse parses a verb's own flags (and the global ones) and checks the number
// of positional arguments.
func (c *cli) parse(name string, args []string, want int, define func(fs *flag.FlagSet)) ([]string, error) {
	fs := c.flags(name)
	if define != nil {
		define(fs)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != want {
		return nil, usagef("%s takes %d argument(s), got %d; run profilesync help", name, want, len(pos))
	}
	return pos, nil
}

func table(w io.Writer, header string, rows func(tw io.Writer)) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	tw.Flush()
}

func spaceAdd(ctx context.Context, c *cli, args []string) error {
	var name string
	pos, err := c.parse("space add", args, 1, func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "display name") })
	if err != nil {
		return err
	}
	var sp admin.Space
	if err := c.api.call(ctx, "POST", "/admin/v1/spaces", admin.Space{ID: pos[0], Name: name}, &sp); err != nil {
		return err
	}
	return c.print(sp, func(w io.Writer) { fmt.Fprintf(w, "space %s created\n", sp.ID) })
}

func spaceList(ctx context.Context, c *cli, args []string) error {
	if _, err := c.parse("space list", args, 0, nil); err != nil {
		return err
	}
	var out []admin.Space
	if err := c.api.call(ctx, "GET", "/admin/v1/spaces", nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		table(w, "ID\tNAME\tCREATED", func(tw io.Writer) {
			for _, s := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Name, s.CreatedAt.Format(time.RFC3339))
			}
		})
	})
}

func sourceAdd(ctx context.Context, c *cli, args []string) error {
	var name, id string
	pos, err := c.parse("source add", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "display name")
		fs.StringVar(&id, "id", "", "source id (default: generated)")
	})
	if err != nil {
		return err
	}
	var out admin.NewSource
	if err := c.api.call(ctx, "POST", "/admin/v1/spaces/"+url.PathEscape(pos[0])+"/sources", admin.Source{ID: id, Name: name}, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "source %s created in space %s\nwrite key: %s\n(shown once: keep it)\n", out.Source.ID, out.Source.SpaceID, out.WriteKey)
	})
}

func sourceList(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("source list", args, 1, nil)
	if err != nil {
		return err
	}
	var out []admin.Source
	if err := c.api.call(ctx, "GET", "/admin/v1/spaces/"+url.PathEscape(pos[0])+"/sources", nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		table(w, "ID\tNAME\tSLUG", func(tw io.Writer) {
			for _, s := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Name, s.Slug)
			}
		})
	})
}

func warehouseAdd(ctx context.Context, c *cli, args []string) error {
	in := admin.AddWarehouse{Settings: map[string]string{}}
	var pwStdin bool
	settings := []string{"host", "port", "user", "database", "schema", "sslmode", "path"}
	values := make([]string, len(settings))
	pos, err := c.parse("warehouse add", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&in.SpaceID, "space", "", "space the warehouse syncs")
		fs.StringVar(&in.Type, "type", "", "postgres or duckdb")
		fs.StringVar(&in.Schedule, "schedule", "", "sync interval (at least 15m) or cron spec; default 1h")
		fs.StringVar(&in.EventsLookback, "events-lookback", "", "event history of the first sync; default 1440h")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
		for i, s := range settings {
			fs.StringVar(&values[i], s, "", s+" setting")
		}
	})
	if err != nil {
		return err
	}
	in.Name = pos[0]
	for i, s := range settings {
		if values[i] != "" {
			in.Settings[s] = values[i]
		}
	}
	if in.SpaceID == "" || in.Type == "" {
		return usagef("warehouse add needs --space and --type")
	}
	if in.Type == "postgres" || pwStdin {
		if in.Password, err = c.password(pwStdin); err != nil {
			return err
		}
	}
	var out admin.WarehouseStatus
	if err := c.api.call(ctx, "POST", "/admin/v1/warehouses", in, &out); err != nil {
		return err
	}
	if err := c.print(out, func(w io.Writer) { printStatus(w, out) }); err != nil {
		return err
	}
	if out.Status != nil && out.Status.LastTest != nil && !out.Status.LastTest.OK {
		return fmt.Errorf("connection test failed at step %s; fix it and run profilesync warehouse test %s --password-stdin",
			out.Status.LastTest.FailedStep, out.Warehouse.ID)
	}
	return nil
}

func printStatus(w io.Writer, s admin.WarehouseStatus) {
	wh := s.Warehouse
	fmt.Fprintf(w, "warehouse %s (%s) in space %s: %s\n", wh.ID, wh.Name, wh.SpaceID, wh.Type)
	if s.Status == nil {
		fmt.Fprintf(w, "  state:     %s (workflow not reachable)\n", wh.State)
		return
	}
	st := s.Status
	fmt.Fprintf(w, "  state:     %s\n  schedule:  %s\n", st.State, st.Schedule)
	if t := st.LastTest; t != nil {
		result := "passed"
		if !t.OK {
			result = "FAILED at " + t.FailedStep + ": " + t.Error
		}
		fmt.Fprintf(w, "  last test: %s (%s)\n", result, t.TestedAt.Format(time.RFC3339))
		for _, step := range t.Steps {
			mark := "ok"
			if !step.OK {
				mark = "FAILED: " + step.Error
			}
			fmt.Fprintf(w, "    %-14s %s\n", step.Name, mark)
		}
	}
	if st.ApprovedBy != "" {
		fmt.Fprintf(w, "  approved:  by %s at %s\n", st.ApprovedBy, st.ApprovedAt.Format(time.RFC3339))
	}
	if st.RejectedBy != "" {
		fmt.Fprintf(w, "  rejected:  by %s: %s\n", st.RejectedBy, st.RejectReason)
	}
	if ls := st.LastSync; ls != nil {
		fmt.Fprintf(w, "  last sync: %s, %d rows, %s (%s)\n", ls.Status, ls.Rows, ls.StartedAt.Format(time.RFC3339), ls.WorkflowID)
	}
	if len(s.NextSyncs) > 0 {
		fmt.Fprintf(w, "  next sync: %s\n", s.NextSyncs[0].Format(time.RFC3339))
	}
	fmt.Fprintf(w, "  workflow:  %s\n", s.WorkflowID)
}

func warehouseTest(ctx context.Context, c *cli, args []string) error {
	var pwStdin bool
	pos, err := c.parse("warehouse test", args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read a new password from standard input")
	})
	if err != nil {
		return err
	}
	var in admin.Retest
	if pwStdin {
		if in.Password, err = c.password(true); err != nil {
			return err
		}
	}
	var out admin.WarehouseStatus
	if err := c.api.call(ctx, "POST", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/test", in, &out); err != nil {
		return err
	}
	if err := c.print(out, func(w io.Writer) { printStatus(w, out) }); err != nil {
		return err
	}
	if out.Status != nil && out.Status.LastTest != nil && !out.Status.LastTest.OK {
		return fmt.Errorf("connection test failed at step %s", out.Status.LastTest.FailedStep)
	}
	return nil
}

// warehouseAction runs a lifecycle command without arguments.
func warehouseAction(action string) command {
	return func(ctx context.Context, c *cli, args []string) error {
		pos, err := c.parse("warehouse "+action, args, 1, nil)
		if err != nil {
			return err
		}
		var out admin.WarehouseStatus
		if err := c.api.call(ctx, "POST", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/"+action, nil, &out); err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) { printStatus(w, out) })
	}
}

func warehouseReject(ctx context.Context, c *cli, args []string) error {
	var reason string
	pos, err := c.parse("warehouse reject", args, 1, func(fs *flag.FlagSet) { fs.StringVar(&reason, "reason", "", "why") })
	if err != nil {
		return err
	}
	var out admin.WarehouseStatus
	if err := c.api.call(ctx, "POST", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/reject", admin.Reject{Reason: reason}, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { printStatus(w, out) })
}

func warehouseDelete(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("warehouse delete", args, 1, nil)
	if err != nil {
		return err
	}
	var out json.RawMessage
	if err := c.api.call(ctx, "DELETE", "/admin/v1/warehouses/"+url.PathEscape(pos[0]), nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "warehouse %s deleted with its credentials\n", pos[0]) })
}

func warehouseSchedule(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("warehouse schedule", args, 2, nil)
	if err != nil {
		return err
	}
	var out admin.WarehouseStatus
	if err := c.api.call(ctx, "PUT", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/schedule", admin.SetSchedule{Schedule: pos[1]}, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { printStatus(w, out) })
}

func warehouseStatus(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("warehouse status", args, 1, nil)
	if err != nil {
		return err
	}
	var out admin.WarehouseStatus
	if err := c.api.call(ctx, "GET", "/admin/v1/warehouses/"+url.PathEscape(pos[0]), nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { printStatus(w, out) })
}

func warehouseList(ctx context.Context, c *cli, args []string) error {
	var space string
	if _, err := c.parse("warehouse list", args, 0, func(fs *flag.FlagSet) { fs.StringVar(&space, "space", "", "only this space") }); err != nil {
		return err
	}
	var out []admin.Warehouse
	if err := c.api.call(ctx, "GET", "/admin/v1/warehouses?space="+url.QueryEscape(space), nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		table(w, "ID\tNAME\tSPACE\tTYPE\tSTATE\tSCHEDULE", func(tw io.Writer) {
			for _, wh := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", wh.ID, wh.Name, wh.SpaceID, wh.Type, wh.State, wh.Schedule)
			}
		})
	})
}

func syncNow(ctx context.Context, c *cli, args []string) error {
	var wait bool
	pos, err := c.parse("sync now", args, 1, func(fs *flag.FlagSet) { fs.BoolVar(&wait, "wait", false, "wait for the report") })
	if err != nil {
		return err
	}
	path := "/admin/v1/warehouses/" + url.PathEscape(pos[0]) + "/sync"
	if !wait {
		var out json.RawMessage
		if err := c.api.call(ctx, "POST", path, nil, &out); err != nil {
			return err
		}
		return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "sync of %s started\n", pos[0]) })
	}
	var out admin.Sync
	if err := c.api.call(ctx, "POST", path+"?wait=1", nil, &out); err != nil {
		return err
	}
	if err := c.print(out, func(w io.Writer) { printSync(w, out) }); err != nil {
		return err
	}
	if out.Status == "failed" {
		return fmt.Errorf("sync %s failed", out.ID)
	}
	return nil
}

func backfill(ctx context.Context, c *cli, args []string) error {
	var from, to string
	pos, err := c.parse("backfill", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "start of the window (RFC 3339)")
		fs.StringVar(&to, "to", "", "end of the window (RFC 3339, exclusive)")
	})
	if err != nil {
		return err
	}
	var in admin.Backfill
	if in.From, err = time.Parse(time.RFC3339, from); err != nil {
		return usagef("--from: %v", err)
	}
	if in.To, err = time.Parse(time.RFC3339, to); err != nil {
		return usagef("--to: %v", err)
	}
	var out admin.BackfillStarted
	if err := c.api.call(ctx, "POST", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/backfill", in, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { fmt.Fprintf(w, "backfill started: workflow %s\n", out.WorkflowID) })
}

func syncsList(ctx context.Context, c *cli, args []string) error {
	var limit int
	pos, err := c.parse("syncs list", args, 1, func(fs *flag.FlagSet) { fs.IntVar(&limit, "limit", 20, "how many") })
	if err != nil {
		return err
	}
	var out []admin.Sync
	if err := c.api.call(ctx, "GET", fmt.Sprintf("/admin/v1/warehouses/%s/syncs?limit=%d", url.PathEscape(pos[0]), limit), nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		table(w, "STARTED\tSTATUS\tDURATION\tROWS\tIDENTITY\tEVENT TYPES\tEVENTS\tID", func(tw io.Writer) {
			for _, s := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", s.StartedAt.Format(time.RFC3339), s.Status,
					time.Duration(s.DurationMS)*time.Millisecond, s.Rows, s.IdentityRows, s.EventTypeRows, s.EventRows, s.ID)
			}
		})
	})
}

func syncsShow(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("syncs show", args, 1, nil)
	if err != nil {
		return err
	}
	var out admin.Sync
	if err := c.api.call(ctx, "GET", "/admin/v1/syncs/"+url.PathEscape(pos[0]), nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) { printSync(w, out) })
}

func printSync(w io.Writer, s admin.Sync) {
	fmt.Fprintf(w, "sync %s (%s) of warehouse %s\n", s.ID, s.Kind, s.WarehouseID)
	fmt.Fprintf(w, "  status:   %s\n  started:  %s\n  duration: %s\n", s.Status, s.StartedAt.Format(time.RFC3339), time.Duration(s.DurationMS)*time.Millisecond)
	fmt.Fprintf(w, "  rows:     %d (identity graph %d, event types %d, events %d)\n", s.Rows, s.IdentityRows, s.EventTypeRows, s.EventRows)
	table(w, "  TABLE\tGROUP\tROWS\tERROR", func(tw io.Writer) {
		for _, t := range s.Tables {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", t.Table, t.Group, t.Rows, t.Error)
		}
	})
	for _, e := range s.Errors {
		fmt.Fprintf(w, "  error: %s\n", strings.TrimSpace(e))
	}
}

func warehouseTables(ctx context.Context, c *cli, args []string) error {
	pos, err := c.parse("warehouse tables", args, 1, nil)
	if err != nil {
		return err
	}
	var out []admin.TableSelection
	if err := c.api.call(ctx, "GET", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/tables", nil, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		onOff := func(on bool) string {
			if on {
				return "on"
			}
			return "OFF"
		}
		table(w, "TABLE\tCOLUMN\tTYPE\tSYNC\tCHANGED", func(tw io.Writer) {
			for _, t := range out {
				changed := ""
				if !t.ChangedAt.IsZero() {
					changed = t.ChangedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t\t\t%s\t%s\n", t.Table, onOff(t.Enabled), changed)
				for _, col := range t.Columns {
					if col.Enabled && col.ChangedAt.IsZero() {
						continue // only columns with a choice
					}
					fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", col.Name, col.Type, onOff(col.Enabled), col.ChangedAt.Format(time.RFC3339))
				}
			}
		})
	})
}

func warehouseTable(ctx context.Context, c *cli, args []string) error {
	var on, off bool
	var in admin.SetSelection
	pos, err := c.parse("warehouse table", args, 2, func(fs *flag.FlagSet) {
		fs.BoolVar(&on, "on", false, "sync the table (or column)")
		fs.BoolVar(&off, "off", false, "stop syncing the table (or column); what is there stays")
		fs.StringVar(&in.Column, "column", "", "one column of the table instead of the whole table")
		fs.BoolVar(&in.BackfillGap, "backfill-gap", false, "with --on: backfill the events received while it was off")
	})
	if err != nil {
		return err
	}
	if on == off {
		return usagef("warehouse table takes exactly one of --on and --off")
	}
	in.Enabled = on
	var out admin.SelectionChanged
	if err := c.api.call(ctx, "PUT", "/admin/v1/warehouses/"+url.PathEscape(pos[0])+"/tables/"+url.PathEscape(pos[1]), in, &out); err != nil {
		return err
	}
	return c.print(out, func(w io.Writer) {
		what := out.Table
		if out.Column != "" {
			what += "." + out.Column
		}
		state := "off: new data stops; what the warehouse holds stays"
		if out.Enabled {
			state = "on"
		}
		fmt.Fprintf(w, "%s is %s\n", what, state)
		if out.Gap != nil {
			fmt.Fprintf(w, "gap: events received from %s to %s were not synced\n", out.Gap.From.Format(time.RFC3339), out.Gap.To.Format(time.RFC3339))
			if out.BackfillWorkflowID != "" {
				fmt.Fprintf(w, "backfilling the gap: workflow %s\n", out.BackfillWorkflowID)
			} else {
				fmt.Fprintf(w, "to load them: profilesync backfill %s --from %s --to %s\n", pos[0],
					out.Gap.From.Format(time.RFC3339), out.Gap.To.Format(time.RFC3339))
			}
		}
	})
}
