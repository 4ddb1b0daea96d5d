package jsonvalue

import (
	"slices"
	"unicode/utf16"
)

// JavaHashOrder returns keys in the order a java.util.HashMap iterates
// them after they were put into an empty one in turn: by hash bucket
// (String.hashCode, spread and masked by the table size, which starts at 16
// and doubles past a load of 3/4), and in insertion order within a bucket.
//
// Step Functions builds some objects in such a map, and its output shows
// it: a payload template's ".$" fields come out in this order after its
// plain fields (recorded: {"original_input.$", "iteration_input_value.$",
// "iteration_index.$", "from_input_constant.$", "constant_value"} gives
// constant_value, iteration_input_value, from_input_constant,
// iteration_index, original_input), and so do States.JsonMerge's members.
func JavaHashOrder(keys []string) []string {
	size := 16
	for len(keys) > size/4*3 {
		size *= 2
	}
	type slot struct {
		bucket int
		key    string
	}
	slots := make([]slot, len(keys))
	for i, k := range keys {
		slots[i] = slot{javaBucket(k, size), k}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return a.bucket - b.bucket })
	out := make([]string, len(keys))
	for i, s := range slots {
		out[i] = s.key
	}
	return out
}

// javaBucket is HashMap's bucket for a String key in a table of size
// buckets: hashCode over UTF-16 code units, its high half folded in.
func javaBucket(key string, size int) int {
	var h int32
	for _, r := range key {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	u := uint32(h)
	u ^= u >> 16
	return int(u & uint32(size-1))
}
