package scaffold

// genericPlan is the plan for a project of no recognised kind: a single
// placeholder action that passes, so the pipeline works end to end before
// the user writes the real build.
func genericPlan() plan {
	return plan{
		kind:       Generic,
		envExample: "GREETING: hello",
		notes: []string{
			"No go.mod, package.json, Python project file or Makefile with",
			"test/lint/build/check targets was found: replace the placeholder",
			"with the commands that build and test this project.",
		},
		actions: []action{{
			name:    "placeholder",
			comment: "Shows the environment every action gets; replace with real work.",
			run:     `echo "velocity runs $VELOCITY_PROJECT: stage $VELOCITY_STAGE, action $VELOCITY_ACTION"`,
		}},
	}
}
