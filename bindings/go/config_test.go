package logstashasync

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// configTags are the JSON names of Config's fields.
func configTags(t *testing.T) map[string]string {
	tags := map[string]string{}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			t.Errorf("Config.%s has no JSON name", f.Name)
			continue
		}
		if opts != "omitempty" {
			t.Errorf("Config.%s: the tag needs omitempty (a zero value means the library's default)", f.Name)
		}
		tags[name] = f.Name
	}
	return tags
}

// readmeOptions are the options of the README's option tables: every table
// whose header starts with "| option |", its first column's `name`s.
func readmeOptions(t *testing.T) []string {
	text, err := os.ReadFile("../../README.md")
	if os.IsNotExist(err) {
		t.Skip("not inside the repository: no README.md to compare Config with")
	}
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile("`([a-z_][a-z0-9_]*)`")
	seen := map[string]bool{}
	inTable := false
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasPrefix(line, "| option |"):
			inTable = true
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable:
			cells := strings.Split(line, "|")
			for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
				seen[m[1]] = true
			}
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 30 {
		t.Fatalf("found only %d options in README.md's option tables: %v", len(out), out)
	}
	return out
}

// Every option of the README's tables has a Config field of that JSON name.
func TestConfigCoversEveryOption(t *testing.T) {
	tags := configTags(t)
	for _, opt := range readmeOptions(t) {
		if _, ok := tags[opt]; !ok {
			t.Errorf("option %q of README.md has no Config field: add one line to config.go, "+
				"e.g. `X T `json:\"%s,omitempty\"``", opt, opt)
		}
	}
}

// The library knows every option Config has (a misspelled tag would make
// New fail with "unknown option" for anyone who sets the field).
func TestLibraryKnowsEveryConfigField(t *testing.T) {
	for name, field := range configTags(t) {
		_, err := NewJSON([]byte(`{"host":"127.0.0.1","port":9,"stderr_errors":false,"enable":false,"` + name + `":null}`))
		var ce *ConfigError
		if errors.As(err, &ce) && strings.HasPrefix(ce.Message, name+": unknown option") {
			t.Errorf("Config.%s: the library does not know the option %q", field, name)
		}
	}
}

// Zero values are left out, so the library's defaults apply; pointer fields
// carry meaningful zero values.
func TestConfigZeroValuesMeanTheDefaults(t *testing.T) {
	c, err := New(Config{Host: "127.0.0.1", Enable: Bool(false)})
	if err != nil {
		t.Fatalf("a Config with only Host: %v", err)
	}
	_ = c.Close(context.Background())
	text, err := json.Marshal(Config{Host: "h", CompressionLevel: Int(0), ExtraPrefix: String(""), SSLVerify: Bool(false)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"host":"h","compression_level":0,"ssl_verify":false,"extra_prefix":""}`; string(text) != want {
		t.Errorf("encoded %s, want %s", text, want)
	}
}

// The options of issue 19 reach the library: shaping, TLS forms of
// ssl_verify, and their errors.
func TestShapingAndTLSOptionsReachTheLibrary(t *testing.T) {
	cfg := Config{
		Host:         "127.0.0.1",
		RenameFields: map[string]string{"extra.user.id": "user_id"},
		DropFields:   []string{"extra.password"},
		MaskFields:   []string{"extra.user.email"},
		MaskMode:     "sha256",
		MaskPatterns: []MaskPattern{{Pattern: `\d{16}`}, {Pattern: `(\w+)@example\.com`, Replacement: String("$1@***")}},
		HandleName:   "go",
		SSLVerify:    "certificate",
	}
	text, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ssl_verify":"certificate"`, `"mask_patterns":[{"pattern":"\\d{16}"},{"pattern":"(\\w+)@example\\.com","replacement":"$1@***"}]`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("encoded %s, want %s in it", text, want)
		}
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_ = c.Close(context.Background())
	_, err = New(Config{Host: "127.0.0.1", MaskPatterns: []MaskPattern{{Pattern: "("}}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "mask_patterns[0]: invalid regular expression") {
		t.Errorf("a bad pattern: %v", err)
	}
	_, err = New(Config{Host: "127.0.0.1", SSLEnable: true, SSLMinVersion: "1.1"})
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "ssl_min_version:") {
		t.Errorf("a bad version: %v", err)
	}
}
