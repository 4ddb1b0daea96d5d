package cli

import (
	"fmt"
	"strconv"
	"strings"
)

// defaultCacheSize bounds the blob store when nothing else is said.
const defaultCacheSize = 10 << 30

// cacheLimit parses --cache-size (or $VELOCITY_CACHE_SIZE).
func (a *app) cacheLimit(flag string) (int64, error) {
	s := flag
	if s == "" {
		s = a.getenv("VELOCITY_CACHE_SIZE")
	}
	if s == "" {
		return defaultCacheSize, nil
	}
	n, err := parseSize(s)
	if err != nil {
		return 0, usageError("--cache-size: %v", err)
	}
	return n, nil
}

// parseSize reads sizes such as 500MB, 10GB, 1.5GiB or a byte count.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 500MB, 10GB)", s)
	}
	return int64(f * float64(mult)), nil
}
