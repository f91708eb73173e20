package activities

import (
	"context"
	"time"

	"github.com/profilesync/profilesync/workflows"
)

// Materialize brings the current-state tables up to in.UptoSeq and returns
// the rows written per table (see workflows.Activities). It heartbeats from
// a ticker while the adapter works.
func (a *Activities) Materialize(ctx context.Context, in workflows.MaterializeInput) (workflows.LoadOutput, error) {
	w, err := a.openWarehouse(ctx, in.WarehouseID)
	if err != nil {
		return workflows.LoadOutput{}, err
	}
	defer w.close(a)
	log := a.logger().With("activity", workflows.ActivityMaterialize, "warehouse_id", in.WarehouseID)
	start := time.Now()
	hb := startHeartbeats(ctx, nil)
	written, err := w.Materialize(ctx, in.UptoSeq)
	hb.stop()
	if err != nil {
		log.Warn("materialize failed", "upto_seq", in.UptoSeq, "auth", isAuthError(err))
		return workflows.LoadOutput{}, w.fail(ctx, "materializing", err)
	}
	out := workflows.LoadOutput{Table: workflows.ReportMaterialize, Tables: map[string]int64{}}
	for t, n := range written {
		out.Tables[t] = n
		out.Rows += n
	}
	log.Info("materialized", "upto_seq", in.UptoSeq, "rows", out.Rows, "duration_ms", time.Since(start).Milliseconds())
	return out, nil
}
