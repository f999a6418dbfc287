package leanhttp

import "syscall"

// peeker checks whether an idle connection is still open: a peek at its socket that does
// not block finds nothing to read (EAGAIN). The server's close (a read of 0), a reset or
// stray bytes mean it is not to be written to. Its function is made once per connection
// (a closure made per check would be an allocation per request).
type peeker struct {
	fn func(fd uintptr) bool
	ok bool
	b  [1]byte
}

func (p *peeker) init() {
	p.fn = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.ok = err == syscall.EAGAIN
		return true
	}
}

func (p *peeker) open(raw syscall.RawConn) bool {
	if raw == nil || p.fn == nil {
		return true
	}
	p.ok = false
	return raw.Read(p.fn) == nil && p.ok
}
