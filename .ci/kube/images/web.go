// Command web is the smoke test's workload: an HTTP server that answers
// every request with the text of $MESSAGE, so a rolling update can be seen
// from outside by what it says. "web get URL" prints what URL answers, to
// try the network from inside a pod (the image has nothing else).
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		get(os.Args[2])
		return
	}
	message := os.Getenv("MESSAGE")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, message)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func get(url string) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		log.Fatal(err)
	}
}
