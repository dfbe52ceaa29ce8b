package redisstore

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// tripCounter is a go-redis hook counting round trips (a command alone or
// a pipeline) and the commands in them, but for the HELLO of each new
// connection.
type tripCounter struct{ trips, cmds atomic.Int64 }

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" {
			c.trips.Add(1)
			c.cmds.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.trips.Add(1)
		c.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// serverCPU is the CPU time redis-server has used (INFO cpu, user+sys).
func serverCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
		_, rest, _ := strings.Cut(info, f)
		v, _ := strconv.ParseFloat(strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0]), 64)
		total += v
	}
	return time.Duration(total * float64(time.Second))
}

// BenchmarkJTIRevokedMisses has goroutines look up distinct jtis that are
// not cached (each lookup a new jti; none revoked), the load of many
// tokens each seen less often than the cache TTL. It reports the Redis
// round trips and commands per lookup, and redis-server's CPU time per
// lookup (INFO cpu; less noisy than ns/op on a shared machine).
func BenchmarkJTIRevokedMisses(b *testing.B) {
	r := authtest.StartRedis(b)
	rdb := r.Client(b)
	for _, par := range []int{1, 8, 64} {
		// RunParallel starts par×GOMAXPROCS goroutines.
		b.Run(fmt.Sprintf("goroutines=%d", par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
			// A long timeout: with many goroutines and one lookup per
			// round trip, waiting for a pooled connection can exceed
			// DefaultTimeout, which would end the benchmark.
			s := newStore(b, Options{Addrs: []string{r.Addr}, Timeout: 10 * time.Second})
			waitSubscribed(b, s)
			var tc tripCounter
			s.rdb.AddHook(&tc)
			var seq atomic.Int64
			ctx := context.Background()
			cpu0 := serverCPU(b, rdb)
			b.SetParallelism(par)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					jti := "j" + strconv.FormatInt(seq.Add(1), 10)
					if _, err := s.JTIRevoked(ctx, jti); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			n := float64(seq.Load())
			b.ReportMetric((serverCPU(b, rdb)-cpu0).Seconds()*1e6/n, "redis-cpu-µs/lookup")
			b.ReportMetric(float64(tc.trips.Load())/n, "trips/lookup")
			b.ReportMetric(float64(tc.cmds.Load())/n, "cmds/lookup")
		})
	}
}
