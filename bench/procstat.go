package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Server processes are measured from /proc: CPU time (utime + stime in
// /proc/<pid>/stat, what process_cpu_seconds_total reads) and peak RSS
// (VmHWM in /proc/<pid>/status, reset to the current RSS by writing 5 to
// /proc/<pid>/clear_refs when a measurement starts).

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times; 100 on every
// Linux architecture Go supports.
const clockTick = 100

// withChildren is pid and its children (nginx: master and workers).
func withChildren(pid int) []int {
	pids := []int{pid}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		f, err := statFields(d)
		if err == nil && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if child, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil {
				pids = append(pids, child)
			}
		}
	}
	return pids
}

// statFields are /proc/<pid>/stat's fields after the command name: [0] is
// the state, [1] the parent pid, [11] utime, [12] stime.
func statFields(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("%s: no command name", path)
	}
	return strings.Fields(s[i+1:]), nil
}

// cpuTime is the CPU time pids have used so far.
func cpuTime(pids []int) (time.Duration, error) {
	var ticks int64
	for _, pid := range pids {
		f, err := statFields(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
		}
		for _, v := range f[11:13] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, err
			}
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTick, nil
}

// resetPeak sets each process's VmHWM to its current RSS.
func resetPeak(pids []int) error {
	for _, pid := range pids {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			return err
		}
	}
	return nil
}

// peakRSS is the sum of the processes' VmHWM, in bytes.
func peakRSS(pids []int) (float64, error) {
	var kb float64
	for _, pid := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(f)
		found := false
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				if err != nil {
					f.Close()
					return 0, err
				}
				kb, found = kb+n, true
			}
		}
		f.Close()
		if !found {
			return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
		}
	}
	return kb * 1024, nil
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
