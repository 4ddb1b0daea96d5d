// Command kvd serves the guestbook's key-value store (package kv) on
// $PORT (default 6380).
package main

import (
	"log/slog"
	"net"
	"os"

	"example.com/guestbook/internal/kv"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "6380"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		slog.Error("listen", "err", err)
		os.Exit(1)
	}
	slog.Info("kvd listening", "addr", ln.Addr().String())
	if err := kv.NewServer().Serve(ln); err != nil {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
