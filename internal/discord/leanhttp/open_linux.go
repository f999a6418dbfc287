package leanhttp

import "syscall"

// open reports whether an idle connection is still open: a peek at its socket that does
// not block finds nothing to read (EAGAIN). The server's close (a read of 0), a reset or
// stray bytes mean it is not to be written to.
func open(raw syscall.RawConn) bool {
	if raw == nil {
		return true
	}
	ok := false
	var b [1]byte
	err := raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN
		return true
	})
	return err == nil && ok
}
