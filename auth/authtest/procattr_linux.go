package authtest

import "syscall"

// sysProcAttr makes the kernel kill a child when the test binary dies, so
// that no redis-server outlives a crashed or killed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
