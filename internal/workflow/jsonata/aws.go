package jsonata

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	mrand "math/rand/v2"

	"github.com/velocity-ci/velocity/internal/workflow/intrinsic"
	"github.com/velocity-ci/velocity/internal/workflow/jsonvalue"
)

// awsFunctions adds the functions Step Functions defines for JSONata
// states, the counterparts of the States.* intrinsics.
func awsFunctions(t map[string]*builtin) {
	def(t, "partition", "<an:a>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		items, _ := arr(a[0])
		size, ok := num(a[1])
		if !ok || size < 1 || size != math.Trunc(size) {
			return nil, newError("D3150", pos, "The second argument of $partition must be a positive integer, got %s", display(a[1]))
		}
		out := []any{}
		for i := 0; i < len(items); i += int(size) {
			end := min(len(items), i+int(size))
			out = append(out, append([]any(nil), items[i:end]...))
		}
		return out, nil
	})
	def(t, "range", "<nnn:a<n>>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		start, ok1 := num(a[0])
		end, ok2 := num(a[1])
		step, ok3 := num(a[2])
		if !ok1 || !ok2 || !ok3 {
			return nil, newError("D3151", pos, "$range needs three numbers: start, end and step")
		}
		if step == 0 {
			return nil, newError("D3151", pos, "The step of $range must not be 0")
		}
		out := []any{}
		for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
			out = append(out, v)
			if err := ev.checkLen(pos, len(out)); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
	def(t, "hash", "<xs:s>", func(ev *evaluator, a []any, _ any, pos int) (any, error) {
		if isUndef(a[0]) {
			return Undefined, nil
		}
		s, err := stringify(a[0], false, pos)
		if err != nil {
			return nil, err
		}
		alg, _ := a[1].(string)
		sum, ok := intrinsic.HashHex(alg, s)
		if !ok {
			return nil, newError("D3152", pos, "Unsupported $hash algorithm %q: use MD5, SHA-1, SHA-256, SHA-384 or SHA-512", alg)
		}
		return sum, nil
	})
	def(t, "random", "<n?:n>", func(ev *evaluator, a []any, _ any, _ int) (any, error) {
		if seed, ok := num(a[0]); ok {
			r := mrand.New(mrand.NewPCG(uint64(int64(seed)), math.Float64bits(seed)))
			return r.Float64(), nil
		}
		return ev.rand().Float64(), nil
	})
	def(t, "uuid", "<:s>", func(_ *evaluator, _ []any, _ any, _ int) (any, error) {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
	})
	def(t, "parse", "<s-:j>", func(_ *evaluator, a []any, _ any, pos int) (any, error) {
		s, ok := a[0].(string)
		if !ok {
			return Undefined, nil
		}
		v, err := jsonvalue.Decode([]byte(s))
		if err != nil {
			return nil, newError("D3153", pos, "$parse: the argument is not valid JSON: %v", err)
		}
		return v, nil
	})
}

func (ev *evaluator) rand() *mrand.Rand {
	if ev.rng == nil {
		var seed [16]byte
		_, _ = rand.Read(seed[:])
		ev.rng = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return ev.rng
}
