// Package metrics is gavel's Prometheus instrumentation, on a registry of its own (never the
// global one), served on the operator's --metrics-addr.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gavelbot/gavel/internal/executor"
)

// Metrics holds every series gavel exports. Labels are bounded: command names, outcomes,
// operation kinds, route templates and status classes — never guild or user ids.
type Metrics struct {
	Registry *prometheus.Registry

	commands      *prometheus.CounterVec
	discordCalls  *prometheus.CounterVec
	retries       *prometheus.CounterVec
	breakerState  *prometheus.GaugeVec
	actionLatency *prometheus.HistogramVec
	expiryRuns    *prometheus.CounterVec
	expiryLate    *prometheus.HistogramVec
	cases         *prometheus.CounterVec
	modlog        *prometheus.CounterVec

	callMu       sync.Mutex                 // serializes adding to callCounters
	callCounters atomic.Pointer[callSeries] // read without a lock on every REST call
}

// callSeries are the counters of gavel_discord_calls_total, by status and then by route
// ("PUT /guilds/{id}/bans/{id}"). The series are few (route templates times statuses), so
// their counters are kept: looking one up by its label values hashed and checked them on
// every call, 2% of gavel's CPU per command. A map is never changed once published: a new
// series publishes a copy. Keyed so that a lookup needs no string of its own: the route is
// built in a buffer on the stack and looked up as m[string(b)], which does not allocate.
type callSeries map[int]map[string]prometheus.Counter

// New registers gavel's metrics, and the Go runtime and process collectors, on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_commands_total", Help: "Moderation commands handled, by command and outcome (ok, refused, failed).",
		}, []string{"command", "outcome"}),
		discordCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_discord_calls_total", Help: "Discord REST calls, by route template and HTTP status (0: no response).",
		}, []string{"route", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_discord_retries_total", Help: "Retried Discord calls, by operation.",
		}, []string{"operation"}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gavel_breaker_state", Help: "Circuit breaker state per operation: 0 closed, 1 half-open, 2 open.",
		}, []string{"operation"}),
		actionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gavel_action_seconds",
			Help:    "Time from a moderation command's arrival to its last Discord call, by command.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"command"}),
		expiryRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_expiry_runs_total",
			Help: "Runs of scheduled expiry actions by this process, by kind and outcome (done, already_done, stale, superseded, cancelled, gave_up, retry).",
		}, []string{"kind", "outcome"}),
		expiryLate: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gavel_expiry_lateness_seconds",
			Help:    "Time from when a scheduled expiry action was due to when its outcome was recorded, by kind.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"kind"}),
		cases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_cases_total",
			Help: "Cases settled by the moderation pipeline, by path (command, expiry, audit_log, reconcile, automod), case type and status (active, voided).",
		}, []string{"path", "type", "status"}),
		modlog: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gavel_modlog_deliveries_total",
			Help: "Mod-log deliveries by this process, by outcome (posted, edited, skipped, gone, retry).",
		}, []string{"outcome"}),
	}
	m.Registry.MustRegister(m.commands, m.discordCalls, m.retries, m.breakerState, m.actionLatency, m.expiryRuns, m.expiryLate, m.cases, m.modlog,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// CaseSettled counts a case the pipeline settled: made active, or voided.
func (m *Metrics) CaseSettled(path, caseType, status string) {
	m.cases.WithLabelValues(path, caseType, status).Inc()
}

// ModlogDelivered counts one mod-log delivery by its outcome (modlog.Outcome).
func (m *Metrics) ModlogDelivered(outcome string) { m.modlog.WithLabelValues(outcome).Inc() }

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Command counts one handled command.
func (m *Metrics) Command(name, outcome string) { m.commands.WithLabelValues(name, outcome).Inc() }

// DiscordCall counts one REST call.
func (m *Metrics) DiscordCall(route string, status int) { m.discordCall([]byte(route), status) }

// discordCall counts one REST call to route, which it does not keep.
func (m *Metrics) discordCall(route []byte, status int) {
	if p := m.callCounters.Load(); p != nil {
		if c, ok := (*p)[status][string(route)]; ok {
			c.Inc()
			return
		}
	}
	m.callMu.Lock()
	defer m.callMu.Unlock()
	old := callSeries{}
	if p := m.callCounters.Load(); p != nil {
		old = *p
	}
	if c, ok := old[status][string(route)]; ok { // added meanwhile
		c.Inc()
		return
	}
	r := string(route)
	c := m.discordCalls.WithLabelValues(r, strconv.Itoa(status))
	next := make(callSeries, len(old)+1)
	for st, byRoute := range old {
		next[st] = byRoute
	}
	byRoute := make(map[string]prometheus.Counter, len(old[status])+1)
	for k, v := range old[status] {
		byRoute[k] = v
	}
	byRoute[r] = c
	next[status] = byRoute
	m.callCounters.Store(&next)
	c.Inc()
}

// ActionLatency records how long an action took.
func (m *Metrics) ActionLatency(command string, d time.Duration) {
	m.actionLatency.WithLabelValues(command).Observe(d.Seconds())
}

// ExpiryFinished counts a scheduled action that ended, and how late.
func (m *Metrics) ExpiryFinished(kind, outcome string, late time.Duration) {
	m.expiryRuns.WithLabelValues(kind, outcome).Inc()
	m.expiryLate.WithLabelValues(kind).Observe(max(late, 0).Seconds())
}

// ExpiryRetried counts a run that failed and will be retried.
func (m *Metrics) ExpiryRetried(kind string) { m.expiryRuns.WithLabelValues(kind, "retry").Inc() }

// WatchSchedule exports the schedule's backlog, read by counts at each scrape:
// gavel_expiry_open (actions still to run) and gavel_expiry_due (those already due). A
// failed read fails the scrape's two series rather than reporting a stale number.
func (m *Metrics) WatchSchedule(counts func(ctx context.Context) (open, due int64, err error)) {
	m.Registry.MustRegister(&scheduleCollector{
		counts: counts,
		open:   prometheus.NewDesc("gavel_expiry_open", "Scheduled expiry actions still to run (all processes sharing the database).", nil, nil),
		due:    prometheus.NewDesc("gavel_expiry_due", "Scheduled expiry actions already due and not yet finished: running, waiting for a worker, or waiting to retry.", nil, nil),
	})
}

// scheduleCollector exports two gauges read together at each scrape: the expiry schedule's
// (open, due) or the mod-log outbox's (queued, failing).
type scheduleCollector struct {
	counts    func(ctx context.Context) (open, due int64, err error)
	open, due *prometheus.Desc
}

func (c *scheduleCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.due }

func (c *scheduleCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	open, due, err := c.counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.open, err)
		ch <- prometheus.NewInvalidMetric(c.due, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(due))
}

// WatchModlog exports the mod log's outbox, read by counts at each scrape: gavel_modlog_queued
// (deliveries queued) and gavel_modlog_failing (those that failed at least once). A failed
// read fails the scrape's two series rather than reporting a stale number.
func (m *Metrics) WatchModlog(counts func(ctx context.Context) (queued, failing int64, err error)) {
	m.Registry.MustRegister(&scheduleCollector{
		counts: counts,
		open:   prometheus.NewDesc("gavel_modlog_queued", "Mod-log deliveries queued: waiting, being delivered, or waiting to be tried again (all processes sharing the database).", nil, nil),
		due:    prometheus.NewDesc("gavel_modlog_failing", "Queued mod-log deliveries that failed at least once and wait to be tried again.", nil, nil),
	})
}

// WatchDatabase exports gavel_database_up: 1 when the database answers a ping at the
// scrape, 0 when it does not. up does the ping (store.Health.Probe, which also logs an
// outage's start and end once), so the gauge shows an outage while no command runs.
func (m *Metrics) WatchDatabase(up func(ctx context.Context) bool) {
	m.Registry.MustRegister(&databaseCollector{up: up,
		desc: prometheus.NewDesc("gavel_database_up", "Whether gavel's database answered a ping at this scrape (1) or not (0).", nil, nil)})
}

type databaseCollector struct {
	up   func(ctx context.Context) bool
	desc *prometheus.Desc
}

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	v := 0.0
	if c.up(ctx) {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
}

// Retried implements executor.Observer.
func (m *Metrics) Retried(op executor.Op, _ int, _ error) {
	m.retries.WithLabelValues(string(op)).Inc()
}

// BreakerChanged implements executor.Observer.
func (m *Metrics) BreakerChanged(op executor.Op, state string) {
	v := 0.0
	switch state {
	case "half-open":
		v = 1
	case "open":
		v = 2
	}
	m.breakerState.WithLabelValues(string(op)).Set(v)
}

var _ executor.Observer = (*Metrics)(nil)

// Transport wraps next so that every Discord REST call is counted by route and status. The
// route is the request path with ids and interaction tokens replaced by placeholders, so the
// label set stays as small as Discord's list of endpoints.
func (m *Metrics) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		// The series' name in a buffer on the stack: a call to a route seen before allocates
		// nothing here (it runs on every REST call).
		var buf [128]byte
		b := append(buf[:0], r.Method...)
		b = append(b, ' ')
		m.discordCall(appendRouteTemplate(b, r.URL.Path), status)
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// RouteTemplate turns "/api/v10/guilds/123/bans/456" into "/guilds/{id}/bans/{id}", and the
// token after an interaction or webhook id into "{token}".
func RouteTemplate(path string) string {
	return string(appendRouteTemplate(make([]byte, 0, len(path)+8), path))
}

// appendRouteTemplate appends path's route template (RouteTemplate) to b.
func appendRouteTemplate(b []byte, path string) []byte {
	if i := strings.Index(path, "/api/v"); i >= 0 {
		path = path[i+len("/api/v"):]
		if j := strings.IndexByte(path, '/'); j >= 0 {
			path = path[j:]
		} else {
			path = ""
		}
	}
	path = strings.Trim(path, "/")
	// One pass into one buffer: it runs on every REST call.
	var prev2, prev1 string // the two segments before, as written
	for i := 0; ; i++ {
		seg, rest, more := strings.Cut(path, "/")
		out := seg
		switch {
		case seg != "" && strings.Trim(seg, "0123456789") == "":
			out = "{id}"
		case i >= 2 && (prev2 == "interactions" || prev2 == "webhooks") && prev1 == "{id}":
			out = "{token}"
		}
		b = append(b, '/')
		b = append(b, out...)
		if !more {
			return b
		}
		prev2, prev1, path = prev1, out, rest
	}
}

// Shards is what WatchShards reads at each scrape.
type Shards struct {
	Count                                int
	IdentifiesRemaining, IdentifiesTotal int
	Shards                               []Shard
}

// Shard is one shard this process runs.
type Shard struct {
	ID                              int
	Ready                           bool
	State                           string
	Latency                         time.Duration
	Identifies, Resumes, Reconnects int
	Events                          int64
}

// WatchShards exports the shards this process runs, read by read at each scrape:
// gavel_shard_count, gavel_shard_ready{shard}, gavel_shard_latency_seconds{shard} (heartbeat to
// ACK), gavel_shard_identifies_total{shard}, gavel_shard_resumes_total{shard},
// gavel_shard_reconnects_total{shard}, gavel_shard_events_total{shard}, and the day's identify budget as GET /gateway/bot last
// reported it (gavel_identify_remaining, gavel_identify_total). The shard label is bounded by
// the shards one process runs.
func (m *Metrics) WatchShards(read func() Shards) {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	m.Registry.MustRegister(&shardCollector{read: read,
		count:      d("gavel_shard_count", "The total number of shards the bot runs with (all processes)."),
		ready:      d("gavel_shard_ready", "Whether a shard this process runs is ready (1) or connecting, resuming or waiting (0); state names it.", "shard", "state"),
		latency:    d("gavel_shard_latency_seconds", "Time from a shard's last heartbeat to its ACK.", "shard"),
		identifies: d("gavel_shard_identifies_total", "IDENTIFYs sent by a shard since this process started it.", "shard"),
		resumes:    d("gavel_shard_resumes_total", "Sessions a shard resumed since this process started it.", "shard"),
		reconnects: d("gavel_shard_reconnects_total", "Connection attempts of a shard after its first.", "shard"),
		events:     d("gavel_shard_events_total", "Gateway events a shard's handlers have finished with since this process started it.", "shard"),
		remaining:  d("gavel_identify_remaining", "IDENTIFYs Discord still allows today (session_start_limit.remaining, as last read)."),
		total:      d("gavel_identify_total", "IDENTIFYs Discord allows a day (session_start_limit.total)."),
	})
}

type shardCollector struct {
	read                                                                             func() Shards
	count, ready, latency, identifies, resumes, reconnects, events, remaining, total *prometheus.Desc
}

func (c *shardCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.count, c.ready, c.latency, c.identifies, c.resumes, c.reconnects, c.events, c.remaining, c.total} {
		ch <- d
	}
}

func (c *shardCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.read()
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(s.Count))
	ch <- prometheus.MustNewConstMetric(c.remaining, prometheus.GaugeValue, float64(s.IdentifiesRemaining))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(s.IdentifiesTotal))
	for _, sh := range s.Shards {
		id := strconv.Itoa(sh.ID)
		ready := 0.0
		if sh.Ready {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready, id, sh.State)
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, sh.Latency.Seconds(), id)
		ch <- prometheus.MustNewConstMetric(c.identifies, prometheus.CounterValue, float64(sh.Identifies), id)
		ch <- prometheus.MustNewConstMetric(c.resumes, prometheus.CounterValue, float64(sh.Resumes), id)
		ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(sh.Reconnects), id)
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(sh.Events), id)
	}
}
