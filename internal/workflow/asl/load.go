package asl

// Load validates a definition in JSON or YAML and decodes it: the way to
// read a definition a user wrote. When it breaks any rule the error is
// Errors, listing every problem with its location, and the StateMachine
// is nil.
func Load(file string, src []byte) (*StateMachine, error) {
	r := &report{file: file}
	root := parseSource(r, src)
	if root != nil {
		validateTree(r, root)
	}
	if root == nil || len(r.errs) > 0 {
		return nil, Errors(r.sorted())
	}
	// Validate accepts only definitions Decode can read, so this cannot
	// fail unless the two disagree; the error then still names the spot.
	return decodeTree(r, root)
}
