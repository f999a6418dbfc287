//go:build !linux

package leanhttp

import "syscall"

// peeker cannot peek at a socket here: an idle connection the server closed is found out
// when used (and an idempotent request sent again on a new one).
type peeker struct{}

func (p *peeker) init() {}

func (p *peeker) open(syscall.RawConn) bool { return true }
