package authtest

import (
	"context"
	"testing"
	"time"
)

func TestStartRedisStopRestart(t *testing.T) {
	r := StartRedis(t)
	c := r.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a started server: %v", err)
	}
	r.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatalf("PING on a stopped server succeeded")
	}
	r.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Errorf("got %d keys after restart, want 0 (no persistence)", n)
	}
}

func TestStartRedisArgs(t *testing.T) {
	r := StartRedis(t, "--maxmemory", "12345678")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.Client(t).ConfigGet(ctx, "maxmemory").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory"] != "12345678" {
		t.Errorf("got maxmemory %q, want %q", got["maxmemory"], "12345678")
	}
}
