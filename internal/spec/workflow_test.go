package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// workflowProject writes a project with velocity.yml and files, and loads it.
func workflowProject(t *testing.T, yml string, files map[string]string) (*Pipeline, error) {
	t.Helper()
	dir := t.TempDir()
	files["velocity.yml"] = yml
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(filepath.Join(dir, "velocity.yml"))
}

const validDefinition = `StartAt: Done
States:
  Done:
    Type: Pass
    End: true
`

func TestWorkflowActionReadsFileInputAndWait(t *testing.T) {
	p, err := workflowProject(t, `stages:
  - name: s
    actions:
      - name: yaml
        workflow: wf.asl.yaml
        input: {items: [a, b], n: 1}
      - name: text
        workflow: wf.asl.yaml
        input: '{"x": "$(rm -rf /)"}'
        wait: false
      - name: none
        workflow: ./wf.asl.yaml
`, map[string]string{"wf.asl.yaml": validDefinition})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Stages[0].Actions
	want := []Workflow{
		{File: "wf.asl.yaml", Input: `{"items":["a","b"],"n":1}`, Pos: Pos{5, 9}},
		{File: "wf.asl.yaml", Input: `{"x":"$(rm -rf /)"}`, Detach: true, Pos: Pos{8, 9}},
		{File: "wf.asl.yaml", Input: "{}", Pos: Pos{12, 9}},
	}
	for i, w := range want {
		if got[i].Workflow == nil || *got[i].Workflow != w {
			t.Errorf("action %s: workflow = %+v, want %+v", got[i].Name, got[i].Workflow, w)
		}
	}
}

func TestWorkflowActionErrorsPointAtTheKey(t *testing.T) {
	tests := []struct {
		name, action string
		files        map[string]string
		want         []string
	}{
		{"missing file", "workflow: nope.asl.yaml", map[string]string{},
			[]string{"velocity.yml:5:9: stages[0].actions[0].workflow: nope.asl.yaml: no such file in the project"}},
		{"invalid definition", "workflow: bad.asl.yaml", map[string]string{"bad.asl.yaml": "StartAt: Nowhere\nStates:\n  A: {Type: Pass, End: true}\n"},
			[]string{"velocity.yml:5:9: stages[0].actions[0].workflow: invalid definition: bad.asl.yaml:"}},
		{"outside the project", "workflow: ../wf.asl.yaml", map[string]string{},
			[]string{`velocity.yml:5:19: stages[0].actions[0].workflow: "../wf.asl.yaml" leaves the workspace`}},
		{"not JSON", "workflow: wf.asl.yaml\n        input: 'not json'", map[string]string{"wf.asl.yaml": validDefinition},
			[]string{"velocity.yml:6:16: stages[0].actions[0].input: a string input must hold JSON"}},
		{"with run", "workflow: wf.asl.yaml\n        run: echo", map[string]string{"wf.asl.yaml": validDefinition},
			[]string{"velocity.yml:6:9: stages[0].actions[0]: run and workflow cannot both be set"}},
		{"with a script key", "workflow: wf.asl.yaml\n        env: {A: b}", map[string]string{"wf.asl.yaml": validDefinition},
			[]string{"velocity.yml:6:9: stages[0].actions[0]: env does not apply to a workflow action"}},
		{"wait alone", "run: echo\n        wait: false", map[string]string{},
			[]string{"velocity.yml:6:9: stages[0].actions[0]: wait only applies to workflow actions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := workflowProject(t, "stages:\n  - name: s\n    actions:\n      - name: a\n        "+tt.action+"\n", tt.files)
			if err == nil {
				t.Fatal("loaded; want an error")
			}
			msg := err.Error()
			// The file name is the temporary path; compare from its base.
			msg = msg[strings.Index(msg, "velocity.yml:"):]
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error:\n%s\nwant it to contain:\n%s", msg, w)
				}
			}
		})
	}
}
