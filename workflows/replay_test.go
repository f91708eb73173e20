package workflows

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
)

func newReplayer() worker.WorkflowReplayer {
	// Deadlock detection is off: it measures the machine, not determinism.
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DisableDeadlockDetection: true})
	if err != nil {
		panic(err)
	}
	Register(r)
	return r
}

// TestReplayHistories replays every history recorded on the dev server
// (testdata/*.json, see TestOnDevServer -record) with the current workflow
// code. It fails when a change to the workflows would break the runs in
// flight: a change in the commands a history produced needs
// workflow.GetVersion, and a new recording.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			require.NoError(t, newReplayer().ReplayWorkflowHistoryFromJSONFile(nil, file))
		})
	}
}
