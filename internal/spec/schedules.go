package spec

import (
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/velocity-ci/velocity/internal/trigger"
)

// Schedule starts a run at the times of a cron expression (schedules: in
// velocity.yml):
//
//	schedules:
//	  - { name: nightly, cron: "0 3 * * *", branch: main, timezone: Europe/Berlin }
type Schedule struct {
	// Name identifies the schedule in run triggers and `velocity
	// schedules`; unique in the file.
	Name string
	Pos  Pos
	// Cron is five fields (minute hour day-of-month month day-of-week) or
	// a descriptor (@daily, @hourly, @every 6h, …).
	Cron string
	// Branch is the branch whose head the run takes; empty means the
	// project's branch.
	Branch string `json:",omitempty"`
	// Timezone is the IANA zone the cron times are in; empty means UTC.
	Timezone string `json:",omitempty"`
}

// schedules reads the schedules list: each entry checked on its own, then
// names checked for duplicates.
func (d *decoder) schedules(v ast.Node, path string) []Schedule {
	if isNull(v) {
		return nil
	}
	seq, ok := v.(*ast.SequenceNode)
	if !ok {
		d.c.add(posOf(v), path, "must be a list of schedules, got %s", kindOf(v))
		return nil
	}
	var out []Schedule
	first := map[string]Pos{}
	for i, item := range seq.Values {
		item = d.resolve(item)
		s, namePos := d.schedule(item, index(path, i))
		if namePos != (Pos{}) {
			if at, dup := first[s.Name]; dup {
				d.c.add(namePos, join(index(path, i), "name"), "duplicate schedule name %q (first defined at line %d)", s.Name, at.Line)
			} else {
				first[s.Name] = namePos
			}
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) schedule(v ast.Node, path string) (Schedule, Pos) {
	s := Schedule{Pos: posOf(v)}
	var namePos, cronPos, tzPos Pos
	d.mapping(v, path, fields{
		"name": func(v ast.Node) { s.Name, namePos = d.name(v, join(path, "name")) },
		"cron": func(v ast.Node) {
			if str, ok := d.str(v, join(path, "cron")); ok {
				s.Cron, cronPos = strings.TrimSpace(str), posOf(v)
			}
		},
		"branch": func(v ast.Node) {
			if isNull(v) {
				return
			}
			if str, ok := d.str(v, join(path, "branch")); ok {
				s.Branch = str
				if err := trigger.CheckBranch(str); err != nil {
					d.c.add(posOf(v), join(path, "branch"), "%s", err.Error())
				}
			}
		},
		"timezone": func(v ast.Node) {
			if isNull(v) {
				return
			}
			if str, ok := d.str(v, join(path, "timezone")); ok {
				s.Timezone, tzPos = str, posOf(v)
			}
		},
	}, "name", "cron")
	if cronPos == (Pos{}) {
		return s, namePos
	}
	// The zone is checked first so that a bad zone is reported at the
	// zone and a bad expression at the expression.
	if _, err := trigger.Location(s.Timezone); err != nil {
		d.c.add(tzPos, join(path, "timezone"), "%s", err.Error())
	} else if _, err := trigger.ParseCron(s.Cron, s.Timezone); err != nil {
		d.c.add(cronPos, join(path, "cron"), "%s", err.Error())
	}
	return s, namePos
}
