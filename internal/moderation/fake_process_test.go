package moderation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gavelbot/gavel/internal/discordtest"
	"github.com/gavelbot/gavel/internal/syncbuf"
)

// benchFakeEnv, set, makes this test binary run the expiry benchmarks' fake Discord and
// nothing else (TestMain). Its value is a benchFakeSpec in JSON. The fake runs in a process
// of its own so that the benchmark's process is gavel (and the few lines of harness around
// it): its CPU is gavel's, and the fake's goroutines, heap and GC do not share its Go
// runtime. internal/app's BenchmarkCommandLatency separates them the same way, the other way
// round (gavel is the child there).
const benchFakeEnv = "GAVEL_BENCH_FAKE"

// benchFakeSpec is what the fake process seeds: one guild where the bot may ban, a mod-log
// channel, and Due users banned by the owner, with every rate limit lifted.
type benchFakeSpec struct {
	Due int
	// Latency holds every REST request back by this much (GAVEL_BENCH_LATENCY).
	Latency time.Duration
}

// benchFakeWorld is what the fake process seeded, sent back on its first line of output.
type benchFakeWorld struct {
	APIURL, Token                 string
	Bot, Owner, Guild, LogChannel discordtest.ID
	// Users are the banned users, as many as benchFakeSpec.Due.
	Users []discordtest.ID
}

// seedBenchFake makes the benchmarks' guild on s.
func seedBenchFake(s *discordtest.Server, due int) (benchFakeWorld, error) {
	w := benchFakeWorld{APIURL: s.APIURL(), Token: s.Token(), Bot: s.BotID()}
	w.Owner = s.AddUser("owner", false)
	w.Guild = s.AddGuild("big guild", w.Owner)
	// Every due unban is of a banned non-member: past Discord's cap of about 2,000 (which the
	// fake enforces since issue 14) the seeding itself would be refused with 30035.
	s.SetNonMemberBanCap(w.Guild, due)
	botRole := s.AddRole(w.Guild, "gavel", 1, discordtest.PermBanMembers|discordtest.PermViewChannel|discordtest.PermSendMessages|discordtest.PermEmbedLinks)
	s.AddMember(w.Guild, w.Bot, botRole)
	w.LogChannel = s.AddChannel(w.Guild, discordtest.ChannelGuildText, "mod-log")
	w.Users = make([]discordtest.ID, due)
	for i := range w.Users {
		w.Users[i] = s.AddUser(fmt.Sprintf("raider%d", i), false)
		if err := s.BanAs(w.Guild, w.Owner, w.Users[i], "raid"); err != nil {
			return w, fmt.Errorf("ban raider%d: %w", i, err)
		}
	}
	return w, nil
}

// runBenchFake runs the fake as spec says, writes the seeded world as one JSON line on out,
// then answers each line read from in: "cpu" with the CPU time this process has used, in
// nanoseconds; "unbans" with how many bans the bot has lifted in the guild (its audit log);
// "violations" with how many protocol violations the fake saw, then the first one's text.
// The end of in stops the fake.
func runBenchFake(specJSON string, in io.Reader, out, errOut io.Writer) int {
	var spec benchFakeSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", benchFakeEnv, err)
		return 2
	}
	var mu sync.Mutex
	var violations []string
	s, err := discordtest.Start("127.0.0.1:0",
		discordtest.WithGlobalRateLimit(0), discordtest.WithRouteLimit("*", 0, 0), discordtest.WithoutSpecValidation(),
		discordtest.WithReporter(func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			violations = append(violations, fmt.Sprintf(format, args...))
		}))
	if err != nil {
		fmt.Fprintf(errOut, "start the fake: %v\n", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	}()
	w, err := seedBenchFake(s, spec.Due)
	if err != nil {
		fmt.Fprintf(errOut, "seed the fake: %v\n", err)
		return 1
	}
	if spec.Latency > 0 {
		s.SetLatency("*", spec.Latency)
	}
	if err := json.NewEncoder(out).Encode(w); err != nil {
		fmt.Fprintf(errOut, "write the world: %v\n", err)
		return 1
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "cpu":
			d, err := ownCPU()
			if err != nil {
				fmt.Fprintln(errOut, err)
				return 1
			}
			fmt.Fprintln(out, int64(d))
		case "unbans":
			n := 0
			for _, e := range s.AuditLog(w.Guild) {
				if e.ActionType == discordtest.AuditMemberBanRemove && e.UserID == w.Bot {
					n++
				}
			}
			fmt.Fprintln(out, n)
		case "violations":
			mu.Lock()
			first := ""
			if len(violations) > 0 {
				first = strings.ReplaceAll(violations[0], "\n", " ")
			}
			fmt.Fprintf(out, "%d %s\n", len(violations), first)
			mu.Unlock()
		default:
			fmt.Fprintf(errOut, "unknown question %q\n", lines.Text())
			return 2
		}
	}
	return 0
}

// ownCPU is the CPU time this process has used so far, user and system.
func ownCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// benchFake is the fake Discord's process, started by startBenchFake.
type benchFake struct {
	benchFakeWorld
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *syncbuf.Buffer
	mu     sync.Mutex // one question at a time
}

// startBenchFake starts this test binary again as the fake (TestMain, benchFakeEnv), waits
// for its seeded world, and stops it (the end of its input) when b ends, failing b if the
// fake saw a protocol violation, as discordtest.New would.
func startBenchFake(b testing.TB, spec benchFakeSpec) *benchFake {
	b.Helper()
	js, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchFakeEnv+"="+string(js))
	f := &benchFake{stderr: &syncbuf.Buffer{}}
	cmd.Stderr = f.stderr
	if f.in, err = cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	f.out = bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// Asked without b.Fatal, which a cleanup must not call.
		if line, err := f.query("violations"); err != nil {
			b.Errorf("asking the fake for its protocol violations: %v; stderr:\n%s", err, f.stderr.String())
		} else if n, first, _ := strings.Cut(line, " "); n != "0" {
			b.Errorf("discordtest: %s protocol violations; the first: %s", n, first)
		}
		_ = f.in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("fake process: %v; stderr:\n%s", err, f.stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Errorf("fake process did not stop within 30s of its input ending; stderr:\n%s", f.stderr.String())
		}
	})
	line, err := f.out.ReadBytes('\n')
	if err != nil {
		b.Fatalf("reading the fake's world: %v; stderr:\n%s", err, f.stderr.String())
	}
	if err := json.Unmarshal(line, &f.benchFakeWorld); err != nil {
		b.Fatalf("the fake's world: %v", err)
	}
	return f
}

// query sends the fake process a question and returns its answer's line.
func (f *benchFake) query(question string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := fmt.Fprintln(f.in, question); err != nil {
		return "", fmt.Errorf("ask the fake %q: %w", question, err)
	}
	line, err := f.out.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the fake's %q: %w", question, err)
	}
	return strings.TrimSuffix(line, "\n"), nil
}

// askInt asks a question whose answer is a number.
func (f *benchFake) askInt(b testing.TB, question string) int64 {
	line, err := f.query(question)
	if err != nil {
		b.Fatalf("%v; stderr:\n%s", err, f.stderr.String())
	}
	n, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		b.Fatalf("the fake's %q %q: %v", question, line, err)
	}
	return n
}

// cpu is the CPU time the fake's process has used.
func (f *benchFake) cpu(b testing.TB) time.Duration { return time.Duration(f.askInt(b, "cpu")) }

// unbans is how many bans the bot has lifted in the guild.
func (f *benchFake) unbans(b testing.TB) int { return int(f.askInt(b, "unbans")) }
