package activities

import (
	"reflect"
	"slices"
	"testing"

	"github.com/profilesync/profilesync/workflows"
)

// TestMethodsAreTheActivities checks that the exported methods of
// *Activities, which a worker registers as activities, are exactly the
// activities of the contract.
func TestMethodsAreTheActivities(t *testing.T) {
	typ := reflect.TypeFor[*Activities]()
	var methods []string
	for i := range typ.NumMethod() {
		methods = append(methods, typ.Method(i).Name)
	}
	want := workflows.ActivityNames()
	slices.Sort(methods)
	slices.Sort(want)
	if !slices.Equal(methods, want) {
		t.Errorf("exported methods %v, want the activities %v", methods, want)
	}
}

func TestScrub(t *testing.T) {
	const secret = "p@ss w/rd:x"
	for _, s := range []string{
		"dial: " + secret,
		"postgres://u:p%40ss%20w%2Frd%3Ax@h/db",
		"postgres://u:p%40ss+w%2Frd%3Ax@h/db",
	} {
		if got := scrub(s, secret); got == s {
			t.Errorf("scrub(%q) left it as is", s)
		}
	}
	if got := scrub("abc", "ab"); got != "abc" {
		t.Errorf("a short secret was scrubbed: %q", got)
	}
}
