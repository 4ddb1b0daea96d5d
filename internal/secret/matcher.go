package secret

// matcher is an Aho–Corasick automaton over the patterns a Masker looks
// for. It reads the stream one byte at a time in amortised constant time
// whatever the number of patterns, and its state says at once both which
// patterns end at the current byte and how many trailing bytes could
// still begin one — exactly what the Masker must hold back.
type matcher struct {
	// root is the root's transitions as a table, since in ordinary output
	// almost every byte is read at the root.
	root  [256]int32
	nodes []matchNode
	// The edges of node s are edges[lo[s]:lo[s+1]]: most nodes have a
	// single child, and a table per node would cost 1 KiB each.
	lo    []int32
	edges []matchEdge
}

type matchNode struct {
	depth int32 // length of the pattern prefix the node stands for
	fail  int32 // node of the longest proper suffix that is also a prefix
	out   int32 // length of the longest pattern ending here, or 0
	// hold is how many of the bytes read could still begin an
	// occurrence: the depth of the deepest node on the fail chain that
	// has children. A node with none, like the end of the longest
	// pattern, cannot be continued, so holding its bytes would only
	// delay them.
	hold int32
}

type matchEdge struct {
	b  byte
	to int32
}

// newMatcher builds the automaton; patterns must not be empty strings.
func newMatcher(patterns [][]byte) *matcher {
	m := &matcher{nodes: []matchNode{{}}}
	type edge struct {
		from int32
		b    byte
	}
	child := map[edge]int32{}
	var order []edge // edges in creation order, to lay out below
	for _, p := range patterns {
		s := int32(0)
		for _, c := range p {
			t, ok := child[edge{s, c}]
			if !ok {
				t = int32(len(m.nodes))
				m.nodes = append(m.nodes, matchNode{depth: m.nodes[s].depth + 1})
				child[edge{s, c}] = t
				order = append(order, edge{s, c})
			}
			s = t
		}
		m.nodes[s].out = m.nodes[s].depth
	}

	m.lo = make([]int32, len(m.nodes)+1)
	for _, e := range order {
		m.lo[e.from+1]++
	}
	for i := 1; i < len(m.lo); i++ {
		m.lo[i] += m.lo[i-1]
	}
	fill := append([]int32(nil), m.lo[:len(m.nodes)]...)
	m.edges = make([]matchEdge, len(order))
	for _, e := range order {
		m.edges[fill[e.from]] = matchEdge{e.b, child[e]}
		fill[e.from]++
	}
	for _, e := range m.edges[m.lo[0]:m.lo[1]] {
		m.root[e.b] = e.to
	}

	// Breadth first, so that every node a fail link can point to (which
	// is shallower) is complete before it is used.
	queue := make([]int32, 1, len(m.nodes))
	for i := 0; i < len(queue); i++ {
		u := queue[i]
		for _, e := range m.edges[m.lo[u]:m.lo[u+1]] {
			v := e.to
			if u != 0 {
				m.nodes[v].fail = m.next(m.nodes[u].fail, e.b)
			}
			if m.nodes[v].out == 0 {
				m.nodes[v].out = m.nodes[m.nodes[v].fail].out
			}
			if m.lo[v] < m.lo[v+1] {
				m.nodes[v].hold = m.nodes[v].depth
			} else {
				m.nodes[v].hold = m.nodes[m.nodes[v].fail].hold
			}
			queue = append(queue, v)
		}
	}
	return m
}

// next is the state after reading c in state s.
func (m *matcher) next(s int32, c byte) int32 {
	for s != 0 {
		for _, e := range m.edges[m.lo[s]:m.lo[s+1]] {
			if e.b == c {
				return e.to
			}
		}
		s = m.nodes[s].fail
	}
	return m.root[c]
}
