package asl

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docPage is the user documentation whose "Field by field" section
// lists, table by table, what this package accepts.
const docPage = "../../../docs/workflows.md"

// docTables reads the "## Field by field" section of docs/workflows.md:
// for each "### " subsection, the names in backquotes in the first cell
// of its table rows. It fails t when a status cell does not start with
// one of the page's status words.
func docTables(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(docPage)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Field by field\n")
	if !ok {
		t.Fatalf("%s has no \"## Field by field\" section", docPage)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	name := regexp.MustCompile("`([^`]+)`")
	status := regexp.MustCompile(`^(yes|differs|refused|no|same)\b`)
	tables := map[string][]string{}
	for _, sub := range strings.Split(section, "\n### ")[1:] {
		title, body, _ := strings.Cut(sub, "\n")
		tables[title] = []string{}
		lines := strings.Split(body, "\n")
		for i, line := range lines {
			if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| ---") {
				continue
			}
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "| ---") {
				continue // the header row
			}
			cells := strings.Split(strings.ReplaceAll(strings.Trim(line, "|"), `\|`, "/"), "|")
			for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
				tables[title] = append(tables[title], m[1])
			}
			for _, c := range cells[1:] {
				if !status.MatchString(strings.TrimSpace(c)) {
					t.Errorf("docs/workflows.md, ### %s: row %s: status %q does not start with yes, differs, refused, no or same", title, strings.TrimSpace(cells[0]), strings.TrimSpace(c))
				}
			}
		}
	}
	return tables
}

// TestDocListsEveryField keeps the field-by-field tables of
// docs/workflows.md true to the parser: every field a definition may
// hold, in either query language, has a row in the table of the object
// that holds it, and no row names a field the parser does not accept
// there.
func TestDocListsEveryField(t *testing.T) {
	tables := docTables(t)
	table := func(title string) []string {
		rows, ok := tables[title]
		if !ok {
			t.Errorf("docs/workflows.md: no \"### %s\" table under Field by field", title)
		}
		return rows
	}
	check := func(title string, documented, accepted []string) {
		t.Helper()
		accepted = slices.Compact(accepted) // fieldSet sorts
		for _, f := range accepted {
			if !slices.Contains(documented, f) {
				t.Errorf("docs/workflows.md, ### %s: no row for the field %q", title, f)
			}
		}
		for _, f := range table(title) {
			if !slices.Contains(accepted, f) {
				t.Errorf("docs/workflows.md, ### %s: the row %q names no field the parser accepts there", title, f)
			}
		}
	}

	check("Top level", table("Top level"), fieldSet(topFields, branchFields))

	// Fields every state type shares have their row under "Every state";
	// a state type's table holds the rest.
	every := table("Every state")
	var anyState []string
	for _, typ := range stateTypes {
		accepted := fieldSet(stateFields[typ], jsonataStateFields[typ])
		anyState = append(anyState, accepted...)
		check(typ, append(slices.Clone(every), table(typ)...), accepted)
	}
	for _, f := range every {
		if !slices.Contains(anyState, f) {
			t.Errorf("docs/workflows.md, ### Every state: the row %q names no field of any state", f)
		}
	}

	check("ItemProcessor and ProcessorConfig", table("ItemProcessor and ProcessorConfig"), fieldSet(processorFields, processorConfigFields))
	check("ItemReader", table("ItemReader"), fieldSet(itemReaderFields, readerConfigFields))
	check("ItemBatcher", table("ItemBatcher"), itemBatcherFields)
	check("ResultWriter", table("ResultWriter"), fieldSet(resultWriterFields, writerConfigFields))
	check("Retry", table("Retry"), retrierFields)
	// A JSONata Catcher and a JSONata Choice rule also take Output (and a
	// rule Condition), which jsonataCatcher and jsonataRule check.
	check("Catch", table("Catch"), fieldSet(catcherFields, []string{"Output"}))
	check("Choice rules", table("Choice rules"), fieldSet(ruleFields, []string{"Condition", "Output"}))
}
