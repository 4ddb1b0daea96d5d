package jsonvalue

import (
	"iter"
	"maps"
)

// indexFrom is the size from which an object keeps a map from key to
// position; below it a linear scan is quicker than hashing.
const indexFrom = 16

// Object is a JSON object that keeps its members in order: new keys go at
// the end, setting an existing key keeps its place. The zero value is an
// empty object ready to use. An Object is not safe for concurrent writes,
// and concurrent reads are safe only while nobody writes.
type Object struct {
	members []Member
	index   map[string]int // key -> position in members, when len >= indexFrom
}

// Member is one key and its value.
type Member struct {
	Key   string
	Value any
}

// NewObject returns an empty object with room for n members.
func NewObject(n int) *Object {
	return &Object{members: make([]Member, 0, n)}
}

// Len is the number of members.
func (o *Object) Len() int { return len(o.members) }

// Get returns the value of key and whether the object has it.
func (o *Object) Get(key string) (any, bool) {
	if i := o.find(key); i >= 0 {
		return o.members[i].Value, true
	}
	return nil, false
}

// Has reports whether the object has key.
func (o *Object) Has(key string) bool { return o.find(key) >= 0 }

// Set gives key the value: in its place when the object has it, else as
// a new last member.
func (o *Object) Set(key string, value any) {
	if i := o.find(key); i >= 0 {
		o.members[i].Value = value
		return
	}
	o.members = append(o.members, Member{Key: key, Value: value})
	switch n := len(o.members); {
	case o.index != nil:
		o.index[key] = n - 1
	case n >= indexFrom:
		o.reindex()
	}
}

// Delete removes key, keeping the order of the others.
func (o *Object) Delete(key string) {
	i := o.find(key)
	if i < 0 {
		return
	}
	o.members = append(o.members[:i], o.members[i+1:]...)
	if o.index != nil {
		o.reindex()
	}
}

// Keys returns the keys in order.
func (o *Object) Keys() []string {
	keys := make([]string, len(o.members))
	for i, m := range o.members {
		keys[i] = m.Key
	}
	return keys
}

// All yields the members in order.
func (o *Object) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for _, m := range o.members {
			if !yield(m.Key, m.Value) {
				return
			}
		}
	}
}

// Members returns the members in order; the slice is the object's own and
// must not be modified.
func (o *Object) Members() []Member { return o.members }

// Clone returns a shallow copy (the values are shared) with room for one
// more member, for the copy-on-write changes ResultPath makes.
func (o *Object) Clone() *Object {
	c := &Object{members: make([]Member, len(o.members), len(o.members)+1)}
	copy(c.members, o.members)
	if o.index != nil {
		c.index = maps.Clone(o.index)
	}
	return c
}

func (o *Object) find(key string) int {
	if o == nil {
		return -1
	}
	if o.index != nil {
		if i, ok := o.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range o.members {
		if o.members[i].Key == key {
			return i
		}
	}
	return -1
}

func (o *Object) reindex() {
	if len(o.members) < indexFrom {
		o.index = nil
		return
	}
	o.index = make(map[string]int, len(o.members)+1)
	for i, m := range o.members {
		o.index[m.Key] = i
	}
}

// MarshalJSON writes the members in order, leaving <, > and & as they are.
func (o *Object) MarshalJSON() ([]byte, error) { return Append(nil, o) }
