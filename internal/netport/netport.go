// Package netport picks the loopback TCP ports that deployed instances
// and sidecars listen on, within a range the user may bound
// (--port-range, port_range in velocity.yml) so that a firewall or
// other programs can count on which ports Velocity takes.
package netport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// host is where every port is picked: instances and sidecars listen on
// the loopback address only.
const host = "127.0.0.1"

// Range is an inclusive range of ports; the zero Range means any port
// the kernel hands out.
type Range struct {
	Low, High int
	// Source says where the range was set ("--port-range",
	// "velocity.yml:3:13"), for messages; it is not part of the range.
	Source string
}

// Parse reads "LOW-HIGH" or a single port "PORT"; source goes into the
// Range for messages.
func Parse(s, source string) (Range, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		hi = lo
	}
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return Range{}, fmt.Errorf("%q is not a port range; write LOW-HIGH, such as 41000-41099", s)
	}
	r := Range{Low: l, High: h, Source: source}
	return r, r.Validate()
}

// Validate checks that the range holds ports an unprivileged program can
// listen on.
func (r Range) Validate() error {
	switch {
	case r.Low < 1024 || r.High > 65535:
		return fmt.Errorf("port range %d-%d: ports must be between 1024 and 65535", r.Low, r.High)
	case r.Low > r.High:
		return fmt.Errorf("port range %d-%d: the low port is above the high one", r.Low, r.High)
	}
	return nil
}

// IsZero reports whether r leaves the choice to the kernel.
func (r Range) IsZero() bool { return r.Low == 0 && r.High == 0 }

// Size is the number of ports in r.
func (r Range) Size() int { return r.High - r.Low + 1 }

// String reads "41000-41099".
func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Low, r.High) }

// Contains reports whether port is in r (any port for the zero Range).
func (r Range) Contains(port int) bool {
	return r.IsZero() || port >= r.Low && port <= r.High
}

// FullError is a range without enough free ports.
type FullError struct {
	Range Range
	// Want is how many ports were asked for at once.
	Want int
	// Held are ports of the range Velocity handed out and still uses;
	// Busy those other programs listen on.
	Held, Busy int
}

func (e *FullError) Error() string {
	where := ""
	if e.Range.Source != "" {
		where = " (" + e.Range.Source + ")"
	}
	return fmt.Sprintf("no free port in port range %s%s for %d more: of its %d %s, %d %s used by Velocity's instances and sidecars and %d by other programs; widen the range",
		e.Range, where, e.Want, e.Range.Size(), plural(e.Range.Size(), "port"), e.Held, plural(e.Held, "is"), e.Busy)
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return word
	case word == "is":
		return "are"
	}
	return word + "s"
}

// Picker hands out free ports. A port it handed out is not handed out
// again until Release, even while nothing listens on it yet (a program
// that is still starting), so that instances and sidecars started at
// the same moment never get the same port. Other programs are avoided by
// binding each port before it is handed out. The zero Picker is ready;
// it is safe for concurrent use.
type Picker struct {
	mu   sync.Mutex
	held map[int]bool
	// next is where the next scan of a range starts: handing ports out
	// in rotation keeps a port just released (whose old program may
	// still have connections in TIME_WAIT) from being reused at once.
	next map[[2]int]int
}

// kernelTries bounds the retries when the kernel's pick is a port this
// Picker still holds for a program that has not bound it yet.
const kernelTries = 20

// Pick returns n distinct free ports in r (any free ports for the zero
// Range). Every port is bound while the others are picked, so the
// kernel cannot hand one out twice; the listeners are closed before Pick
// returns, and a program outside Velocity could still take a port before
// its instance binds it (the deploy then starts the instance anew on
// another port).
func (p *Picker) Pick(r Range, n int) ([]int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held, p.next = map[int]bool{}, map[[2]int]int{}
	}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	if r.IsZero() {
		for len(ports) < n {
			port, l, err := p.kernelPort()
			if err != nil {
				return nil, err
			}
			listeners = append(listeners, l)
			ports = append(ports, port)
		}
	} else {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		key := [2]int{r.Low, r.High}
		start := p.next[key]
		held, busy := 0, 0
		for i := 0; i < r.Size() && len(ports) < n; i++ {
			port := r.Low + (start+i)%r.Size()
			if p.held[port] {
				held++
				continue
			}
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
					return nil, fmt.Errorf("pick a port in %s: %w", r, err)
				}
				busy++
				continue
			}
			listeners = append(listeners, l)
			ports = append(ports, port)
			p.next[key] = (start + i + 1) % r.Size()
		}
		if len(ports) < n {
			return nil, &FullError{Range: r, Want: n - len(ports), Held: held, Busy: busy}
		}
	}
	for _, port := range ports {
		p.held[port] = true
	}
	return ports, nil
}

// kernelPort asks the kernel for a free port this Picker does not hold.
func (p *Picker) kernelPort() (int, net.Listener, error) {
	var skipped []net.Listener
	defer func() {
		for _, l := range skipped {
			l.Close()
		}
	}()
	for range kernelTries {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, nil, fmt.Errorf("pick a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !p.held[port] {
			return port, l, nil
		}
		skipped = append(skipped, l) // kept open so the kernel moves on
	}
	return 0, nil, fmt.Errorf("pick a free port: the kernel offered only ports Velocity still holds %d times in a row", kernelTries)
}

// Release hands ports back once what listened on them has stopped.
func (p *Picker) Release(ports ...int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, port := range ports {
		delete(p.held, port)
	}
}

// Taken reports whether something else listens on port now: binding it
// fails with EADDRINUSE. Call it while the port's own program is down.
func Taken(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return errors.Is(err, syscall.EADDRINUSE)
	}
	l.Close()
	return false
}
