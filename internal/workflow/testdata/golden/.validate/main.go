package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/velocity-ci/velocity/internal/workflow/asl"
)

func main() {
	n := 0
	filepath.Walk(os.Args[1], func(p string, info os.FileInfo, err error) error {
		if !strings.HasSuffix(p, ".json") {
			return nil
		}
		b, _ := os.ReadFile(p)
		var c struct{ Definition json.RawMessage }
		json.Unmarshal(b, &c)
		if errs := asl.Validate(p, c.Definition); len(errs) > 0 {
			n++
			fmt.Println(asl.Errors(errs).Error())
		} else if _, err := asl.Load(p, c.Definition); err != nil {
			fmt.Println("LOAD", p, err)
		}
		return nil
	})
	fmt.Println(n, "invalid")
}
