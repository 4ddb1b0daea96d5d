package sidecar

import (
	"fmt"
	"net"
)

// freePorts picks n distinct free TCP ports on the loopback address. All
// listeners stay open until every port is picked so that the kernel cannot
// hand the same port out twice; a program outside the group could still
// take one before its sidecar binds it, which the readiness check reports.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("pick a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
