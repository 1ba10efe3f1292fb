package api

import "testing"

// TestCSVText covers the formula triggers that no stored field can begin
// with (one-line fields refuse control characters), besides the others.
func TestCSVText(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@A1": "'@A1", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "Basra": "Basra", "1=1": "1=1", "'=1": "'=1", " =1": " =1",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
}
