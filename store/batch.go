package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// validate checks what CommitBatch can check about a batch before touching
// the database.
func (b *Batch) validate() error {
	switch {
	case b.SpaceID == "":
		return errors.New("batch has no space id")
	case b.FromPos < 0 || b.ToPos < b.FromPos:
		return fmt.Errorf("batch moves the position from %d back to %d", b.FromPos, b.ToPos)
	}
	for _, e := range b.Events {
		if e.Pos <= b.FromPos || e.Pos > b.ToPos {
			return fmt.Errorf("batch stamps event %d outside its range (%d, %d]", e.Pos, b.FromPos, b.ToPos)
		}
	}
	return nil
}

// rowCount is the number of change-log rows in b, each of which gets a seq.
func (b *Batch) rowCount() int {
	return len(b.Graph) + len(b.Mappings) + len(b.Traits)
}

// Change-log kinds, in the order CommitBatch gives seqs to rows of the same
// event.
const (
	kindGraph = iota
	kindMapping
	kindTraits
)

// batchSeqs is the seq of each change row of a batch, by kind and index.
type batchSeqs struct {
	graph, mappings, traits []int64
	last                    int64
}

// assignSeqs hands out seqs, which must be increasing and number
// b.rowCount(), in the documented order: by event position, then graph,
// mapping and traits rows, then their order in b.
func (b *Batch) assignSeqs(seqs []int64) batchSeqs {
	type slot struct {
		pos       int64
		kind, idx int
	}
	slots := make([]slot, 0, b.rowCount())
	for i, g := range b.Graph {
		slots = append(slots, slot{g.EventPos, kindGraph, i})
	}
	for i, m := range b.Mappings {
		slots = append(slots, slot{m.EventPos, kindMapping, i})
	}
	for i, t := range b.Traits {
		slots = append(slots, slot{t.EventPos, kindTraits, i})
	}
	// Stable, and slots are appended by kind then index: sorting by
	// position alone keeps kind and index order among equal positions.
	slices.SortStableFunc(slots, func(x, y slot) int { return cmp.Compare(x.pos, y.pos) })

	out := batchSeqs{
		graph:    make([]int64, len(b.Graph)),
		mappings: make([]int64, len(b.Mappings)),
		traits:   make([]int64, len(b.Traits)),
	}
	for k, s := range slots {
		switch s.kind {
		case kindGraph:
			out.graph[s.idx] = seqs[k]
		case kindMapping:
			out.mappings[s.idx] = seqs[k]
		case kindTraits:
			out.traits[s.idx] = seqs[k]
		}
	}
	if len(seqs) > 0 {
		out.last = seqs[len(seqs)-1]
	}
	return out
}

// writeBack stores the committed seqs into the batch's rows.
func (b *Batch) writeBack(s batchSeqs) {
	for i := range b.Graph {
		b.Graph[i].Seq = s.graph[i]
	}
	for i := range b.Mappings {
		b.Mappings[i].Seq = s.mappings[i]
	}
	for i := range b.Traits {
		b.Traits[i].Seq = s.traits[i]
	}
}
