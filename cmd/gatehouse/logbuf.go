package main

import (
	"bufio"
	"io"
	"os"
	"sync"
	"time"
)

// logBuffer batches log lines on their way to a file or pipe: one write
// system call per request is a measurable share of a proxy's CPU. Lines are
// written whole (slog hands over one line per Write), flushed every
// interval and by Close, so a crash loses at most one interval of lines.
type logBuffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// bufferedLog returns w buffered when it is a file (stdout in production),
// and w itself otherwise (tests read what they pass in at once). close
// flushes and stops the flusher.
func bufferedLog(w io.Writer, every time.Duration) (out io.Writer, close func()) {
	if _, ok := w.(*os.File); !ok {
		return w, func() {}
	}
	b := &logBuffer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go b.flushLoop(every)
	return b, b.close
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

func (b *logBuffer) flush() {
	b.mu.Lock()
	_ = b.w.Flush()
	b.mu.Unlock()
}

func (b *logBuffer) flushLoop(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.flush()
			return
		case <-t.C:
			b.flush()
		}
	}
}

func (b *logBuffer) close() {
	close(b.stop)
	<-b.done
}
