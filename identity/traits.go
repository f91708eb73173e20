package identity

// Trait is one trait of a profile with the inbox position of the event that
// last set it. A trait removed by a null keeps a tombstone (Deleted) so that a
// merge does not bring back an older value.
type Trait struct {
	Value   any   `json:"v,omitempty"`
	Pos     int64 `json:"p"`
	Deleted bool  `json:"d,omitempty"`
}

// TraitSet is the traits of one profile, by name.
type TraitSet map[string]Trait
