package workflow

import (
	"context"
	"errors"
)

func (in *Interpreter) run(ctx context.Context, ex Execution) (Result, error) {
	return Result{}, errors.New("workflow: interpreter not implemented yet")
}
