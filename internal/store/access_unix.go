//go:build unix

package store

import (
	"fmt"
	"io/fs"
	"syscall"
)

const (
	accessRead  = 0x4 // R_OK
	accessWrite = 0x2 // W_OK
	accessExec  = 0x1 // X_OK
)

// access asks the kernel whether this process may use path in mode (access(2)), which
// accounts for root, groups, ACLs and read-only mounts as a real open would.
func access(path string, mode uint32) error { return syscall.Access(path, mode) }

// owner names the file's owner, for messages.
func owner(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf(", owned by uid %d", st.Uid)
	}
	return ""
}
