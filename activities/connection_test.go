package activities

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/profilesync/profilesync/internal/testenv"
	"github.com/profilesync/profilesync/workflows"
)

// badPassword must never show up in an error, a detail or a log line.
const badPassword = "s3cret-P@ss:w/rd?#'\" \\ -never-in-errors"

func TestConnectionPasses(t *testing.T) {
	for _, kind := range kinds() {
		t.Run(kind.name, func(t *testing.T) {
			st := openStore(t)
			kind.create(t, st, "wh1")
			acts := newActivities(st)
			h := newHarness(t, acts)
			res := must[workflows.TestResult](h, acts.TestConnection, workflows.TestInput{WarehouseID: "wh1"})
			var names []string
			for _, s := range res.Steps {
				names = append(names, s.Name)
				if !s.OK || s.Error != "" {
					t.Errorf("step %+v failed", s)
				}
			}
			if want := []string{"connect", "create_schema", "create_table", "write_read", "clean_up"}; !res.OK || strings.Join(names, ",") != strings.Join(want, ",") || res.FailedStep != "" {
				t.Errorf("TestConnection = %+v, want OK with steps %v", res, want)
			}
		})
	}
}

// TestWrongPassword runs the activities against a server that refuses the
// password as PostgreSQL does: TestConnection fails with a non-retryable
// ConnectionTestFailed error naming the connect step, the other activities
// with AuthFailed, and the password appears nowhere: not in the errors, their
// details, or the logs of the activities, the adapter or the SDK.
func TestWrongPassword(t *testing.T) {
	host, port, passwords := testenv.RefusingPostgres(t)
	st := openStore(t)
	createWarehouse(t, st, "wh1", "postgres", map[string]string{
		"host": host, "port": port, "user": "loader", "database": "db", "schema": "profiles",
	}, badPassword)

	var logs testenv.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(logger) // the adapter logs through the default logger
	acts := newActivities(st)
	acts.Logger = logger
	h := newHarness(t, acts)
	h.suite.SetLogger(log.NewStructuredLogger(logger))

	_, err := run[workflows.TestResult](h, acts.TestConnection, workflows.TestInput{WarehouseID: "wh1"})
	appErr := checkAppError(t, err, workflows.ErrTypeConnectionTestFailed)
	if !strings.HasPrefix(appErr.Message(), "connect: ") || !strings.Contains(appErr.Message(), `password authentication failed for user "loader"`) {
		t.Errorf("message %q, want the connect step and the server's reason", appErr.Message())
	}
	var res workflows.TestResult
	if err := appErr.Details(&res); err != nil {
		t.Fatalf("details: %v", err)
	}
	if res.OK || res.FailedStep != "connect" || res.Error != appErr.Message() || len(res.Steps) != 1 || res.Steps[0].OK {
		t.Errorf("details = %+v, want the failed connect step", res)
	}
	details, _ := json.Marshal(res)
	noPassword(t, "TestConnection error", err.Error(), fmt.Sprintf("%+v", err), string(details))

	select {
	case p := <-passwords:
		if p != badPassword {
			t.Errorf("the server received password %q", p)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the server received no password: the test proves nothing")
	}

	// Every activity that opens the warehouse fails for good.
	for name, call := range map[string]func() error{
		"PlanSync": func() error {
			_, err := run[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "wh1"})
			return err
		},
		"PrepareSchema": func() error {
			_, err := run[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: "wh1"})
			return err
		},
		"LoadIdentity": func() error {
			_, err := run[workflows.LoadOutput](h, acts.LoadIdentity, workflows.LoadInput{WarehouseID: "wh1", Table: workflows.TableIDGraphUpdates, UptoSeq: 10})
			return err
		},
		"Materialize": func() error {
			_, err := run[workflows.LoadOutput](h, acts.Materialize, workflows.MaterializeInput{WarehouseID: "wh1", UptoSeq: 10})
			return err
		},
	} {
		err := call()
		checkAppError(t, err, workflows.ErrTypeAuthFailed)
		noPassword(t, name+" error", err.Error(), fmt.Sprintf("%+v", err))
	}

	if logs.Len() == 0 || !strings.Contains(logs.String(), `"warehouse_id":"wh1"`) {
		t.Errorf("no activity logs captured: %s", logs.String())
	}
	noPassword(t, "logs", logs.String())
}

// TestWrongPasswordRealServer tries a wrong password on the test server; it
// skips when the server does not check passwords (trust authentication).
func TestWrongPasswordRealServer(t *testing.T) {
	st := openStore(t)
	kinds()[0].create(t, st, "admin")
	db := warehouseDB(t, st, "admin")
	role := testenv.Name("ps_role")
	if _, err := db.Query(t.Context(), "CREATE ROLE "+role+" LOGIN PASSWORD 'right-password'"); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Query(t.Context(), "DROP ROLE IF EXISTS "+role) })
	rec, err := st.GetWarehouse(t.Context(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	rec.Config["user"] = role
	createWarehouse(t, st, "wh1", "postgres", rec.Config, badPassword)
	acts := newActivities(st)
	h := newHarness(t, acts)
	res, err := run[workflows.TestResult](h, acts.TestConnection, workflows.TestInput{WarehouseID: "wh1"})
	if err == nil {
		t.Skipf("the test server does not check passwords: %+v", res)
	}
	appErr := checkAppError(t, err, workflows.ErrTypeConnectionTestFailed)
	noPassword(t, "error", err.Error(), fmt.Sprintf("%+v", err))
	if !strings.HasPrefix(appErr.Message(), "connect: ") {
		// Trust authentication let the role in; a later step failed.
		t.Skipf("the test server does not check passwords: %s", appErr.Message())
	}
	if !strings.Contains(appErr.Message(), "password authentication failed") {
		t.Errorf("message %q, want the server's reason", appErr.Message())
	}
}

// TestBadWarehouses checks the errors for a missing warehouse record and an
// unusable configuration.
func TestBadWarehouses(t *testing.T) {
	st := openStore(t)
	createWarehouse(t, st, "odd", "snowflake9", map[string]string{}, "")
	createWarehouse(t, st, "nohost", "postgres", map[string]string{"user": "x"}, badPassword)
	acts := newActivities(st)
	h := newHarness(t, acts)

	_, err := run[workflows.Plan](h, acts.PlanSync, workflows.PlanInput{WarehouseID: "gone"})
	checkAppError(t, err, workflows.ErrTypeNotFound)
	_, err = run[workflows.TestResult](h, acts.TestConnection, workflows.TestInput{WarehouseID: "gone"})
	checkAppError(t, err, workflows.ErrTypeNotFound)
	_, err = run[struct{}](h, acts.SetWarehouseState, workflows.StateInput{WarehouseID: "gone", State: workflows.StateEnabled})
	checkAppError(t, err, workflows.ErrTypeNotFound)

	for _, id := range []string{"odd", "nohost"} {
		_, err = run[struct{}](h, acts.PrepareSchema, workflows.WarehouseRef{WarehouseID: id})
		checkAppError(t, err, workflows.ErrTypeBadConfig)
		noPassword(t, id, err.Error())
		// A connection test reports it as the failed connect step.
		_, err = run[workflows.TestResult](h, acts.TestConnection, workflows.TestInput{WarehouseID: id})
		appErr := checkAppError(t, err, workflows.ErrTypeConnectionTestFailed)
		var res workflows.TestResult
		if err := appErr.Details(&res); err != nil || res.FailedStep != "connect" || !strings.HasPrefix(res.Error, "connect: ") {
			t.Errorf("%s: details %+v (%v), want a failed connect step", id, res, err)
		}
	}
	_, err = run[workflows.LoadOutput](h, acts.LoadIdentity, workflows.LoadInput{WarehouseID: "odd", Table: "users"})
	checkAppError(t, err, workflows.ErrTypeBadConfig)
	_, err = run[workflows.LoadOutput](h, acts.LoadEventsRange, workflows.LoadRangeInput{WarehouseID: "odd", Stream: workflows.StreamEvents, Upto: 5})
	checkAppError(t, err, workflows.ErrTypeBadConfig)
}

// checkAppError checks that err is a non-retryable ApplicationError of a
// type, and returns it.
func checkAppError(t *testing.T, err error, typ string) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v, want an ApplicationError of type %s", err, typ)
	}
	if appErr.Type() != typ || !appErr.NonRetryable() {
		t.Errorf("error %v: type %s non-retryable %v, want a non-retryable %s", err, appErr.Type(), appErr.NonRetryable(), typ)
	}
	return appErr
}

// noPassword fails if any text holds the password, or a recognizable part
// of it.
func noPassword(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, needle := range []string{badPassword, "s3cret-P@ss", "never-in-errors"} {
			if strings.Contains(s, needle) {
				t.Errorf("%s holds the password: %s", what, s)
			}
		}
	}
}
