package projects

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/velocity-ci/velocity/internal/fault"
	"github.com/velocity-ci/velocity/internal/spec"
	"github.com/velocity-ci/velocity/internal/trigger"
)

// Schedules returns the schedules of every project, as the velocity.yml
// at the head of each project's branch declares them. A project whose
// definition cannot be read or has a schedule that does not parse keeps
// the others going: its problem is in problems, one line each.
func (s *Service) Schedules(ctx context.Context) (entries []trigger.Entry, problems []string, err error) {
	list, err := s.cfg.Store.Projects(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range list {
		if p.Head == "" {
			continue
		}
		data, err := s.cfg.Mirrors.File(ctx, p.Name, p.Head, spec.FileName)
		if errors.Is(err, fault.NotFound) {
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: reading %s at %.12s: %v", p.Name, spec.FileName, p.Head, err))
			continue
		}
		pipe, err := spec.Parse(fmt.Sprintf("%s (%s at %.12s)", spec.FileName, p.Name, p.Head), data)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		for _, sc := range pipe.Schedules {
			c, err := trigger.ParseCron(sc.Cron, sc.Timezone)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: schedule %s: %v", p.Name, sc.Name, err))
				continue
			}
			branch := sc.Branch
			if branch == "" {
				branch = p.Branch
			}
			entries = append(entries, trigger.Entry{Project: p.Name, Name: sc.Name, Branch: branch, Cron: c})
		}
	}
	return entries, problems, nil
}

// Fire queues the run of a schedule that came due; missed says the
// server was down at its time and fires it late, once.
func (s *Service) Fire(ctx context.Context, e trigger.Entry, due time.Time, missed bool) error {
	why := "schedule " + e.Name
	if missed {
		why = fmt.Sprintf("missed schedule %s (due %s)", e.Name, due.In(e.Cron.Location()).Format("2006-01-02 15:04 MST"))
	}
	_, err := s.Trigger(ctx, e.Project, TriggerRequest{Ref: e.Branch, Trigger: why})
	return err
}
