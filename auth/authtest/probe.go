package authtest

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// AnswersPing reports whether a fresh connection to addr gets +PONG to an
// inline PING within 100 ms: the server accepts and serves again.
func AnswersPing(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// WhenAnswering polls addr with AnswersPing every millisecond in the
// background and sends the time of the first answer on the returned
// channel; stop ends the polling early.
func WhenAnswering(addr string) (at <-chan time.Time, stop func()) {
	ch := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if AnswersPing(addr) {
				ch <- time.Now()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var once sync.Once
	return ch, func() { once.Do(func() { close(done) }) }
}
