package stepfunctions

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/velocity-ci/velocity/internal/executions"
	"github.com/velocity-ci/velocity/internal/store"
)

func (h *Handler) createStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
		RoleArn    string `json:"roleArn"`
		Type       string `json:"type"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.StateMachines.Create(ctx, in.Name, []byte(in.Definition), in.RoleArn, in.Type)
	if executions.IsTypeError(err) {
		return nil, validation("%v", err)
	}
	if errors.Is(err, executions.ErrInvalid) && !isDefinitionError(err) {
		return nil, &apiError{"InvalidName", err.Error(), http.StatusBadRequest}
	}
	if err != nil {
		return nil, err
	}
	return struct {
		StateMachineArn string `json:"stateMachineArn"`
		CreationDate    *epoch `json:"creationDate"`
	}{m.ARN, when(m.Created)}, nil
}

func isDefinitionError(err error) bool {
	var d *executions.DefinitionError
	return errors.As(err, &d)
}

// stateMachineRef is the request of the actions that name a state
// machine.
type stateMachineRef struct {
	StateMachineArn string `json:"stateMachineArn"`
}

func (h *Handler) describeStateMachine(ctx context.Context, body []byte) (any, error) {
	var in stateMachineRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	m, err := h.StateMachines.Describe(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	return struct {
		StateMachineArn string `json:"stateMachineArn"`
		Name            string `json:"name"`
		Status          string `json:"status"`
		Definition      string `json:"definition"`
		RoleArn         string `json:"roleArn"`
		Type            string `json:"type"`
		CreationDate    *epoch `json:"creationDate"`
	}{m.ARN, m.Name, "ACTIVE", string(m.Definition), m.RoleARN, executions.TypeOf(m), when(m.Created)}, nil
}

type stateMachineItem struct {
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Type            string `json:"type"`
	CreationDate    *epoch `json:"creationDate"`
}

// listStateMachines pages through the state machines by name; a token
// continues after the last name of its page.
func (h *Handler) listStateMachines(ctx context.Context, body []byte) (any, error) {
	var in struct {
		MaxResults int    `json:"maxResults"`
		NextToken  string `json:"nextToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	size, err := pageSize(in.MaxResults)
	if err != nil {
		return nil, err
	}
	request := requestDigest("ListStateMachines")
	after, err := readToken(in.NextToken, request)
	if err != nil {
		return nil, err
	}
	ms, err := h.StateMachines.List(ctx)
	if err != nil {
		return nil, err
	}
	if after != "" {
		ms = slices.DeleteFunc(ms, func(m store.StateMachine) bool { return m.Name <= after })
	}
	var out struct {
		StateMachines []stateMachineItem `json:"stateMachines"`
		NextToken     *string            `json:"nextToken,omitempty"`
	}
	if len(ms) > size {
		ms = ms[:size]
		out.NextToken = nextToken(request, ms[size-1].Name)
	}
	out.StateMachines = make([]stateMachineItem, len(ms))
	for i, m := range ms {
		out.StateMachines[i] = stateMachineItem{m.ARN, m.Name, executions.TypeOf(m), when(m.Created)}
	}
	return out, nil
}

func (h *Handler) updateStateMachine(ctx context.Context, body []byte) (any, error) {
	var in struct {
		StateMachineArn string `json:"stateMachineArn"`
		Definition      string `json:"definition"`
		RoleArn         string `json:"roleArn"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	m, err := h.StateMachines.Update(ctx, in.StateMachineArn, []byte(in.Definition), in.RoleArn)
	if err != nil {
		return nil, err
	}
	return struct {
		UpdateDate *epoch `json:"updateDate"`
	}{when(m.Updated)}, nil
}

func (h *Handler) deleteStateMachine(ctx context.Context, body []byte) (any, error) {
	var in stateMachineRef
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkARN(in.StateMachineArn, "stateMachine"); err != nil {
		return nil, err
	}
	// Step Functions answers a delete of a state machine that is gone
	// already with success.
	if err := h.StateMachines.Delete(ctx, in.StateMachineArn); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return struct{}{}, nil
}

type diagnostic struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Location string `json:"location,omitempty"`
}

// validateDefinition checks a definition with the States Language
// checker of every other definition; its problems are diagnostics, not
// an error.
func (h *Handler) validateDefinition(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Definition string `json:"definition"`
		Type       string `json:"type"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	out := struct {
		Result      string       `json:"result"`
		Diagnostics []diagnostic `json:"diagnostics"`
	}{Result: "OK", Diagnostics: []diagnostic{}}
	d, err := executions.ParseDefinition("definition", []byte(in.Definition))
	var def *executions.DefinitionError
	switch {
	case errors.As(err, &def):
		out.Result = "FAIL"
		for _, p := range def.Problems {
			out.Diagnostics = append(out.Diagnostics, problem("ERROR", p))
		}
	case err != nil:
		out.Result = "FAIL"
		out.Diagnostics = append(out.Diagnostics, diagnostic{Severity: "ERROR", Code: "SCHEMA_VALIDATION_FAILED", Message: err.Error()})
	default:
		for _, w := range d.Warnings {
			out.Diagnostics = append(out.Diagnostics, problem("WARNING", w))
		}
	}
	return out, nil
}

// problem is a diagnostic of a checker's FILE:LINE:COL: POINTER: MESSAGE.
func problem(severity, p string) diagnostic {
	parts := strings.SplitN(p, ": ", 3)
	d := diagnostic{Severity: severity, Code: "SCHEMA_VALIDATION_FAILED", Message: p}
	if len(parts) == 3 {
		d.Location, d.Message = parts[1], parts[2]
	}
	return d
}
