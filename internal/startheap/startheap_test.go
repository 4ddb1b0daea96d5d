package startheap

import (
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func settings() (gogc, limit uint64) {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64()
}

// Until the first collection the memory limit alone starts one; after it
// the collector is back to its defaults.
func TestDefaultsAfterFirstCollection(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT is set: the package leaves the collector alone")
	}
	var st runtime.MemStats
	runtime.ReadMemStats(&st)
	t.Logf("collections so far: %d", st.NumGC)
	if st.NumGC == 0 {
		gogc, limit := settings()
		if int64(gogc) != -1 && gogc != math.MaxUint64 || limit != Size {
			t.Fatalf("before the first collection: GOGC %d, limit %d; want off and %d", int64(gogc), limit, Size)
		}
	}
	runtime.GC()
	for deadline := time.Now().Add(10 * time.Second); ; {
		gogc, limit := settings()
		if gogc == 100 && limit == math.MaxInt64 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the first collection: GOGC %d, limit %d; want 100 and no limit", int64(gogc), limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
