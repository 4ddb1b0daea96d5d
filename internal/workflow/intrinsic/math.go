package intrinsic

import (
	"encoding/json"
	"fmt"
	"math"
	randv2 "math/rand/v2"
	"strconv"
)

func evalMathRandom(_ *Call, args []any) (any, error) {
	start, err := truncArg(args[0], "start")
	if err != nil {
		return nil, err
	}
	end, err := truncArg(args[1], "end")
	if err != nil {
		return nil, err
	}
	if start >= end {
		return nil, fmt.Errorf("the start (%d) must be less than the end (%d)", start, end)
	}
	span := end - start
	if span > math.MaxInt32 {
		return nil, fmt.Errorf("the range from %d to %d is too wide", start, end)
	}
	var n int64
	if len(args) == 3 {
		seed, err := truncArg(args[2], "seed")
		if err != nil {
			return nil, err
		}
		// The same seed gives the same number: a java.util.Random draw.
		n = int64(newJavaRandom(seed).nextInt(int32(span)))
	} else {
		n = randv2.Int64N(span)
	}
	return json.Number(strconv.FormatInt(start+n, 10)), nil
}

func evalMathAdd(_ *Call, args []any) (any, error) {
	a, err := roundArg(args[0], "first")
	if err != nil {
		return nil, err
	}
	b, err := roundArg(args[1], "second")
	if err != nil {
		return nil, err
	}
	for _, v := range []int64{a, b, a + b} {
		if v < mathAddMin || v > mathAddMax {
			return nil, fmt.Errorf("the value %d is outside the range %d to %d", v, int64(mathAddMin), int64(mathAddMax))
		}
	}
	return json.Number(strconv.FormatInt(a+b, 10)), nil
}

// javaRandom is java.util.Random's generator, so that a seeded
// States.MathRandom draws what a JVM would.
type javaRandom struct{ seed int64 }

const (
	javaMultiplier = 0x5DEECE66D
	javaMask       = (1 << 48) - 1
)

func newJavaRandom(seed int64) *javaRandom {
	return &javaRandom{seed: (seed ^ javaMultiplier) & javaMask}
}

func (r *javaRandom) next(bits uint) int32 {
	r.seed = (r.seed*javaMultiplier + 0xB) & javaMask
	return int32(uint64(r.seed) >> (48 - bits))
}

func (r *javaRandom) nextInt(bound int32) int32 {
	if bound&(-bound) == bound {
		return int32((int64(bound) * int64(r.next(31))) >> 31)
	}
	for {
		bits := r.next(31)
		val := bits % bound
		if bits-val+(bound-1) >= 0 {
			return val
		}
	}
}
