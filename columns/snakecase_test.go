package columns

import (
	"strings"
	"testing"
)

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		// The expectations of segmentio/go-snakecase's own test suite.
		{"lk0B@bFmjrLQ_Z6YL", "lk0_b_b_fmjr_lq_z6yl"},
		{"samPLE text", "sam_ple_text"},
		{"sample text", "sample_text"},
		{"sample-text", "sample_text"},
		{"sample_text", "sample_text"},
		{"sample___text", "sample_text"},
		{"sampleText", "sample_text"},
		{"inviteYourCustomersAddInvites", "invite_your_customers_add_invites"},
		{"sample 2 Text", "sample_2_text"},
		{"   sample   2    Text   ", "sample_2_text"},
		{"   $#$sample   2    Text   ", "sample_2_text"},
		{"SAMPLE 2 TEXT", "sample_2_text"},
		{"___$$Base64Encode", "base64_encode"},
		{"FOO:BAR$BAZ", "foo_bar_baz"},
		{"FOO#BAR#BAZ", "foo_bar_baz"},
		{"something.com", "something_com"},
		{"$something%", "something"},
		{"•¶§ƒ˚foo˙∆˚¬", "foo"},
		{"CStringRef", "cstring_ref"},
		{"5test", "5test"},
		{"test5", "test5"},
		{"THE5r", "the5r"},
		{"5TEst", "5test"},
		{"_5TEst", "5test"},
		{"@%#&5TEst", "5test"},
		// Segment's documented examples (segment-semantics.md §1.4).
		{"accountType", "account_type"},
		{"HTTPRequest", "httprequest"},
		{"iOS", "i_os"},
		// The current go-snakecase keeps a digit with the word before it
		// (its test "lk0B…" → "lk0_b…"); older versions gave page_2view.
		{"page2View", "page2_view"},
		{"éclair", "clair"},
		{"cafébar", "caf_bar"},
		// A leading underscore is dropped by the current go-snakecase.
		{"_id", "id"},
		{"__id", "id"},
		{"_", ""},
		{"", ""},
		{"$$$", ""},
		{"🎉", ""},
		{"🎉party", "party"},
		{"3doctors", "3doctors"},
		{"3Doctors", "3doctors"},
		{"a_1B", "a_1b"},
		{"a_bC", "a_b_c"},
		{"ab1C", "ab1_c"},
		{"trailing_", "trailing"},
		{"a__b", "a_b"},
		{"context.app.version", "context_app_version"},
		{`"; DROP TABLE x; --`, "drop_table_x"},
		{"user_id", "user_id"},
		{"userId", "user_id"},
		{"UserID", "user_id"},
		{"firstName", "first_name"},
		{"first name", "first_name"},
		{"First-Name", "first_name"},
	}
	for _, tt := range tests {
		if got := SnakeCase(tt.in); got != tt.want {
			t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSnakeCase checks the shape of every result: [a-z0-9_] only, no
// leading, trailing or doubled underscore, idempotent.
func FuzzSnakeCase(f *testing.F) {
	for _, s := range []string{"", "_", "a_1B", "lk0B@bFmjrLQ_Z6YL", "_5TEst", "é", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SnakeCase(s)
		for i := 0; i < len(got); i++ {
			if c := got[i]; !isLower(c) && !isDigit(c) && c != '_' {
				t.Fatalf("SnakeCase(%q) = %q holds %q", s, got, c)
			}
		}
		if strings.HasPrefix(got, "_") || strings.HasSuffix(got, "_") || strings.Contains(got, "__") {
			t.Fatalf("SnakeCase(%q) = %q: misplaced underscore", s, got)
		}
		if again := SnakeCase(got); again != got {
			t.Fatalf("SnakeCase not idempotent: %q → %q → %q", s, got, again)
		}
	})
}
