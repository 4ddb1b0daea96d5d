// Command web is the smoke test's workload: an HTTP server that answers
// every request with the text of $MESSAGE, so a rolling update can be seen
// from outside by what it says.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	message := os.Getenv("MESSAGE")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, message)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
