// Command go-conformance renders every template in cases.json with Go's real text/template
// over the same build data Slipway's tests use, and writes expected.json. Slipway's template
// engine must produce the same bytes (or fail where Go fails).
//
//	go run ./tools/go-conformance core/tests/fixtures/templates/cases.json core/tests/fixtures/templates/expected.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"text/template"
	"time"
)

// Data mirrors the build values jet gave image_tag templates (slipway-core's BuildVars).
type Data struct {
	ProjectID         string
	BuildID           string
	RepoName          string
	Branch            string
	CommitID          string
	CommitMessage     string
	CommitDescription string
	CommitterName     string
	CommitterEmail    string
	CommitterUsername string
	Time              time.Time
	Timestamp         int64
	StringTime        string
	StepName          string
	ServiceName       string
	ImageName         string
	Ci                string
	CiName            string
}

// A case is a template, or an object with a template and the build's Unix timestamp
// (default 1709211909), for times Slipway must handle as Go does.
type testCase struct {
	Template  string `json:"template"`
	Timestamp *int64 `json:"timestamp,omitempty"`
}

type result struct {
	Template  string  `json:"template"`
	Timestamp *int64  `json:"timestamp,omitempty"`
	Output    *string `json:"output,omitempty"`
	Error     *string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go-conformance CASES.json EXPECTED.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		panic(err)
	}
	var out []result
	for _, e := range entries {
		var c testCase
		if err := json.Unmarshal(e, &c.Template); err != nil {
			if err := json.Unmarshal(e, &c); err != nil {
				panic(err)
			}
		}
		out = append(out, run(c))
	}
	enc, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[2], append(enc, '\n'), 0o644); err != nil {
		panic(err)
	}
}

func run(c testCase) result {
	ts := int64(1709211909)
	if c.Timestamp != nil {
		ts = *c.Timestamp
	}
	t := time.Unix(ts, 0).UTC()
	data := Data{
		ProjectID:         "4f1c2a",
		BuildID:           "b-1042",
		RepoName:          "acme/web",
		Branch:            "feature/JIRA-12_x",
		CommitID:          "0123456789abcdef0123456789abcdef01234567",
		CommitMessage:     "Fix: the \"thing\"\nsecond line",
		CommitDescription: "v1.2.3-4-g0123",
		CommitterName:     "Ada Lovelace",
		CommitterEmail:    "ada@example.com",
		CommitterUsername: "ada",
		Time:              t,
		Timestamp:         ts,
		StringTime:        t.String(),
		StepName:          "push_web",
		ServiceName:       "web",
		ImageName:         "registry.example.com/acme/web",
		Ci:                "true",
		CiName:            "codeship",
	}
	r := result{Template: c.Template, Timestamp: c.Timestamp}
	tmpl, err := template.New("t").Parse(c.Template)
	if err == nil {
		var buf bytes.Buffer
		err = tmpl.Execute(&buf, data)
		if err == nil {
			s := buf.String()
			r.Output = &s
		}
	}
	if err != nil {
		msg := err.Error()
		r.Error = &msg
	}
	return r
}
