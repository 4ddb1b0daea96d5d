package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/velocity-ci/velocity/internal/dora"
	"github.com/velocity-ci/velocity/internal/fault"
)

// The windows the pages offer, in days; the overview shows a month.
const (
	doraWeek    = 7
	doraMonth   = 30
	doraQuarter = 90
)

// doraRoutes serves /dora, every project's four keys over 30 days, and
// /projects/NAME/dora?days=7|30|90, one project's with its charts.
func (s *Site) doraRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /dora", s.doraOverview)
	mux.HandleFunc("GET /projects/{name}/dora", s.doraProject)
}

// doraRow is a project's line of the overview.
type doraRow struct {
	Project string
	Keys    []doraKey
}

// doraKey is one key as the pages show it.
type doraKey struct {
	// ID names the key in the page (data-key).
	ID, Name, Value, Detail string
	Band                    dora.Band
}

func (s *Site) doraOverview(w http.ResponseWriter, r *http.Request) {
	if s.Dora == nil {
		http.NotFound(w, r)
		return
	}
	reps, err := s.Dora.Overview(r.Context(), dora.Request{Days: doraMonth})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]doraRow, len(reps))
	for i, rep := range reps {
		rows[i] = doraRow{Project: rep.Project, Keys: doraKeys(rep)}
	}
	data := struct {
		Days        int
		Environment string
		Rows        []doraRow
	}{doraMonth, dora.DefaultEnvironment, rows}
	s.render(w, r, "dora_overview", "DORA four keys", "dora", data)
}

// doraPage is the data of a project's page.
type doraPage struct {
	Project     string
	Environment string
	Days        int
	Windows     []int
	Period      string
	Keys        []doraKey
	Charts      []doraChart
	Buckets     []dora.Bucket
}

func (s *Site) doraProject(w http.ResponseWriter, r *http.Request) {
	if s.Dora == nil {
		http.NotFound(w, r)
		return
	}
	days := doraMonth
	if q := r.URL.Query().Get("days"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || (n != doraWeek && n != doraMonth && n != doraQuarter) {
			http.Error(w, fmt.Sprintf("days=%q: the window is 7, 30 or 90 days", q), http.StatusBadRequest)
			return
		}
		days = n
	}
	rep, err := s.Dora.Keys(r.Context(), dora.Request{Project: r.PathValue("name"), Days: days})
	if errors.Is(err, fault.NotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := doraPage{
		Project: rep.Project, Environment: rep.Environment, Days: rep.Days, Windows: []int{doraWeek, doraMonth, doraQuarter},
		Period: rep.From.Format("2006-01-02") + " to " + rep.To.AddDate(0, 0, -1).Format("2006-01-02") + " UTC",
		Keys:   doraKeys(rep), Charts: doraCharts(rep), Buckets: rep.LeadTime.Buckets,
	}
	s.render(w, r, "dora", rep.Project+" · DORA four keys", "dora", page)
}

// doraKeys puts a report's four keys in words, in the order DORA lists
// them.
func doraKeys(rep dora.Report) []doraKey {
	f, lt, cf, rs := rep.Frequency, rep.LeadTime, rep.FailureRate, rep.Restore
	keys := []doraKey{
		{ID: "deployment-frequency", Name: "Deployment frequency", Value: fmt.Sprintf("%.2f / day", f.PerDay),
			Detail: doraPlural(f.Deploys, "deploy"), Band: f.Band},
		{ID: "lead-time", Name: "Lead time for changes", Value: "-",
			Detail: doraPlural(len(lt.Changes), "change"), Band: lt.Band},
		{ID: "change-failure-rate", Name: "Change failure rate", Value: "-",
			Detail: fmt.Sprintf("%d of %s failed", cf.Failures, doraPlural(cf.Changes, "change")), Band: cf.Band},
		{ID: "time-to-restore", Name: "Time to restore", Value: "-",
			Detail: fmt.Sprintf("%d of %s restored", rs.Restored, doraPlural(len(rs.Recoveries), "failure")), Band: rs.Band},
	}
	if len(lt.Changes) > 0 {
		keys[1].Value = dora.Span(lt.Median)
	}
	if cf.Changes > 0 {
		keys[2].Value = fmt.Sprintf("%.0f%%", cf.Rate*100)
	}
	if rs.Restored > 0 {
		keys[3].Value = dora.Span(rs.Median)
	}
	return keys
}

func doraPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// doraChart is an SVG chart drawn on the server: marks in a plot area, with
// the top of the vertical scale and a few dates along the bottom.
type doraChart struct {
	// ID names the chart in the page (data-chart).
	ID, Title string
	W, H      float64
	// Top labels the top of the vertical scale.
	Top    string
	Marks  []doraMark
	Ticks  []doraTick
	Bottom float64
	Left   float64
	Right  float64
}

// doraMark is a bar (W > 0) or a dot, with a tooltip.
type doraMark struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type doraTick struct {
	X     float64
	Label string
}

// Chart geometry, in SVG user units.
const (
	doraChartW, doraChartH     = 560.0, 160.0
	doraPlotLeft, doraPlotTop  = 48.0, 10.0
	doraPlotRight              = doraChartW - 8
	doraPlotBottom             = doraChartH - 22
	doraPlotWidth, doraPlotHgt = doraPlotRight - doraPlotLeft, doraPlotBottom - doraPlotTop
)

// newDoraChart starts a chart over rep's window with date ticks.
func newDoraChart(id, title string, rep dora.Report) doraChart {
	c := doraChart{ID: id, Title: title, W: doraChartW, H: doraChartH, Bottom: doraPlotBottom, Left: doraPlotLeft, Right: doraPlotRight}
	step := max(1, len(rep.Series)/6)
	for i := 0; i < len(rep.Series); i += step {
		c.Ticks = append(c.Ticks, doraTick{X: doraDayX(rep, i) + doraDayWidth(rep)/2, Label: rep.Series[i].Date.Format("01-02")})
	}
	return c
}

func doraDayWidth(rep dora.Report) float64 { return doraPlotWidth / float64(len(rep.Series)) }

func doraDayX(rep dora.Report, i int) float64 { return doraPlotLeft + float64(i)*doraDayWidth(rep) }

// doraTimeX places an instant of the window.
func doraTimeX(rep dora.Report, t time.Time) float64 {
	return doraPlotLeft + doraPlotWidth*float64(t.Sub(rep.From))/float64(rep.To.Sub(rep.From))
}

// doraBar is a day's bar of height v on a scale up to top.
func doraBar(rep dora.Report, i int, v, top float64, class, title string) doraMark {
	h := doraPlotHgt * v / top
	w := doraDayWidth(rep)
	return doraMark{X: doraDayX(rep, i) + w*0.1, Y: doraPlotBottom - h, W: w * 0.8, H: h, Class: class, Title: title}
}

// doraCharts draws the report's series: deploys per day, each change's
// lead time, the change failure rate per day and each failure's time to
// restore.
func doraCharts(rep dora.Report) []doraChart {
	deploys := newDoraChart("deploys", "Deploys per day", rep)
	failure := newDoraChart("failure-rate", "Change failure rate per day", rep)
	top := 1
	for _, d := range rep.Series {
		top = max(top, d.Deploys)
	}
	deploys.Top = strconv.Itoa(top)
	failure.Top = "100%"
	for i, d := range rep.Series {
		date := d.Date.Format("2006-01-02")
		if d.Deploys > 0 {
			deploys.Marks = append(deploys.Marks, doraBar(rep, i, float64(d.Deploys), float64(top), "deploy", fmt.Sprintf("%s: %s", date, doraPlural(d.Deploys, "deploy"))))
		}
		if d.Changes > 0 {
			rate := float64(d.Failures) / float64(d.Changes)
			failure.Marks = append(failure.Marks, doraBar(rep, i, rate, 1, "rate", fmt.Sprintf("%s: %d of %s failed (%.0f%%)", date, d.Failures, doraPlural(d.Changes, "change"), rate*100)))
		}
	}

	lead := newDoraChart("lead-time", "Lead time of each change", rep)
	var longest time.Duration
	for _, c := range rep.LeadTime.Changes {
		longest = max(longest, c.Lead)
	}
	lead.Top = dora.Span(longest)
	for _, c := range rep.LeadTime.Changes {
		y := doraPlotBottom
		if longest > 0 {
			y -= doraPlotHgt * float64(c.Lead) / float64(longest)
		}
		lead.Marks = append(lead.Marks, doraMark{X: doraTimeX(rep, c.Deployed), Y: y, Class: "lead",
			Title: fmt.Sprintf("%.12s: %s from commit to live", c.Commit, dora.Span(c.Lead))})
	}

	restore := newDoraChart("time-to-restore", "Time to restore each failure", rep)
	var slowest time.Duration
	for _, rc := range rep.Restore.Recoveries {
		slowest = max(slowest, rc.Took)
	}
	restore.Top = dora.Span(slowest)
	for _, rc := range rep.Restore.Recoveries {
		m := doraMark{X: doraTimeX(rep, rc.Failed), Y: doraPlotTop, Class: "unrestored",
			Title: fmt.Sprintf("%s %s: not restored yet", rc.Service, rc.Release)}
		if !rc.Restored.IsZero() {
			m.Class, m.Title = "restore", fmt.Sprintf("%s %s: restored in %s", rc.Service, rc.Release, dora.Span(rc.Took))
			m.Y = doraPlotBottom
			if slowest > 0 {
				m.Y -= doraPlotHgt * float64(rc.Took) / float64(slowest)
			}
		}
		restore.Marks = append(restore.Marks, m)
	}
	return []doraChart{deploys, lead, failure, restore}
}
