// Command pause holds a pod's namespaces open, like Kubernetes' own pause
// image, which cannot be pulled here: it waits for a stop signal and exits.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
