// Package workflows holds the Temporal workflows of Profiles Sync: the
// warehouse lifecycle (WarehouseWorkflow), one sync run (SyncWorkflow) and a
// backfill of events by time window (BackfillWorkflow).
//
// Everything here is deterministic workflow code: no I/O, no clocks, no
// goroutines, no map ranging. The activities live in package activities,
// which this package does not import. Instead this package declares the
// contract: the activity names (the Activity* constants), their input and
// output types, and the Activities interface that the activities struct
// implements method by method. Payloads carry ids, windows, watermarks, counts
// and error messages only; never rows, trait values or credentials.
//
// Names that cross process boundaries (workflow types and ids, update, query
// and signal names, search attributes, error types) are exported constants,
// so the worker, the admin API and the operator CLI use exactly these.
//
// `go tool workflowcheck ./workflows/...` must stay clean, and every committed
// history under testdata/ must keep replaying (replay_test.go): a change to
// workflow code that alters the commands an existing history produced needs
// workflow.GetVersion.
package workflows
