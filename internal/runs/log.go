package runs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// LogHandler returns a slog.Handler that turns log records into
// messages of a run's stream — the console shows them as "[stage/action]
// warning: message (key=value): error" above the live view or among the
// plain lines, instead of a text handler's "time=… level=WARN msg=…" lines
// cutting through the view on stderr. It lets through the records that
// filter enables (the level the user chose) and uses filter for nothing
// else. An "action" attribute names the message's action; an "err"
// attribute ends its text.
func LogHandler(filter slog.Handler, emit func(Message)) slog.Handler {
	return &logHandler{emit: emit, filter: filter}
}

type logHandler struct {
	emit   func(Message)
	filter slog.Handler
	// attrs were added by WithAttrs, their keys already qualified by the
	// groups open at the time.
	attrs []slog.Attr
	group string // "a.b." prefix of the open groups
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.filter.Enabled(ctx, l)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), qualify(h.group, attrs)...)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group += name + "."
	return &c
}

// qualify flattens groups and prefixes keys with the open groups.
func qualify(prefix string, attrs []slog.Attr) []slog.Attr {
	var out []slog.Attr
	for _, a := range attrs {
		a.Value = a.Value.Resolve()
		if a.Value.Kind() == slog.KindGroup {
			p := prefix
			if a.Key != "" {
				p += a.Key + "."
			}
			out = append(out, qualify(p, a.Value.Group())...)
			continue
		}
		if a.Key == "" {
			continue
		}
		a.Key = prefix + a.Key
		out = append(out, a)
	}
	return out
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	var own []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		own = append(own, a)
		return true
	})
	attrs = append(attrs, qualify(h.group, own)...)

	var m Message
	var err string
	var notes []string
	for _, a := range attrs {
		switch {
		case a.Key == "action" && a.Value.Kind() == slog.KindString:
			m.Action = a.Value.String()
		case a.Key == "err":
			err = a.Value.String()
		default:
			notes = append(notes, a.Key+"="+quoteIfNeeded(a.Value.String()))
		}
	}
	var b strings.Builder
	b.WriteString(r.Message)
	if len(notes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
	}
	if err != "" {
		b.WriteString(": ")
		b.WriteString(err)
	}
	m.Level = levelWord(r.Level)
	// An error may carry several lines (a deploy's instance output).
	m.Text = strings.TrimRight(b.String(), "\n")
	h.emit(m)
	return nil
}

func levelWord(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " =\"") {
		return strconv.Quote(s)
	}
	return s
}
