package spec

import "testing"

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"256M", 256 << 20, true},
		{"256m", 256 << 20, true},
		{"256MB", 256 << 20, true},
		{"512MiB", 512 << 20, true},
		{"1G", 1 << 30, true},
		{"1.5Gi", 1.5 * (1 << 30), true},
		{" 2 T ", 2 << 40, true},
		{"1048576", 1 << 20, true},
		{"1048576B", 1 << 20, true},
		{"", 0, false},
		{"M", 0, false},
		{"1X", 0, false},
		{"1.2.3M", 0, false},
		{"-1M", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSize(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestValidHost(t *testing.T) {
	for host, want := range map[string]bool{
		"web.staging.localhost": true,
		"x.example.com":         true,
		"a-b.c":                 true,
		"":                      false,
		"-a.b":                  false,
		"a-.b":                  false,
		"a..b":                  false,
		"A.b":                   false,
		"a_b.c":                 false,
	} {
		if got := validHost(host); got != want {
			t.Errorf("validHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestPortRange(t *testing.T) {
	for in, want := range map[string]string{
		"port_range: 41000-41009":    "",
		"port_range: 41000":          "",
		"port_range: 80-90":          "velocity.yml:1:13: port_range: 80-90: ports must be between 1024 and 65535",
		"port_range: 41000-70000":    "velocity.yml:1:13: port_range: 41000-70000: ports must be between 1024 and 65535",
		"port_range: low-high":       `velocity.yml:1:13: port_range: "low-high" is not a port range; write LOW-HIGH, such as 41000-41099`,
		"port_range: [41000, 41009]": `velocity.yml:1:13: port_range: must be a port range such as "41000-41099", got a list`,
	} {
		p, err := Parse("velocity.yml", []byte(in+"\nstages: [{name: b, actions: [{name: a, run: x}]}]\n"))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%s: error %q, want %q", in, got, want)
		}
		if want == "" && (p.PortRange.Low < 41000 || p.PortRange.Pos != (Pos{Line: 1, Col: 13})) {
			t.Errorf("%s: %+v", in, p.PortRange)
		}
	}
}
