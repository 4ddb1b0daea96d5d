package asl

// Load validates a definition and decodes it: the way to read a
// definition a user wrote. When it breaks any rule the error is Errors,
// listing every problem with its location, and the StateMachine is nil.
func Load(file string, src []byte) (*StateMachine, error) {
	if errs := Validate(file, src); len(errs) > 0 {
		return nil, Errors(errs)
	}
	sm, err := Decode(src)
	if err != nil {
		// Validate accepts only definitions Decode can read; reaching
		// this means the two disagree.
		return nil, err
	}
	return sm, nil
}
