package web

import (
	"fmt"
	"io"
)

// badgeColour is the right half's colour of a badge state, as
// shields.io draws it; false for no state of a badge.
func badgeColour(state string) (string, bool) {
	switch state {
	case "passing":
		return "#4c1", true
	case "failing":
		return "#e05d44", true
	case "running":
		return "#dfb317", true
	case "unknown":
		return "#9f9f9f", true
	}
	return "", false
}

// badgeSVG writes a badge "velocity | STATE". The text is one of the
// states above, never a project's name: nothing in it needs escaping.
func badgeSVG(w io.Writer, state string) error {
	colour, ok := badgeColour(state)
	if !ok {
		state, colour = "unknown", "#9f9f9f"
	}
	// Widths follow Verdana 11px at about 6.5px a character, with
	// 10px of padding, as shields' flat style.
	left, right := 58, 10+len(state)*7
	total := left + right
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%[1]d" height="20" role="img" aria-label="velocity: %[4]s">`+
		`<title>velocity: %[4]s</title>`+
		`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%[1]d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%[2]d" height="20" fill="#555"/><rect x="%[2]d" width="%[3]d" height="20" fill="%[5]s"/><rect width="%[1]d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%[6]d" y="15" fill="#010101" fill-opacity=".3">velocity</text><text x="%[6]d" y="14">velocity</text>`+
		`<text x="%[7]d" y="15" fill="#010101" fill-opacity=".3">%[4]s</text><text x="%[7]d" y="14">%[4]s</text></g></svg>`,
		total, left, right, state, colour, left/2, left+right/2)
	return err
}
