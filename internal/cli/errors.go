package cli

import (
	"fmt"
	"io"
)

// maxShownErrors bounds how many problems of one definition are printed:
// a hostile or generated file can hold thousands (a 1 MiB file gave
// 2,621), and the first ones are what a user fixes first.
const maxShownErrors = 100

// printErrors prints a definition's problems, one a line, at most
// maxShownErrors of them, then how many more there are.
func printErrors(w io.Writer, lines []string) {
	for i, l := range lines {
		if i == maxShownErrors {
			fmt.Fprintf(w, "... and %d more (only the first %d are shown; fix these first)\n", len(lines)-i, maxShownErrors)
			return
		}
		fmt.Fprintln(w, l)
	}
}
